"""The oracle of first use: what the engines' request-time resolvers do, written from
docs/ENGINES.md section 5, not from preflight.

For a registry (documents by id), the pod's environment, the serving scopes and the request
modes served, it answers, for every request-time lookup and every backend-selecting
variable: does the engines' first use fail before any network call, and why (`Reason`),
naming the config key or variable that decides. Where nothing fails before the network it
says so (`network`): what happens next is a connection, a credential or a missing table,
which is the probes' job, not a resolver's.

- `first_use(...)` is the whole answer; `lookup(...)` one kind at one scope; `variable(...)`
  one variable.
- The route found by a lookup is the start-up oracle's (`tests/engines_oracle.py`): first
  document in id order among the exact matches, built with the engines' route model.
- `installed` says which client libraries import in the engines' interpreter. By default,
  what their `requirements.txt` brings at 012ac5d: no `redis`, no `azure-cosmos`.

Limits: a Cosmos endpoint is taken to be a URL and an Azure connection string to parse (the
clients' own parsing is theirs: for `azure_blob`, any construction error is moot, the backend
is unusable at this commit anyway); config values are strings, empty or absent.

Everything here answers "what do the engines do at first use?", nothing about preflight's
own rules (what preflight refuses on top is its strictness table).
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple

from tests.engines_oracle import engines_get_route


class Reason(StrEnum):
    """Why the first use fails (or, for one class, does not give a durable backend)."""

    NO_ROUTE = "no_route"
    INVALID_ROUTE = "invalid_route"
    UNSUPPORTED_BACKEND = "unsupported_backend"
    MODE_ONLY = "mode_only"
    MISSING_CONFIG = "missing_config"
    INVALID_CONFIG = "invalid_config"
    COSMOS_CREDENTIALS_INCOMPLETE = "cosmos_credentials_incomplete"
    BACKEND_UNUSABLE_AT_THIS_VERSION = "backend_unusable_at_this_version"
    ENV_NOT_SERVED = "env_not_served"
    IMPORT_ERROR_CLIENT_MISSING = "import_error_client_missing"
    SILENT_MEMORY_FALLBACK = "silent_memory_fallback"


class Scope(NamedTuple):
    tenant: str
    env: str
    project: str | None


@dataclass(frozen=True)
class Outcome:
    """One lookup (a kind at a scope) or one variable, as the engines' first use meets it.

    `fails`: the first use raises in the modes `modes`, or (SILENT_MEMORY_FALLBACK only) it
    succeeds on process memory. `network`: nothing failed before the network; a connection
    decides the rest. `key`: the config key (`config.<name>`) or variable that decides.
    """

    subject: str
    scope: Scope | None
    reason: Reason | None
    key: str | None = None
    modes: frozenset[str] = frozenset()
    network: bool = False
    read_at_import: bool = False
    note: str | None = None

    @property
    def fails(self) -> bool:
        return self.reason is not None

    @property
    def raises(self) -> bool:
        return self.fails and self.reason is not Reason.SILENT_MEMORY_FALLBACK


# The client libraries the resolvers import, by distribution name.
FIRESTORE, STORAGE, BOTO3, BLOB, BIGQUERY = ("google-cloud-firestore", "google-cloud-storage",
                                            "boto3", "azure-storage-blob",
                                            "google-cloud-bigquery")
REDIS, COSMOS = "redis", "azure-cosmos"
# requirements.txt at 012ac5d: the first three directly; azure-storage-blob through adlfs,
# google-cloud-bigquery through google-cloud-aiplatform. Neither redis nor azure-cosmos.
ENGINES_REQUIREMENTS = frozenset({FIRESTORE, STORAGE, BOTO3, BLOB, BIGQUERY})
EVERY_CLIENT = ENGINES_REQUIREMENTS | {REDIS, COSMOS}

REQUEST_MODES = ("saas", "enterprise", "lab")
SERVED_ENVS = frozenset({"dev", "staging", "stage", "prod"})  # raw storage: 400 otherwise
TIMELINE_SCOPE = Scope("t_system", "dev", None)
TABULAR_KINDS = (
    "firearms_policy_store", "strategy_policy_store", "strategy_lock_store", "notes_store",
    "seo_config_store", "config_store", "component_registry", "canvas_command_store",
    "flow_store", "graph_store", "overlay_store",
)
SPINE_KINDS = ("chat_store", "event_spine")
SERVING_KINDS = ("object_store", *TABULAR_KINDS, *SPINE_KINDS)
VARIABLES = (
    "CHAT_BUS_BACKEND", "MEMORY_BACKEND", "IDENTITY_BACKEND", "RATE_LIMIT_BACKEND",
    "REALTIME_REGISTRY_BACKEND", "ANALYTICS_EVENTS_BACKEND", "PAGE_CONTENT_BACKEND",
    "SEO_BACKEND", "NEXUS_BACKEND", "PRIVACY_BACKEND", "THREE_WISE_BACKEND", "KNOWLEDGE_BACKEND",
)
_HOST_LABEL = re.compile(r"(?![0-9]+$)(?!-)[a-zA-Z0-9-]{0,63}(?<!-)")


class _Step(NamedTuple):
    """What a resolver decided before the network."""

    reason: Reason | None = None
    key: str | None = None
    network: bool = False
    lab_only: bool = False
    note: str | None = None


_NETWORK = _Step(network=True)


def _project(environ: Mapping[str, str]) -> str | None:
    """GCP_PROJECT_ID, else GCP_PROJECT; an empty value falls through."""
    return environ.get("GCP_PROJECT_ID") or environ.get("GCP_PROJECT") or None


def _region_step(config: Mapping[str, Any]) -> _Step:
    """A DynamoDB region: absent or falsy means us-west-2; botocore refuses a non host label."""
    region = config.get("region", "us-west-2") or "us-west-2"
    if not isinstance(region, str) or not _HOST_LABEL.fullmatch(region):
        return _Step(Reason.INVALID_CONFIG, "config.region")
    return _NETWORK


def _key_decodes(key: str) -> bool:
    """The Cosmos client signs every request with the key base64-decoded, before connecting."""
    try:
        binascii.a2b_base64(key.encode())
    except (binascii.Error, UnicodeEncodeError):
        return False
    return True


def _firestore_step(config: Mapping[str, Any], environ: Mapping[str, str]) -> _Step:
    if config.get("project") or _project(environ):
        return _NETWORK
    return _Step(Reason.MISSING_CONFIG, "config.project")


def _object_store(backend: str, config: Mapping[str, Any], environ: Mapping[str, str],
                  scope: Scope, installed: frozenset[str]) -> _Step:
    if backend == "filesystem":
        return _Step(lab_only=True, note="local files under the working folder")
    if backend == "s3":
        if not (config.get("bucket") or environ.get("RAW_BUCKET")):
            return _Step(Reason.MISSING_CONFIG, "config.bucket")
        if scope.env.lower() not in SERVED_ENVS:
            return _Step(Reason.ENV_NOT_SERVED, "ENV")
        return _NETWORK
    if backend == "azure_blob":
        if BLOB not in installed:
            return _Step(Reason.IMPORT_ERROR_CLIENT_MISSING, BLOB)
        if not (config.get("connection_string")
                or environ.get("AZURE_STORAGE_CONNECTION_STRING")):
            return _Step(Reason.MISSING_CONFIG, "config.connection_string")
        return _Step(Reason.BACKEND_UNUSABLE_AT_THIS_VERSION, None,
                     note="the adapter takes (key, tenant_id, env); the service passes ctx")
    if backend == "gcs":
        if STORAGE not in installed:
            return _Step(Reason.IMPORT_ERROR_CLIENT_MISSING, STORAGE)
        if not config.get("project"):
            return _Step(Reason.MISSING_CONFIG, "config.project",
                         note="no stand-in: the fallback calls a function that does not exist")
        if not (config.get("bucket") or environ.get("GCS_BUCKET")):
            return _Step(Reason.MISSING_CONFIG, "config.bucket")
        return _Step(Reason.BACKEND_UNUSABLE_AT_THIS_VERSION, None,
                     note="the adapter takes (key, tenant_id, env); the service passes ctx")
    return _Step(Reason.UNSUPPORTED_BACKEND, "backend_type")


def _tabular(backend: str, config: Mapping[str, Any], environ: Mapping[str, str],
             installed: frozenset[str]) -> _Step:
    if backend == "filesystem":
        return _Step(lab_only=True, note="local files under the working folder")
    if backend == "firestore":
        return _firestore_step(config, environ)
    if backend == "dynamodb":
        return _region_step(config)
    if backend == "cosmos":
        if COSMOS not in installed:
            return _Step(Reason.IMPORT_ERROR_CLIENT_MISSING, COSMOS)
        endpoint, key = config.get("endpoint"), config.get("key")
        source = "config.key"
        if not endpoint or not key:  # one missing: both come from the environment
            endpoint = environ.get("AZURE_COSMOSDB_ENDPOINT")
            key = environ.get("AZURE_COSMOSDB_KEY")
            source = "AZURE_COSMOSDB_KEY"
        if not endpoint or not key:
            return _Step(Reason.COSMOS_CREDENTIALS_INCOMPLETE,
                         "config.endpoint+config.key|AZURE_COSMOSDB_ENDPOINT+AZURE_COSMOSDB_KEY")
        if not isinstance(key, str) or not _key_decodes(key):
            return _Step(Reason.INVALID_CONFIG, source)
        return _NETWORK
    return _Step(Reason.UNSUPPORTED_BACKEND, "backend_type")


def _spine(backend: str, config: Mapping[str, Any], environ: Mapping[str, str],
           installed: frozenset[str]) -> _Step:
    """chat_store and event_spine: the same three stores, defaults named after the kind."""
    if backend == "firestore":
        return _firestore_step(config, environ)
    if backend == "dynamodb":
        step = _region_step(config)
        if step.network and "table_name" in config and not config["table_name"]:
            return step._replace(note="a present empty table_name means the table event_spine")
        return step
    if backend == "cosmos":
        if COSMOS not in installed:
            return _Step(Reason.IMPORT_ERROR_CLIENT_MISSING, COSMOS)
        # No environment stand-in for these two kinds. The client checks the key's type when
        # built, signs with it before formatting the endpoint into a URL: key errors first.
        endpoint, key = config.get("endpoint"), config.get("key")
        if key is None:
            return _Step(Reason.MISSING_CONFIG, "config.key")
        if not isinstance(key, (str, dict)) or (isinstance(key, str) and not _key_decodes(key)):
            return _Step(Reason.INVALID_CONFIG, "config.key")
        if not endpoint:
            return _Step(Reason.MISSING_CONFIG, "config.endpoint")
        return _NETWORK
    return _Step(Reason.UNSUPPORTED_BACKEND, "backend_type")


def _event_stream(backend: str, environ: Mapping[str, str]) -> _Step:
    """The timeline: its route's config is ignored; filesystem appends only in `lab`."""
    if backend == "filesystem":
        return _Step(lab_only=True, note="append raises ForbiddenBackendClass in saas and "
                                         "enterprise; reading does not")
    if backend == "firestore":
        if _project(environ):
            return _NETWORK
        return _Step(Reason.MISSING_CONFIG, "GCP_PROJECT_ID")
    return _Step(Reason.UNSUPPORTED_BACKEND, "backend_type")


def lookup(documents: Mapping[str, Mapping[str, Any]], kind: str, scope: Scope,
           environ: Mapping[str, str], modes: Sequence[str] = ("saas", "enterprise"),
           installed: frozenset[str] = ENGINES_REQUIREMENTS) -> Outcome:
    """One request-time lookup of `kind` at `scope`, as the engines' resolver meets it."""
    if kind not in (*SERVING_KINDS, "event_stream"):
        raise ValueError(f"no first-use resolver for kind {kind!r}")
    served = frozenset(modes)
    doc_id, route = engines_get_route(documents, kind, scope.tenant, scope.env, scope.project)
    if doc_id is None:
        return Outcome(kind, scope, Reason.NO_ROUTE, modes=served)
    if route is None:
        return Outcome(kind, scope, Reason.INVALID_ROUTE, doc_id, modes=served)
    backend = (route.backend_type or "").lower()
    config = route.config or {}
    if kind == "object_store":
        step = _object_store(backend, config, environ, scope, installed)
    elif kind in TABULAR_KINDS:
        step = _tabular(backend, config, environ, installed)
    elif kind in SPINE_KINDS:
        step = _spine(backend, config, environ, installed)
    else:
        step = _event_stream(backend, environ)
    if step.lab_only:
        failing = served - {"lab"}
        return Outcome(kind, scope, Reason.MODE_ONLY if failing else None,
                       "backend_type" if failing else None, failing, note=step.note)
    return Outcome(kind, scope, step.reason, step.key,
                   served if step.reason else frozenset(), step.network, note=step.note)


def _silent_firestore(name: str, environ: Mapping[str, str], at_import: bool,
                      modes: frozenset[str]) -> Outcome:
    """`firestore` or process memory, silently (also when the Firestore store fails to build)."""
    if environ.get(name, "").lower() != "firestore":
        return Outcome(name, None, Reason.SILENT_MEMORY_FALLBACK, name, modes,
                       read_at_import=at_import)
    if not _project(environ):
        return Outcome(name, None, Reason.SILENT_MEMORY_FALLBACK, "GCP_PROJECT_ID", modes,
                       read_at_import=at_import)
    return Outcome(name, None, None, network=True, read_at_import=at_import,
                   note="a Firestore client that fails to build means memory, silently")


def variable(name: str, environ: Mapping[str, str],
             modes: Sequence[str] = ("saas", "enterprise"),
             installed: frozenset[str] = ENGINES_REQUIREMENTS) -> Outcome:
    """One backend-selecting variable, as the engines' factory behind it meets it."""
    served = frozenset(modes)
    value = environ.get(name)
    if name == "CHAT_BUS_BACKEND":
        if environ.get(name, "memory").lower() != "redis":
            return Outcome(name, None, Reason.UNSUPPORTED_BACKEND, name, served)
        try:
            port = int(environ.get("REDIS_PORT", "6379"))
        except ValueError:
            port = 0
        if not 0 < port < 65536:  # int() reads 0 or 70000, but no socket connects there
            return Outcome(name, None, Reason.INVALID_CONFIG, "REDIS_PORT", served)
        if REDIS not in installed:
            return Outcome(name, None, Reason.IMPORT_ERROR_CLIENT_MISSING, REDIS, served)
        where = "REDIS_HOST" if "REDIS_HOST" in environ else "localhost (REDIS_HOST unset)"
        return Outcome(name, None, None, network=True, note=f"Redis at {where}")
    if name in ("MEMORY_BACKEND", "IDENTITY_BACKEND"):
        backend = (value or "").lower()
        if backend == "firestore":
            if _project(environ):
                return Outcome(name, None, None, network=True)
            return Outcome(name, None, Reason.MISSING_CONFIG, "GCP_PROJECT_ID", served)
        if name == "MEMORY_BACKEND" and backend in ("filesystem", "fs"):
            if environ.get("MEMORY_DIR"):
                return Outcome(name, None, None, note="local files under MEMORY_DIR")
            return Outcome(name, None, Reason.MISSING_CONFIG, "MEMORY_DIR", served)
        return Outcome(name, None, Reason.UNSUPPORTED_BACKEND, name, served)
    if name in ("RATE_LIMIT_BACKEND", "REALTIME_REGISTRY_BACKEND", "THREE_WISE_BACKEND"):
        return _silent_firestore(name, environ, at_import=True, modes=served)
    if name in ("ANALYTICS_EVENTS_BACKEND", "PRIVACY_BACKEND"):
        return _silent_firestore(name, environ, at_import=False, modes=served)
    if name == "KNOWLEDGE_BACKEND":
        backend = (value or "filesystem").lower()
        if backend == "firestore":  # a client with no project: the credentials' own
            return Outcome(name, None, None, network=True)
        if backend in ("filesystem", "fs"):
            return Outcome(name, None, None, note="local files: KNOWLEDGE_DIR or var/knowledge")
        return Outcome(name, None, Reason.UNSUPPORTED_BACKEND, name, served)
    if name == "PAGE_CONTENT_BACKEND":
        return Outcome(name, None, None, note="read by no code the engines' app imports")
    if name == "SEO_BACKEND":
        if (value or "").lower() == "firestore" and _project(environ):
            return Outcome(name, None, None, network=True, read_at_import=True,
                           note="a Firestore client that fails to build means the routed "
                                "repository (seo_config_store)")
        return Outcome(name, None, None, read_at_import=True,
                       note="the routed repository: stores through the seo_config_store route")
    if name == "NEXUS_BACKEND":
        backend = (value or "").lower() or "firestore"
        if backend == "firestore":
            return Outcome(name, None, None, network=True)
        if backend in ("bigquery", "bq"):
            if BIGQUERY not in installed:
                return Outcome(name, None, Reason.IMPORT_ERROR_CLIENT_MISSING, BIGQUERY, served)
            return Outcome(name, None, None, network=True)
        return Outcome(name, None, Reason.UNSUPPORTED_BACKEND, name, served)
    raise ValueError(f"no first-use factory for variable {name!r}")


def first_use(documents: Mapping[str, Mapping[str, Any]], environ: Mapping[str, str],
              scopes: Iterable[Scope], modes: Sequence[str] = ("saas", "enterprise"),
              installed: frozenset[str] = ENGINES_REQUIREMENTS) -> list[Outcome]:
    """Every request-time lookup at every serving scope, the timeline, and every variable."""
    outcomes = [lookup(documents, kind, scope, environ, modes, installed)
                for scope in scopes for kind in SERVING_KINDS]
    outcomes.append(lookup(documents, "event_stream", TIMELINE_SCOPE, environ, modes,
                           installed))
    outcomes.extend(variable(name, environ, modes, installed) for name in VARIABLES)
    return outcomes
