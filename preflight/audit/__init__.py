"""`preflight audit`: every scope in the routing registry, judged as `check` judges it.

What a scope is, for the audit. The engines find a route by field equality on
`resource_kind`, `tenant_id`, `env` and `project_id` (a null project matching only a present
null), so a document belongs to the scope its fields name: `(tenant_id, env, project_id)`,
with `project_id` a string or a present null. Every such triple that holds at least one
document is a scope, and so are the scopes the engines always look up — the start-up scope
(`t_system/dev`) and each kind's fixed scope (`event_stream` at `t_system/dev`) — even when
they hold nothing. How the engines use a scope decides what is judged there:

- **startup**: the profile's start-up scope; its start-up kinds, exactly as `check` judges
  them (a problem there stops the engines), plus its fixed kinds.
- **serving**: a scope with a project in an env the engines serve (the profile's `envs`):
  every request-time kind (`at: serving`) is looked up there when a request carries that
  tenant and project, so each one must be routed, to a backend its resolver accepts, with
  the config keys it needs.
- **fixed**: another scope a kind is pinned to (`at: {tenant, env}`); its pinned kinds.
- **unread**: any other scope — a scope without a project other than the start-up and
  fixed ones (start-up reads `t_system/dev` whatever `ENV` says; requests always carry a
  project), or one in an env the engines never run in. Nothing there is ever read: a warning.

A document that no lookup can match is not in any scope: one lacking `project_id` or with
an empty one (reported as a near miss at its tenant/env), or one whose `tenant_id`, `env` or
`resource_kind` is not a string (reported for the whole registry).

A scope **fails** when anything the engines look up there is wrong — any finding of
`check`'s own judges (missing, invalid, refused or unusable routes, disagreeing
duplicates), whatever the profile's severity, which decides only whether `check` blocks a
pod. It **warns** for what breaks nothing yet: agreeing duplicates, routes no lookup reads,
orphan kinds, near misses, invalid documents no lookup uses.
"""
