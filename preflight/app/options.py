"""The options every command shares: each flag with its variables, default and help.

One table (`OPTIONS`): the command line and its help text are made from it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from preflight import checks
from preflight.config import (
    DEFAULT_ATTEMPT_TIMEOUT,
    DEFAULT_TIMEOUT,
    FORMATS,
    Raw,
    Source,
    default_format,
)

F = TypeVar("F", bound=Callable[..., Any])


class CommaListEnv(click.ParamType[str]):
    """A repeatable option whose variable holds a comma list (click would split on spaces)."""

    name = "text"
    envvar_list_splitter = ","

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        return value.strip() if isinstance(value, str) else value


class SemicolonListEnv(CommaListEnv):
    """For items that contain commas themselves, like prod=filesystem,memory."""

    envvar_list_splitter = ";"


@dataclass(frozen=True)
class OptionSpec:
    name: str
    flag: str
    envvar: str | tuple[str, ...]
    default: str | tuple[str, ...] | None
    help: str
    metavar: str = "TEXT"
    multiple: bool = False
    shown_default: str | None = None
    is_flag: bool = False
    splitter: str = ","


OPTIONS = (
    OptionSpec("profile", "--profile", "PREFLIGHT_PROFILE", None,
               "The rules: a built-in profile's name or a profile file (YAML); see "
               "'preflight profile'.", "FILE|NAME", shown_default="engines"),
    OptionSpec("project", "--project", ("GCP_PROJECT_ID", "GCP_PROJECT"), None,
               "Firestore project.", "PROJECT"),
    OptionSpec("database", "--database", "PREFLIGHT_FIRESTORE_DATABASE", None,
               "Firestore database id.", "ID", shown_default="the profile's, (default)"),
    OptionSpec("bucket", "--bucket", "RAW_BUCKET", None, "S3 bucket that must exist.", "NAME"),
    OptionSpec("collection", "--collection", "PREFLIGHT_ROUTING_COLLECTION", None,
               "Routing registry collection.", "ID",
               shown_default="the profile's, routing_registry"),
    OptionSpec("kinds", "--kinds", "PREFLIGHT_REQUIRED_KINDS", None,
               "Kinds required at the start-up scope, comma-separated.", "LIST",
               shown_default="the profile's start-up kinds (the engines' 17)"),
    OptionSpec("scopes", "--scope", "PREFLIGHT_SCOPES", (),
               "Start-up scope to check, tenant/env or tenant/env/project; repeatable (the "
               "variable takes a comma list).", "SCOPE", multiple=True,
               shown_default="the profile's, t_system/dev"),
    OptionSpec("serving_scopes", "--serve-scope", "PREFLIGHT_SERVING_SCOPES", (),
               "A tenant/env/project this deployment serves: its request-time routes are "
               "checked too; repeatable (the variable takes a comma list).", "SCOPE",
               multiple=True, shown_default="none"),
    OptionSpec("disallow", "--disallow", "PREFLIGHT_DISALLOWED_BACKENDS", None,
               "Refused backend types, comma-separated; the engines' own refusals (the "
               "profile's) always apply.", "LIST",
               shown_default="the profile's: memory,noop,local,tmp,localhost"),
    OptionSpec("timeout", "--timeout", "PREFLIGHT_TIMEOUT", f"{DEFAULT_TIMEOUT:g}",
               "Overall deadline in seconds, counted from process start.", "SECONDS"),
    OptionSpec("attempt_timeout", "--attempt-timeout", "PREFLIGHT_ATTEMPT_TIMEOUT",
               f"{DEFAULT_ATTEMPT_TIMEOUT:g}", "Bound on one call to a dependency, in seconds.",
               "SECONDS"),
    OptionSpec("verdict_file", "--verdict-file", "PREFLIGHT_VERDICT_FILE", None,
               "Write the verdict JSON here (atomically).", "PATH"),
    OptionSpec("termination_log", "--termination-log", "PREFLIGHT_TERMINATION_LOG", None,
               "Kubernetes termination message file.", "PATH",
               shown_default="/dev/termination-log when it exists and is writable"),
    OptionSpec("format", "--format", "PREFLIGHT_FORMAT", None,
               f"What stdout carries: {', '.join(FORMATS)}.", "FORMAT",
               shown_default="text on a terminal, else json"),
    OptionSpec("log_level", "--log-level", "PREFLIGHT_LOG_LEVEL", "info",
               "stderr log level: debug, info, warning or error.", "LEVEL",
               shown_default="info; warning for text on a terminal, error under the live view"),
    OptionSpec("ignore", "--ignore", "PREFLIGHT_IGNORE", (),
               "Report this check's failure as a warning (marked ignored); repeatable, "
               f"case-insensitive: {', '.join(checks.NAMES)}, or 'all'.", "CHECK",
               multiple=True),
    OptionSpec("only", "--only", "PREFLIGHT_ONLY", (),
               f"Run only this check ({', '.join(checks.NAMES)}); repeatable.", "CHECK",
               multiple=True),
    OptionSpec("skip", "--skip", "PREFLIGHT_SKIP", (),
               f"Do not run this check ({', '.join(checks.NAMES)}); repeatable.", "CHECK",
               multiple=True),
    OptionSpec("strict", "--strict", "PREFLIGHT_STRICT", None,
               "Warnings fail the run (exit 1), except ignored checks.", is_flag=True),
    OptionSpec("disallow_in", "--disallow-in", "PREFLIGHT_DISALLOW_IN", (),
               "Refuse more backends in scopes of one env, e.g. prod=filesystem,memory; "
               "repeatable (the variable separates items with ';').", "ENV=LIST",
               multiple=True, splitter=";"),
    OptionSpec("extra_envs", "--extra-env", "PREFLIGHT_EXTRA_ENVS", (),
               "Accept this env name in --disallow-in although the engines do not serve it "
               "(the profile's envs: dev, staging, stage, prod); repeatable.", "ENV",
               multiple=True),
    OptionSpec("no_color", "--no-color", (), None,
               "No colours on a terminal.", is_flag=True),
    OptionSpec("probes", "--probes/--no-probes", "PREFLIGHT_PROBES", None,
               "Probe every backend the routes and variables name (backends.reachable); "
               "PREFLIGHT_PROBES=0 turns them off.", is_flag=True, shown_default="on"),
)


def with_options(specs: tuple[OptionSpec, ...]) -> Callable[[F], F]:
    """The click options for `specs`, each with its variables and default in its help."""

    def decorate(function: F) -> F:
        for spec in reversed(specs):
            envvars = (spec.envvar,) if isinstance(spec.envvar, str) else spec.envvar
            shown = spec.shown_default or (spec.default if isinstance(spec.default, str)
                                           else None)
            help_text = spec.help + (" Env: " + ", then ".join(envvars) + "." if envvars else
                                     " Env: NO_COLOR (any value).")
            if shown:
                help_text += f" Default: {shown}."
            if spec.is_flag:
                function = click.option(spec.flag, spec.name, envvar=list(envvars),
                                        is_flag=True, help=help_text)(function)
                continue
            function = click.option(
                spec.flag, spec.name, envvar=list(envvars), default=spec.default,
                multiple=spec.multiple, metavar=spec.metavar, help=help_text,
                type=(SemicolonListEnv() if spec.splitter == ";" else CommaListEnv())
                if spec.multiple else click.STRING,
                show_default=False,
            )(function)
        return function

    return decorate


target_options = with_options(OPTIONS)


# `preflight audit` reads the whole registry: the options that say where it is and how long
# to try, with a longer default deadline; every other option keeps its default.
AUDIT_TIMEOUT = "600"


AUDIT_OPTIONS = tuple(
    replace(spec, default=AUDIT_TIMEOUT, help="Overall deadline for reading the registry, "
            "in seconds, counted from process start.") if spec.name == "timeout" else
    replace(spec, help="What stdout carries: text, json, junit or html.",
            shown_default="text") if spec.name == "format" else spec
    for spec in OPTIONS if spec.name in ("profile", "project", "database", "collection",
                                         "timeout", "attempt_timeout", "format", "log_level",
                                         "no_color"))


# `preflight serve` has no deadline unless --timeout is on its command line: the variable sits
# in ConfigMaps a native sidecar shares with init containers (Run.prepare ignores it, saying so).
SERVE_OPTIONS = tuple(
    replace(spec, help="Deadline in seconds, counted from process start, only when given on "
            "the command line: serve ignores the variable (a sidecar that gives up "
            "crash-loops).", shown_default="none") if spec.name == "timeout" else spec
    for spec in OPTIONS)


# `preflight audit merge` reads no registry: only what shapes its output.
MERGE_OPTIONS = tuple(spec for spec in AUDIT_OPTIONS
                      if spec.name in ("format", "log_level", "no_color"))


def raw_values(ctx: click.Context, values: dict[str, Any]) -> dict[str, Raw]:
    """Each value with where it came from, so errors (and explain) can name the source.

    An option the command does not offer keeps its default."""
    raw: dict[str, Raw] = {}
    for spec in OPTIONS:
        if spec.name not in values:
            raw[spec.name] = Raw(spec.default, Source.DEFAULT, f"{spec.flag} (default)")
            continue
        value = values[spec.name]
        origin = ctx.get_parameter_source(spec.name)
        if origin is ParameterSource.COMMANDLINE:
            raw[spec.name] = Raw(value, Source.FLAG, spec.flag)
        elif origin is ParameterSource.ENVIRONMENT:
            envvars = (spec.envvar,) if isinstance(spec.envvar, str) else spec.envvar
            where = next((name for name in envvars if os.environ.get(name)), envvars[0])
            raw[spec.name] = Raw(value, Source.ENV, where)
        else:
            if spec.name == "format":
                value = default_format()
            raw[spec.name] = Raw(value, Source.DEFAULT, f"{spec.flag} (default)")
    return raw


WAIT_HELP = ("Keep re-running failing checks until all pass or the deadline. "
             "Env: PREFLIGHT_WAIT.")
