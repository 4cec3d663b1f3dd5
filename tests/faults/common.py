"""Shared by the fault suite: canary secrets, the secrets audit, and judging one run."""

from __future__ import annotations

import secrets as random_secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests import harness, seed
from tests.faults import results, tools
from tests.verdict_schema import validate_verdict

# ------------------------------------------------------------------------------- canaries

def _token(label: str) -> str:
    return f"CANARY{label}{random_secrets.token_hex(8)}"


@dataclass
class Canaries:
    """Distinct secrets, one per input channel; none may ever appear in any output."""

    route_config: str = field(default_factory=lambda: _token("cfg"))
    route_config_password: str = field(default_factory=lambda: _token("cfgpw"))
    aws_secret: str = field(default_factory=lambda: _token("awssecret"))
    aws_session_token: str = field(default_factory=lambda: _token("awstoken"))
    env_url_password: str = field(default_factory=lambda: _token("envurlpw"))
    endpoint_password: str = field(default_factory=lambda: _token("s3urlpw"))
    private_key_id: str = field(default_factory=lambda: random_secrets.token_hex(20))
    private_key: str = field(default_factory=tools.cached_private_key)
    channels: set[str] = field(default_factory=set)
    extra: dict[str, str] = field(default_factory=dict)  # name -> canary, planted by a test

    def all(self) -> dict[str, str]:
        """name -> text that must not appear (the key's body lines count one by one)."""
        found = {
            "route config value": self.route_config,
            "route config URL password": self.route_config_password,
            "AWS_SECRET_ACCESS_KEY": self.aws_secret,
            "AWS_SESSION_TOKEN": self.aws_session_token,
            "password in an env URL": self.env_url_password,
            "password in the S3 endpoint URL": self.endpoint_password,
            "service-account private_key_id": self.private_key_id,
        }
        found.update(self.extra)
        body = [line for line in self.private_key.splitlines() if line and "-----" not in line]
        for number, line in enumerate(body):
            found[f"service-account private key line {number}"] = line
        return found

    # --- planting

    def config(self) -> dict[str, Any]:
        self.channels.add("route config")
        return {"host": "redis.internal", "password": self.route_config,
                "url": f"redis://engines:{self.route_config_password}@redis.internal:6379/0",
                "nested": {"token": self.route_config, "list": [self.route_config]}}

    def plant(self, name: str, value: str) -> str:
        """Another canary, e.g. a probe's config value or stand-in variable."""
        self.extra[name] = value
        return value

    def registry(self, **kwargs: Any) -> dict[str, dict[str, Any]]:
        """The engines' sample registry, with canaries in every route's config."""
        docs = seed.registry(**kwargs)
        for doc in docs.values():
            doc["config"] = {**doc["config"], **self.config()}
        return docs

    def env(self, *, s3_endpoint: str | None = None) -> dict[str, str]:
        """Environment channels that do not change any verdict."""
        self.channels.update({"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "env URL password"})
        env = {
            "AWS_SECRET_ACCESS_KEY": self.aws_secret,
            "AWS_SESSION_TOKEN": self.aws_session_token,
            "ENGINES_DATABASE_URL": (f"postgresql://u{random_secrets.token_hex(4)}:"
                                     f"{self.env_url_password}@db:5432/e"),
        }
        if s3_endpoint is not None:
            self.channels.add("S3 endpoint URL password")
            scheme, rest = s3_endpoint.split("://", 1)
            user = f"u{random_secrets.token_hex(4)}"  # a username no output could contain
            env["AWS_ENDPOINT_URL_S3"] = f"{scheme}://{user}:{self.endpoint_password}@{rest}"
        return env

    def key_file(self, path: Path, token_uri: str, **kwargs: Any) -> Path:
        self.channels.add("service-account key file")
        kwargs.setdefault("private_key", self.private_key)
        return tools.service_account_key(path, token_uri, private_key_id=self.private_key_id,
                                         **kwargs)


def leaks(text: str, canaries: Canaries) -> list[str]:
    return [name for name, secret in canaries.all().items() if secret in text]


def audit(result: harness.Result, canaries: Canaries, test: str) -> None:
    """No canary in stdout, stderr, the verdict file, the termination log or any file left."""
    text = result.everything()
    found = leaks(text, canaries)
    results.record("secrets", test=test, channels=sorted(canaries.channels),
                   canaries=sorted(canaries.all()), bytes=len(text.encode()), leaks=found)
    assert not found, f"canaries leaked: {found}\n{result.describe()}"


# ------------------------------------------------------------------------------- verdicts

def require_verdict(result: harness.Result) -> dict[str, Any]:
    """The verdict file exists, is complete, schema-valid, and agrees with the exit code."""
    assert result.verdict_path is not None and result.verdict_path.exists(), (
        "no verdict file\n" + result.describe())
    assert result.verdict is not None, result.describe()
    validate_verdict(result.verdict)
    assert result.verdict["exit_code"] == result.returncode, result.describe()
    return result.verdict


def statuses(result: harness.Result) -> dict[str, str]:
    return result.statuses() if result.verdict else {}


def attempts(result: harness.Result) -> dict[str, int]:
    if not result.verdict:
        return {}
    return {c["name"]: c["attempts"] for c in result.verdict["checks"]}


def short(checks: Iterable[Mapping[str, Any]]) -> str:
    return "; ".join(f"{c['name']}={c['status']}: {c['message'][:120]}" for c in checks)
