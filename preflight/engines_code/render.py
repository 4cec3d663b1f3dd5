"""The report as text for people and as JSON (preflight.check-engines/v1) for CI."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from preflight.engines_code.check import Report
from preflight.engines_code.tree import Where

SCHEMA = "preflight.check-engines/v1"


def _where(where: Where | None) -> str | None:
    return None if where is None else str(where)


def result(report: Report) -> str:
    return "drift" if report.comparison.exit_code else "agree"


def as_json(report: Report) -> str:
    comparison, facts, profile = report.comparison, report.facts, report.profile
    engines = profile.engines
    document: dict[str, Any] = {
        "schema": SCHEMA,
        "result": result(report),
        "exit_code": comparison.exit_code,
        "source": {"path": report.path, "entry": engines.entry if engines else None,
                   "python_files": facts.files, "modules_reached": facts.modules_reached,
                   "modules_read": facts.modules_read},
        "profile": {"name": profile.name, "source": profile.source,
                    "repository": engines.repository if engines else None,
                    "commit": engines.commit if engines else None},
        "differences": [
            {"code": d.code, "message": d.message, "engines": _where(d.engines),
             "also": [str(w) for w in d.also], "profile_key": d.profile_key,
             "profile_at": d.profile_at}
            for d in comparison.differences],
        "not_understood": [
            {"where": str(n.where), "area": n.area, "text": n.text,
             "blocking": n in comparison.blocking}
            for n in comparison.not_understood],
        "dormant": [
            {"kind": lookup.kind, "where": str(lookup.where), "why": lookup.dormant,
             "via": [str(w) for w in lookup.via]}
            for lookup in comparison.dormant],
        "notes": [{"engines": str(n.engines), "message": n.message} for n in comparison.notes],
        "counts": comparison.counts,
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _section(title: str, lines: Iterable[str]) -> list[str]:
    body = list(lines)
    return [title, *body, ""] if body else []


def as_text(report: Report) -> str:
    comparison, facts, profile = report.comparison, report.facts, report.profile
    engines = profile.engines
    lines = [f"check-engines: {report.path} against {profile.source}"]
    if engines is not None and (engines.repository or engines.commit):
        lines.append(f"  the profile was read from {engines.repository or 'the engines'}"
                     + (f" at {engines.commit[:12]}" if engines.commit else ""))
    entry = engines.entry if engines else facts.entry
    lines += [f"  {facts.files} Python files; the app ({entry}) reaches "
              f"{facts.modules_reached} modules; {facts.modules_read} read", ""]
    lines += _section(f"DRIFT ({len(comparison.differences)}):", (
        f"  {_where(d.engines) or '(not in the code)'}: {d.message}\n"
        f"      profile: {d.profile_key} ({d.profile_at})"
        + (f"\n      also: {', '.join(map(str, d.also))}" if d.also else "")
        for d in comparison.differences))
    lines += _section(f"NOT UNDERSTOOD ({len(comparison.not_understood)}, in code the app runs;"
                      " never guessed):", (
        f"  {n.where}: {n.area}: {n.text}"
        + ("  [blocks: the start-up check must be read]" if n in comparison.blocking else "")
        for n in comparison.not_understood))
    lines += _section(f"DORMANT ({len(comparison.dormant)} lookups the app never makes; "
                      "not drift):", (
        f"  {lookup.kind}: {lookup.where}: {lookup.dormant}" for lookup in comparison.dormant))
    lines += _section("NOTES (engine facts the profile cannot express yet):", (
        f"  {n.engines}: {n.message}" for n in comparison.notes))
    counts = comparison.counts
    lines.append(f"read: start-up check {counts['startup_kinds']} kinds, "
                 f"{counts['refused_backends']} refused backends; when serving "
                 f"{counts['request_kinds']} kinds in {counts['request_lookups']} lookups; "
                 f"{counts['variables']} variables")
    verdict = result(report)
    lines.append(f"result: {verdict} (exit {comparison.exit_code})")
    return "\n".join(lines) + "\n"
