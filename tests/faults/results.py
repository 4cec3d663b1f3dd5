"""What the fault suite measured, as JSON lines, and RELIABILITY.md rendered from them.

Tests call `record(section, **fields)`; the session fixture in conftest.py resets the file
at the start and renders the markdown at the end. Nothing in the document is typed by hand:
every figure comes from a record written by a test in the same run.
"""

from __future__ import annotations

import json
import os
import platform
import threading
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
RESULTS_DIR = REPO / ".pytest-results" / "faults"
RESULTS_FILE = RESULTS_DIR / "results.jsonl"
# Written into the build folder by every run; `make reliability` points it at the tracked
# docs/RELIABILITY.md (a plain `make test` never rewrites a tracked file).
DOC_PATH = REPO / os.environ.get("PREFLIGHT_RELIABILITY_DOC", RESULTS_DIR / "RELIABILITY.md")
PARTIAL_DOC = RESULTS_DIR / "RELIABILITY.partial.md"
SECTIONS = ("matrix", "fuzz_routes", "fuzz_config", "secrets", "soak", "fail_closed")

_lock = threading.Lock()


def reset() -> None:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    ignore = RESULTS_DIR.parent / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# test results, written by tests/faults\n*\n")
    RESULTS_FILE.write_text("")


def record(section: str, **fields: Any) -> None:
    line = json.dumps({"section": section, "at": time.time(), **fields}, default=str,
                      ensure_ascii=False)
    with _lock:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        with RESULTS_FILE.open("a", encoding="utf-8") as stream:
            stream.write(line + "\n")


def load() -> list[dict[str, Any]]:
    if not RESULTS_FILE.exists():
        return []
    return [json.loads(line) for line in RESULTS_FILE.read_text(encoding="utf-8").splitlines()
            if line.strip()]


# ---------------------------------------------------------------------------- rendering

def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f} s"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


DEPENDENCY_ORDER = ("Firestore emulator", "S3 server", "Google token / metadata endpoint",
                    "any (signal)")


def _matrix(rows: list[dict[str, Any]]) -> list[str]:
    out = ["## Fault matrix", "",
           "Each row is one real `preflight check` process against real local servers (the "
           "Firestore emulator, a moto S3 server, or a fake Google token / metadata HTTP server "
           "driving the real google-auth code), with the fault injected as described. "
           "*Time to verdict* is measured by the test from spawning the process to its exit; "
           "*bound* is what the contract allows for that outcome (definitive failures: at once, "
           "well before the deadline; transient: no later than 1 s after `--timeout`).", ""]
    if not rows:
        return [*out, "_No fault-matrix results in this run._", ""]
    faults: list[str] = []
    for row in rows:
        if row["fault"] not in faults:
            faults.append(row["fault"])
    deps = [d for d in DEPENDENCY_ORDER if any(r["dependency"] == d for r in rows)]
    deps += sorted({r["dependency"] for r in rows} - set(deps))
    grid: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        grid[(row["fault"], row["dependency"])].append(row)

    out += ["### Summary (fault × dependency → exit code · verdict · time to verdict)", "",
            "| fault | " + " | ".join(deps) + " |", "|---|" + "---|" * len(deps)]
    for fault in faults:
        cells = []
        for dep in deps:
            found = grid.get((fault, dep), [])
            if not found:
                cells.append("—")
                continue
            parts = []
            for row in found:
                mark = "" if row["ok"] else " ✗"
                parts.append(f"{row['exit_code']} · {row['verdict_status']} · "
                             f"{_seconds(row['wall_s'])}{mark}")
            cells.append("<br>".join(parts))
        out.append(f"| {_cell(fault)} | " + " | ".join(cells) + " |")
    out += ["", "### Detail", "",
            "| dependency | fault | how it is injected | check → status (attempts) | exit "
            "(expected) | time to verdict | deadline / bound | result |",
            "|---|---|---|---|---|---|---|---|"]
    for row in sorted(rows, key=lambda r: (deps.index(r["dependency"])
                                           if r["dependency"] in deps else 99,
                                           faults.index(r["fault"]))):
        checks = ", ".join(f"{name} → {status}" + (f" ({row['attempts'][name]})"
                                                   if row.get("attempts", {}).get(name) else "")
                           for name, status in row["key_checks"].items())
        result = "ok" if row["ok"] else "**unexpected**: " + _cell(row.get("problem", ""))
        out.append(
            f"| {_cell(row['dependency'])} | {_cell(row['fault'])} | {_cell(row['how'])} | "
            f"{_cell(checks)} | {row['exit_code']} ({row['expected_exit']}) | "
            f"{_seconds(row['wall_s'])} | {row['timeout']:g} s / ≤ {row['bound_s']:.1f} s | "
            f"{result} |")
    problems = [r for r in rows if not r["ok"]]
    out += ["", f"{len(rows)} scenarios, {len(rows) - len(problems)} as the contract says, "
            f"{len(problems)} unexpected; "
            f"{sum(1 for r in rows if r['verdict_status'] != 'none')} of {len(rows)} runs "
            "wrote a verdict file that validated against "
            "`preflight/report/schema/verdict-v1.json`.",
            ""]
    return out


def _fail_closed(rows: list[dict[str, Any]]) -> list[str]:
    out = ["## Fail closed", "",
           "Failures injected at the transport edge of each client library inside the real "
           "preflight process (a `sitecustomize` module patches the library after it is "
           "imported; none of preflight's own functions is touched).", ""]
    if not rows:
        return [*out, "_Not run in this session._", ""]
    out += ["| client edge | injected | check → status | exit | result |", "|---|---|---|---|---|"]
    for row in rows:
        out.append(f"| {_cell(row['edge'])} | {_cell(row['injected'])} | "
                   f"{_cell(row['check'])} → {row['status']} | {row['exit_code']} | "
                   f"{'ok' if row['ok'] else '**unexpected**'} |")
    return [*out, ""]


def _fuzz_routes(rows: list[dict[str, Any]]) -> list[str]:
    out = ["## Hostile routing documents (hypothesis, real Firestore emulator)", "",
           "Every example writes generated documents to the emulator and runs the real CLI. "
           "Properties: preflight never crashes (exit 0/1, schema-valid verdict, routing.entries "
           "never `error`); it never passes a scope whose matched documents the engines' model "
           "rejects (an independent oracle written from ENGINES.md) or whose backend is refused; "
           "it names every offending document id; route `config` values never appear.", ""]
    if not rows:
        return [*out, "_Not run in this session._", ""]
    by_test: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_test[row["test"]].append(row)
    for test, items in by_test.items():
        classes: Counter[str] = Counter()
        outcomes: Counter[str] = Counter()
        docs = 0
        for item in items:
            classes.update(item.get("classes", []))
            outcomes[item.get("outcome", "?")] += 1
            docs += item.get("documents", 0)
        out += [f"### `{test}`: {len(items)} runs, {docs} documents", "",
                "| input class | count |", "|---|---|"]
        out += [f"| {_cell(name)} | {count} |" for name, count in sorted(classes.items())]
        out += ["", "Outcomes: " + ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items())),
                ""]
    return out


def _fuzz_config(rows: list[dict[str, Any]]) -> list[str]:
    out = ["## Hostile configuration (hypothesis, real CLI)", "",
           "Arbitrary strings in every `PREFLIGHT_*` variable and option (and the project and "
           "bucket). Property: a valid run (exit 0/1/3 with a schema-valid verdict) or exit 2 "
           "with exactly one line on stderr naming the option or variable, no traceback, and no "
           "network connection made.", ""]
    if not rows:
        return [*out, "_Not run in this session._", ""]
    names: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    for row in rows:
        names.update(row.get("fuzzed", []))
        outcomes[str(row.get("exit_code"))] += 1
    out += [f"{len(rows)} runs. Exit codes: " + ", ".join(
        f"{k}: {v}" for k, v in sorted(outcomes.items())) + ".", "",
        "| variable / option fuzzed | runs |", "|---|---|"]
    out += [f"| `{_cell(name)}` | {count} |" for name, count in sorted(names.items())]
    return [*out, ""]


def _secrets(rows: list[dict[str, Any]]) -> list[str]:
    out = ["## Secrets audit", "",
           "Distinct canary secrets are planted in every input channel: route `config` values "
           "(valid, invalid and conflicting documents), `AWS_SECRET_ACCESS_KEY`, "
           "`AWS_SESSION_TOKEN`, the service-account private key and key id in a key file, and "
           "URLs with passwords in the environment (engines variables preflight reports on, and "
           "the S3 endpoint). After every scenario of this suite that plants them, stdout, "
           "stderr, the verdict file, the termination log and every file the run left are "
           "searched for every canary.", ""]
    if not rows:
        return [*out, "_Not run in this session._", ""]
    leaks = [r for r in rows if r["leaks"]]
    channels: Counter[str] = Counter()
    scanned = 0
    for row in rows:
        channels.update(row.get("channels", []))
        scanned += row.get("bytes", 0)
    out += [f"- runs audited: {len(rows)} ({len({r['test'] for r in rows})} scenarios)",
            f"- bytes searched: {scanned:,}",
            f"- canaries per run: {max(len(r.get('canaries', [])) for r in rows)}",
            "- channels: " + ", ".join(f"{k} ({v} runs)" for k, v in sorted(channels.items())),
            f"- **leaks found: {len(leaks)}**", ""]
    for leak in leaks[:20]:
        out.append(f"  - {_cell(leak['test'])}: {_cell(leak['leaks'])}")
    return [*out, ""]


def _soak(rows: list[dict[str, Any]]) -> list[str]:
    out = ["## Soak", ""]
    checks = [r for r in rows if r.get("kind") == "check"]
    serve = [r for r in rows if r.get("kind") == "serve"]
    if not checks:
        out += ["_`check` soak not run in this session._", ""]
    for row in checks:
        out += [
            f"`preflight check`: **{row['runs']} consecutive runs** "
            f"({row['parallel']} at a time) against the emulator and the S3 server, "
            f"{row['unexpected']} unexpected outcomes.", "",
            "| figure | value |", "|---|---|",
            f"| scenarios (expected exit) | {_cell(row['scenarios'])} |",
            f"| outcomes | {_cell(row['outcomes'])} |",
            f"| wall time per run p50 / p95 / max | {row['p50']:.2f} s / {row['p95']:.2f} s / "
            f"{row['max']:.2f} s |",
            f"| peak RSS of one run (max over runs) | {row['max_rss_mb']:.1f} MiB |",
            f"| verdicts validated | {row['verdicts']} |",
            f"| leftover temporary files / processes | {row['leftovers']} / "
            f"{row['orphans']} |",
            f"| emulator + S3 server open FDs before → after | {row['fds_before']} → "
            f"{row['fds_after']} |",
            f"| total wall time | {row['total_s']:.1f} s |", ""]
    if serve:
        for row in serve:
            skip = {"section", "at", "kind"}
            out += ["`preflight serve`: one process, re-checking every 20 ms, under "
                    f"{row['probes']:,} probe requests (8 concurrent clients, every "
                    "endpoint in turn):", "", "| figure | value |", "|---|---|"]
            out += [f"| {_cell(k)} | {_cell(v)} |" for k, v in row.items() if k not in skip]
            out.append("")
    else:
        out += ["_`serve` soak not run in this session._", ""]
    return out


def render(records: list[dict[str, Any]], *, wall_s: float, outcome: str) -> str:
    by: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rec in records:
        by[rec["section"]].append(rec)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    lines = [
        "# Reliability evidence",
        "",
        "<!-- Generated by the test suite (tests/faults); do not edit by hand. "
        "Re-run: make reliability -->",
        "",
        f"Produced by `pytest tests/faults` on {now} ({platform.system()} "
        f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}); "
        f"the suite took {wall_s:.0f} s and ended: {outcome}. Every figure below was "
        "measured in that run.",
        "",
    ]
    lines += _matrix(by["matrix"])
    lines += _fail_closed(by["fail_closed"])
    lines += _fuzz_routes(by["fuzz_routes"])
    lines += _fuzz_config(by["fuzz_config"])
    lines += _soak(by["soak"])
    lines += _secrets(by["secrets"])
    return "\n".join(lines).rstrip() + "\n"


def complete(records: list[dict[str, Any]]) -> list[str]:
    """The sections with no record in this run (a partial run must not overwrite the doc)."""
    present = {rec["section"] for rec in records}
    return [name for name in SECTIONS if name not in present]


def write_document(*, wall_s: float, outcome: str) -> Path:
    records = load()
    text = render(records, wall_s=wall_s, outcome=outcome)
    missing = complete(records)
    target = PARTIAL_DOC if missing else DOC_PATH
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target
