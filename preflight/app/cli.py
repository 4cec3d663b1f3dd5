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
from dataclasses import dataclass, replace
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click
from click.core import ParameterSource

from preflight import PROCESS_START, __version__, checks
from preflight.config import (
    DEFAULT_ATTEMPT_TIMEOUT,
    DEFAULT_TIMEOUT,
    FORMATS,
    Config,
    Raw,
    Source,
    build,
    default_format,
    parse_listen,
    parse_seconds,
)
from preflight.core.errors import ConfigError
from preflight.core.result import ExitCode
from preflight.core.verdict import Verdict

if TYPE_CHECKING:  # imported lazily at run time: --version and --help stay light
    from preflight.run.session import Session

F = TypeVar("F", bound=Callable[..., Any])

# What `exec` hands the command: the environment as it was before preflight set anything.
ENVIRONMENT_AT_START: dict[str, str] = dict(os.environ)


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
               "stderr log level: debug, info, warning or error.", "LEVEL"),
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


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", message="preflight %(version)s")
def cli() -> None:
    """Decide whether an engines pod may start.

    Checks what the engines demand at start-up: their environment rules, Google credentials,
    Firestore access, AWS credentials, the S3 bucket, and a valid, allowed route for every
    required kind in the routing registry. Exit codes: 0 pass, 1 failed, 2 usage, 3 not ready (only
    transient failures), 130/143 interrupted.
    """


def _leave_to_the_watcher(_signum: int, _frame: FrameType | None) -> None:
    """Installed so SIGTERM / SIGINT do not end the process; `Interrupt` acts on them."""


class Interrupt:
    """SIGTERM / SIGINT stop the run; the verdict is still written.

    A process-directed signal may land on any thread, and Python runs a handler only in the
    main thread, between its bytecodes: a main thread blocked in a wait (serve's waits for
    good) would never see a signal that landed elsewhere. The C-level handler, though,
    writes the signal's number into the wakeup pipe at once, whichever thread it lands on;
    a watcher thread blocked on that pipe records it and cancels the run. The Python-level
    handler does nothing: setting the cancel event there could deadlock against the main
    thread, interrupted while it holds that event's lock inside its own wait.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)
    COMMIT_WAIT = 1.0  # seconds `commit` waits for the watcher to read what is left

    def __init__(self, cancel: threading.Event) -> None:
        self.cancel = cancel
        self.signal: int | None = None
        self._write_end: int | None = None
        self._watcher: threading.Thread | None = None

    def install(self) -> None:
        read_end, write_end = os.pipe2(os.O_CLOEXEC)
        os.set_blocking(write_end, False)  # the C-level handler must never block
        self._write_end = write_end
        self._watcher = threading.Thread(target=self._watch, args=(read_end,), name="signals",
                                         daemon=True)
        self._watcher.start()
        signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
        for signum in self.SIGNALS:
            signal.signal(signum, _leave_to_the_watcher)

    def _watch(self, read_end: int) -> None:
        """Until the write end is closed (`commit`): every signal that arrives stops the run."""
        try:
            while arrived := os.read(read_end, 64):
                for signum in arrived:
                    if signum in self.SIGNALS:
                        if self.signal is None:
                            self.signal = signum
                        self.cancel.set()
        finally:
            os.close(read_end)

    def commit(self) -> int | None:
        """Default actions from now on; returns the signal that came before, if any.

        After this, SIGTERM / SIGINT terminate the process by their default action before
        an exec, and reach the exec'd command after it: never swallowed either way. A signal
        caught before the default actions came back is in the pipe: closing its write end
        lets the watcher read it, then end.
        """
        for signum in self.SIGNALS:
            signal.signal(signum, signal.SIG_DFL)
        if self._write_end is None or self._watcher is None:
            return self.signal
        signal.set_wakeup_fd(-1)
        os.close(self._write_end)
        self._write_end = None
        self._watcher.join(self.COMMIT_WAIT)
        return self.signal


@dataclass
class Run:
    """What every command sets up the same way: config, scrubbing, logs, signals, session."""

    config: Config
    log: Any
    session: Session
    interrupt: Interrupt

    @classmethod
    def prepare(cls, ctx: click.Context, values: dict[str, Any], *,
                deadline_from_flag_only: bool = False, live: bool = True) -> Run:
        from preflight.app import logs
        from preflight.core.redact import Scrubber
        from preflight.run.session import Session

        raw = raw_values(ctx, values)
        ignored_deadline = None
        if deadline_from_flag_only and raw["timeout"].source is Source.ENV:
            # serve: a deadline in a ConfigMap shared with init containers must not make a
            # sidecar give up and crash-loop. Only an explicit --timeout bounds it.
            ignored_deadline = raw["timeout"].where
            raw["timeout"] = Raw(f"{DEFAULT_TIMEOUT:g}", Source.DEFAULT, "--timeout (default)")
        config = build(raw, os.environ, checks.NAMES)
        # gRPC's C core would print its own unstructured lines on stderr.
        os.environ.setdefault("GRPC_VERBOSITY", "NONE")
        scrub = Scrubber.from_environment()
        # The live view shows each attempt's error itself; logs would tear its lines apart.
        logs.configure(logs.level_for(config.log_level, chosen=raw["log_level"].source
                                      is not Source.DEFAULT, text=config.format == "text",
                                      live=live and cls.live_view_wanted(config)), scrub)
        log = logs.get()
        cancel = threading.Event()
        interrupt = Interrupt(cancel)
        interrupt.install()
        unbounded = deadline_from_flag_only and raw["timeout"].source is not Source.FLAG
        session = Session(config, checks.fresh, log, cancel, started=PROCESS_START,
                          deadline=math.inf if unbounded else PROCESS_START + config.timeout,
                          interrupted=lambda: interrupt.signal, scrub=scrub)
        log.info("preflight started", version=__version__, project=config.project,
                 bucket=config.bucket, scopes=len(config.scopes), kinds=len(config.kinds),
                 deadline_s=None if unbounded else config.timeout)
        if ignored_deadline:
            log.info("ignoring the environment's deadline: serve gives up only at an explicit "
                     "--timeout", variable=ignored_deadline)
        return cls(config, log, session, interrupt)

    @staticmethod
    def live_view_wanted(config: Config) -> bool:
        return config.format == "text" and sys.stdout.isatty()

    def verdict(self, wait: bool) -> Verdict:
        from preflight.report import outputs

        live = None
        if self.live_view_wanted(self.config):
            from preflight.app.live import LiveView

            live = LiveView(self.session, sys.stdout, color=self.config.color).start()
        try:
            session = self.session
            verdict = session.until_pass() if wait else session.settled(session.run_round())
        finally:
            if live is not None:
                live.stop()

        outputs.emit(verdict, self.config, self.log)
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
    signalled = run.interrupt.commit()
    if signalled is not None:
        # The pod is being stopped: the engines must not start. The verdict says why.
        from preflight.report import outputs

        stopped = run.session.settled(verdict)
        run.log.warning("not starting the command: a signal came first", signal=signalled)
        outputs.emit(stopped, run.config, run.log)
        return int(stopped.exit_code)
    # Exactly the environment preflight was started with: nothing preflight set leaks.
    os.execve(executable, list(command), ENVIRONMENT_AT_START)
    return int(ExitCode.FAIL)  # not reached: execve only returns by raising


@cli.command()
@target_options
@click.option("--listen", default="0.0.0.0:8081", envvar="PREFLIGHT_LISTEN", metavar="HOST:PORT",
              help="Where probes are served. Env: PREFLIGHT_LISTEN. Default: 0.0.0.0:8081.")
@click.option("--verdict-address", default="127.0.0.1:8082", envvar="PREFLIGHT_VERDICT_ADDRESS",
              metavar="HOST:PORT", help="Where /verdict (every check's details) is served; "
              "the probes and /metrics stay on --listen. The same address as --listen serves "
              "both there. Env: PREFLIGHT_VERDICT_ADDRESS. Default: 127.0.0.1:8082 (loopback "
              "only).")
@click.option("--recheck-interval", default=None, envvar="PREFLIGHT_RECHECK_INTERVAL",
              metavar="SECONDS", help="After passing, re-run every check this often (drift "
              "detection for /readyz). Env: PREFLIGHT_RECHECK_INTERVAL. Default: off.")
@click.pass_context
def serve(ctx: click.Context, /, listen: str, verdict_address: str,
          recheck_interval: str | None, **values: Any) -> int:
    """Serve /startupz, /readyz, /livez and /metrics (and /verdict on loopback) while
    re-running failing checks.

    For sidecars: Cloud Run's container-dependencies and Kubernetes native sidecars start the
    engines once /startupz answers 200. No deadline unless --timeout is given on the command
    line (PREFLIGHT_TIMEOUT is ignored here: it is meant for check and exec, and a sidecar
    that gives up crash-loops). SIGTERM: the last verdict is written marked interrupted, and
    serve exits 0.
    """
    where = {"listen": _where(ctx, "listen", "--listen", "PREFLIGHT_LISTEN"),
             "verdict_address": _where(ctx, "verdict_address", "--verdict-address",
                                       "PREFLIGHT_VERDICT_ADDRESS")}
    addresses = {"listen": listen, "verdict_address": verdict_address}
    probes_at = parse_listen(listen, where["listen"])
    verdict_at = parse_listen(verdict_address, where["verdict_address"])
    interval = None if recheck_interval is None else parse_seconds(Raw(
        recheck_interval, Source.FLAG, _where(ctx, "recheck_interval", "--recheck-interval",
                                              "PREFLIGHT_RECHECK_INTERVAL")))
    run = Run.prepare(ctx, values, deadline_from_flag_only=True, live=False)
    from preflight.app.sidecar import AddressUnusable, Sidecar

    try:
        sidecar = Sidecar(run.session, run.log, probes_at, verdict_at, interval)
    except AddressUnusable as error:
        raise ConfigError(where[error.option], f"an address this process can listen on "
                          f"({error.reason})", addresses[error.option]) from None
    return sidecar.serve_until_stopped()


@cli.command()
@target_options
@click.pass_context
def explain(ctx: click.Context, /, **values: Any) -> int:
    """Print the effective configuration (and where each value came from) and the plan.

    No network call is made. Invalid configuration gives the same exit 2 and message as
    check. --format json prints the same as one JSON document.
    """
    from preflight.app import explain as explaining
    from preflight.core.redact import Scrubber

    config = build(raw_values(ctx, values), os.environ, checks.NAMES)
    document = Scrubber.from_environment().tree(explaining.plan(config, os.environ))
    text = (json.dumps(document, indent=2, ensure_ascii=False) + "\n"
            if config.format == "json" else explaining.to_text(document))
    click.echo(text, nl=False)
    return int(ExitCode.PASS)


@cli.command("aws-credentials")
@click.option("--role-arn", envvar="AWS_ROLE_ARN", metavar="ARN",
              help="The role to assume. Env: AWS_ROLE_ARN.")
@click.option("--audience", envvar="PREFLIGHT_AWS_AUDIENCE", metavar="TEXT",
              help="The ID token's audience (the trust policy's accounts.google.com:oaud). "
              "Env: PREFLIGHT_AWS_AUDIENCE. Default: sts.amazonaws.com.")
@click.option("--session-name", envvar="AWS_ROLE_SESSION_NAME", metavar="NAME",
              help="Role session name, shown in CloudTrail. Env: AWS_ROLE_SESSION_NAME. "
              "Default: the Cloud Run revision or job execution (K_REVISION, "
              "CLOUD_RUN_EXECUTION), else the host name.")
@click.option("--duration", envvar="PREFLIGHT_AWS_SESSION_DURATION", metavar="SECONDS",
              help="Session length, 900-43200 s, at most the role's maximum. Env: "
              "PREFLIGHT_AWS_SESSION_DURATION. Default: the role's default (1 hour).")
@click.option("--timeout", default="10", metavar="SECONDS",
              help="Give up after this long (exit 3). Default: 10.")
@click.pass_context
def aws_credentials(ctx: click.Context, /, role_arn: str | None, audience: str | None,
                    session_name: str | None, duration: str | None, timeout: str) -> int:
    """Print AWS credentials for a credential_process: the Google ID token of this
    workload's service account, exchanged with STS AssumeRoleWithWebIdentity.

    For the engines' boto3 on Cloud Run, in the file that AWS_CONFIG_FILE names:

    \b
    [default]
    credential_process = preflight aws-credentials --role-arn ROLE_ARN

    stdout: the credential_process JSON (Version 1, with Expiration). On failure, one line on
    stderr and exit 1 (refused: the line names the fix) or 3 (not ready: the metadata server
    or STS could not be reached in time).
    """
    from preflight.app.aws_credentials import credential_process
    from preflight.config import web_identity

    where = {"role_arn": _where(ctx, "role_arn", "--role-arn", "AWS_ROLE_ARN"),
             "audience": _where(ctx, "audience", "--audience", "PREFLIGHT_AWS_AUDIENCE"),
             "session_name": _where(ctx, "session_name", "--session-name",
                                    "AWS_ROLE_SESSION_NAME"),
             "duration": _where(ctx, "duration", "--duration", "PREFLIGHT_AWS_SESSION_DURATION")}
    identity = web_identity.parse(role_arn, audience, session_name, duration, where, os.environ)
    seconds = parse_seconds(Raw(timeout, Source.FLAG, "--timeout"), maximum=300.0)
    code, line = credential_process(identity, seconds)
    if code == 0:
        click.echo(line)
    else:
        click.echo(f"preflight aws-credentials: {line}", err=True)
    return code


@cli.command()
@with_options(AUDIT_OPTIONS)
@click.option("--report-dir", envvar="PREFLIGHT_REPORT_DIR", metavar="DIR",
              help="Also write every report there: audit.json, audit.txt, audit.junit.xml, "
              "audit.html (each atomically). Env: PREFLIGHT_REPORT_DIR.")
@click.option("--baseline", envvar="PREFLIGHT_AUDIT_BASELINE", metavar="REPORT.json",
              help="An earlier audit's JSON report: list what changed per scope since. A file "
              "that does not exist yet means no drift (a first scheduled run). Env: "
              "PREFLIGHT_AUDIT_BASELINE.")
@click.pass_context
def audit(ctx: click.Context, /, report_dir: str | None, baseline: str | None,
          **values: Any) -> int:
    """Judge every scope in the routing registry, as check judges them; report the fleet.

    Reads the whole collection once, in pages (read-only), and judges each tenant/env/project
    with check's own judges and profile, plus what only the whole registry shows: invalid
    documents, duplicates, orphan kinds, near misses, partly routed scopes. Exit codes: 0 no
    scope fails, 1 a scope fails (or the registry refused the read), 2 usage, 3 the registry
    could not be read before the deadline, 130/143 interrupted.
    """
    from preflight.app import logs
    from preflight.audit import command
    from preflight.core.redact import Scrubber

    raw = raw_values(ctx, values)
    if raw["format"].source is Source.DEFAULT:
        # The full report can be megabytes: stdout carries the summary unless asked.
        raw["format"] = Raw("text", Source.DEFAULT, "--format (default)")
    config = build(raw, os.environ, checks.NAMES, formats=command.FORMATS)
    folder = command.report_dir_argument(
        report_dir, _where(ctx, "report_dir", "--report-dir", "PREFLIGHT_REPORT_DIR"))
    earlier, note = command.baseline_argument(
        baseline, _where(ctx, "baseline", "--baseline", "PREFLIGHT_AUDIT_BASELINE"))
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    scrub = Scrubber.from_environment()
    logs.configure(logs.level_for(config.log_level, chosen=raw["log_level"].source
                                  is not Source.DEFAULT, text=config.format == "text",
                                  live=False), scrub)
    log = logs.get()
    cancel = threading.Event()
    interrupt = Interrupt(cancel)
    interrupt.install()
    log.info("audit started", version=__version__, project=config.project,
             collection=config.collection, profile=config.profile.name,
             deadline_s=config.timeout, baseline=baseline or None)
    from preflight.checks.firestore_access import FirestoreAccess
    from preflight.checks.gcp_credentials import GcpCredentials

    access = (GcpCredentials(), FirestoreAccess())
    report = command.audit(config, access, log=log, cancel=cancel,
                           interrupted=lambda: interrupt.signal,
                           baseline=earlier, baseline_file=baseline if earlier else None,
                           baseline_note=note)
    command.emit(report, config, log=log, scrub=scrub, report_dir=folder)
    return int(report.exit_code)


@cli.command()
def schema() -> int:
    """Print the verdict's JSON Schema (preflight.verdict/v1)."""
    from importlib.resources import files

    schema_file = files("preflight").joinpath("report/schema/verdict-v1.json")
    click.echo(schema_file.read_text("utf-8"), nl=False)
    return int(ExitCode.PASS)


@cli.group("profile")
def profile_group() -> None:
    """Profiles: the rules preflight checks, as a YAML file with a published schema.

    A profile says which kinds are required where, which backends each kind accepts and
    with which config keys, and the engines' environment rules. Start from the built-in
    one: preflight profile show engines > profile.yaml, or write `extends: engines` and
    only what differs.
    """


@profile_group.command("validate")
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
def profile_validate(file: str) -> int:
    """Check FILE against the profile schema; exit 2 naming the key path and line if not."""
    from preflight.config import ProfileUnusable
    from preflight.contract.profile import ProfileError, load

    try:
        profile = load(file)
    except ProfileError as error:
        raise ProfileUnusable("", error) from None
    counts = {at: len(profile.kinds_at(at)) for at in ("startup", "serving", "fixed")}
    click.echo(f"{file}: valid profile {profile.name!r}: {counts['startup']} start-up kinds, "
               f"{counts['serving']} serving kinds, {counts['fixed']} at fixed scopes, "
               f"{len(profile.environment)} environment rules, "
               f"{len(profile.backend_variables)} backend variables")
    return int(ExitCode.PASS)


@profile_group.command("show")
@click.argument("name", default="engines")
def profile_show(name: str) -> int:
    """Print a built-in profile (YAML, with its comments)."""
    from preflight.contract.profile import built_in_names, built_in_yaml, is_built_in

    if not is_built_in(name):
        raise ConfigError("NAME", "a built-in profile: " + ", ".join(built_in_names()), name)
    click.echo(built_in_yaml(name), nl=False)
    return int(ExitCode.PASS)


@profile_group.command("check-engines")
@click.argument("path", type=click.Path(path_type=str))
@click.option("--profile", "reference", default="engines", metavar="FILE|NAME",
              help="The profile to compare: a built-in profile's name or a file. "
              "Default: engines.")
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text",
              help="text for people, json (preflight.check-engines/v1) for CI. Default: text.")
def profile_check_engines(path: str, reference: str, output: str) -> int:
    """Compare the profile with the engines' code under PATH, read statically.

    Reads the Python source (never imports or runs it), follows imports from the entry
    module the profile names, and reports what differs: start-up kinds and refused
    backends, request-time lookups, each resolver's backends and config keys, *_BACKEND
    variables and their defaults. Lookups the app never makes are listed as dormant.
    Exit 0 when they agree, 1 on drift, 2 on a usage error.
    """
    from preflight.config import ProfileUnusable
    from preflight.contract.profile import ProfileError, load
    from preflight.engines_code import check, render

    try:
        rules = load(reference)
    except ProfileError as error:
        raise ProfileUnusable("--profile", error) from None
    try:
        report = check.check(path, rules)
    except check.UsageError as error:
        raise ConfigError(error.where, error.expected, error.got) from None
    click.echo(render.as_json(report) if output == "json" else render.as_text(report), nl=False)
    return report.comparison.exit_code


@profile_group.command("schema")
def profile_schema() -> int:
    """Print the profile's JSON Schema (preflight.profile/v1)."""
    from importlib.resources import files

    click.echo(files("preflight").joinpath("contract/schema/profile-v1.json").read_text("utf-8"),
               nl=False)
    return int(ExitCode.PASS)


@cli.command()
@click.argument("kind", type=click.Choice(["startup", "readiness", "liveness"]))
@click.option("--listen", default="0.0.0.0:8081", envvar="PREFLIGHT_LISTEN", metavar="HOST:PORT",
              help="Where `preflight serve` listens (its --listen); a wildcard host is asked on "
              "loopback. Env: PREFLIGHT_LISTEN. Default: 0.0.0.0:8081.")
@click.option("--timeout", default="1", envvar="PREFLIGHT_PROBE_TIMEOUT", metavar="SECONDS",
              help="Bound on the whole probe. Env: PREFLIGHT_PROBE_TIMEOUT. Default: 1.")
@click.pass_context
def probe(ctx: click.Context, /, kind: str, listen: str, timeout: str) -> int:
    """Ask the local `preflight serve` and print its one-line reason (an exec probe).

    KIND is startup (/startupz), readiness (/readyz) or liveness (/livez). Exit 0 when it
    answers 200, 1 when it answers otherwise, 3 when it does not answer in time.
    """
    from preflight.app import health_probe

    host, port = parse_listen(listen, _where(ctx, "listen", "--listen", "PREFLIGHT_LISTEN"))
    seconds = parse_seconds(Raw(timeout, Source.FLAG, _where(
        ctx, "timeout", "--timeout", "PREFLIGHT_PROBE_TIMEOUT")), maximum=60.0)
    code, line = health_probe.run(kind, host, port, seconds)
    click.echo(line)
    return code


def _where(ctx: click.Context, name: str, flag: str, envvar: str) -> str:
    return envvar if ctx.get_parameter_source(name) is ParameterSource.ENVIRONMENT else flag


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()


def main(argv: list[str] | None = None) -> NoReturn:
    """Entry point: one-line errors for usage problems, and a fast exit once flushed."""
    ENVIRONMENT_AT_START.clear()
    ENVIRONMENT_AT_START.update(os.environ)
    # The cloud clients import ~800 modules; collecting garbage among them is wasted time in
    # a process that lives for a second. Every mode that lives on turns it back on after its
    # first round (session.collect_garbage_from_now_on).
    gc.disable()
    try:
        code = cli.main(args=argv, prog_name="preflight", standalone_mode=False)
    except ConfigError as error:
        click.echo(f"preflight: error: {error}", err=True)
        code = ExitCode.USAGE
    except click.exceptions.NoArgsIsHelpError as error:  # bare `preflight`: the help, laid out
        click.echo(error.ctx.get_help(), err=True)
        code = ExitCode.USAGE
    except click.ClickException as error:
        # The command whose help explains the mistake: the group's for an unknown command.
        context = getattr(error, "ctx", None)
        path = context.command_path if context is not None else "preflight"
        message = " ".join(error.format_message().split())
        click.echo(f"preflight: error: {message} (see '{path} --help')", err=True)
        code = ExitCode.USAGE
    except click.exceptions.Abort:
        code = ExitCode.SIGINT
    _flush()
    # Skip interpreter shutdown: gRPC's can take ~100 ms, and hung threads must not block exit.
    os._exit(int(code or 0))
