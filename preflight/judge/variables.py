"""Environment variables judged the way the engines read them. Pure: no I/O.

A rule (from the profile) says how the engines read a variable — empty as unset or as a
value, lower-cased or exact (never trimmed), a fall-through variable, a default — what they
accept and what they do otherwise, and what the contract adds. Only backend names are ever
shown back; any other value (a host, a path) is described, not printed.
"""

from __future__ import annotations

from collections.abc import Mapping

from preflight.contract.profile import Profile, VariableRule
from preflight.contract.variables import Reading, integer, port, read
from preflight.core import strictness
from preflight.core.findings import Effect, Finding, summarise
from preflight.core.redact import strip_url_userinfo
from preflight.core.result import Outcome


def _shown(rule: VariableRule, reading: Reading) -> str:
    """Backend names are safe to echo; other values (hosts, folders) are not echoed."""
    if reading.raw is None:
        return "is unset" + (f" (the engines use {reading.value!r})" if reading.value else "")
    if rule.accept is None and rule.allowed is None:
        return "is set" if reading.raw else "is empty"
    text = strip_url_userinfo(reading.raw)
    text = text if len(text) <= 60 else text[:59] + "…"
    return f"is {text!r}"


def _failure(rule: VariableRule) -> Effect:
    if rule.silent:
        return Effect.SILENT
    return Effect.FIRST_USE if rule.reads == "first_use" else Effect.STARTUP


def _falls_back(rule: VariableRule) -> str:
    """What a silent fall-back means: for a variable read once at import, every request."""
    if rule.reads == "import":
        return (f"from start, every request uses {rule.falls_back_to}, silently (the engines "
                "read it once, at import)")
    return f"the engines fall back to {rule.falls_back_to} silently"


def _missing_one_of(rule: VariableRule, value: str, environ: Mapping[str, str | None],
                    ) -> tuple[str, ...]:
    """The variables the selected backend needs one of, when none is set and non-empty."""
    needed = (rule.needs_one_of or {}).get(value, ())
    return () if any(environ.get(name) for name in needed) else needed


def _finding(rule: VariableRule, message: str, effect: Effect, severity: str,
             reading: Reading, *, code: str | None = None, fix: str | None = None) -> Finding:
    value = None if reading.raw is None or (rule.accept is None and rule.allowed is None) \
        else strip_url_userinfo(reading.raw)
    code = code or rule.code
    reason = None if effect is Effect.STARTUP else rule.reason or strictness.reason_of(code)
    return Finding(
        code=code, subject=rule.variable, message=message, fix=fix or rule.fix, effect=effect,
        severity=rule.severity or severity, reason=reason,
        extra={"variable": rule.variable, "value": value, "read_from": reading.variable})


def _unset(rule: VariableRule) -> str:
    if rule.fallback:
        return f"neither {rule.variable} nor {rule.fallback} is set"
    return "is unset"


def none_set(variables: tuple[str, ...]) -> str:
    """"X is unset", "neither X nor Y is set": the phrase for variables none of which is."""
    if len(variables) == 1:
        return f"{variables[0]} is unset"
    if len(variables) == 2:
        return f"neither {variables[0]} nor {variables[1]} is set"
    return f"none of {', '.join(variables)} is set"


def _needed_now(rule: VariableRule, rules: Mapping[str, VariableRule],
                environ: Mapping[str, str | None]) -> bool:
    """For a variable only some backends need: does the environment choose one of them?"""
    if rule.require_when is None:
        return True
    return any(read(rules[name], environ).value in values
               for name, values in rule.require_when.items() if name in rules)


def judge_rule(rule: VariableRule, rules: Mapping[str, VariableRule],
               environ: Mapping[str, str | None], severity: str) -> list[Finding]:
    reading = read(rule, environ)
    shown = _shown(rule, reading)
    if reading.value is None:
        if rule.engines_require and not _needed_now(rule, rules, environ):
            if rule.required:
                return [_finding(rule, f"{_unset(rule)}: the engines start without it, as "
                                 "nothing they run now needs it", Effect.CONTRACT, severity,
                                 reading)]
            return []
        if rule.fallback and rule.engines_require:
            return [_finding(rule, _unset(rule), _failure(rule), severity, reading)]
        if rule.engines_require or rule.accept is not None:
            consequence = _falls_back(rule) if rule.silent else "the engines need a value"
            return [_finding(rule, f"{shown}: {consequence}", _failure(rule), severity,
                             reading)]
        if rule.required:
            return [_finding(rule, shown, Effect.CONTRACT, severity, reading)]
        return []
    value = reading.value
    if rule.trim and reading.raw and reading.raw != reading.raw.strip():
        return [_finding(rule, f"{reading.variable} has leading or trailing whitespace, which "
                         "the engines keep; preflight checks the trimmed name",
                         Effect.CONTRACT, severity, reading, code="value_untrimmed",
                         fix=f"remove the whitespace around {reading.variable}")]
    if rule.value_type == "integer" and integer(value) is None:
        return [_finding(rule, f"{shown}, not an integer", _failure(rule), severity, reading)]
    if rule.value_type == "port" and port(value) is None:
        return [_finding(rule, f"{shown}, not a port number from 1 to 65535", _failure(rule),
                         severity, reading)]
    if rule.accept is not None and value not in rule.accept:
        if rule.silent:
            message = f"{shown}: {_falls_back(rule)}; they use only {', '.join(rule.accept)}"
        else:
            why = (rule.why or {}).get(value) or f"the engines accept only {', '.join(rule.accept)}"
            message = f"{shown}: {why}"
        return [_finding(rule, message, _failure(rule), severity, reading)]
    allowed = None if rule.allowed is None else {
        item.lower() if rule.lower else item for item in rule.allowed}
    if allowed is not None and value not in allowed:
        return [_finding(rule, f"{shown}: the contract allows only "
                         f"{', '.join(rule.allowed or ())}", Effect.CONTRACT, severity, reading)]
    if rule.required and not reading.raw:
        return [_finding(rule, shown, Effect.CONTRACT, severity, reading)]
    missing = _missing_one_of(rule, value, environ)
    if missing:
        consequence = _falls_back(rule) if rule.silent else "the engines cannot build it"
        return [_finding(rule, f"{shown}, but {none_set(missing)}: {consequence}",
                         _failure(rule), severity, reading)]
    findings: list[Finding] = []
    for name in (rule.needs or {}).get(value, ()):
        findings += judge_rule(rules[name], rules, environ, severity)
    return findings



def judge(rules: Mapping[str, VariableRule], environ: Mapping[str, str | None],
          severity: str) -> list[Finding]:
    """Every rule that is not only needed by another, in the profile's order."""
    needed = {name for rule in rules.values() for names in (rule.needs or {}).values()
              for name in names}
    findings: list[Finding] = []
    for name, rule in rules.items():
        if name not in needed:
            findings += judge_rule(rule, rules, environ, severity)
    return findings


def echoable(rules: Mapping[str, VariableRule]) -> frozenset[str]:
    """Variables whose values are backend names, safe to print; the others are described."""
    return frozenset(rule.variable for rule in rules.values()
                     if rule.accept is not None or rule.allowed is not None)


def described(value: str | None, echo: bool) -> str | None:
    if value is None or echo:
        return None if value is None else strip_url_userinfo(value)
    return "(set)" if value else "(empty)"


def judge_environment(profile: Profile, env: Mapping[str, str | None]) -> Outcome:
    """env.policy: the start-up rules; a broken one blocks."""
    findings = judge(profile.environment, env, severity="fail")
    return summarise(findings, what="environment rule(s) broken",
                     passed="the engines' environment rules hold", key="violations")


def judge_backend_variables(profile: Profile, env: Mapping[str, str | None]) -> Outcome:
    """env.backends: the variables read at first use; built in, they warn."""
    findings = judge(profile.backend_variables, env, severity="warn")
    return summarise(findings, what="backend variable(s) not durable",
                     passed="every backend variable names a durable backend", key="violations")
