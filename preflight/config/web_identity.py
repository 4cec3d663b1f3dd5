"""Settings for preflight's keyless AWS path: a Google ID token exchanged with STS.

Parsed with the rest of the configuration, before any I/O (preflight.observe.web_identity
does the exchange). Two ways in: PREFLIGHT_AWS_WEB_IDENTITY=gcp (with AWS_ROLE_ARN) for
preflight itself, and the flags of `preflight aws-credentials` for the engines' boto3.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from preflight.core.errors import ConfigError

ENV_MODE = "PREFLIGHT_AWS_WEB_IDENTITY"
ENV_ROLE_ARN = "AWS_ROLE_ARN"
ENV_AUDIENCE = "PREFLIGHT_AWS_AUDIENCE"
ENV_SESSION_NAME = "AWS_ROLE_SESSION_NAME"
ENV_DURATION = "PREFLIGHT_AWS_SESSION_DURATION"
MODES = ("gcp",)
DEFAULT_AUDIENCE = "sts.amazonaws.com"
MIN_DURATION, MAX_DURATION = 900, 43_200  # STS's bounds for DurationSeconds

_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}")
_SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}")
_NOT_SESSION_CHARACTER = re.compile(r"[^\w+=,.@-]")


@dataclass(frozen=True)
class WebIdentity:
    """Which role to assume with the metadata server's ID token, and how."""

    role_arn: str
    audience: str = DEFAULT_AUDIENCE
    session_name: str = "preflight"
    duration: int | None = None  # DurationSeconds; None: the role's default (1 hour)



def default_session_name(environ: Mapping[str, str]) -> str:
    """The Cloud Run revision or job execution, so CloudTrail shows who assumed the role."""
    for name in ("K_REVISION", "CLOUD_RUN_EXECUTION", "HOSTNAME"):
        cleaned = _NOT_SESSION_CHARACTER.sub("-", environ.get(name, "").strip())[:64]
        if len(cleaned) >= 2:
            return cleaned
    return "preflight"


def parse(role_arn: str | None, audience: str | None, session_name: str | None,
          duration: str | None, where: Mapping[str, str],
          environ: Mapping[str, str]) -> WebIdentity:
    """Validated settings, or ConfigError naming the variable or flag (`where[field]`)."""
    if not role_arn or not role_arn.strip():
        raise ConfigError(where["role_arn"], "the ARN of the role to assume "
                          "(arn:aws:iam::ACCOUNT_ID:role/NAME)")
    role_arn = role_arn.strip()
    if not _ROLE_ARN.fullmatch(role_arn):
        raise ConfigError(where["role_arn"], "an IAM role ARN like "
                          "arn:aws:iam::123456789012:role/NAME", role_arn)
    audience = DEFAULT_AUDIENCE if audience is None else audience.strip()
    if not audience or not audience.isprintable() or len(audience) > 2048:
        raise ConfigError(where["audience"], "a non-empty audience string (the ID token's "
                          "aud claim, pinned as accounts.google.com:oaud)", audience)
    name = default_session_name(environ) if session_name is None else session_name.strip()
    if not _SESSION_NAME.fullmatch(name):
        raise ConfigError(where["session_name"], "a role session name of 2-64 letters, "
                          "digits and + = , . @ _ -", name)
    seconds: int | None = None
    if duration is not None and duration.strip():
        text = duration.strip()
        if not text.isdigit() or not MIN_DURATION <= int(text) <= MAX_DURATION:
            raise ConfigError(where["duration"], f"a whole number of seconds from "
                              f"{MIN_DURATION} to {MAX_DURATION}", duration)
        seconds = int(text)
    return WebIdentity(role_arn, audience, name, seconds)


def from_environ(environ: Mapping[str, str]) -> WebIdentity | None:
    """PREFLIGHT_AWS_WEB_IDENTITY=gcp turns the provider on; unset or empty leaves it off."""
    mode = environ.get(ENV_MODE, "").strip().lower()
    if not mode:
        return None
    if mode not in MODES:
        raise ConfigError(ENV_MODE, "gcp (exchange the metadata server's ID token for AWS "
                          "credentials) or unset", environ[ENV_MODE])
    where = {"role_arn": ENV_ROLE_ARN, "audience": ENV_AUDIENCE,
             "session_name": ENV_SESSION_NAME, "duration": ENV_DURATION}
    return parse(environ.get(ENV_ROLE_ARN), environ.get(ENV_AUDIENCE),
                 environ.get(ENV_SESSION_NAME), environ.get(ENV_DURATION), where, environ)
