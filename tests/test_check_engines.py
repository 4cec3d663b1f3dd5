"""`preflight profile check-engines`: an engines-like source tree written here, in the
engines' own shapes, agrees with a profile written for it; each kind of drift introduced in
a copy is found with its file:line and exit 1; dormant code is not drift; what cannot be
read is "not understood"; usage errors exit 2 in one line. Everything runs the real CLI.

With PREFLIGHT_ENGINES_SOURCE naming a checkout of the engines (at the built-in profile's
recorded commit), the built-in profile is checked against it too.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any, NamedTuple

import jsonschema
import pytest

from preflight.contract.profile import load
from tests import harness
from tests.engines_tree import PROFILE, write_tree

REPO = Path(__file__).resolve().parent.parent
OUTPUT_SCHEMA = json.loads(
    (REPO / "preflight/engines_code/schema/check-engines-v1.json").read_text("utf-8"))


def line_of(root: Path, file: str, text: str) -> str:
    lines = (root / file).read_text("utf-8").splitlines()
    found = [number for number, line in enumerate(lines, start=1) if line.strip() == text]
    found = found or [number for number, line in enumerate(lines, start=1) if text in line]
    assert len(found) == 1, f"{text!r} is on lines {found} of {file}"
    return f"{file}:{found[0]}"


def profile_line(profile: Path, text: str) -> str:
    lines = profile.read_text("utf-8").splitlines()
    found = [number for number, line in enumerate(lines, start=1) if text in line]
    assert found, text
    return f"{profile}:{found[0]}"


class Run(NamedTuple):
    returncode: int
    stdout: str
    stderr: str
    document: dict[str, Any] | None


def run_check(tmp_path: Path, *args: str) -> Run:
    done: subprocess.CompletedProcess[str] = harness.run_command(
        harness.preflight_argv("profile", "check-engines", *args),
        harness.minimal_env(tmp_path))
    document = None
    if "--format" in args and done.returncode in (0, 1):
        document = json.loads(done.stdout)
        jsonschema.validate(document, OUTPUT_SCHEMA)
    return Run(done.returncode, done.stdout, done.stderr, document)


@pytest.fixture
def profile(tmp_path: Path) -> Path:
    path = tmp_path / "profile.yaml"
    path.write_text(PROFILE, encoding="utf-8")
    return path


def check_json(tmp_path: Path, root: Path, profile: Path) -> dict[str, Any]:
    run = run_check(tmp_path, str(root), "--profile", str(profile), "--format", "json")
    assert run.stderr == ""
    assert run.document is not None
    assert run.returncode == run.document["exit_code"]
    return run.document


def codes(document: dict[str, Any]) -> list[str]:
    return [d["code"] for d in document["differences"]]


# ---------------------------------------------------------------------- agreement

def test_the_tree_agrees_with_its_profile(tmp_path: Path, profile: Path) -> None:
    root = write_tree(tmp_path / "src")
    document = check_json(tmp_path, root, profile)
    assert document["differences"] == []
    assert document["not_understood"] == []
    assert (document["result"], document["exit_code"]) == ("agree", 0)
    assert document["counts"] == {"startup_kinds": 2, "refused_backends": 2,
                                  "request_kinds": 3, "request_lookups": 3, "variables": 3}
    assert document["source"]["entry"] == "engines/app/server.py"
    assert document["profile"]["commit"] == "0123456789abcdef0123456789abcdef01234567"


def test_the_text_report_says_agree_and_lists_what_is_dormant(tmp_path: Path,
                                                              profile: Path) -> None:
    root = write_tree(tmp_path / "src")
    run = run_check(tmp_path, str(root), "--profile", str(profile))
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stderr == ""
    assert "DRIFT" not in run.stdout
    assert run.stdout.rstrip().endswith("result: agree (exit 0)")
    assert "the profile was read from example/engines at 0123456789ab" in run.stdout
    at = line_of(root, "engines/analytics.py", 'resource_kind="analytics_store"')
    assert f"analytics_store: {at}: in a module the app does not import" in run.stdout


# ---------------------------------------------------------------------- drift

class Drift(NamedTuple):
    file: str
    old: str
    new: str
    code: str
    at: str | tuple[str, str] | None  # text on the line reported (in `file`, or (file,
    # text)); None: the code no longer has it
    key: str  # the profile key reported


DRIFTS = {
    "a start-up kind added": Drift(
        "engines/routing/manager.py", '    "chat_bus",\n', '    "chat_bus",\n    "memory",\n',
        "startup_kind_added", '"memory",', "kinds"),
    "a start-up kind removed": Drift(
        "engines/routing/manager.py", '    "budget",\n', "", "startup_kind_removed",
        "REQUIRED_RESOURCE_KINDS = [", "kinds.budget"),
    "a refused backend added": Drift(
        "engines/routing/manager.py", '{"memory", "noop"}', '{"memory", "noop", "tmp"}',
        "refused_backend_added", "DISALLOWED_BACKENDS =", "refused_backends.all"),
    "a refused backend dropped": Drift(
        "engines/routing/manager.py", '{"memory", "noop"}', '{"memory"}',
        "refused_backend_removed", "DISALLOWED_BACKENDS =", "refused_backends.all"),
    "a new request-time lookup": Drift(
        "engines/notes.py", "        return self._store(context).upsert(item)\n",
        "        TabularStoreService(context, resource_kind=\"archive_store\")\n"
        "        return self._store(context).upsert(item)\n",
        "request_kind_added", 'resource_kind="archive_store"', "kinds"),
    "a new backend comparison": Drift(
        "engines/storage/tabular.py", '        raise RuntimeError(f"Unsupported',
        '        elif backend_type == "cosmos":\n            return None\n'
        '        raise RuntimeError(f"Unsupported',
        "backend_added", 'backend_type == "cosmos"', "kinds.notes_store.backends"),
    "a changed config default": Drift(
        "engines/storage/tabular.py", 'config.get("region", "us-west-2")',
        'config.get("region", "eu-west-1")', "config_default_changed", 'config.get("region"',
        "kinds.notes_store.backends.dynamodb.config.region"),
    "a changed stand-in": Drift(
        "engines/storage/objects.py", 'os.getenv("RAW_BUCKET")', 'os.getenv("OBJECT_BUCKET")',
        "config_stand_in_changed", 'config.get("bucket")',
        "kinds.object_store.backends.s3.config.bucket"),
    "a backend no longer lab-only": Drift(
        "engines/storage/objects.py",
        '            if ctx.mode not in ("lab",):\n'
        '                raise RuntimeError("filesystem is lab-only")\n', "",
        "backend_modes_changed", 'backend_type == "filesystem"',
        "kinds.object_store.backends.filesystem.modes"),
    "a lookup at another fixed scope": Drift(
        "engines/timeline.py", 'env="dev"', 'env="prod"', "lookup_scope_changed",
        "get_route(", "kinds.event_stream.at"),
    "a changed variable default": Drift(
        "engines/chat.py", '"CHAT_BUS_BACKEND", "memory"', '"CHAT_BUS_BACKEND", "redis"',
        "variable_default_changed", "CHAT_BUS_BACKEND",
        "backend_variables.CHAT_BUS_BACKEND.default"),
    "a new *_BACKEND variable": Drift(
        "engines/chat.py", "    if backend == \"redis\":\n",
        "    cache = os.getenv(\"CACHE_BACKEND\", \"memory\").lower()\n"
        "    if backend == \"redis\":\n",
        "backend_variable_added", "CACHE_BACKEND", "backend_variables"),
    "an empty value kept instead of unset": Drift(
        "engines/chat.py", 'os.getenv("CHAT_BUS_BACKEND", "memory")',
        '(os.getenv("CHAT_BUS_BACKEND") or "memory")', "variable_empty_changed",
        "CHAT_BUS_BACKEND", "backend_variables.CHAT_BUS_BACKEND.empty"),
    "a fallback variable dropped": Drift(
        "engines/config.py", ' or _get_env("GCP_PROJECT")', "", "variable_fallback_changed",
        ("engines/storage/stores.py", "config.get_project()"),
        "environment.GCP_PROJECT_ID.fallback"),
    "an unusable backend fixed": Drift(
        "engines/storage/stores.py", "def get_object(self, key, tenant_id, env):",
        "def get_object(self, key, context):", "backend_usable_again",
        ("engines/storage/objects.py", 'backend_type == "blob"'),
        "kinds.object_store.backends.blob.unusable"),
    "a backend that no longer takes its service's calls": Drift(
        "engines/storage/stores.py", "def get_object(self, key, context):",
        "def get_object(self, key, tenant_id, env):", "backend_unusable_found",
        ("engines/storage/objects.py", "return adapter.get_object(key, ctx)"),
        "kinds.object_store.backends.s3"),
    "keys no longer taken together": Drift(
        "engines/storage/stores.py",
        '        if not account or not secret:\n'
        '            account = os.getenv("BLOB_ACCOUNT")\n'
        '            secret = os.getenv("BLOB_SECRET")\n',
        '        if not account:\n'
        '            account = os.getenv("BLOB_ACCOUNT")\n'
        '        if not secret:\n'
        '            secret = os.getenv("BLOB_SECRET")\n',
        "config_group_changed", ("engines/storage/objects.py", 'config.get("account")'),
        "kinds.object_store.backends.blob.together"),
    "an adapter that serves a mode the profile says fails": Drift(
        "engines/timeline.py", 'SELLABLE_MODES = {"saas", "t_system"}',
        'SELLABLE_MODES = {"t_system"}', "backend_modes_changed",
        'backend_type == "filesystem"', "kinds.event_stream.backends.filesystem.modes"),
    # The entry module's imports are what counts: without the importlib call the timeline
    # is never reached; without the function-level import the chat bus is never read.
    "a module no longer imported through importlib": Drift(
        "engines/app/server.py", '    importlib.import_module("engines.timeline")\n', "",
        "request_kind_removed", None, "kinds.event_stream"),
    "a function-level import removed": Drift(
        "engines/app/server.py", "    from engines.chat import get_bus\n",
        "    get_bus = None\n", "variable_not_read", None,
        "backend_variables.CHAT_BUS_BACKEND"),
}


@pytest.mark.parametrize("name", list(DRIFTS))
def test_each_kind_of_drift_is_found_with_file_and_line(tmp_path: Path, profile: Path,
                                                        name: str) -> None:
    drift = DRIFTS[name]
    root = write_tree(tmp_path / "src", {drift.file: [(drift.old, drift.new)]})
    document = check_json(tmp_path, root, profile)
    assert document["exit_code"] == 1
    assert document["result"] == "drift"
    found = [d for d in document["differences"] if d["code"] == drift.code]
    assert found, codes(document)
    difference = found[0]
    file, text = drift.at if isinstance(drift.at, tuple) else (drift.file, drift.at)
    assert difference["engines"] == (line_of(root, file, text) if text else None), difference
    assert difference["profile_key"] == drift.key
    assert difference["profile_at"] == load(str(profile)).where(*drift.key.split("."))
    assert difference["profile_at"].startswith(f"{profile}:")


def test_drift_in_text_names_the_engines_line_and_the_profile_key(tmp_path: Path,
                                                                  profile: Path) -> None:
    drift = DRIFTS["a start-up kind added"]
    root = write_tree(tmp_path / "src", {drift.file: [(drift.old, drift.new)]})
    run = run_check(tmp_path, str(root), "--profile", str(profile))
    assert run.returncode == 1
    at = line_of(root, drift.file, '"memory",')
    assert (f"  {at}: the engines require 'memory' at start-up; the profile does not\n"
            f"      profile: kinds ({profile_line(profile, 'kinds:')})") in run.stdout
    assert run.stdout.rstrip().endswith("result: drift (exit 1)")


def test_a_kind_required_at_start_up_and_when_serving_is_reported(tmp_path: Path,
                                                                  profile: Path) -> None:
    root = write_tree(tmp_path / "src", {"engines/notes.py": [
        ('resource_kind="notes_store"', 'resource_kind="budget"')]})
    document = check_json(tmp_path, root, profile)
    assert "startup_kind_looked_up" in codes(document)
    assert "request_kind_removed" in codes(document)  # notes_store is no longer looked up


# ---------------------------------------------------------------------- dormant

def test_lookups_the_app_never_makes_are_dormant_not_drift(tmp_path: Path,
                                                           profile: Path) -> None:
    root = write_tree(tmp_path / "src")
    document = check_json(tmp_path, root, profile)
    assert document["exit_code"] == 0
    dormant = {entry["kind"]: entry for entry in document["dormant"]}
    assert set(dormant) == {"analytics_store", "lock_config", "metrics_store"}
    assert dormant["analytics_store"]["why"] == "in a module the app does not import"
    assert dormant["analytics_store"]["where"] == line_of(
        root, "engines/analytics.py", 'resource_kind="analytics_store"')
    assert dormant["lock_config"]["why"] == ("in RoutedLockConfig._store, which no code the "
                                             "app runs calls")
    assert dormant["metrics_store"]["why"] == (
        "never reached: its arguments call config.env_name(), which engines/config.py does "
        "not define")


def test_a_dormant_lookup_counts_once_the_app_imports_it(tmp_path: Path, profile: Path) -> None:
    root = write_tree(tmp_path / "src", {"engines/app/server.py": [
        ("from engines import kpi, locks, notes\n",
         "from engines import analytics, kpi, locks, notes\n"),
        ('"kpi": kpi.kpi_repo,', '"kpi": kpi.kpi_repo,\n        "a": analytics.analytics_store,'),
    ]})
    document = check_json(tmp_path, root, profile)
    added = [d for d in document["differences"] if d["code"] == "request_kind_added"]
    assert [d["engines"] for d in added] == [line_of(
        root, "engines/analytics.py", 'resource_kind="analytics_store"')]
    assert "analytics_store" not in {entry["kind"] for entry in document["dormant"]}


# ---------------------------------------------------------------------- not understood

def test_start_up_kinds_that_cannot_be_read_block(tmp_path: Path, profile: Path) -> None:
    root = write_tree(tmp_path / "src", {"engines/routing/manager.py": [
        ('REQUIRED_RESOURCE_KINDS = [\n    "budget",\n    "chat_bus",\n]',
         'REQUIRED_RESOURCE_KINDS = load_kinds()')]})
    document = check_json(tmp_path, root, profile)
    assert document["exit_code"] == 1
    assert document["not_understood"] == [{
        "where": line_of(root, "engines/routing/manager.py", "for resource_kind in"),
        "area": "start-up kinds", "text": "REQUIRED_RESOURCE_KINDS", "blocking": True}]


def test_a_kind_built_at_run_time_is_not_understood_never_guessed(tmp_path: Path,
                                                                  profile: Path) -> None:
    root = write_tree(tmp_path / "src", {"engines/notes.py": [
        ('resource_kind="notes_store"', 'resource_kind=f"{context.area}_store"')]})
    document = check_json(tmp_path, root, profile)
    assert document["not_understood"] == [{
        "where": line_of(root, "engines/notes.py", "_store\")"),
        "area": "lookup", "text": "f'{context.area}_store'", "blocking": False}]
    # notes_store is no longer looked up by name: that is drift, the f-string is not.
    assert codes(document) == ["request_kind_removed"]


def test_a_module_the_app_imports_that_does_not_parse_is_listed(tmp_path: Path,
                                                                profile: Path) -> None:
    root = write_tree(tmp_path / "src", {"engines/app/server.py": [
        ("from engines import kpi, locks, notes\n",
         "from engines import kpi, locks, notes\nfrom engines import legacy\n")]})
    (root / "engines/legacy.py").write_text("x = 1\nprint 'python 2'\n", encoding="utf-8")
    document = check_json(tmp_path, root, profile)
    assert document["exit_code"] == 0, document["differences"]
    [entry] = document["not_understood"]
    assert entry["where"] == "engines/legacy.py:2"
    assert (entry["area"], entry["blocking"]) == ("file", False)
    assert entry["text"].startswith("does not parse (SyntaxError: "), entry


# ---------------------------------------------------------------------- usage errors

@pytest.mark.parametrize("case", ["missing", "file", "no entry", "entry does not parse"])
def test_a_path_that_is_not_an_engines_tree_is_a_usage_error(tmp_path: Path, profile: Path,
                                                             case: str) -> None:
    target = tmp_path / "src"
    if case == "file":
        target.write_text("x", encoding="utf-8")
    elif case == "no entry":
        (target / "engines").mkdir(parents=True)
    elif case == "entry does not parse":
        write_tree(target)
        (target / "engines/app/server.py").write_text("def (:\n", encoding="utf-8")
    run = run_check(tmp_path, str(target), "--profile", str(profile))
    assert run.returncode == 2
    assert run.stdout == ""
    assert len(run.stderr.splitlines()) == 1, run.stderr
    assert run.stderr.startswith("preflight: error: PATH: expected "), run.stderr
    assert "Traceback" not in run.stderr


def test_a_profile_without_an_engines_section_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "profile.yaml"
    path.write_text(PROFILE.replace("engines:\n  repository: example/engines\n  commit: "
                                    "0123456789abcdef0123456789abcdef01234567\n  entry: "
                                    "engines/app/server.py\n", ""), encoding="utf-8")
    root = write_tree(tmp_path / "src")
    run = run_check(tmp_path, str(root), "--profile", str(path))
    assert run.returncode == 2
    assert run.stderr.strip() == (f"preflight: error: {path}: expected an `engines: {{entry: "
                                  "...}` section naming the app's entry module")


def test_a_profile_that_does_not_load_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "profile.yaml"
    path.write_text(PROFILE.replace("  entry: engines/app/server.py",
                                    "  entry: engines/app/server.py\n  entrypoint: x"),
                    encoding="utf-8")
    root = write_tree(tmp_path / "src")
    run = run_check(tmp_path, str(root), "--profile", str(path))
    assert run.returncode == 2
    assert len(run.stderr.splitlines()) == 1, run.stderr
    assert "engines.entrypoint: unknown key" in run.stderr, run.stderr


# ---------------------------------------------------------------------- the real engines

# At the recorded commit the built-in profile and the engines' code agree: a disagreement
# found later is reported to the profile's maintainers (docs/CHECK-ENGINES.md) and listed
# here until the profile is corrected; the test fails when one goes away or a new one appears.
KNOWN_DISAGREEMENTS: set[tuple[str, str | None]] = set()
ENGINES_SOURCE = os.environ.get("PREFLIGHT_ENGINES_SOURCE")


@pytest.mark.skipif(not ENGINES_SOURCE, reason="PREFLIGHT_ENGINES_SOURCE names no engines "
                    "checkout")
def test_the_built_in_profile_against_the_engines_it_was_read_from(tmp_path: Path) -> None:
    assert ENGINES_SOURCE
    run = run_check(tmp_path, ENGINES_SOURCE, "--format", "json")
    document = run.document
    assert document is not None, run.stderr
    assert [n for n in document["not_understood"] if n["blocking"]] == []
    assert document["counts"]["startup_kinds"] == 17
    assert document["counts"]["refused_backends"] == 5
    assert {(d["code"], d["engines"]) for d in document["differences"]} == KNOWN_DISAGREEMENTS
    assert document["exit_code"] == (1 if KNOWN_DISAGREEMENTS else 0)
    dormant = {entry["kind"] for entry in document["dormant"]}
    assert {"analytics_store", "memory_store", "run_memory", "metrics_store",
            "strategy_lock_config", "workbench_store", "blackboard_store",
            "tabular_store"} <= dormant
