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
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click
from click.core import ParameterSource

from preflight import PROCESS_START, __version__, checks
from preflight.app import process
from preflight.app.options import (
    AUDIT_OPTIONS,
    MERGE_OPTIONS,
    SERVE_OPTIONS,
    WAIT_HELP,
    raw_values,
    target_options,
    with_options,
)
from preflight.app.process import Interrupt
from preflight.config import (
    DEFAULT_TIMEOUT,
    Config,
    Raw,
    Source,
    build,
    parse_listen,
    parse_seconds,
)
from preflight.core.errors import ConfigError
from preflight.core.result import EXIT_CODES, ExitCode
from preflight.core.verdict import Verdict

if TYPE_CHECKING:  # imported lazily at run time: --version and --help stay light
    from preflight.run.session import Session


# What `exec` hands the command: the environment as it was before preflight set anything.
ENVIRONMENT_AT_START: dict[str, str] = dict(os.environ)


HELP = (
    "Decide whether an engines pod may start.\n\n"
    "Checks what the engines demand at start-up: their environment rules, Google credentials, "
    "Firestore access, AWS credentials, the S3 bucket, and a valid, allowed route for every "
    "required kind in the routing registry; and, as warnings unless --strict, what their "
    "requests will need (first use): request-time routes, backend variables, and a probe of "
    "every backend. Exit codes: " + ", ".join(
        f"{'/'.join(str(int(code)) for code in codes)} {word}"
        for codes, word, _ in EXIT_CODES) + ".")


@click.group(help=HELP,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", message="preflight %(version)s")
def cli() -> None:
    pass


@dataclass
class Run:
    """What every command sets up the same way: config, scrubbing, logs, signals, session."""

    config: Config
    log: Any
    session: Session
    interrupt: Interrupt

    @classmethod
    def prepare(cls, ctx: click.Context, values: dict[str, Any], *,
                deadline_from_flag_only: bool = False, live: bool = True,
                engines_python: str | None = None) -> Run:
        from preflight.run.session import Session

        raw = raw_values(ctx, values)
        ignored_deadline = None
        if deadline_from_flag_only and raw["timeout"].source is Source.ENV:
            # serve: a deadline in a ConfigMap shared with init containers must not make a
            # sidecar give up and crash-loop. Only an explicit --timeout bounds it.
            ignored_deadline = raw["timeout"].where
            raw["timeout"] = Raw(f"{DEFAULT_TIMEOUT:g}", Source.DEFAULT, "--timeout (default)")
        config = replace(build(raw, os.environ, checks.NAMES), engines_python=engines_python)
        # The live view shows each attempt's error itself; logs would tear its lines apart.
        running = process.start(config, level_chosen=raw["log_level"].source
                                is not Source.DEFAULT, live=live and cls.live_view_wanted(config))
        log, interrupt = running.log, running.interrupt
        unbounded = deadline_from_flag_only and raw["timeout"].source is not Source.FLAG
        session = Session(config, checks.fresh, log, running.cancel, started=PROCESS_START,
                          deadline=math.inf if unbounded else PROCESS_START + config.timeout,
                          interrupted=lambda: interrupt.signal, scrub=running.scrub)
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
@click.option("--engines-python", envvar="PREFLIGHT_ENGINES_PYTHON", metavar="PATH",
              help="The Python COMMAND runs in, where backends.reachable checks that each "
              "chosen backend's client library imports. Env: PREFLIGHT_ENGINES_PYTHON. "
              "Default: COMMAND itself if it is a Python, else its shebang's interpreter.")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_context
def exec_command(ctx: click.Context, /, wait: bool, engines_python: str | None,
                 command: tuple[str, ...], **values: Any) -> int:
    """Run the checks; on pass, replace this process with COMMAND (same PID, same signals).

    On fail, exit with the verdict's code without starting COMMAND. Usage:
    preflight exec [OPTIONS] -- COMMAND [ARGS]...
    """
    from preflight.app import engines_python as interpreter

    executable = shutil.which(command[0])
    if executable is None:
        raise ConfigError("COMMAND", "an executable file or a program on PATH", command[0])
    python = interpreter.find(executable, engines_python, ENVIRONMENT_AT_START.get("PATH"),
                              _where(ctx, "engines_python", "--engines-python",
                                     "PREFLIGHT_ENGINES_PYTHON"))
    run = Run.prepare(ctx, values, engines_python=python)
    if python is None:
        run.log.info("client libraries not checked: COMMAND is neither a Python nor a script "
                     "with a Python shebang (set PREFLIGHT_ENGINES_PYTHON)")
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
@with_options(SERVE_OPTIONS)
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
    that gives up crash-loops). SIGTERM / SIGINT: the last verdict is written marked
    interrupted, and serve exits 143 / 130.
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


REPORT_DIR_OPTION = click.option(
    "--report-dir", envvar="PREFLIGHT_REPORT_DIR", metavar="DIR",
    help="Also write every report there: audit.json, audit.txt, audit.junit.xml, audit.html "
    "(each atomically); a shard writes its part there. Env: PREFLIGHT_REPORT_DIR.")
BASELINE_OPTION = click.option(
    "--baseline", envvar="PREFLIGHT_AUDIT_BASELINE", metavar="REPORT.json",
    help="An earlier audit's JSON report: list what changed per scope since. A file that does "
    "not exist yet means no drift (a first scheduled run). Env: PREFLIGHT_AUDIT_BASELINE.")


@cli.group(invoke_without_command=True)
@with_options(AUDIT_OPTIONS)
@REPORT_DIR_OPTION
@BASELINE_OPTION
@click.option("--shard", envvar="PREFLIGHT_AUDIT_SHARD", metavar="INDEX/COUNT",
              help="Audit one shard of the registry (a range of tenants) and write its part, "
              "audit-part-INDEX-of-COUNT.jsonl, to --report-dir for 'preflight audit merge'. "
              "Env: PREFLIGHT_AUDIT_SHARD. Default: CLOUD_RUN_TASK_INDEX/CLOUD_RUN_TASK_COUNT "
              "in a Cloud Run job of several tasks, JOB_COMPLETION_INDEX/--shards in a "
              "Kubernetes Indexed Job; else the whole registry.")
@click.option("--shards", envvar="PREFLIGHT_AUDIT_SHARDS", metavar="COUNT",
              help="The shard count where the platform gives only the index (a Kubernetes "
              "Indexed Job: its completions). Env: PREFLIGHT_AUDIT_SHARDS.")
@click.option("--run", "run_id", envvar="PREFLIGHT_AUDIT_RUN", metavar="ID",
              help="The run a shard belongs to, written in its part: a merge takes the parts "
              "of one run. Env: PREFLIGHT_AUDIT_RUN. Default: CLOUD_RUN_EXECUTION.")
@click.option("--merge-wait", envvar="PREFLIGHT_AUDIT_MERGE_WAIT", metavar="SECONDS",
              help="Shard 0 then waits up to SECONDS for the other parts of its run in "
              "--report-dir and merges them into the reports, as 'preflight audit merge' "
              "would (a Kubernetes Indexed Job needs no other step). Needs a run id. Env: "
              "PREFLIGHT_AUDIT_MERGE_WAIT.")
@click.pass_context
def audit(ctx: click.Context, /, report_dir: str | None, baseline: str | None,
          shard: str | None, shards: str | None, run_id: str | None, merge_wait: str | None,
          **values: Any) -> int:
    """Judge every scope in the routing registry, as check judges them; report the fleet.

    Reads the collection in pages ordered by tenant (read-only) and judges each
    tenant/env/project with check's own judges and profile as soon as its tenant is read,
    plus what only the whole registry shows: invalid documents, duplicates, orphan kinds,
    near misses, partly routed scopes. With --shard, one range of tenants, merged later by
    'preflight audit merge'. Exit codes: 0 no scope fails, 1 a scope fails (or the registry
    refused the read), 2 usage, 3 the registry could not be read before the deadline,
    130/143 interrupted.
    """
    if ctx.invoked_subcommand is not None:
        return int(ExitCode.PASS)
    from preflight.audit import command, part
    from preflight.audit import shards as sharding
    from preflight.checks.firestore_access import FirestoreAccess
    from preflight.checks.gcp_credentials import GcpCredentials

    config, folder, level_chosen = _audit_setup(ctx, values, report_dir)
    # Where the platform sets the index, the count comes from the environment too.
    shards_where = ("--shards" if ctx.get_parameter_source("shards") is
                    ParameterSource.COMMANDLINE else "PREFLIGHT_AUDIT_SHARDS")
    chosen = (sharding.parse(shard, _where(ctx, "shard", "--shard", "PREFLIGHT_AUDIT_SHARD"))
              if shard else sharding.from_platform(os.environ, shards, shards_where))
    wait_where = _where(ctx, "merge_wait", "--merge-wait", "PREFLIGHT_AUDIT_MERGE_WAIT")
    run = run_id or os.environ.get("CLOUD_RUN_EXECUTION") or None
    wait = None if not merge_wait else parse_seconds(Raw(merge_wait, Source.FLAG, wait_where))
    if chosen is not None:
        if folder is None:
            raise ConfigError("--report-dir", "the folder a shard writes its part to (set it, "
                              "or PREFLIGHT_REPORT_DIR, with --shard)")
        if wait is not None and run is None:
            raise ConfigError(wait_where, "a run id to wait for (--run, PREFLIGHT_AUDIT_RUN): "
                              "without one, an earlier run's parts would be merged")
    elif wait is not None:
        raise ConfigError(wait_where, "a shard to wait after (--shard, a Cloud Run job of "
                          "several tasks or a Kubernetes Indexed Job)", merge_wait)
    merging = chosen is None or (wait is not None and chosen.index == 0)
    earlier = command.Baseline(*_baseline(ctx, baseline)) if merging else None
    running = process.start(config, level_chosen=level_chosen)
    log, interrupt = running.log, running.interrupt
    log.info("audit started", version=__version__, project=config.project,
             collection=config.collection, profile=config.profile.name,
             deadline_s=config.timeout, baseline=baseline or None,
             shard=None if chosen is None else chosen.label, run=run)
    access = (GcpCredentials(), FirestoreAccess())
    if chosen is None:
        assert earlier is not None
        report = command.audit(config, access, log=log, cancel=running.cancel,
                               interrupted=lambda: interrupt.signal, baseline=earlier)
        command.emit(report, config, log=log, scrub=running.scrub, report_dir=folder)
        return int(report.exit_code)
    assert folder is not None
    path, end, code = command.audit_shard(
        config, access, chosen, folder, run, log=log, cancel=running.cancel,
        interrupted=lambda: interrupt.signal, scrub=running.scrub)
    line = command.shard_line(chosen, path, end, code)
    getattr(log, "info" if code is ExitCode.PASS else "error")(
        "audit shard finished", shard=chosen.label, part=str(path), exit_code=int(code),
        documents=end["documents"], scopes=end["tally"]["scopes"])
    click.echo(running.scrub(line))
    if code is not ExitCode.PASS or wait is None or chosen.index != 0:
        return int(code)
    assert earlier is not None
    assert run is not None
    log.info("waiting for the other shards' parts", run=run, shards=chosen.count,
             wait_s=wait)
    paths = part.wait_for(folder, chosen, run, wait, running.cancel)
    if paths is None:  # only a signal stops the wait
        log.warning("interrupted while waiting for the other parts: no merge",
                    signal=interrupt.signal)
        return 128 + (interrupt.signal or 15)
    report = command.merge(paths, earlier)
    command.emit(report, config, log=log, scrub=running.scrub, report_dir=folder)
    return int(report.exit_code)


def _audit_setup(ctx: click.Context, values: dict[str, Any], report_dir: str | None,
                 ) -> tuple[Config, Path | None, bool]:
    """The configuration, the report folder, and whether the log level was chosen."""
    from preflight.audit import command

    raw = raw_values(ctx, values)
    if raw["format"].source is Source.DEFAULT:
        # The full report can be megabytes: stdout carries the summary unless asked.
        raw["format"] = Raw("text", Source.DEFAULT, "--format (default)")
    config = build(raw, os.environ, checks.NAMES, formats=command.FORMATS)
    folder = command.report_dir_argument(
        report_dir, _where(ctx, "report_dir", "--report-dir", "PREFLIGHT_REPORT_DIR"))
    return config, folder, raw["log_level"].source is not Source.DEFAULT


def _baseline(ctx: click.Context, baseline: str | None,
              ) -> tuple[dict[str, Any] | None, str | None, str | None]:
    """The baseline document, its file (when there is one) and why there is none."""
    from preflight.audit import command

    earlier, note = command.baseline_argument(
        baseline, _where(ctx, "baseline", "--baseline", "PREFLIGHT_AUDIT_BASELINE"))
    return earlier, baseline if earlier else None, note


@audit.command("merge")
@click.argument("parts", nargs=-1, required=True, metavar="PART|FOLDER...")
@with_options(MERGE_OPTIONS)
@REPORT_DIR_OPTION
@BASELINE_OPTION
@click.option("--run", "run_id", envvar="PREFLIGHT_AUDIT_RUN", metavar="ID",
              help="Merge only the parts of this run; other parts in the folders are left "
              "out. Env: PREFLIGHT_AUDIT_RUN. Default: every part given, of one run.")
@click.pass_context
def audit_merge(ctx: click.Context, /, parts: tuple[str, ...], report_dir: str | None,
                baseline: str | None, run_id: str | None, **values: Any) -> int:
    """Merge the parts of a sharded audit into the reports of the whole registry.

    PART is a part file, FOLDER a folder of them (audit-part-*.jsonl). Every shard's part
    must be there, once, from one run: else exit 2 naming what is missing or does not fit,
    never a partial report. The reports, drift and exit codes are those of an unsharded
    'preflight audit' of the same registry.
    """
    from preflight.audit import command, part

    config, folder, level_chosen = _audit_setup(ctx, values, report_dir)
    earlier = command.Baseline(*_baseline(ctx, baseline))
    paths, left_out = part.of_run(part.find(parts), run_id or None)
    running = process.start(config, level_chosen=level_chosen)
    if left_out:
        running.log.info("parts of other runs left out", run=run_id, left_out=left_out)
    report = command.merge(paths, earlier)
    command.emit(report, config, log=running.log, scrub=running.scrub, report_dir=folder)
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
@click.option("--verdict-address", default="127.0.0.1:8082", envvar="PREFLIGHT_VERDICT_ADDRESS",
              metavar="HOST:PORT", help="Where `preflight serve` answers /verdict (its "
              "--verdict-address): the failing checks' messages come from there. Env: "
              "PREFLIGHT_VERDICT_ADDRESS. Default: 127.0.0.1:8082.")
@click.option("--timeout", default="1", envvar="PREFLIGHT_PROBE_TIMEOUT", metavar="SECONDS",
              help="Bound on the whole probe. Env: PREFLIGHT_PROBE_TIMEOUT. Default: 1.")
@click.pass_context
def probe(ctx: click.Context, /, kind: str, listen: str, verdict_address: str,
          timeout: str) -> int:
    """Ask the local `preflight serve` and print its one-line reason (an exec probe).

    KIND is startup (/startupz), readiness (/readyz) or liveness (/livez). Exit 0 when it
    answers 200, 1 when it answers otherwise, 3 when it does not answer in time.
    """
    from preflight.app import health_probe

    address = parse_listen(listen, _where(ctx, "listen", "--listen", "PREFLIGHT_LISTEN"))
    verdict_at = parse_listen(verdict_address, _where(
        ctx, "verdict_address", "--verdict-address", "PREFLIGHT_VERDICT_ADDRESS"))
    seconds = parse_seconds(Raw(timeout, Source.FLAG, _where(
        ctx, "timeout", "--timeout", "PREFLIGHT_PROBE_TIMEOUT")), maximum=60.0)
    code, line = health_probe.run(kind, address, verdict_at, seconds)
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
