"""Profiles: the engines' contract as data, loaded once into immutable rules.

A profile is a YAML file (schema `preflight.profile/v1`, published in
`preflight/contract/schema/profile-v1.json`). The built-in `engines` profile is read on every pod
start, so it ships twice: `engines.yaml`, the source people read and edit, and
`engines.json`, the same document with its line numbers, which `make profiles` generates
and a test keeps in step. Loading it costs a JSON parse; PyYAML and the schema validator
are imported only for an operator's own file. The records are NamedTuples: immutable like
frozen dataclasses, at a third of the class-creation cost on every start.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from importlib.resources import files
from pathlib import Path
from typing import Any, NamedTuple

from preflight.core.scope import Scope

SCHEMA_ID = "preflight.profile/v1"
DEFAULT_PROFILE = "engines"
_BUILT_IN_NAME = re.compile(r"[a-z][a-z0-9_-]{0,63}")

Path_ = tuple[str | int, ...]


class ProfileError(Exception):
    """A profile preflight cannot use: names the file, the line and the key path."""

    def __init__(self, source: str, message: str, path: Path_ = (), line: int | None = None,
                 ) -> None:
        self.source = source
        self.path = path
        self.line = line
        self.reason = message
        where = source + (f":{line}" if line else "")
        key = dotted(path)
        super().__init__(f"{where}: {key + ': ' if key else ''}{message}")


def dotted(path: Path_) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path
                   ).lstrip(".")


def pointer(path: Path_) -> str:
    return "/".join(str(part) for part in path)


class ConfigKey(NamedTuple):
    """A route config key a backend reads; needed unless it has a default."""

    name: str
    stand_in: tuple[str, ...] = ()
    default: str | int | float | bool | None = None
    if_empty: str | None = None  # used when the key is present but empty ("" or null)
    keep_empty: bool = False  # an empty string is passed on, not missing
    form: str | None = None  # "host_label" or "base64": refused before any call otherwise

    @property
    def needed(self) -> bool:
        return self.default is None


class KeyGroup(NamedTuple):
    """Keys taken from the route's config only when all are set, else all from variables."""

    keys: tuple[str, ...]
    stand_in: tuple[str, ...]  # the variable for each key, in the same order


class Unusable(NamedTuple):
    """A backend the resolver builds but that fails every request at this engines version."""

    reason: str
    since: str  # the engines' commit it was read at


class TableKey(NamedTuple):
    name: str
    role: str  # HASH or RANGE
    type: str  # S, N or B


class ProbeFacts(NamedTuple):
    """What backends.reachable expects the engines' store to find, beyond existing."""

    container: str | None = None  # cosmos: read after the database
    table_keys: tuple[TableKey, ...] = ()  # dynamodb: the key schema the store writes
    string_keys: tuple[str, ...] = ()  # dynamodb: the table's keys must be among these
    query_index: str | None = None  # dynamodb: a global secondary index the store queries (`index`)


class BackendSpec(NamedTuple):
    name: str
    config: tuple[ConfigKey, ...] = ()
    modes: tuple[str, ...] = ()  # empty: every request mode
    together: tuple[KeyGroup, ...] = ()
    needs_one_of: tuple[str, ...] = ()  # variables, one of which must be set and non-empty
    refuses_other_envs: bool = False  # requests in an env outside the profile's envs fail
    unusable: Unusable | None = None
    probe: ProbeFacts = ProbeFacts()

    def group_of(self, key: str) -> KeyGroup | None:
        return next((group for group in self.together if key in group.keys), None)


class Library(NamedTuple):
    """The client library the engines import to build a backend."""

    distribution: str
    module: str


class KindSpec(NamedTuple):
    name: str
    at: str  # "startup", "serving" or "fixed"
    scope: Scope | None = None  # for "fixed"
    severity: str | None = None  # None: the start-up or serving default
    probe: bool = True
    backends: Mapping[str, BackendSpec] | None = None  # None: any backend not refused


class ProbeRead(NamedTuple):
    """A variable a probed backend reads: by its own rule if the profile has one, else as
    the engines' `getenv(variable) or default`."""

    variable: str
    default: str | None = None


class VariableProbe(NamedTuple):
    """The backend a variable's value selects, probed, and the variables it reads by role."""

    backend: str
    reads: Mapping[str, ProbeRead]


class VariableRule(NamedTuple):
    """How the engines read one variable, and what the contract adds (see the schema)."""

    variable: str
    code: str
    fix: str
    reads: str  # "startup" or "first_use"
    empty_unset: bool = False
    lower: bool = False
    fallback: str | None = None
    default: str | None = None
    accept: tuple[str, ...] | None = None
    engines_require: bool = False
    value_type: str | None = None  # "integer" or "port", as int() reads the value
    silent: bool = False  # a value the engines do not accept makes them fall back silently
    falls_back_to: str = "memory"
    allowed: tuple[str, ...] | None = None
    required: bool = False
    needs: Mapping[str, tuple[str, ...]] | None = None
    severity: str | None = None
    reason: str | None = None
    trim: bool = False  # the contract refuses surrounding whitespace the engines would keep
    why: Mapping[str, str] | None = None  # value -> why the engines fail on it
    require_when: Mapping[str, tuple[str, ...]] | None = None
    # value -> variables: the backend it selects needs one of them set and non-empty
    needs_one_of: Mapping[str, tuple[str, ...]] | None = None
    probe: Mapping[str, VariableProbe] | None = None  # value -> what backends.reachable probes


class EnginesSource(NamedTuple):
    """The engines' code the profile was read from (`preflight profile check-engines`)."""

    entry: str  # the app's entry module, relative to the repository root
    repository: str | None = None
    commit: str | None = None
    not_checked: Mapping[str, str] = {}  # a variable the contract leaves out -> why
    requirements_lack: tuple[str, ...] = ()  # distributions their requirements.txt lacks


class Profile(NamedTuple):
    name: str
    description: str
    source: str  # the file it came from, for messages
    built_in: bool
    collection: str
    database: str
    envs: tuple[str, ...]
    startup_scope: Scope
    startup_severity: str
    serving_severity: str
    serving_modes: tuple[str, ...]
    refused_all: tuple[str, ...]
    refused_by_env: Mapping[str, tuple[str, ...]]
    kinds: Mapping[str, KindSpec]
    environment: Mapping[str, VariableRule]
    backend_variables: Mapping[str, VariableRule]
    probes: bool
    probe_backends: Mapping[str, bool]
    lines: Mapping[str, str]  # key pointer -> "file:line"
    engines: EnginesSource | None = None
    libraries: Mapping[str, Library] = {}  # backend -> its client library

    def kinds_at(self, at: str) -> tuple[str, ...]:
        return tuple(name for name, kind in self.kinds.items() if kind.at == at)

    def fixed_scopes(self) -> dict[Scope, tuple[str, ...]]:
        scopes: dict[Scope, list[str]] = {}
        for name, kind in self.kinds.items():
            if kind.at == "fixed" and kind.scope is not None:
                scopes.setdefault(kind.scope, []).append(name)
        return {scope: tuple(names) for scope, names in scopes.items()}

    def severity_of(self, kind: str) -> str:
        spec = self.kinds.get(kind)
        if spec is not None and spec.severity is not None:
            return spec.severity
        at = spec.at if spec is not None else "startup"
        return self.startup_severity if at == "startup" else self.serving_severity

    def first_use_severity(self, subject: str) -> str:
        """What a first-use finding about a kind or a variable is: its own severity if the
        profile gives one, else the serving default (built in: warn)."""
        spec = self.kinds.get(subject)
        rule = self.backend_variables.get(subject) or self.environment.get(subject)
        own = spec.severity if spec is not None else rule.severity if rule is not None else None
        return own or self.serving_severity

    def where(self, *path: str | int) -> str:
        """`file:line` of a key, or of the nearest enclosing key the file has."""
        parts = list(path)
        while parts:
            found = self.lines.get(pointer(tuple(parts)))
            if found:
                return found
            parts.pop()
        return self.source


# --------------------------------------------------------------------------- loading

def built_in_names() -> tuple[str, ...]:
    folder = files("preflight").joinpath("contract/profiles")
    return tuple(sorted(entry.name[:-5] for entry in folder.iterdir()
                        if entry.name.endswith(".yaml")))


def is_built_in(reference: str) -> bool:
    return bool(_BUILT_IN_NAME.fullmatch(reference)) and reference in built_in_names()


def built_in_yaml(name: str) -> str:
    return files("preflight").joinpath(f"contract/profiles/{name}.yaml").read_text("utf-8")


class BuiltInLines(Mapping[str, str]):
    """A built-in profile's line index, read only when a message or `explain` needs it."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._lines: dict[str, str] | None = None

    def _load(self) -> dict[str, str]:
        if self._lines is None:
            numbers = json.loads(files("preflight").joinpath(
                f"contract/profiles/{self._name}.lines.json").read_text("utf-8"))
            source = f"preflight/contract/profiles/{self._name}.yaml"
            self._lines = {key: f"{source}:{line}" for key, line in numbers.items()}
        return self._lines

    def __getitem__(self, key: str) -> str:
        return self._load()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())


def load(reference: str = DEFAULT_PROFILE) -> Profile:
    """A built-in profile by name, or a YAML file by path; ProfileError if unusable."""
    if is_built_in(reference):
        data = json.loads(files("preflight").joinpath(
            f"contract/profiles/{reference}.json").read_text("utf-8"))
        return build(data, BuiltInLines(reference), f"built-in profile {reference}",
                     built_in=True)
    if _BUILT_IN_NAME.fullmatch(reference) and not Path(reference).exists():
        raise ProfileError(reference, "neither a built-in profile ("
                           + ", ".join(built_in_names()) + ") nor a file")
    data, lines = read_file(Path(reference))
    validate(data, lines, reference)
    return build(data, lines, reference, built_in=False)


def read_file(path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """The document (an `extends:` base merged in) and where each key came from."""
    source = str(path)
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError, ValueError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise ProfileError(source, f"cannot read the profile ({reason})") from None
    data, lines = parse_yaml(text, source)
    base_name = data.get("extends")
    if base_name is None:
        return data, lines
    if not isinstance(base_name, str) or not is_built_in(base_name):
        raise ProfileError(source, "expected the name of a built-in profile ("
                           + ", ".join(built_in_names()) + ")", ("extends",),
                           _line(lines, ("extends",)))
    base, base_lines = parse_yaml(built_in_yaml(base_name), f"{base_name}.yaml")
    merged = merge(base, data)
    merged.pop("extends", None)
    return merged, {**base_lines, **lines}


def _line(lines: Mapping[str, str], path: Path_) -> int | None:
    found = lines.get(pointer(path))
    return int(found.rsplit(":", 1)[1]) if found else None


def parse_yaml(text: str, source: str) -> tuple[dict[str, Any], dict[str, str]]:
    """YAML to plain data, with each key's line; duplicate keys are errors, not overrides."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        node = yaml.compose(text, Loader=loader)
        data = yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or "not valid YAML"
        raise ProfileError(source, f"not valid YAML: {problem}",
                           line=mark.line + 1 if mark else None) from None
    if not isinstance(data, dict) or node is None:
        raise ProfileError(source, "expected a YAML mapping at the top level")
    lines: dict[str, str] = {}
    for path, key_node in _walk(node, (), source):
        lines[pointer(path)] = f"{source}:{key_node.start_mark.line + 1}"
    return data, lines


def _walk(node: Any, path: Path_, source: str) -> Iterator[tuple[Path_, Any]]:
    import yaml

    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                raise ProfileError(source, "duplicate key", (*path, key),
                                   key_node.start_mark.line + 1)
            seen.add(key)
            yield (*path, key), key_node
            yield from _walk(value_node, (*path, key), source)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield (*path, index), item
            yield from _walk(item, (*path, index), source)


def merge(base: Any, overlay: Any) -> Any:
    """Maps merge key by key; lists and scalars replace; None removes the key."""
    if not isinstance(base, dict) or not isinstance(overlay, dict):
        return overlay
    merged = dict(base)
    for key, value in overlay.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge(merged.get(key), value)
    return merged


def schema_document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(
        files("preflight").joinpath("contract/schema/profile-v1.json").read_text("utf-8"))
    return loaded


def validate(data: Mapping[str, Any], lines: Mapping[str, str], source: str) -> None:
    """JSON Schema first (the published contract), then what a schema cannot say."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema_document())
    errors = sorted(validator.iter_errors(data), key=lambda e: (len(e.absolute_path),
                                                                 list(map(str, e.absolute_path))))
    if errors:
        error = jsonschema.exceptions.best_match(errors) or errors[0]
        path = tuple(error.absolute_path) + _unexpected_key(error)
        where = _nearest(lines, path, source)
        raise ProfileError(where[0], _schema_message(error), path, where[1])
    _check_references(data, lines, source)


def _nearest(lines: Mapping[str, str], path: Path_, source: str) -> tuple[str, int | None]:
    parts = list(path)
    while parts:
        found = lines.get(pointer(tuple(parts)))
        if found:
            file, line = found.rsplit(":", 1)
            return file, int(line)
        parts.pop()
    return source, None


def _unexpected_key(error: Any) -> Path_:
    """An unknown key is reported at its own line, not its parent's."""
    if error.validator != "additionalProperties" or not isinstance(error.instance, dict):
        return ()
    known = set(error.schema.get("properties", {}))
    patterns = [re.compile(p) for p in error.schema.get("patternProperties", {})]
    extra = [key for key in error.instance
             if key not in known and not any(p.search(key) for p in patterns)]
    return (extra[0],) if len(extra) == 1 else ()


def _schema_message(error: Any) -> str:
    message = str(error.message)
    if error.validator == "additionalProperties":
        return message.replace("Additional properties are not allowed", "unknown key")
    if error.validator == "required":
        return message.replace("is a required property", "is required")
    if error.validator == "oneOf" and error.schema_path and "at" in error.schema_path:
        return f"expected startup, serving or a scope {{tenant, env}} (got {error.instance!r})"
    return message


def _check_references(data: Mapping[str, Any], lines: Mapping[str, str], source: str) -> None:
    def fail(message: str, path: Path_) -> None:
        file, line = _nearest(lines, path, source)
        raise ProfileError(file, message, path, line)

    envs = set(data["envs"])
    for env in data["refused_backends"]["by_env"]:
        if env not in envs:
            fail(f"{env!r} is not one of the envs the profile names ({', '.join(sorted(envs))})",
                 ("refused_backends", "by_env", env))
    if not any(kind["at"] == "startup" for kind in data["kinds"].values()):
        fail("at least one kind must be looked up `at: startup`", ("kinds",))
    for section in ("environment", "backend_variables"):
        rules = data[section]
        for variable, rule in rules.items():
            for value, needed in (rule.get("needs") or {}).items():
                for name in needed:
                    if name not in rules:
                        fail(f"{name} is not a variable of {section}",
                             (section, variable, "needs", value))
            for name in rule["engines"].get("require_when") or {}:
                if name not in rules:
                    fail(f"{name} is not a variable of {section}",
                         (section, variable, "engines", "require_when", name))
            accepted = rule["engines"].get("accept")
            for value in rule.get("allowed") or ():
                if accepted is not None and _read(rule, value) not in accepted:
                    fail(f"{value!r} is allowed but the engines do not accept it",
                         (section, variable, "allowed"))
            for value in rule["engines"].get("needs_one_of") or {}:
                if accepted is not None and value not in accepted:
                    fail(f"{value!r} needs variables but the engines do not accept it",
                         (section, variable, "engines", "needs_one_of", value))
            for value, chosen in (rule.get("probe") or {}).items():
                if accepted is not None and value not in accepted:
                    fail(f"{value!r} is probed but the engines do not accept it",
                         (section, variable, "probe", value))
                for role, read in chosen["reads"].items():
                    if "default" in read and read["variable"] in rules:
                        fail(f"{read['variable']} has a rule of its own: its default applies",
                             (section, variable, "probe", value, "reads", role, "default"))
    for kind_name, kind in data["kinds"].items():
        for backend_name, backend in (kind.get("backends") or {}).items():
            _check_groups(backend or {}, ("kinds", kind_name, "backends", backend_name), fail)
    distributions = {library["distribution"] for library in
                     (data.get("libraries") or {}).values()}
    for index, name in enumerate((data.get("engines") or {}).get("requirements_lack") or ()):
        if name not in distributions:
            fail(f"{name!r} is not the distribution of any of `libraries`",
                 ("engines", "requirements_lack", index))


def _check_groups(backend: Mapping[str, Any], path: Path_, fail: Any) -> None:
    """A group's keys are config keys of its backend, one variable each, in no other group."""
    config = backend.get("config") or {}
    grouped: set[str] = set()
    for index, group in enumerate(backend.get("together") or ()):
        where = (*path, "together", index)
        if len(group["keys"]) != len(group["stand_in"]):
            fail("expected one stand_in variable per key", (*where, "stand_in"))
        for key in group["keys"]:
            if key not in config:
                fail(f"{key!r} is not a config key of this backend", (*where, "keys"))
            if "stand_in" in config[key]:
                fail(f"{key!r} has a stand_in of its own; its group's applies",
                     (*path, "config", key, "stand_in"))
            if key in grouped:
                fail(f"{key!r} is in two groups", (*where, "keys"))
            grouped.add(key)


def _read(rule: Mapping[str, Any], value: str) -> str:
    return value.lower() if rule.get("case") == "lower" else value


# --------------------------------------------------------------------------- building

def _scope(data: Mapping[str, Any]) -> Scope:
    return Scope(data["tenant"], data["env"], data.get("project"))


def _backend(name: str, data: Mapping[str, Any]) -> BackendSpec:
    keys = tuple(ConfigKey(key, tuple(spec.get("stand_in", ())), spec.get("default"),
                           if_empty=spec.get("if_empty"), form=spec.get("form"),
                           keep_empty=spec.get("keep_empty", False))
                 for key, spec in (data.get("config") or {}).items())
    unusable = data.get("unusable")
    probe = data.get("probe") or {}
    return BackendSpec(
        name, keys, tuple(data.get("modes", ())),
        together=tuple(KeyGroup(tuple(group["keys"]), tuple(group["stand_in"]))
                       for group in data.get("together") or ()),
        needs_one_of=tuple(data.get("needs_one_of") or ()),
        refuses_other_envs=data.get("refuses_other_envs", False),
        unusable=None if unusable is None else Unusable(unusable["reason"],
                                                        str(unusable["since"])),
        probe=ProbeFacts(container=probe.get("container"),
                         table_keys=tuple(TableKey(key["name"], key["role"], key["type"])
                                          for key in probe.get("table_keys") or ()),
                         string_keys=tuple(probe.get("string_keys") or ()),
                         query_index=probe.get("index")))


def _kind(name: str, data: Mapping[str, Any]) -> KindSpec:
    at = data["at"]
    backends = data.get("backends")
    return KindSpec(
        name=name,
        at=at if isinstance(at, str) else "fixed",
        scope=None if isinstance(at, str) else _scope(at),
        severity=data.get("severity"),
        probe=data.get("probe", True),
        backends=None if backends is None else {
            backend: _backend(backend, spec or {}) for backend, spec in backends.items()},
    )


def _rule(variable: str, data: Mapping[str, Any]) -> VariableRule:
    engines = data["engines"]
    accept = engines.get("accept")
    allowed = data.get("allowed")
    needs = data.get("needs")
    return VariableRule(
        variable=variable, code=data["code"], fix=data["fix"], reads=engines["reads"],
        empty_unset=data.get("empty") == "unset", lower=data.get("case") == "lower",
        fallback=data.get("fallback"), default=data.get("default"),
        accept=None if accept is None else tuple(accept),
        engines_require=engines.get("require", False), value_type=engines.get("type"),
        silent=engines.get("otherwise") == "silent",
        falls_back_to=engines.get("falls_back_to", "memory"),
        allowed=None if allowed is None else tuple(allowed),
        required=data.get("required", False),
        needs=None if needs is None else {value: tuple(names) for value, names in needs.items()},
        severity=data.get("severity"), reason=data.get("reason"),
        trim=data.get("trim", False), why=engines.get("why"),
        require_when=None if "require_when" not in engines else {
            name: tuple(values) for name, values in engines["require_when"].items()},
        needs_one_of=None if "needs_one_of" not in engines else {
            value: tuple(names) for value, names in engines["needs_one_of"].items()},
        probe=None if "probe" not in data else {
            value: VariableProbe(chosen["backend"], {
                role: ProbeRead(read["variable"], read.get("default"))
                for role, read in chosen["reads"].items()})
            for value, chosen in data["probe"].items()},
    )


def build(data: Mapping[str, Any], lines: Mapping[str, str], source: str, *,
          built_in: bool) -> Profile:
    """Schema-valid data to the immutable Profile the checks read."""
    startup = data["startup"]
    serving = data["serving"]
    refused = data["refused_backends"]
    return Profile(
        name=data["name"],
        description=data.get("description", ""),
        source=source,
        built_in=built_in,
        collection=data["registry"]["collection"],
        database=data["registry"]["database"],
        envs=tuple(data["envs"]),
        startup_scope=_scope(startup["scope"]),
        startup_severity=startup["severity"],
        serving_severity=serving["severity"],
        serving_modes=tuple(serving["modes"]),
        refused_all=tuple(refused["all"]),
        refused_by_env={env: tuple(names) for env, names in refused["by_env"].items()},
        kinds={name: _kind(name, spec) for name, spec in data["kinds"].items()},
        environment={name: _rule(name, rule) for name, rule in data["environment"].items()},
        backend_variables={name: _rule(name, rule)
                           for name, rule in data["backend_variables"].items()},
        probes=data["probes"]["enabled"],
        probe_backends=dict(data["probes"].get("backends") or {}),
        lines=lines,
        engines=_engines(data.get("engines")),
        libraries={backend: Library(spec["distribution"], spec["module"])
                   for backend, spec in (data.get("libraries") or {}).items()},
    )


def _engines(data: Mapping[str, Any] | None) -> EnginesSource | None:
    if data is None:
        return None
    return EnginesSource(entry=data["entry"], repository=data.get("repository"),
                         commit=data.get("commit"),
                         not_checked=dict((data.get("not_checked") or {}).get("variables") or {}),
                         requirements_lack=tuple(data.get("requirements_lack") or ()))


def compile_built_in(name: str) -> dict[str, str]:
    """engines.yaml -> engines.json (the document) and engines.lines.json (its line index):
    what `make profiles` writes and the tests compare."""
    source = f"preflight/contract/profiles/{name}.yaml"
    data, lines = parse_yaml(built_in_yaml(name), source)
    validate(data, lines, source)
    numbers = {key: int(where.rsplit(":", 1)[1]) for key, where in lines.items()}
    compact = {"separators": (",", ":"), "ensure_ascii": False}
    return {f"{name}.json": json.dumps(data, **compact) + "\n",  # type: ignore[arg-type]
            f"{name}.lines.json": json.dumps(numbers, **compact) + "\n"}  # type: ignore[arg-type]


def env_variables(profile: Profile) -> tuple[str, ...]:
    """Every variable a rule or a config key reads, for the Config's snapshot of the env."""
    names: list[str] = []
    for rules in (profile.environment, profile.backend_variables):
        for rule in rules.values():
            names.append(rule.variable)
            if rule.fallback:
                names.append(rule.fallback)
            for needed in (rule.needs_one_of or {}).values():
                names.extend(needed)
            for chosen in (rule.probe or {}).values():
                names.extend(read.variable for read in chosen.reads.values())
    for kind in profile.kinds.values():
        for backend in (kind.backends or {}).values():
            for key in backend.config:
                names.extend(key.stand_in)
            for group in backend.together:
                names.extend(group.stand_in)
            names.extend(backend.needs_one_of)
    return tuple(dict.fromkeys(names))
