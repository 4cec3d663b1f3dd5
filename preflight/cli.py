"""Command line: options with environment variables, one-line usage errors, exit codes.

Nothing here imports a cloud client: `--version` and `--help` stay fast.
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import os
import shutil
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click
from click.core import ParameterSource

from preflight import PROCESS_START, __version__
from preflight.config import (
    DEFAULT_ATTEMPT_TIMEOUT,
    DEFAULT_COLLECTION,
    DEFAULT_DATABASE,
    DEFAULT_SCOPES,
    DEFAULT_TIMEOUT,
    ENGINES_REFUSED_BACKENDS,
    ENGINES_REQUIRED_KINDS,
    Config,
    ConfigError,
    Raw,
    Source,
    build,
    default_format,
    parse_listen,
    parse_seconds,
)
from preflight.verdict import ExitCode, Verdict

if TYPE_CHECKING:  # imported lazily at run time: --version and --help stay light
    from preflight.session import Session

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
    OptionSpec("project", "--project", ("GCP_PROJECT_ID", "GCP_PROJECT"), None,
               "Firestore project.", "PROJECT"),
    OptionSpec("database", "--database", "PREFLIGHT_FIRESTORE_DATABASE", DEFAULT_DATABASE,
               "Firestore database id.", "ID"),
    OptionSpec("bucket", "--bucket", "RAW_BUCKET", None, "S3 bucket that must exist.", "NAME"),
    OptionSpec("collection", "--collection", "PREFLIGHT_ROUTING_COLLECTION", DEFAULT_COLLECTION,
               "Routing registry collection.", "ID"),
    OptionSpec("kinds", "--kinds", "PREFLIGHT_REQUIRED_KINDS", ",".join(ENGINES_REQUIRED_KINDS),
               "Required resource kinds, comma-separated.", "LIST",
               shown_default="the engines' 17 kinds"),
    OptionSpec("scopes", "--scope", "PREFLIGHT_SCOPES", DEFAULT_SCOPES,
               "Scope to check, tenant/env or tenant/env/project; repeatable (the variable "
               "takes a comma list).", "SCOPE", multiple=True, shown_default="t_system/dev"),
    OptionSpec("disallow", "--disallow", "PREFLIGHT_DISALLOWED_BACKENDS",
               ",".join(ENGINES_REFUSED_BACKENDS), "Refused backend types, comma-separated.",
               "LIST"),
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
               "What stdout carries: text or json.", "FORMAT",
               shown_default="text on a terminal, else json"),
    OptionSpec("log_level", "--log-level", "PREFLIGHT_LOG_LEVEL", "info",
               "stderr log level: debug, info, warning or error.", "LEVEL"),
    OptionSpec("ignore", "--ignore", "PREFLIGHT_IGNORE", (),
               "Report this check's failure as a warning (marked ignored); repeatable, "
               "case-insensitive, or 'all'.", "CHECK", multiple=True),
    OptionSpec("only", "--only", "PREFLIGHT_ONLY", (), "Run only this check; repeatable.",
               "CHECK", multiple=True),
    OptionSpec("skip", "--skip", "PREFLIGHT_SKIP", (), "Do not run this check; repeatable.",
               "CHECK", multiple=True),
    OptionSpec("strict", "--strict", "PREFLIGHT_STRICT", None,
               "Warnings fail the run (exit 1), except ignored checks.", is_flag=True),
    OptionSpec("disallow_in", "--disallow-in", "PREFLIGHT_DISALLOW_IN", (),
               "Refuse more backends in scopes of one env, e.g. prod=filesystem,memory; "
               "repeatable (the variable separates items with ';').", "ENV=LIST",
               multiple=True, splitter=";"),
    OptionSpec("no_color", "--no-color", (), None,
               "No colours on a terminal.", is_flag=True),
    OptionSpec("probes", "--probes/--no-probes", "PREFLIGHT_PROBES", None,
               "Probe every backend the routes and variables name (backends.reachable); "
               "PREFLIGHT_PROBES=0 turns them off.", is_flag=True, shown_default="on"),
)


def target_options(function: F) -> F:
    for spec in reversed(OPTIONS):
        envvars = (spec.envvar,) if isinstance(spec.envvar, str) else spec.envvar
        shown = spec.shown_default or (spec.default if isinstance(spec.default, str) else None)
        help_text = spec.help + (" Env: " + ", then ".join(envvars) + "." if envvars else
                                 " Env: NO_COLOR (any value).")
        if shown:
            help_text += f" Default: {shown}."
        if spec.is_flag:
            function = click.option(spec.flag, spec.name, envvar=list(envvars), is_flag=True,
                                    help=help_text)(function)
            continue
        function = click.option(
            spec.flag, spec.name, envvar=list(envvars), default=spec.default,
            multiple=spec.multiple, metavar=spec.metavar, help=help_text,
            type=(SemicolonListEnv() if spec.splitter == ";" else CommaListEnv())
            if spec.multiple else click.STRING,
            show_default=False,
        )(function)
    return function


def raw_values(ctx: click.Context, values: dict[str, Any]) -> dict[str, Raw]:
    """Each value with where it came from, so errors (and explain) can name the source."""
    raw: dict[str, Raw] = {}
    for spec in OPTIONS:
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


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", message="preflight %(version)s")
def cli() -> None:
    """Decide whether an engines pod may start.

    Checks what the engines demand at start-up: their environment rules, Google credentials,
    Firestore access, the S3 bucket, and a valid, allowed route for every required kind in
    the routing registry. Exit codes: 0 pass, 1 failed, 2 usage, 3 not ready (only
    transient failures), 130/143 interrupted.
    """


class Interrupt:
    """SIGTERM / SIGINT stop the run; the verdict is still written."""

    def __init__(self, cancel: threading.Event) -> None:
        self.cancel = cancel
        self.signal: int | None = None

    def install(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.signal is None:
            self.signal = signum
        self.cancel.set()


@dataclass
class Run:
    """What every command sets up the same way: config, scrubbing, logs, signals, session."""

    config: Config
    log: Any
    session: Session

    @classmethod
    def prepare(cls, ctx: click.Context, values: dict[str, Any], *,
                deadline_from_flag_only: bool = False, live: bool = True) -> Run:
        from preflight import logs
        from preflight.redact import Scrubber
        from preflight.session import Session

        raw = raw_values(ctx, values)
        config = build(raw, os.environ)
        # gRPC's C core would print its own unstructured lines on stderr.
        os.environ.setdefault("GRPC_VERBOSITY", "NONE")
        scrub = Scrubber.from_environment()
        # The live view shows each attempt's error itself; logs would tear its lines apart.
        quiet = live and cls.live_view_wanted(config) and raw["log_level"].source is Source.DEFAULT
        logs.configure("error" if quiet else config.log_level, scrub)
        log = logs.get()
        cancel = threading.Event()
        interrupt = Interrupt(cancel)
        interrupt.install()
        unbounded = deadline_from_flag_only and raw["timeout"].source is Source.DEFAULT
        session = Session(config, log, cancel, started=PROCESS_START,
                          deadline=math.inf if unbounded else PROCESS_START + config.timeout,
                          interrupted=lambda: interrupt.signal, scrub=scrub)
        log.info("preflight started", version=__version__, project=config.project,
                 bucket=config.bucket, scopes=len(config.scopes), kinds=len(config.kinds),
                 deadline_s=None if unbounded else config.timeout)
        return cls(config, log, session)

    @staticmethod
    def live_view_wanted(config: Config) -> bool:
        return config.format == "text" and sys.stdout.isatty()

    def verdict(self, wait: bool) -> Verdict:
        from preflight import outputs

        live = None
        if self.live_view_wanted(self.config):
            from preflight.live import LiveView

            live = LiveView(self.session, sys.stdout, color=self.config.color).start()
        try:
            verdict = self.session.until_pass() if wait else self.session.run_round()
        finally:
            if live is not None:
                live.stop()

        outputs.emit(verdict, self.log)
        return verdict


WAIT_HELP = ("Keep re-running failing checks until all pass or the deadline. "
             "Env: PREFLIGHT_WAIT.")


@cli.command()
@target_options
@click.option("--wait", is_flag=True, envvar="PREFLIGHT_WAIT", help=WAIT_HELP)
@click.pass_context
def check(ctx: click.Context, /, wait: bool, **values: Any) -> int:
    """Run every check once (retrying what is transient) and exit with the verdict's code."""
    return int(Run.prepare(ctx, values).verdict(wait).exit_code)


@cli.command("exec", context_settings={"ignore_unknown_options": True,
                                       "allow_interspersed_args": False})
@target_options
@click.option("--wait", is_flag=True, envvar="PREFLIGHT_WAIT", help=WAIT_HELP)
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_context
def exec_command(ctx: click.Context, /, wait: bool, command: tuple[str, ...],
                 **values: Any) -> int:
    """Run the checks; on pass, replace this process with COMMAND (same PID, same signals).

    On fail, exit with the verdict's code without starting COMMAND. Usage:
    preflight exec [OPTIONS] -- COMMAND [ARGS]...
    """
    executable = shutil.which(command[0])
    if executable is None:
        raise ConfigError("COMMAND", "an executable file or a program on PATH", command[0])
    run = Run.prepare(ctx, values)
    verdict = run.verdict(wait)
    if verdict.exit_code is not ExitCode.PASS:
        return int(verdict.exit_code)
    run.log.info("starting the command", command=command[0])
    _flush()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, signal.SIG_DFL)
    os.execv(executable, list(command))
    return int(ExitCode.FAIL)  # not reached: execv only returns by raising


@cli.command()
@target_options
@click.option("--listen", default="0.0.0.0:8081", envvar="PREFLIGHT_LISTEN", metavar="HOST:PORT",
              help="Where probes are served. Env: PREFLIGHT_LISTEN. Default: 0.0.0.0:8081.")
@click.option("--recheck-interval", default=None, envvar="PREFLIGHT_RECHECK_INTERVAL",
              metavar="SECONDS", help="After passing, re-run every check this often (drift "
              "detection for /readyz). Env: PREFLIGHT_RECHECK_INTERVAL. Default: off.")
@click.pass_context
def serve(ctx: click.Context, /, listen: str, recheck_interval: str | None,
          **values: Any) -> int:
    """Serve /startupz, /readyz, /livez, /verdict and /metrics while re-running failing checks.

    For sidecars: Cloud Run's container-dependencies and Kubernetes native sidecars start the
    engines once /startupz answers 200. No deadline unless --timeout is given. SIGTERM: exit 0.
    """
    host, port = parse_listen(listen, _where(ctx, "listen", "--listen", "PREFLIGHT_LISTEN"))
    interval = None if recheck_interval is None else parse_seconds(Raw(
        recheck_interval, Source.FLAG, _where(ctx, "recheck_interval", "--recheck-interval",
                                              "PREFLIGHT_RECHECK_INTERVAL")))
    run = Run.prepare(ctx, values, deadline_from_flag_only=True, live=False)
    from preflight.sidecar import Sidecar

    try:
        sidecar = Sidecar(run.session, run.log, host, port, interval)
    except OSError as error:
        raise ConfigError(_where(ctx, "listen", "--listen", "PREFLIGHT_LISTEN"),
                          f"an address this process can listen on ({error.strerror})",
                          listen) from None
    return sidecar.serve_until_stopped()


@cli.command()
@target_options
@click.pass_context
def explain(ctx: click.Context, /, **values: Any) -> int:
    """Print the effective configuration (and where each value came from) and the plan.

    No network call is made. Invalid configuration gives the same exit 2 and message as
    check. --format json prints the same as one JSON document.
    """
    from preflight import explain as explaining
    from preflight.redact import Scrubber

    config = build(raw_values(ctx, values), os.environ)
    document = Scrubber.from_environment().tree(explaining.plan(config, os.environ))
    text = (json.dumps(document, indent=2, ensure_ascii=False) + "\n"
            if config.format == "json" else explaining.to_text(document))
    click.echo(text, nl=False)
    return int(ExitCode.PASS)


@cli.command()
def schema() -> int:
    """Print the verdict's JSON Schema (preflight.verdict/v1)."""
    from importlib.resources import files

    click.echo(files("preflight").joinpath("schema/verdict-v1.json").read_text("utf-8"), nl=False)
    return int(ExitCode.PASS)


def _where(ctx: click.Context, name: str, flag: str, envvar: str) -> str:
    return envvar if ctx.get_parameter_source(name) is ParameterSource.ENVIRONMENT else flag


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()


def main(argv: list[str] | None = None) -> NoReturn:
    """Entry point: one-line errors for usage problems, and a fast exit once flushed."""
    # The cloud clients import ~800 modules; collecting garbage among them is wasted time in
    # a process that lives for a second. serve turns collection back on once it is warm.
    gc.disable()
    try:
        code = cli.main(args=argv, prog_name="preflight", standalone_mode=False)
    except ConfigError as error:
        click.echo(f"preflight: error: {error}", err=True)
        code = ExitCode.USAGE
    except click.ClickException as error:
        command = " ".join(sys.argv[1:2]) if argv is None else " ".join(argv[:1])
        hint = f" (see 'preflight {command} --help')".replace("  ", " ")
        message = " ".join(error.format_message().split())
        click.echo(f"preflight: error: {message}{hint}", err=True)
        code = ExitCode.USAGE
    except click.exceptions.Abort:
        code = ExitCode.SIGINT
    _flush()
    # Skip interpreter shutdown: gRPC's can take ~100 ms, and hung threads must not block exit.
    os._exit(int(code or 0))
