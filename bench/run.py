"""`python -m bench.run [--quick] [--out DIR] [--label TEXT]`: preflight's benchmarks.

Starts Google's Firestore emulator and a moto S3 server (tests.servers), seeds them
(tests.seed), and measures in one run, side by side, as ratios (issue 6):

1. `preflight check` all-pass, whole process, against a minimal hand-written script
   (bench/minimal_script.py), an imports-only process and `python -c pass`;
2. routing validation against the engines' own start-up loop (bench/engines_loop.py),
   with Firestore RPCs counted by a gRPC client interceptor;
3. `preflight --version`, `preflight check --help`, time to the first network call;
4. peak RSS with a complete and a failing registry;
5. time to green: a dependency comes up N seconds after the start;
6. the route model: pydantic's import cost, the cost per document of the fast path and of
   the pydantic path, and a whole check whose routes only pydantic can decide.
7. backends.reachable (issue 11): 17 routes over 4 distinct endpoints, one slow, probed in
   one attempt, against the slowest single probe; and `preflight check --no-probes`.
8. `preflight audit` (issue 13) on fleets of 10,000 and 100,000 route documents
   (bench/audit_scale.py) against the same client only streaming the collection
   (bench/stream_collection.py): wall time, CPU time and peak RSS.
9. `preflight profile check-engines` (issue 24) on a generated source tree the size of the
   engines' repository (tests/engines_tree.py): wall and CPU time.
10. the audit in shards (issue 23, bench/audit_shards.py): fleets of 10,000, 100,000 and
   300,000 documents, the largest in 1, 2 and 4 shards at once: the slowest shard, the
   documents read (the registry, exactly), peak RSS per shard, the merge's cost.
11. The audit's HTML report of 5,000 scopes drawn in headless Chromium, against an empty page
   (bench/audit_html.py).

Full mode writes docs/BENCHMARKS.md, docs/bench-scaling.png and appends to
docs/bench-history.json (the before/after record). Quick mode (`make test`) does every
step once on small data into --out: no timing is judged, but any command that errors or
gives the wrong verdict makes it exit non-zero, so the bench cannot rot.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import report
from bench.measure import ProcessRun, Samples, TcpFront, run_process
from tests import seed, servers
from tests.harness import ENGINES_KINDS
from tests.metadata_server import MetadataServer

ROOT = Path(__file__).resolve().parent.parent
BUCKET = "engines-raw"
ROLE = "arn:aws:iam::123456789012:role/engines-raw-bucket"  # assumed on moto's STS
SMALL, K170, LARGE, BROKEN = "bench-small", "bench-k170", "bench-large", "bench-broken"
LAX = "bench-lax"  # the sample registry as copied from the engines' filesystem registry
# The worked example of docs/PROFILES.md (issue 14): serving t_acme/prod/p_main, object_store on s3
# without a `bucket`, RAW_BUCKET unset.
WORKED = "bench-worked"
# The engines' repository at 012ac5d: 1,409 Python files, 259 of them reached by the app.
ENGINES_FILES, ENGINES_REACHED = 1_400, 260
EXTRA_KINDS = tuple(f"extra_kind_{i:03d}" for i in range(1, 154))  # 17 + 153 = 170
VALIDATION_ATTEMPT_TIMEOUT = 300.0
IMPORTS_ONLY = "import google.cloud.firestore, boto3, structlog, tenacity, click"
CLOUD_PACKAGES = ("google", "grpc", "boto3", "botocore", "s3transfer", "urllib3", "requests",
                  "proto", "structlog_gcp")
LIBRARIES = ("engines-preflight", "google-cloud-firestore", "google-api-core", "google-auth",
             "grpcio", "protobuf", "boto3", "botocore", "click", "structlog", "structlog-gcp",
             "tenacity", "pydantic", "pydantic-core", "moto", "matplotlib")


@dataclasses.dataclass(frozen=True)
class Settings:
    quick: bool
    rounds: int  # interleaved process rounds, after one discarded warm-up round
    first_call_reps: int
    validation_reps: int  # small collections, each side
    large_reps: int  # preflight on the large collection
    large_docs: int
    scope_counts: tuple[int, ...]
    engines_scope_reps: Mapping[int, int]  # engines' loop on the large collection: measured
    engines_k170_large_reps: int
    ttg: tuple[tuple[str, float, int], ...]  # (dependency, delay s, reps)
    nopyc_reps: int
    check_engines_reps: int = 5  # preflight profile check-engines on the generated tree
    probe_reps: int = 5  # backends.reachable: rounds of single probes and all together
    # preflight audit: documents -> interleaved rounds of (stream, audit)
    audit_rounds: Mapping[int, int] = dataclasses.field(
        default_factory=lambda: {10_000: 4, 100_000: 2})
    html_scopes: int = 5_000  # the audit's HTML report: scopes per fleet, and rounds
    html_rounds: int = 5
    # the audit in shards: documents -> the shard counts run on that fleet
    shard_plan: Mapping[int, tuple[int, ...]] = dataclasses.field(
        default_factory=lambda: {10_000: (1,), 100_000: (1,), 300_000: (1, 2, 4)})


FULL = Settings(quick=False, rounds=21, first_call_reps=5, validation_reps=7, large_reps=3,
                large_docs=20_000, scope_counts=(1, 10, 100, 1000),
                engines_scope_reps={1: 3, 10: 1}, engines_k170_large_reps=1,
                ttg=(("s3", 3.0, 5), ("firestore", 3.0, 3), ("firestore", 12.0, 3)),
                nopyc_reps=3)
QUICK = Settings(quick=True, rounds=1, first_call_reps=1, validation_reps=1, large_reps=1,
                 large_docs=1_000, scope_counts=(1, 10), engines_scope_reps={1: 1, 10: 1},
                 engines_k170_large_reps=1, ttg=(("s3", 1.0, 1), ("firestore", 1.0, 1)),
                 nopyc_reps=0, check_engines_reps=1, probe_reps=1, audit_rounds={1_700: 1},
                 html_scopes=300, html_rounds=1,
                 shard_plan={1_700: (1, 3)})
PROBE_DELAY = 1.0  # seconds the slow endpoint (Redis behind a delaying proxy) holds a reply


def log(message: str) -> None:
    print(f"bench: {message}", flush=True)


class Bench:
    def __init__(self, settings: Settings) -> None:
        self.s = settings
        self.results: dict[str, Any] = {}
        self.errors: list[str] = []
        self.python = sys.executable
        self.preflight = str(Path(sys.executable).parent / "preflight")
        self.fs: servers.Server | None = None
        self.s3: servers.Server | None = None
        self.metadata: MetadataServer | None = None
        self.max_scopes = max(settings.scope_counts)
        self.before: Path | None = None  # --before: an earlier commit's checkout with .venv

    # ----------------------------------------------------------------- set-up
    def env(self, project: str = SMALL, *, firestore: str | None = None,
            s3: str | None = None, **extra: str) -> dict[str, str]:
        assert self.fs is not None
        assert self.s3 is not None
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/tmp"),
            "LANG": "C.UTF-8",
            "FIRESTORE_EMULATOR_HOST": firestore or self.fs.address,
            "GCP_PROJECT_ID": project,
            "RAW_BUCKET": BUCKET,
            "ROUTING_REGISTRY_BACKEND": "firestore",
            "BUDGET_BACKEND": "filesystem",
            "AWS_ENDPOINT_URL_S3": f"http://{s3 or self.s3.address}",
            # moto answers STS too: aws.credentials calls GetCallerIdentity there.
            "AWS_ENDPOINT_URL_STS": f"http://{s3 or self.s3.address}",
            "AWS_ENDPOINT_URL": f"http://{s3 or self.s3.address}",  # any other AWS call too
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench-secret",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": "/nonexistent/aws-config",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
        }
        env.update(extra)
        return env

    def metadata_env(self) -> dict[str, str]:
        assert self.metadata is not None
        return self.metadata.env()

    def scopes(self, count: int) -> list[str]:
        return ["t_system/dev"] + [f"t_{i:04d}/dev" for i in range(1, count)]

    def seed(self) -> None:
        assert self.fs is not None
        assert self.s3 is not None
        started = time.monotonic()
        small = seed.registry()
        k170 = dict(small)
        extra = {f"{kind}-t_system-dev": seed.route(kind) for kind in EXTRA_KINDS}
        k170.update(extra)
        large: dict[str, dict[str, Any]] = {}
        for scope in self.scopes(self.max_scopes):
            tenant = scope.split("/")[0]
            large.update(seed.registry(tenant=tenant))
        large.update(extra)
        kinds = ENGINES_KINDS
        filler = 0
        while len(large) < self.s.large_docs:
            tenant, kind = f"p_{filler // len(kinds):04d}", kinds[filler % len(kinds)]
            large[f"{kind}-{tenant}-prod"] = seed.route(kind, tenant, "prod")
            filler += 1
        broken = seed.registry()
        del broken["kpi-t_system-dev"]
        broken["chat_bus-t_system-dev"]["backend_type"] = "memory"
        lax = lax_registry()
        worked = seed.serving_registry()
        self.docs = {SMALL: len(small), K170: len(k170), LARGE: len(large), BROKEN: len(broken),
                     LAX: len(lax), WORKED: len(worked)}
        for project, documents in ((SMALL, small), (K170, k170), (LARGE, large),
                                   (BROKEN, broken), (LAX, lax), (WORKED, worked)):
            seed.write(seed.firestore_client(self.fs.address, project), documents)
        seed.s3_client(f"http://{self.s3.address}").create_bucket(Bucket=BUCKET)
        self.results["seed"] = {"documents": self.docs, "seconds": time.monotonic() - started}
        log(f"seeded {self.docs} in {time.monotonic() - started:.1f}s")

    # ------------------------------------------------------------- checking
    def fail(self, what: str) -> None:
        self.errors.append(what)
        log(f"ERROR: {what}")

    def verdict_of(self, run: ProcessRun) -> dict[str, Any] | None:
        try:
            verdict = json.loads(run.stdout)
        except ValueError:
            return None
        return verdict if isinstance(verdict, dict) else None

    def expect_verdict(self, what: str, run: ProcessRun, code: int, status: str,
                       failing: Sequence[str] = ()) -> dict[str, Any] | None:
        verdict = self.verdict_of(run)
        if verdict is None:
            self.fail(f"{what}: no JSON verdict on stdout; {run.describe()}")
            return None
        if run.returncode != code or verdict.get("status") != status:
            self.fail(f"{what}: expected exit {code} / {status}, got {run.returncode} / "
                      f"{verdict.get('status')}: "
                      + "; ".join(f"{c['name']}={c['status']} {c['message']}"
                                  for c in verdict.get("checks", [])
                                  if c["status"] not in ("pass", "skipped")))
            return verdict
        statuses = {check["name"]: check["status"] for check in verdict.get("checks", [])}
        for name in failing:
            if statuses.get(name) != "fail":
                self.fail(f"{what}: expected check {name} to fail, got {statuses.get(name)}")
        return verdict

    def expect_exit(self, what: str, run: ProcessRun, code: int, stdout: str = "") -> None:
        if run.returncode != code or stdout not in run.stdout:
            self.fail(f"{what}: expected exit {code} and {stdout!r} on stdout; {run.describe()}")

    # --------------------------------------------- 1, 3 and 4: whole processes
    def processes(self) -> None:
        """Interleaved rounds of every whole-process command: wall time and peak RSS."""
        version_line = f"preflight {metadata.version('engines-preflight')}"
        commands: dict[str, tuple[list[str], dict[str, str], Callable[[ProcessRun], object]]] = {
            "python -c pass": ([self.python, "-c", "pass"], self.env(),
                               lambda r: self.expect_exit("python -c pass", r, 0)),
            "imports only": ([self.python, "-c", IMPORTS_ONLY], self.env(),
                             lambda r: self.expect_exit("imports only", r, 0)),
            "preflight --version": ([self.preflight, "--version"], self.env(),
                                    lambda r: self.expect_exit("preflight --version", r, 0,
                                                               version_line)),
            "preflight check --help": ([self.preflight, "check", "--help"], self.env(),
                                       lambda r: self.expect_exit("check --help", r, 0,
                                                                  "--project")),
            "minimal script": ([self.python, str(ROOT / "bench" / "minimal_script.py")],
                               self.env(), lambda r: self.expect_exit("minimal script", r, 0,
                                                                      "OK")),
            "preflight check": ([self.preflight, "check", "--format", "json"], self.env(),
                                lambda r: self.expect_verdict("preflight check (all-pass)", r,
                                                              0, "pass")),
            # The engines' credential_process on Cloud Run: metadata ID token -> STS.
            "preflight aws-credentials": (
                [self.preflight, "aws-credentials", "--role-arn", ROLE],
                self.env(**self.metadata_env()),
                lambda r: self.expect_exit("preflight aws-credentials", r, 0, '"AccessKeyId"')),
            "preflight check --no-probes": (
                [self.preflight, "check", "--format", "json", "--no-probes"], self.env(),
                lambda r: self.expect_verdict("preflight check --no-probes (all-pass)", r, 0,
                                              "pass")),
            "minimal script, failing registry": (
                [self.python, str(ROOT / "bench" / "minimal_script.py")], self.env(BROKEN),
                lambda r: self.expect_exit("minimal script (failing registry)", r, 1, "FAIL")),
            "preflight check, failing registry": (
                [self.preflight, "check", "--format", "json"], self.env(BROKEN),
                lambda r: self.expect_verdict("preflight check (failing registry)", r, 1,
                                              "fail", ("routing.entries",))),
            LAX_CHECK: (
                [self.preflight, "check", "--format", "json"], self.env(LAX),
                lambda r: self.expect_verdict(f"{LAX_CHECK} (all-pass)", r, 0, "pass")),
            WORKED_CHECK: (
                [self.preflight, "check", "--format", "json", "--serve-scope", seed.SERVED],
                {k: v for k, v in self.env(WORKED).items() if k != "RAW_BUCKET"},
                lambda r: self.expect_verdict(WORKED_CHECK, r, 1, "fail", ("env.policy",))),
        }
        if self.before is not None:
            commands[BEFORE_CHECK] = (
                [str(self.before / ".venv" / "bin" / "preflight"), "check", "--format", "json"],
                self.env(), lambda r: self.expect_verdict(f"{BEFORE_CHECK} (all-pass)", r, 0,
                                                          "pass"))
            here, there = (distributions(python) for python in (
                self.python, str(self.before / ".venv" / "bin" / "python")))
            self.results["before"] = {"commit": git_commit(self.before),
                                      "only_here": sorted(here - there),
                                      "only_there": sorted(there - here)}
        wall: dict[str, Samples] = defaultdict(Samples)
        rss: dict[str, Samples] = defaultdict(Samples)
        cpu: dict[str, Samples] = defaultdict(Samples)
        names = list(commands)
        for round_number in range(self.s.rounds + 1):  # round 0 warms caches, discarded
            order = names[round_number % len(names):] + names[:round_number % len(names)]
            for name in order:
                command, env, check = commands[name]
                run = run_process(command, env, cwd=ROOT, rss=True)
                check(run)
                if round_number:
                    wall[name].add(run.wall_s)
                    if run.max_rss_kib >= 0:
                        rss[name].add(run.max_rss_kib / 1024)
                    cpu[name].add(run.user_s + run.sys_s)
        self.results["processes"] = {
            name: {"wall_s": wall[name].to_dict(), "rss_mib": rss[name].to_dict(),
                   "cpu_s": cpu[name].to_dict(), "command": " ".join(
                       Path(part).name if part.startswith("/") else part
                       for part in commands[name][0])}
            for name in names}
        log("processes: " + ", ".join(f"{n}={wall[n].median * 1000:.0f}ms" for n in names))

    def first_network_call(self) -> None:
        """Spawn to first TCP accept on a loopback front of either dependency."""
        assert self.fs is not None
        assert self.s3 is not None
        out: dict[str, dict[str, Samples]] = {}
        for name, command in (
                ("preflight check", [self.preflight, "check", "--format", "json"]),
                ("minimal script", [self.python, str(ROOT / "bench" / "minimal_script.py")])):
            samples = {"first": Samples(), "s3": Samples(), "firestore": Samples()}
            for _ in range(self.s.first_call_reps):
                fs_front = TcpFront(("127.0.0.1", self.fs.port), servers.free_port())
                s3_front = TcpFront(("127.0.0.1", self.s3.port), servers.free_port())
                fs_front.open()
                s3_front.open()
                try:
                    run = run_process(command, self.env(firestore=fs_front.address,
                                                        s3=s3_front.address), cwd=ROOT)
                finally:
                    fs_front.close()
                    s3_front.close()
                if name == "preflight check":
                    self.expect_verdict("first network call: preflight check", run, 0, "pass")
                else:
                    self.expect_exit("first network call: minimal script", run, 0, "OK")
                firsts = [t for t in (fs_front.first_accept, s3_front.first_accept) if t]
                if len(firsts) != 2:
                    self.fail(f"first network call: {name} did not reach both dependencies")
                    continue
                samples["first"].add(min(firsts) - run.started)
                samples["firestore"].add((fs_front.first_accept or 0) - run.started)
                samples["s3"].add((s3_front.first_accept or 0) - run.started)
            out[name] = samples
        self.results["first_call"] = {name: {k: v.to_dict() for k, v in samples.items()}
                                      for name, samples in out.items()}
        log("first network call: " + ", ".join(
            f"{n}={s['first'].median * 1000:.0f}ms" for n, s in out.items()))

    # ------------------------------------------------ 2: routing validation
    def validation(self) -> None:
        """In-process: preflight's real routing check vs the engines' loop, RPCs counted."""
        from bench.engines_loop import RpcCounter, counting_client, engines_loop
        from preflight.app.cli import check as check_command
        from preflight.app.options import raw_values
        from preflight.checks import NAMES
        from preflight.checks.routing_entries import RoutingEntries
        from preflight.config import build, parse_scope
        from preflight.core.result import Status
        from preflight.run.context import Context

        click_ctx = check_command.make_context("check", [
            "--project", SMALL, "--bucket", BUCKET, "--format", "json"])
        # One attempt must measure the whole query, however slow: the default attempt timeout
        # (5 s) is exercised by the whole-process runs in cli_rpcs, which report the attempts.
        base = dataclasses.replace(build(raw_values(click_ctx, click_ctx.params), {}, NAMES),
                                   attempt_timeout=VALIDATION_ATTEMPT_TIMEOUT)

        def config(project: str, scopes: int, kinds: int) -> Any:
            kind_names = tuple(ENGINES_KINDS) + EXTRA_KINDS[:max(0, kinds - 17)]
            return dataclasses.replace(
                base, project=project, kinds=kind_names[:kinds],
                scopes=tuple(parse_scope(s, "bench") for s in self.scopes(scopes)))

        def preflight_once(cfg: Any) -> tuple[float, int]:
            counter = RpcCounter()
            started = time.perf_counter()
            client = counting_client(cfg.project, counter)
            ctx = Context(cfg, time.monotonic() + 600)
            ctx.cached("firestore", lambda: client)
            outcome = RoutingEntries().attempt(ctx)
            elapsed = time.perf_counter() - started
            client.close()  # type: ignore[no-untyped-call]
            if outcome.status is not Status.PASS:
                self.fail(f"routing validation ({cfg.project}, {len(cfg.scopes)} scopes, "
                          f"{len(cfg.kinds)} kinds): {outcome.status.value}: {outcome.message}")
            return elapsed, counter.total

        def engines_once(cfg: Any) -> tuple[float, int]:
            counter = RpcCounter()
            started = time.perf_counter()
            client = counting_client(cfg.project, counter)
            result = engines_loop(client, cfg.collection, cfg.scopes, cfg.kinds)
            elapsed = time.perf_counter() - started
            client.close()  # type: ignore[no-untyped-call]
            expected = len(cfg.scopes) * len(cfg.kinds)
            if not result.ok or result.found != expected:
                self.fail(f"engines' loop ({cfg.project}, {len(cfg.scopes)} scopes): found "
                          f"{result.found}/{expected}, missing {result.missing[:5]}")
            return elapsed, counter.total

        rows: list[dict[str, Any]] = []

        def measure(who: str, collection: str, project: str, scopes: int, kinds: int,
                    reps: int) -> dict[str, Any] | None:
            cfg = config(project, scopes, kinds)
            once = preflight_once if who == "preflight" else engines_once
            samples, rpcs = Samples(), set()
            for _ in range(reps):
                try:
                    elapsed, count = once(cfg)
                except Exception as error:
                    self.fail(f"{who} {project} {scopes}x{kinds} crashed: "
                              f"{type(error).__name__}: {error}")
                    continue
                samples.add(elapsed)
                rpcs.add(count)
            if not samples.n:
                return None
            if len(rpcs) != 1:
                self.fail(f"{who} {project} {scopes}x{kinds}: RPC count varied: {rpcs}")
            row = {"who": who, "collection": collection, "docs": self.docs[project],
                   "scopes": scopes, "kinds": kinds, "ms": samples.median * 1000,
                   "n": samples.n, "rpcs": max(rpcs), "extrapolated": False,
                   "samples": samples.to_dict()}
            rows.append(row)
            log(f"validation {who:9} {collection:5} {scopes:>5} scopes x {kinds:>3} kinds: "
                f"{row['ms']:9.1f} ms  {row['rpcs']:>6} RPCs  (n={samples.n})")
            return row

        # Warm-up (lazy imports, protobuf descriptors): discarded.
        preflight_once(config(SMALL, 1, 17))
        engines_once(config(SMALL, 1, 17))

        reps = self.s.validation_reps
        for who in ("preflight", "engines"):
            measure(who, "small", SMALL, 1, 17, reps)
            measure(who, "k170", K170, 1, 17, reps)
            measure(who, "k170", K170, 1, 170, reps)
        for scopes in self.s.scope_counts:
            measure("preflight", "large", LARGE, scopes, 17, self.s.large_reps)
        measure("preflight", "large", LARGE, 1, 170, self.s.large_reps)
        measured: dict[int, dict[str, Any]] = {}
        for scopes, engine_reps in sorted(self.s.engines_scope_reps.items()):
            row = measure("engines", "large", LARGE, scopes, 17, engine_reps)
            if row:
                measured[scopes] = row
        measure("engines", "large", LARGE, 1, 170, self.s.engines_k170_large_reps)
        # The engines' loop costs one full collection scan per kind per scope on the emulator:
        # linear in scopes. Extrapolate the rest from the largest measured scope count.
        basis = measured[max(measured)] if measured else None
        for scopes in self.s.scope_counts:
            if basis is None or scopes in measured:
                continue
            rows.append({"who": "engines", "collection": "large", "docs": self.docs[LARGE],
                         "scopes": scopes, "kinds": 17,
                         "ms": basis["ms"] / basis["scopes"] * scopes, "n": basis["n"],
                         "rpcs": basis["rpcs"] // basis["scopes"] * scopes,
                         "extrapolated": True, "basis_scopes": basis["scopes"],
                         "samples": None})
        self.results["validation"] = rows

    # ------------------------------------- RPCs of whole preflight processes
    def cli_rpcs(self) -> None:
        """Whole `preflight check` processes with every gRPC channel intercepted."""
        out: dict[str, Any] = {}
        scopes = ",".join(self.scopes(self.max_scopes))
        cases = (
            ("preflight check, 1 scope, 17-doc collection", ["preflight", "check"],
             self.env(), (0, "pass")),
            ("minimal script, 17-doc collection",
             ["script", str(ROOT / "bench" / "minimal_script.py")], self.env(), (0, None)),
            (f"preflight check, {self.max_scopes} scopes, {self.docs[LARGE]:,}-doc collection",
             ["preflight", "check"], self.env(LARGE, PREFLIGHT_SCOPES=scopes), (0, "pass")),
            ("preflight check, failing registry", ["preflight", "check"], self.env(BROKEN),
             (1, "fail")),
        )
        with tempfile.TemporaryDirectory() as folder:
            for name, args, case_env, (code, status) in cases:
                counts = Path(folder) / "rpcs.json"
                counts.unlink(missing_ok=True)
                env = {**case_env, "BENCH_RPC_COUNT_FILE": str(counts),
                       "PYTHONPATH": str(ROOT), "PREFLIGHT_FORMAT": "json"}
                run = run_process([self.python, "-m", "bench.counted_cli", *args], env,
                                  cwd=ROOT)
                entry: dict[str, Any] = {"wall_s": run.wall_s}
                many = "PREFLIGHT_SCOPES" in case_env
                if status is None:
                    self.expect_exit(name, run, code, "OK")
                elif many and run.returncode == 3:
                    # "Not ready: only transient failures" — routing.entries ran out of time.
                    # That is this row's budget failing (reported as MISS), not the bench rotting.
                    verdict = self.verdict_of(run)
                    log(f"{name}: exit 3 (deadline) — reported as a budget miss")
                else:
                    verdict = self.expect_verdict(name, run, code, status)
                    if verdict:
                        entry["checks"] = {c["name"]: {"status": c["status"],
                                                       "duration_ms": c["duration_ms"],
                                                       "attempts": c["attempts"]}
                                           for c in verdict["checks"]}
                        routing = next((c for c in verdict["checks"]
                                        if c["name"] == "routing.entries"), None)
                        if routing:
                            entry["routing_queries_reported"] = routing["details"].get("queries")
                if not counts.exists():
                    self.fail(f"{name}: no RPC count written")
                    continue
                entry["rpcs"] = json.loads(counts.read_text())
                entry["rpcs_total"] = sum(entry["rpcs"].values())
                out[name] = entry
                if many:
                    self.results["many_scopes"] = {
                        "scopes": self.max_scopes, "docs": self.docs[LARGE],
                        "wall_s": run.wall_s, "timeout_s": base_timeout(),
                        "routing": entry.get("checks", {}).get("routing.entries")}
                log(f"RPCs: {name}: {entry['rpcs']}")
        self.results["cli_rpcs"] = out

    # ------------------------------------------------------- 6: the route model
    def route_model(self) -> None:
        """pydantic's import cost (fresh processes) and per-document cost of each path."""
        import timeit

        from preflight.contract import _route_pydantic, route_model

        imports: dict[str, Samples] = defaultdict(Samples)
        for _ in range(self.s.rounds):
            run = run_process([self.python, "-c", IMPORT_COST], self.env(), cwd=ROOT)
            try:
                measured = json.loads(run.stdout)
            except ValueError:
                self.fail(f"route model import cost: {run.describe()}")
                continue
            for name, seconds in measured.items():
                imports[name].add(seconds)
        canonical = list(seed.registry().values())
        lax = list(lax_registry().values())
        if any(route_model.canonical(doc) is None for doc in canonical):
            self.fail("route model: a sample route left the fast path")
        if any(route_model.canonical(doc) is not None for doc in lax):
            self.fail("route model: a route with ISO timestamps took the fast path")
        number = 200 if self.s.quick else 2_000

        def per_document(parse: Callable[[Any], Any], documents: list[Any]) -> float:
            best = min(timeit.repeat(lambda: [parse(doc) for doc in documents], number=number,
                                     repeat=3 if self.s.quick else 7))
            return best / number / len(documents)

        per_doc = {
            "fast path, the engines' sample routes": per_document(route_model.parse, canonical),
            "pydantic path, the same routes": per_document(_route_pydantic.parse, canonical),
            "pydantic path, routes with ISO-8601 timestamps": per_document(route_model.parse,
                                                                           lax),
        }
        self.results["route_model"] = {
            "imports_s": {name: samples.to_dict() for name, samples in imports.items()},
            "per_document_s": per_doc, "documents": {"canonical": len(canonical),
                                                     "lax": len(lax)}}
        log("route model: " + ", ".join(f"{n} {s.median * 1000:.0f} ms" for n, s in
                                        imports.items()) + "; " + ", ".join(
            f"{n}: {v * 1e6:.1f} µs/doc" for n, v in per_doc.items()))

    # ------------------------------------------------------- 5: time to green
    def time_to_green(self) -> None:
        assert self.fs is not None
        assert self.s3 is not None
        from preflight.run.retry import Backoff

        out: list[dict[str, Any]] = []
        for dependency, delay, reps in self.s.ttg:
            samples, attempts = Samples(), Samples()
            for _ in range(reps):
                target = self.s3 if dependency == "s3" else self.fs
                front = TcpFront(("127.0.0.1", target.port), servers.free_port())
                env = (self.env(s3=front.address) if dependency == "s3"
                       else self.env(firestore=front.address))
                box: dict[str, ProcessRun] = {}
                worker = threading.Thread(target=self._run_into, args=(
                    box, [self.preflight, "check", "--format", "json"], env))
                worker.start()
                time.sleep(delay)
                ready = front.open()
                worker.join()
                front.close()
                run = box["run"]
                verdict = self.expect_verdict(f"time to green ({dependency} up after "
                                              f"{delay:g}s)", run, 0, "pass")
                samples.add(run.ended - ready)
                name = "s3.bucket" if dependency == "s3" else "firestore.access"
                if verdict:
                    attempts.add(next(c["attempts"] for c in verdict["checks"]
                                      if c["name"] == name))
            out.append({"dependency": dependency, "delay_s": delay,
                        "after_ready_s": samples.to_dict(), "attempts": attempts.to_dict()})
            log(f"time to green: {dependency} up after {delay:g}s: verdict "
                f"{samples.median:.2f}s after ready (max {samples.high:.2f}s, n={samples.n})")
        self.results["ttg"] = {"cap_s": Backoff().cap, "initial_s": Backoff().initial,
                               "runs": out}

    # ------------------------------------------- 6: backends.reachable (issue 11)
    def probes(self) -> None:
        """17 routes over 4 distinct endpoints, one of them slow (Redis behind a proxy that
        holds each reply PROBE_DELAY s): one attempt's wall time vs the slowest single probe."""
        assert self.fs is not None
        assert self.s3 is not None
        import boto3

        from preflight.contract.profile import load as load_profile
        from tests.faults.tools import DelayProxy

        tabular = [name for name, kind in load_profile().kinds.items()
                   if kind.backends is not None and "dynamodb" in kind.backends
                   and "firestore" in kind.backends and "cosmos" in kind.backends]
        ddb = boto3.client("dynamodb", endpoint_url=f"http://{self.s3.address}",
                           region_name="us-west-2", aws_access_key_id="bench",
                           aws_secret_access_key="bench-secret")
        if "tabular_store" not in ddb.list_tables()["TableNames"]:
            ddb.create_table(
                TableName="tabular_store", BillingMode="PAY_PER_REQUEST",
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                           {"AttributeName": "sk", "KeyType": "RANGE"}],
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                      {"AttributeName": "sk", "AttributeType": "S"}])
        redis = servers.redis_server()
        redis.start()
        slow = DelayProxy(redis.address, PROBE_DELAY)

        def subject(kind: str, backend: str, config: dict[str, Any], name: str = "",
                    ) -> dict[str, Any]:
            doc = name or f"{kind}-t_system-dev"
            return {"kind": kind, "origin": f"route `{doc}` (t_system/dev)",
                    "backend": backend, "config": config}

        # Request-time kinds, each with its profile's spec of the backend (its defaults).
        groups = {
            "firestore: 8 routes, one project": [subject(k, "firestore", {})
                                                 for k in tabular[:8]],
            "s3: 4 routes, one bucket": [subject("object_store", "s3", {"bucket": BUCKET},
                                                 f"object_store-{n}") for n in range(4)],
            "dynamodb: 3 routes, one table": [subject(k, "dynamodb", {}) for k in tabular[8:11]],
            f"redis behind a {PROBE_DELAY:g} s delay: 2 routes": [
                subject("chat_bus", "redis", {"host": "127.0.0.1", "port": slow.port},
                        f"chat_bus-{n}") for n in range(2)],
        }
        try:
            with tempfile.TemporaryDirectory() as folder:
                spec = Path(folder) / "spec.json"
                spec.write_text(json.dumps({"groups": groups, "reps": self.s.probe_reps}))
                run = run_process([self.python, "-m", "bench.probe_wall", str(spec)], self.env(
                    AWS_ENDPOINT_URL_DYNAMODB=f"http://{self.s3.address}",
                    PYTHONPATH=str(ROOT)), cwd=ROOT, timeout=600)
        finally:
            slow.stop()
            redis.stop()
        try:
            measured = json.loads(run.stdout)
        except ValueError:
            self.fail(f"probes: no JSON from bench.probe_wall; {run.describe()}")
            return
        wrong = {name: status for name, status in measured["statuses"].items()
                 if status != "pass"}
        if wrong or measured["probes"] != 4 or measured["subjects"] != 17:
            self.fail(f"probes: expected 4 probes for 17 routes, all passing; got "
                      f"{measured['probes']} probes, {measured['subjects']} routes, {wrong}")
            return
        single = {name: Samples(values) for name, values in measured["single"].items()}
        together = Samples(measured["all"])
        slowest = max(samples.median for samples in single.values())
        self.results["probes"] = {
            "delay_s": PROBE_DELAY, "routes": 17, "probes": measured["probes"],
            "single": {name: samples.to_dict() for name, samples in single.items()},
            "all": together.to_dict(), "slowest_single_s": slowest,
            "sum_single_s": sum(samples.median for samples in single.values()),
            "cpu_all_s": Samples(measured["cpu_all"]).to_dict(),
            "cpu_single_sum_s": Samples(measured["cpu_single_sum"]).to_dict(),
            "ratio": together.median / slowest}
        log(f"probes: 17 routes / 4 endpoints in {together.median * 1000:.0f} ms; slowest "
            f"single {slowest * 1000:.0f} ms; ratio {together.median / slowest:.2f}")

    @staticmethod
    def _run_into(box: dict[str, ProcessRun], command: list[str], env: dict[str, str]) -> None:
        box["run"] = run_process(command, env, cwd=ROOT)

    # ------------------------------------------ where start-up time goes
    def import_profile(self) -> None:
        profiles: dict[str, Any] = {}
        for name, command, env in (
                ("preflight check", [self.preflight, "check", "--format", "json"], self.env()),
                ("preflight --version", [self.preflight, "--version"], self.env()),
                ("preflight check --help", [self.preflight, "check", "--help"], self.env()),
                ("preflight aws-credentials", [self.preflight, "aws-credentials", "--role-arn",
                                               ROLE], self.env(**self.metadata_env()))):
            run = run_process([self.python, "-X", "importtime", *command], env, cwd=ROOT)
            if run.returncode != 0:
                self.fail(f"imports: importtime {name}: {run.describe()}")
                continue
            profiles[name] = parse_importtime(run.stderr)
        self.results["imports"] = profiles
        for name in ("preflight --version", "preflight check --help"):
            loaded = profiles.get(name, {}).get("cloud_packages", [])
            log(f"{name}: cloud packages imported: {loaded or 'none'}")

    def no_bytecode(self) -> None:
        """`preflight check` when no .pyc can be read or written (a read-only FS, no cache)."""
        if not self.s.nopyc_reps:
            return
        samples = Samples()
        with tempfile.TemporaryDirectory() as empty:
            env = self.env(PYTHONPYCACHEPREFIX=empty, PYTHONDONTWRITEBYTECODE="1")
            for _ in range(self.s.nopyc_reps):
                run = run_process([self.preflight, "check", "--format", "json"], env, cwd=ROOT)
                self.expect_verdict("preflight check without bytecode", run, 0, "pass")
                samples.add(run.wall_s)
        self.results["no_bytecode"] = {"wall_s": samples.to_dict()}
        log(f"no bytecode: {samples.median * 1000:.0f} ms")

    def footprint(self) -> None:
        import botocore

        data = Path(botocore.__file__).parent / "data"
        services = [p for p in data.iterdir() if p.is_dir()]
        out: dict[str, Any] = {
            "botocore_services": len(services),
            "botocore_data_mib": du(data) / 2**20,
            "site_packages_mib": du(Path(botocore.__file__).parent.parent) / 2**20,
        }
        image = container_image_size()
        if image:
            out["image"] = image
        self.results["footprint"] = out

    # --------------------------------------------------- 8: preflight audit
    def audit(self) -> None:
        """The whole registry audited vs the same client streaming it, fleet by fleet."""
        assert self.fs is not None
        from bench import audit_scale
        from bench.stream_collection import CALL_TIMEOUT
        from preflight.observe.collection import PAGE_SIZE

        sizes = []
        for documents, count in sorted(self.s.audit_rounds.items()):
            project = f"bench-audit-{documents}"
            want = audit_scale.expected(documents)
            started = time.monotonic()
            written = audit_scale.write(self.fs.address, project, documents)
            seeded = time.monotonic() - started
            log(f"audit: seeded {written:,} documents in {seeded:.0f}s")
            if written != want["documents"]:
                self.fail(f"audit: seeded {written} documents, expected {want['documents']}")
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                   "HOME": os.environ.get("HOME", "/tmp"), "LANG": "C.UTF-8",
                   "FIRESTORE_EMULATOR_HOST": self.fs.address, "GCP_PROJECT_ID": project}
            samples = {side: {"wall_s": Samples(), "cpu_s": Samples(), "rss_mib": Samples()}
                       for side in ("stream", "audit")}
            with tempfile.TemporaryDirectory(prefix="bench-audit-") as reports:
                commands = {
                    "stream": [self.python, str(ROOT / "bench" / "stream_collection.py")],
                    "audit": [self.preflight, "audit", "--format", "json", "--report-dir",
                              reports, "--timeout", "3000", "--attempt-timeout",
                              str(CALL_TIMEOUT)]}
                load_before = [round(x, 2) for x in os.getloadavg()]
                for number in range(count):
                    # ABBA: a drift in the machine's load (or the emulator's heap) over the
                    # rounds weighs on both sides alike.
                    order = ("stream", "audit") if number % 2 == 0 else ("audit", "stream")
                    for side in order:
                        command = commands[side]
                        run = run_process(command, env, cwd=ROOT, rss=True, timeout=3600)
                        self._check_audit_run(side, run, want)
                        samples[side]["wall_s"].add(run.wall_s)
                        samples[side]["cpu_s"].add(run.user_s + run.sys_s)
                        if run.max_rss_kib >= 0:
                            samples[side]["rss_mib"].add(run.max_rss_kib / 1024)
                report_bytes = {path.name: path.stat().st_size
                                for path in sorted(Path(reports).iterdir())}
            servers.clear_firestore(self.fs.address, project)
            row = {"documents": written, "scopes": want["scopes"], "seed_s": seeded,
                   "rounds": count, "reports_bytes": report_bytes,
                   "load": {"before": load_before,
                            "after": [round(x, 2) for x in os.getloadavg()]},
                   **{side: {k: v.to_dict() for k, v in data.items()}
                      for side, data in samples.items()}}
            sizes.append(row)
            log(f"audit: {written:,} documents: stream "
                f"{samples['stream']['wall_s'].median:.1f}s, audit "
                f"{samples['audit']['wall_s'].median:.1f}s, RSS "
                f"{samples['stream']['rss_mib'].median:.0f} / "
                f"{samples['audit']['rss_mib'].median:.0f} MiB")
        self.results["audit"] = {"page_size": PAGE_SIZE, "sizes": sizes,
                                 "date": datetime.now(UTC).isoformat(timespec="seconds"),
                                 "commit": git_commit(), "code_fingerprint": code_fingerprint()}

    # --------------------------------------------- 9: the audit's HTML report
    def audit_html(self) -> None:
        from bench import audit_html

        measured, errors = audit_html.measure(self.s.html_scopes, self.s.html_rounds,
                                              warm_up=not self.s.quick)
        for error in errors:
            self.fail(error)
        self.results["audit_html"] = measured
        log(f"audit html: {measured['scopes']:,} failing scopes drawn "
            f"+{measured['over_empty_s']['failing']:.2f}s after an empty page")

    def _check_audit_run(self, side: str, run: ProcessRun, want: Mapping[str, int]) -> None:
        if side == "stream":
            if run.returncode != 0 or run.stdout.strip() != str(want["documents"]):
                self.fail(f"audit: the stream read {run.stdout.strip()!r}, expected "
                          f"{want['documents']}; {run.describe()}")
            return
        try:
            report_json = json.loads(run.stdout)
        except ValueError:
            self.fail(f"audit: no JSON report on stdout; {run.describe()}")
            return
        got = {"documents": report_json["registry"]["documents"],
               "scopes": report_json["registry"]["scopes"], **report_json["summary"]["scopes"]}
        if run.returncode != 1 or got != dict(want):
            self.fail(f"audit: expected exit 1 and {dict(want)}, got exit {run.returncode} "
                      f"and {got}")

    # ------------------------------------------- 10: the audit in shards
    def shards(self) -> None:
        assert self.fs is not None
        from bench import audit_shards
        from bench.stream_collection import CALL_TIMEOUT

        fs = self.fs
        self.results["shards"] = {
            **audit_shards.run(self.preflight, fs.address, ROOT, self.s.shard_plan, self.fail,
                               log, CALL_TIMEOUT,
                               lambda project: servers.clear_firestore(fs.address, project)),
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "commit": git_commit(), "code_fingerprint": code_fingerprint()}

    # ------------------------------------- profile check-engines (issue 24)
    def check_engines(self) -> None:
        """The static check on a generated tree the size of the engines' repository (which
        CI does not have): the profile must agree with it (exit 0) every time."""
        from tests.engines_tree import PROFILE, write_padded

        samples, cpu = Samples(), Samples()
        with tempfile.TemporaryDirectory() as folder:
            root = write_padded(Path(folder, "src"), ENGINES_FILES, ENGINES_REACHED)
            profile = Path(folder, "profile.yaml")
            profile.write_text(PROFILE, encoding="utf-8")
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": folder}
            files = sum(1 for _ in root.rglob("*.py"))
            for _ in range(self.s.check_engines_reps):
                run = run_process([self.preflight, "profile", "check-engines", str(root),
                                   "--profile", str(profile)], env, cwd=ROOT)
                self.expect_exit("profile check-engines", run, 0, "result: agree (exit 0)")
                samples.add(run.wall_s)
                cpu.add(run.user_s + run.sys_s)
        self.results["check_engines"] = {"python_files": files, "reached": ENGINES_REACHED,
                                         "wall_s": samples.to_dict(), "cpu_s": cpu.to_dict()}
        log(f"profile check-engines, {files} files: {samples.median * 1000:.0f} ms")

    # ------------------------------------------------------------------ run
    @contextmanager
    def infrastructure(self) -> Iterator[None]:
        started = time.monotonic()
        with servers.running(servers.firestore_emulator(), servers.s3_server()) as (fs, s3), \
                MetadataServer(lifetime=3600) as metadata:
            self.fs, self.s3, self.metadata = fs, s3, metadata
            log(f"emulator {fs.address}, S3 {s3.address}, metadata {metadata.address} up in "
                f"{time.monotonic() - started:.1f}s")
            yield

    def run(self, only: Sequence[str] = ()) -> None:
        steps: list[tuple[str, Callable[[], None]]] = [
            ("seed", self.seed), ("processes", self.processes),
            ("first network call", self.first_network_call),
            ("validation", self.validation), ("cli rpcs", self.cli_rpcs),
            ("time to green", self.time_to_green), ("route model", self.route_model),
            ("probes", self.probes), ("audit", self.audit), ("shards", self.shards),
            ("check engines", self.check_engines), ("audit html", self.audit_html),
            ("imports", self.import_profile),
            ("no bytecode", self.no_bytecode), ("footprint", self.footprint)]
        if only:
            unknown = set(only) - {name for name, _ in steps}
            if unknown:
                raise SystemExit(f"--only: no step named {', '.join(sorted(unknown))}")
            steps = [(name, step) for name, step in steps if name in only]
        timings: dict[str, float] = {}
        with self.infrastructure():
            for name, step in steps:
                started = time.monotonic()
                try:
                    step()
                except Exception as error:
                    self.fail(f"step {name} crashed: {type(error).__name__}: {error}")
                    if name == "seed":
                        break
                timings[name] = time.monotonic() - started
        self.results["step_seconds"] = timings


# ---------------------------------------------------------------- helpers
LAX_CHECK, WORKED_CHECK, BEFORE_CHECK = report.LAX_CHECK, report.WORKED_CHECK, report.BEFORE_CHECK
IMPORT_COST = """
import json, time
started = time.perf_counter()
import pydantic
imported = time.perf_counter()
import preflight.contract._route_pydantic
built = time.perf_counter()
print(json.dumps({"import pydantic": imported - started,
                  "build the route model": built - imported,
                  "both": built - started}))
"""


def lax_registry() -> dict[str, dict[str, Any]]:
    """The sample registry with ISO-8601 timestamps, as the engines' filesystem registry
    writes them: every route goes to pydantic, so the check pays its import."""
    documents = seed.registry()
    for document in documents.values():
        for name in ("created_at", "updated_at"):
            document[name] = document[name].isoformat()
    return documents


IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)$")


def parse_importtime(stderr: str) -> dict[str, Any]:
    """`-X importtime` lines -> total, modules, self time per top-level package, top modules."""
    by_package: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    modules: list[tuple[str, float, float, int]] = []
    for line in stderr.splitlines():
        match = IMPORT_LINE.match(line)
        if not match:
            continue
        own, cumulative = int(match[1]) / 1000, int(match[2]) / 1000
        depth = (len(match[3]) - 1) // 2
        name = match[4]
        parts = name.split(".")
        top = parts[0]
        if name.startswith("google.cloud."):
            top = ".".join(parts[:3])  # google.cloud.firestore_v1
        elif name.startswith("google."):
            top = ".".join(parts[:2])  # google.api_core, google.protobuf, google.auth
        by_package[top] += own
        count[top] += 1
        modules.append((name, own, cumulative, depth))
    total = sum(own for _, own, _, _ in modules)
    packages = sorted(by_package.items(), key=lambda item: -item[1])
    roots = sorted((m for m in modules if m[3] == 0), key=lambda m: -m[2])
    cloud = sorted({name.split(".")[0] for name, *_ in modules
                    if name.split(".")[0] in CLOUD_PACKAGES})
    pydantic = any(name.split(".")[0] in ("pydantic", "pydantic_core") for name, *_ in modules)
    # The check modules proper (preflight.checks itself only names them).
    check_modules = sorted(name for name, *_ in modules if name.startswith("preflight.checks."))
    return {"total_ms": total, "modules": len(modules), "check_modules": check_modules,
            "packages": [{"package": p, "self_ms": ms, "modules": count[p]}
                         for p, ms in packages[:15]],
            "top_level": [{"module": n, "cumulative_ms": c} for n, _, c, _ in roots[:12]],
            "cloud_packages": cloud, "pydantic": pydantic}


def base_timeout() -> float:
    from preflight.config import DEFAULT_TIMEOUT

    return float(DEFAULT_TIMEOUT)


def du(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with suppress(OSError):
                total += (Path(root) / name).stat().st_size
    return total


def container_image_size() -> dict[str, Any] | None:
    """The size of a locally built preflight image, if one exists (read-only query)."""
    for tool in ("podman", "docker"):
        if not shutil.which(tool):
            continue
        try:
            listed = subprocess.run([tool, "image", "ls", "--format", "json"],
                                    capture_output=True, text=True, timeout=20, check=False)
            images = json.loads(listed.stdout or "[]")
        except (OSError, ValueError, subprocess.TimeoutExpired):
            continue
        for image in images if isinstance(images, list) else []:
            names = image.get("Names") or image.get("names") or []
            if any("preflight" in str(n) for n in names) and image.get("Size"):
                return {"tool": tool, "name": str(names[0]), "bytes": int(image["Size"])}
    return None


def machine() -> dict[str, Any]:
    cpu = "unknown"
    memory = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 2**20:.1f} GiB"
                break
    except OSError:
        pass
    versions: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    java = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False)
    emulator = None
    snapshot = Path("/usr/lib/google-cloud-sdk/.install/cloud-firestore-emulator.snapshot.json")
    try:
        for component in json.loads(snapshot.read_text())["components"]:
            if component["id"] == "cloud-firestore-emulator":
                emulator = component["version"]["version_string"]
    except (OSError, ValueError, KeyError):
        pass
    commit = git_commit()
    return {
        "nproc": os.cpu_count(), "affinity": len(os.sched_getaffinity(0)), "cpu": cpu,
        "memory": memory, "kernel": platform.release(), "python": platform.python_version(),
        "implementation": platform.python_implementation(), "versions": versions,
        "java": (java.stderr.splitlines() or ["?"])[0], "firestore_emulator": emulator,
        "commit": commit or None, "code_fingerprint": code_fingerprint(),
    }


def distributions(python: str) -> set[str]:
    """The distributions a venv holds (a package in one venv only is imported by the other's
    libraries or not: structlog imports rich wherever rich is installed)."""
    done = subprocess.run([python, "-c", "import importlib.metadata as m; print('\\n'.join("
                           "d.metadata['Name'].lower() for d in m.distributions()))"],
                          capture_output=True, text=True, check=False)
    return set(done.stdout.split()) - {"engines-preflight", "preflight"}


def git_commit(checkout: Path = ROOT) -> str | None:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=checkout,
                          capture_output=True, text=True, check=False)
    return done.stdout.strip() or None


def code_fingerprint() -> str:
    """A hash of preflight's sources: which code these numbers belong to, dirty tree or not."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "preflight").rglob("*")):
        if path.is_file() and path.suffix in (".py", ".json"):
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="every step once on small data (make test); judges no timing")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: docs/ in full mode, .bench-out/ quick)")
    parser.add_argument("--label", default=None,
                        help="name of this run in the before/after history, e.g. the "
                        "optimisation just applied")
    parser.add_argument("--render-only", action="store_true",
                        help="measure nothing: rewrite BENCHMARKS.md from the folder's "
                        "bench-results.json and bench-history.json (e.g. after editing a label)")
    parser.add_argument("--before", type=Path, default=None, metavar="CHECKOUT",
                        help="an earlier commit's checkout with its .venv (make venv there): "
                        "its `preflight check` all-pass is measured in the same rounds as this "
                        "one's, and their ratio reported")
    parser.add_argument("--only", default="", metavar="STEP[,STEP]",
                        help="measure these steps only (e.g. audit) and rewrite BENCHMARKS.md "
                        "with their results merged into the folder's bench-results.json; the "
                        "other sections keep their run's figures, the history is left as is")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    only = [step.strip() for step in args.only.split(",") if step.strip()]
    out: Path = args.out or ROOT / ("docs" if not args.quick else ".bench-out")
    out.mkdir(parents=True, exist_ok=True)
    if args.render_only:
        results = json.loads((out / "bench-results.json").read_text(encoding="utf-8"))
        plot = out / "bench-scaling.png"
        (out / "BENCHMARKS.md").write_text(report.render(
            results, report.load_history(out / "bench-history.json"),
            errors=results.get("errors", []), plot=plot.name if plot.exists() else None),
            encoding="utf-8")
        log(f"rewrote {out / 'BENCHMARKS.md'}")
        return 0
    started = time.monotonic()
    log(f"{'quick' if args.quick else 'full'} mode, writing to {out}")
    plotting = None
    try:
        from bench.plot import ensure_matplotlib
        plotting = ensure_matplotlib(install=not args.quick)
    except (OSError, subprocess.CalledProcessError) as problem:
        log(f"matplotlib unavailable ({problem}); the plot is skipped")
    bench = Bench(settings)
    if args.before is not None:
        if not (args.before / ".venv" / "bin" / "preflight").exists():
            parser.error(f"--before: {args.before} has no .venv/bin/preflight (make venv there)")
        bench.before = args.before.resolve()
    bench.results["meta"] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full", "label": args.label,
        "load_before": [round(x, 2) for x in os.getloadavg()],
        "machine": machine(),
        "settings": {"validation_attempt_timeout": VALIDATION_ATTEMPT_TIMEOUT,
                     **{k: (dict(v) if isinstance(v, Mapping) else v)
                        for k, v in dataclasses.asdict(settings).items()}},
    }
    if only:
        return run_only(bench, only, out, started)
    bench.run()
    bench.results["meta"]["seconds"] = time.monotonic() - started
    bench.results["meta"]["load_after"] = [round(x, 2) for x in os.getloadavg()]
    if code_fingerprint() != bench.results["meta"]["machine"]["code_fingerprint"]:
        bench.results["meta"]["code_changed_during_run"] = True
        log("WARNING: preflight/ changed during this run: its numbers mix two versions")
    plot_path = out / "bench-scaling.png"
    if plotting and "validation" in bench.results:
        from bench.plot import scaling_plot
        try:
            scaling_plot(bench.results["validation"], bench.docs[LARGE], plot_path)
        except Exception as error:
            bench.fail(f"plot: {type(error).__name__}: {error}")
    history_path = out / "bench-history.json"
    history = report.load_history(history_path)
    if not args.quick:
        history = report.append_history(history, bench.results, errors=len(bench.errors))
        history_path.write_text(json.dumps(history, indent=1) + "\n", encoding="utf-8")
    bench.results["errors"] = bench.errors
    (out / "bench-results.json").write_text(json.dumps(bench.results, indent=1, default=str)
                                            + "\n", encoding="utf-8")
    document = report.render(bench.results, history, errors=bench.errors,
                             plot=plot_path.name if plot_path.exists() else None)
    (out / "BENCHMARKS.md").write_text(document, encoding="utf-8")
    elapsed = time.monotonic() - started
    log(f"wrote {out / 'BENCHMARKS.md'} in {elapsed:.0f}s")
    for row in report.budgets(bench.results):
        log(f"budget {row['verdict']:4}  {row['budget']}: {row['measured']}")
    if bench.errors:
        log(f"FAILED: {len(bench.errors)} error(s):")
        for message in bench.errors:
            log(f"  - {message[:500]}")
        return 1
    return 0


def run_only(bench: Bench, only: Sequence[str], out: Path, started: float) -> int:
    """Some steps measured anew, merged into the folder's last full results."""
    path = out / "bench-results.json"
    if not path.exists():
        raise SystemExit(f"--only needs an earlier run's {path}: run without --only first")
    results = json.loads(path.read_text(encoding="utf-8"))
    bench.run(only)
    timings = bench.results.pop("step_seconds", {})
    for key, value in bench.results.items():
        if key != "meta":
            results[key] = value
    results.setdefault("step_seconds", {}).update(timings)
    remeasured = {"date": bench.results["meta"]["date"], "commit": git_commit(),
                  "load_before": bench.results["meta"]["load_before"]}
    results.setdefault("remeasured", {}).update(dict.fromkeys(only, remeasured))
    results["errors"] = [e for e in results.get("errors", []) if not any(
        e.startswith(f"{step}:") or f"step {step} " in e for step in only)] + bench.errors
    path.write_text(json.dumps(results, indent=1, default=str) + "\n", encoding="utf-8")
    plot = out / "bench-scaling.png"
    (out / "BENCHMARKS.md").write_text(report.render(
        results, report.load_history(out / "bench-history.json"), errors=results["errors"],
        plot=plot.name if plot.exists() else None), encoding="utf-8")
    log(f"measured {', '.join(only)} in {time.monotonic() - started:.0f}s; rewrote "
        f"{out / 'BENCHMARKS.md'}")
    for error in bench.errors:
        log(f"  - {error[:500]}")
    return 1 if bench.errors else 0


if __name__ == "__main__":
    sys.exit(main())
