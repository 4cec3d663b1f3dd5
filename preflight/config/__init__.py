"""Configuration, parsed and validated once, up front, into an immutable object.

Every value is checked before any network call, so a typo in a manifest is an exit 2 that
names the option or variable, never a check that fails for the wrong reason.
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from preflight.config import web_identity
from preflight.config.web_identity import WebIdentity
from preflight.contract.lookups import Located, lookups, request_time_scopes
from preflight.contract.profile import DEFAULT_PROFILE, Profile, ProfileError, env_variables, load
from preflight.core.errors import ConfigError
from preflight.core.scope import Scope
from preflight.core.verdict import Target

DEFAULT_TIMEOUT = 60.0
DEFAULT_ATTEMPT_TIMEOUT = 5.0
# The verdict holds no secrets by design and another container (another uid) reads it.
DEFAULT_VERDICT_FILE_MODE = 0o644
VERDICT_FILE_MODE_VARIABLE = "PREFLIGHT_VERDICT_FILE_MODE"
KUBERNETES_TERMINATION_LOG = Path("/dev/termination-log")
FORMATS = ("text", "json", "junit", "tap")
ALL_CHECKS = "all"
_RESOURCE_ID = re.compile(r"[A-Za-z0-9._:()-]{1,100}")
LOG_LEVELS = ("debug", "info", "warning", "error")

AWS_ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_STS",
                          "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")


class ProfileUnusable(ConfigError):
    """A profile that does not load: its own error already names the file, line and key."""

    def __init__(self, where: str, error: Exception) -> None:
        self.where = where
        self.expected = "a valid profile"
        self.got = None
        Exception.__init__(self, f"{where}: {error}" if where else str(error))


class Source(StrEnum):
    FLAG = "flag"
    ENV = "env"
    PROFILE = "profile"
    DEFAULT = "default"


@dataclass(frozen=True)
class Raw:
    """One option's raw value and where it came from, as the command line layer saw it."""

    value: str | tuple[str, ...] | bool | None
    source: Source
    where: str  # "--timeout", "PREFLIGHT_TIMEOUT" or "default"


def default_profile() -> Profile:
    return load(DEFAULT_PROFILE)


@dataclass(frozen=True)
class Config:
    project: str | None
    database: str
    bucket: str | None
    collection: str
    kinds: tuple[str, ...]
    scopes: tuple[Scope, ...]
    disallowed: frozenset[str]
    timeout: float
    attempt_timeout: float
    verdict_file: Path | None
    termination_log: Path | None
    format: str
    log_level: str
    engines_env: Mapping[str, str | None]
    emulator_host: str | None
    ignore: frozenset[str] = frozenset()
    selected: tuple[str, ...] = ()  # the checks that run; the others are skipped by choice
    deselected_by: str | None = None  # the option or variable that deselected them
    strict: bool = False
    disallowed_by_env: Mapping[str, frozenset[str]] = field(default_factory=dict)
    extra_envs: tuple[str, ...] = ()  # env names accepted besides the engines' own
    color: bool = True
    verdict_file_mode: int = DEFAULT_VERDICT_FILE_MODE
    serving_scopes: tuple[Scope, ...] = ()
    probes: bool = True
    profile: Profile = field(default_factory=default_profile, compare=False, repr=False)
    sources: Mapping[str, Raw] = field(default_factory=dict, compare=False, repr=False)
    # AWS: preflight's own Google-token provider (PREFLIGHT_AWS_WEB_IDENTITY=gcp), if on, and
    # the endpoint variables botocore reads (AWS_ENDPOINT_VARIABLES) that are set.
    aws_web_identity: WebIdentity | None = None
    aws_endpoints: Mapping[str, str] = field(default_factory=dict)
    # preflight exec: the Python the engines will run in (their client libraries are
    # checked there); None elsewhere: an init container or sidecar cannot see it.
    engines_python: str | None = None

    def disallowed_for(self, env: str) -> frozenset[str]:
        """The base refused backends plus those refused for this env (--disallow-in)."""
        return self.disallowed | self.disallowed_by_env.get(env, frozenset())

    def per_env_rules(self, scopes: Sequence[Scope]
                      ) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        """--disallow-in as it applies: per scope the rule of its env, and rules of no scope."""
        applied = {scope.label: sorted(self.disallowed_by_env.get(scope.env, ()))
                   for scope in scopes}
        envs = {scope.env for scope in scopes}
        unmatched = {env: sorted(refused) for env, refused in self.disallowed_by_env.items()
                     if env not in envs}
        return applied, unmatched

    def lookups(self) -> list[Located]:
        """Every (kind, scope) the engines will look up with this configuration."""
        return lookups(self.profile, self.scopes, self.kinds, self.serving_scopes)

    def request_time_scopes(self) -> dict[Scope, tuple[str, ...]]:
        return request_time_scopes(self.profile, self.serving_scopes)

    def target(self) -> Target:
        """What the verdict says was checked."""
        return Target(self.project, self.database, self.bucket, self.collection,
                      tuple(scope.label for scope in self.scopes), self.kinds,
                      tuple(scope.label for scope in self.serving_scopes), self.profile.name,
                      self.emulator_host is not None, self.strict)

    def every_scope(self) -> tuple[Scope, ...]:
        """Every scope a route is read at: start-up, serving, and the kinds' fixed scopes."""
        fixed = tuple(self.profile.fixed_scopes())
        return tuple(dict.fromkeys((*self.scopes, *self.serving_scopes, *fixed)))


def _printable(text: str) -> bool:
    return text.isprintable()


def split_list(raw: Raw, what: str) -> tuple[str, ...]:
    """Comma lists from flags and variables alike; empty items are mistakes, not no-ops."""
    if raw.value is None or isinstance(raw.value, bool):
        return ()
    chunks = (raw.value,) if isinstance(raw.value, str) else raw.value
    items: list[str] = []
    for chunk in chunks:
        for position, item in enumerate(chunk.split(","), start=1):
            cleaned = item.strip()
            if not cleaned:
                raise ConfigError(
                    raw.where, f"a comma-separated list of {what} with no empty items "
                    f"(item {position} is empty)", chunk)
            if not _printable(cleaned):
                raise ConfigError(raw.where, f"{what} without control characters", cleaned)
            if cleaned not in items:
                items.append(cleaned)
    return tuple(items)


def parse_scope(text: str, where: str) -> Scope:
    parts = text.split("/")
    # No tenant, env or project the engines accept holds a space (docs/ENGINES.md §4): one
    # there is a mistake, such as a list separated by spaces instead of commas.
    if len(parts) not in (2, 3) or any(not p or any(c.isspace() for c in p) for p in parts):
        raise ConfigError(
            where, "scopes as tenant/env or tenant/env/project, each part non-empty "
            "and without '/' or spaces", text)
    return Scope(parts[0], parts[1], parts[2] if len(parts) == 3 else None)


def parse_seconds(raw: Raw, *, maximum: float = 86_400.0) -> float:
    assert isinstance(raw.value, str)
    try:
        seconds = float(raw.value)
    except ValueError:
        raise ConfigError(raw.where, "a number of seconds", raw.value) from None
    if not math.isfinite(seconds) or seconds <= 0 or seconds > maximum:
        raise ConfigError(raw.where, f"a number of seconds > 0 and <= {maximum:g}", raw.value)
    return seconds


def parse_choice(raw: Raw, choices: Sequence[str]) -> str:
    assert isinstance(raw.value, str)
    value = raw.value.strip().lower()
    if value not in choices:
        raise ConfigError(raw.where, "one of " + ", ".join(choices), raw.value)
    return value


def parse_name(raw: Raw, what: str) -> str | None:
    if raw.value is None:
        return None
    assert isinstance(raw.value, str)
    value = raw.value.strip()
    if not value or not _printable(value):
        raise ConfigError(raw.where, f"a non-empty {what} without control characters", raw.value)
    return value


def parse_resource_id(raw: Raw, what: str) -> str | None:
    """Project and database ids travel in gRPC request headers: ASCII, no spaces or '/'."""
    value = parse_name(raw, what)
    if value is not None and not _RESOURCE_ID.fullmatch(value):
        raise ConfigError(raw.where, f"a {what} of ASCII letters, digits and . : _ - ( )",
                          value)
    return value


def parse_check_names(raw: Raw, known: Sequence[str], *, allow_all: bool) -> frozenset[str]:
    """Check names, case-insensitive; `all` only on its own, as kubeadm does."""
    names = {item.lower() for item in split_list(raw, "check names")}
    valid = ", ".join(known) + (f", or {ALL_CHECKS}" if allow_all else "")
    if ALL_CHECKS in names:
        if not allow_all or len(names) > 1:
            raise ConfigError(raw.where, f"'{ALL_CHECKS}' on its own, or check names: {valid}"
                              if allow_all else f"check names: {valid}")
        return frozenset(known)
    unknown = sorted(names - set(known))
    if unknown:
        raise ConfigError(raw.where, f"check names: {valid}", ",".join(unknown))
    return frozenset(names)


def parse_disallow_in(raw: Raw, envs: Sequence[str],
                      extra_envs: Sequence[str] = ()) -> dict[str, frozenset[str]]:
    """ENV=LIST items (the variable separates items with ';'), added to the base list.

    The env must be one the engines serve (the profile's `envs`) or one the operator added
    with --extra-env: a typo would otherwise turn a safety rule off without a word.
    """
    if raw.value is None:
        return {}
    items = (raw.value,) if isinstance(raw.value, str) else raw.value
    assert isinstance(items, tuple)
    known = (*envs, *extra_envs)
    by_env: dict[str, frozenset[str]] = {}
    for item in items:
        env, equals, backends = item.partition("=")
        listed = Raw(backends, raw.source, raw.where)
        if not equals or not env.strip() or not backends.strip():
            raise ConfigError(raw.where, "ENV=BACKEND[,BACKEND…] (e.g. prod=filesystem,memory)",
                              item)
        if env.strip() not in known:
            raise ConfigError(
                raw.where, f"an env the engines serve ({', '.join(envs)}), or one "
                "added with --extra-env / PREFLIGHT_EXTRA_ENVS", env.strip())
        refused = frozenset(b.lower() for b in split_list(listed, "backend types"))
        by_env[env.strip()] = by_env.get(env.strip(), frozenset()) | refused
    return by_env


def parse_flag(raw: Raw) -> bool:
    return bool(raw.value)


def parse_listen(text: str, where: str) -> tuple[str, int]:
    """HOST:PORT, [IPv6]:PORT or :PORT (all interfaces)."""
    host, _, port_text = text.strip().rpartition(":")
    host = host.strip("[]") or "0.0.0.0"  # noqa: S104 - a sidecar's probes come from outside
    if not port_text.isdigit() or not 0 < int(port_text) < 65536 or not _printable(host):
        raise ConfigError(where, "HOST:PORT with a port from 1 to 65535", text)
    return host, int(port_text)


def writable_file_target(raw: Raw) -> Path | None:
    """A file we will write at the end: its folder must exist and be writable now."""
    if raw.value is None or raw.value == "":
        return None
    assert isinstance(raw.value, str)
    try:
        return _writable_file_target(raw, Path(raw.value))
    except (OSError, ValueError) as error:  # a name too long, a NUL byte, …
        reason = error.strerror if isinstance(error, OSError) else str(error)
        raise ConfigError(raw.where, f"a usable file path ({reason})", raw.value) from None


def _writable_file_target(raw: Raw, path: Path) -> Path:
    assert isinstance(raw.value, str)
    folder = path.parent
    if path.is_dir():
        raise ConfigError(raw.where, "a file path, not a folder", raw.value)
    if not folder.is_dir():
        raise ConfigError(raw.where, f"a file in an existing folder ({folder} does not exist)",
                          raw.value)
    if path.exists() and not os.access(path, os.W_OK):
        raise ConfigError(raw.where, "a writable file", raw.value)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(raw.where, f"a file in a writable folder ({folder} is not writable)",
                          raw.value)
    return path


def parse_file_mode(text: str | None, where: str) -> int:
    """An octal permission mode like 0644 or 640; the owner must keep read and write."""
    if not text:
        return DEFAULT_VERDICT_FILE_MODE
    expected = "an octal file mode from 600 to 777, like 0644 or 0640"
    if not re.fullmatch(r"0?[0-7]{3}", text):
        raise ConfigError(where, expected, text)
    mode = int(text, 8)
    if mode & 0o600 != 0o600:
        raise ConfigError(where, expected, text)
    return mode


def default_termination_log() -> Path | None:
    path = KUBERNETES_TERMINATION_LOG
    return path if path.exists() and os.access(path, os.W_OK) else None


def default_format() -> str:
    return "text" if sys.stdout.isatty() else "json"


def select(raw: Mapping[str, Raw], known: Sequence[str]) -> tuple[tuple[str, ...], str | None]:
    """--only / --skip: which checks run, and which option decided it."""
    only, skip = raw.get("only"), raw.get("skip")
    if only is not None and only.value and skip is not None and skip.value:
        raise ConfigError(only.where, f"either {only.where} or {skip.where}, not both")
    if only is not None and only.value:
        chosen = parse_check_names(only, known, allow_all=False)
        return tuple(name for name in known if name in chosen), only.where
    if skip is not None and skip.value:
        dropped = parse_check_names(skip, known, allow_all=False)
        return tuple(name for name in known if name not in dropped), skip.where
    return tuple(known), None


def load_profile(raw: Raw | None) -> Profile:
    """The profile named by --profile / PREFLIGHT_PROFILE (a built-in name or a file)."""
    reference = DEFAULT_PROFILE if raw is None or not raw.value else raw.value
    assert isinstance(reference, str)
    try:
        return load(reference)
    except ProfileError as error:
        raise ProfileUnusable(raw.where if raw is not None else "--profile", error) from None


def from_profile(raw: Mapping[str, Raw], profile: Profile) -> dict[str, Raw]:
    """Options left at their default take the profile's value, and say where it is."""
    offered: dict[str, tuple[str | tuple[str, ...], tuple[str, ...]]] = {
        "collection": (profile.collection, ("registry", "collection")),
        "database": (profile.database, ("registry", "database")),
        "kinds": (",".join(profile.kinds_at("startup")), ("kinds",)),
        "scopes": ((profile.startup_scope.label,), ("startup", "scope")),
        "disallow": (",".join(profile.refused_all), ("refused_backends", "all")),
    }
    merged = dict(raw)
    for name, (value, path) in offered.items():
        current = raw.get(name)
        if current is None or current.source is Source.DEFAULT:
            merged[name] = Raw(value, Source.PROFILE,
                               f"profile {profile.name} ({profile.where(*path)})")
    return merged


def parse_serving_scopes(raw: Raw | None) -> tuple[Scope, ...]:
    """Request-time lookups always carry a project: a serving scope without one is a typo."""
    if raw is None:
        return ()
    scopes = tuple(parse_scope(item, raw.where) for item in split_list(raw, "serving scopes"))
    for scope in scopes:
        if scope.project is None:
            raise ConfigError(raw.where, "serving scopes as tenant/env/project (the engines look "
                              "request-time routes up with the caller's project)", scope.label)
    return tuple(dict.fromkeys(scopes))


def build(raw: Mapping[str, Raw], environ: Mapping[str, str], check_names: Sequence[str], *,
          formats: Sequence[str] = FORMATS) -> Config:
    """Turn the command line layer's raw strings into a validated Config, or raise ConfigError.

    `formats`: what --format accepts for this command (`audit` has its own)."""
    profile = load_profile(raw.get("profile"))
    raw = from_profile(raw, profile)
    scopes = tuple(parse_scope(item, raw["scopes"].where) for item in split_list(
        raw["scopes"], "scopes"))
    kinds = split_list(raw["kinds"], "resource kinds")
    if not kinds:
        raise ConfigError(raw["kinds"].where, "at least one resource kind")
    if not scopes:
        raise ConfigError(raw["scopes"].where, "at least one scope")
    disallowed = frozenset(item.lower() for item in split_list(raw["disallow"], "backend types"))
    collection = parse_name(raw["collection"], "collection id")
    database = parse_resource_id(raw["database"], "database id")
    assert collection is not None
    assert database is not None
    if "/" in collection:
        raise ConfigError(raw["collection"].where, "a top-level collection id without '/'",
                          collection)
    termination = raw["termination_log"]
    selected, deselected_by = select(raw, check_names)
    extra_envs = split_list(raw["extra_envs"], "env names") if "extra_envs" in raw else ()
    by_env = {env: frozenset(names) for env, names in profile.refused_by_env.items()}
    for env, names in (parse_disallow_in(raw["disallow_in"], profile.envs, extra_envs)
                       if "disallow_in" in raw else {}).items():
        by_env[env] = by_env.get(env, frozenset()) | names
    timeout = parse_seconds(raw["timeout"])
    attempt_timeout = parse_seconds(raw["attempt_timeout"], maximum=3_600.0)
    if attempt_timeout > timeout:
        if raw["attempt_timeout"].source is Source.DEFAULT:
            attempt_timeout = timeout  # a short --timeout bounds the default per-call bound
        else:
            # One call could never finish inside the deadline: a mistake, not a preference.
            raise ConfigError(raw["attempt_timeout"].where,
                              f"at most {raw['timeout'].where} ({timeout:g} s)",
                              str(raw["attempt_timeout"].value))
    return Config(
        project=parse_resource_id(raw["project"], "project id"),
        database=database,
        bucket=parse_name(raw["bucket"], "bucket name"),
        collection=collection,
        kinds=kinds,
        scopes=tuple(dict.fromkeys(scopes)),
        disallowed=disallowed,
        timeout=timeout,
        attempt_timeout=attempt_timeout,
        verdict_file=writable_file_target(raw["verdict_file"]),
        termination_log=(default_termination_log() if termination.source is Source.DEFAULT
                         else writable_file_target(termination)),
        format=parse_choice(raw["format"], formats),
        log_level=parse_choice(raw["log_level"], LOG_LEVELS),
        engines_env={name: environ.get(name) for name in env_variables(profile)},
        emulator_host=environ.get("FIRESTORE_EMULATOR_HOST") or None,
        ignore=(parse_check_names(raw["ignore"], check_names, allow_all=True) if "ignore" in raw
                else frozenset()),
        selected=selected,
        deselected_by=deselected_by,
        strict=parse_flag(raw["strict"]) if "strict" in raw else False,
        disallowed_by_env=by_env,
        extra_envs=extra_envs,
        color=not (parse_flag(raw["no_color"]) if "no_color" in raw else False)
        and "NO_COLOR" not in environ,
        verdict_file_mode=parse_file_mode(environ.get(VERDICT_FILE_MODE_VARIABLE),
                                          VERDICT_FILE_MODE_VARIABLE),
        serving_scopes=parse_serving_scopes(raw.get("serving_scopes")),
        probes=parse_flag(raw["probes"]) if "probes" in raw
        and raw["probes"].source is not Source.DEFAULT else profile.probes,
        profile=profile,
        sources=dict(raw),
        aws_web_identity=web_identity.from_environ(environ),
        aws_endpoints={name: environ[name] for name in AWS_ENDPOINT_VARIABLES
                       if environ.get(name)},
    )
