"""Secrets never leave preflight, and preflight never changes what it checks.

Canaries are planted in route `config` maps (including a harmless-looking host name) and
in the environment; every byte preflight writes — stdout, stderr, the verdict file, the
termination log, anything else in its output folder — is searched for them.
"""

from __future__ import annotations

import uuid

import pytest

from tests import harness, seed
from tests.conftest import Stack

pytestmark = pytest.mark.integration


def canary(kind: str) -> str:
    return f"CANARY-{kind}-{uuid.uuid4().hex[:10]}"


def assert_never_printed(result: harness.Result, secrets: dict[str, str]) -> None:
    everything = result.everything()
    assert everything.strip(), "nothing was captured: the scan would be vacuous"
    leaked = {name: value for name, value in secrets.items() if value in everything}
    assert not leaked, f"secrets leaked: {sorted(leaked)}\n{result.describe()}"
    # Also no piece long enough to matter (e.g. a secret cut by a truncation).
    for name, value in secrets.items():
        assert value[:16] not in everything, f"a prefix of {name} leaked"


def plant_config_secrets(stack: Stack, *, broken: bool) -> dict[str, str]:
    secrets = {name: canary(name) for name in (
        "password", "host", "refused-password", "dup-token", "invalid-token", "hidden-key")}
    docs = seed.registry()
    docs["chat_bus-t_system-dev"]["config"] = {
        "host": secrets["host"], "port": 6379, "password": secrets["password"],
        "nested": {"api_key": secrets["hidden-key"]}}
    if broken:
        # refused backend carrying credentials
        docs["kpi-t_system-dev"]["backend_type"] = "memory"
        docs["kpi-t_system-dev"]["config"] = {"password": secrets["refused-password"]}
        # conflicting duplicate whose configs differ by a secret
        twin = dict(docs["chat_bus-t_system-dev"])
        twin["config"] = {"host": secrets["host"], "port": 6379, "token": secrets["dup-token"]}
        docs["chat_bus#t_system#dev"] = twin
        # invalid document carrying credentials
        docs["budget-t_system-dev"]["required"] = "maybe"  # "yes" is a valid boolean to pydantic
        docs["budget-t_system-dev"]["config"] = {"root": "/x", "token": secrets["invalid-token"]}
    stack.seed(docs)
    return secrets


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_route_config_values_never_appear_when_passing(stack: Stack, fmt: str) -> None:
    secrets = plant_config_secrets(stack, broken=False)
    result = stack.run("--format", fmt, "--log-level", "debug")
    assert result.returncode == 0, result.describe()
    assert result.scope("t_system/dev")["routed"] == 17  # the seeded routes were read
    assert_never_printed(result, secrets)


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_route_config_values_never_appear_when_failing(stack: Stack, fmt: str) -> None:
    secrets = plant_config_secrets(stack, broken=True)
    result = stack.run("--format", fmt, "--log-level", "debug")
    assert result.returncode == 1, result.describe()
    # the documents carrying secrets are the very ones reported on
    found = result.scope("t_system/dev")
    assert found["refused"] == {"kpi": "memory"}
    assert found["duplicates"] == {"chat_bus": ["chat_bus#t_system#dev",
                                                "chat_bus-t_system-dev"]}
    assert list(found["invalid"]) == ["budget-t_system-dev"]
    assert_never_printed(result, secrets)


def test_secrets_in_the_environment_never_appear(stack: Stack) -> None:
    stack.seed()
    secrets = {name: canary(name) for name in (
        "aws-secret", "nexus-url-password", "endpoint-password", "database-url-password",
        "api-token")}
    env = stack.env(
        AWS_SECRET_ACCESS_KEY=secrets["aws-secret"],  # moto accepts any key
        # a broken rule whose value is a URL with a password: shown, but never the password
        NEXUS_BACKEND=f"https://nexus-user:{secrets['nexus-url-password']}@nexus.internal/db",
        AWS_ENDPOINT_URL_S3=f"http://s3-user:{secrets['endpoint-password']}@{stack.s3.address}",
        DATABASE_URL=f"postgres://app:{secrets['database-url-password']}@db.internal/app",
        ENGINES_API_TOKEN=secrets["api-token"],
    )
    for fmt in ("json", "text"):
        result = stack.run("--format", fmt, "--log-level", "debug", env=env)
        assert result.returncode == 1, result.describe()
        violation = next(v for v in result.check("env.policy")["details"]["violations"]
                         if v["variable"] == "NEXUS_BACKEND")
        assert "nexus.internal" in violation["value"]  # the value is shown...
        assert result.status("s3.bucket") == "pass"  # ...and the planted key was used
        assert_never_printed(result, secrets)


def test_secrets_in_failing_error_messages_never_appear(stack: Stack) -> None:
    """Client errors quote the endpoint URL; its password must not come along."""
    stack.seed()
    secrets = {"endpoint-password": canary("endpoint-password"),
               "aws-secret": canary("aws-secret")}
    dead = f"http://s3-user:{secrets['endpoint-password']}@127.0.0.1:{harness.closed_port()}"
    env = stack.env(AWS_ENDPOINT_URL_S3=dead, AWS_SECRET_ACCESS_KEY=secrets["aws-secret"])
    result = stack.run("--timeout", "3", "--attempt-timeout", "1", "--log-level", "debug",
                       env=env, timeout=15)
    assert result.returncode == 3, result.describe()
    assert result.check("s3.bucket")["status"] == "error"
    assert any(e.get("message") == "check attempt failed" for e in result.logs)
    assert_never_printed(result, secrets)


def test_firestore_and_bucket_are_unchanged_by_runs(stack: Stack) -> None:
    docs = seed.registry()
    docs["kpi-t_system-dev"]["backend_type"] = " Memory "
    docs["seo#t_system#dev"] = dict(docs["seo-t_system-dev"])
    del docs["timeline-t_system-dev"]["project_id"]
    stack.seed(docs)
    stack.seed({"unrelated": {"x": 1}}, collection="other_collection")
    stack.s3c.put_object(Bucket=stack.bucket, Key="raw/2026/11/26/item.json", Body=b"{}")
    before = stack.snapshot()
    assert before["documents"]["routing_registry"]  # the premise: there is data to change
    assert stack.bucket in before["buckets"]

    runs = [
        stack.run(),
        stack.run("--format", "text", "--scope", "t_system/dev", "--scope", "t_x/dev/p-1"),
        stack.run("--bucket", "missing-bucket-preflight", "--collection", "not_there_yet"),
        stack.run("--timeout", "3", "--attempt-timeout", "1",
                  env=stack.env(AWS_ENDPOINT_URL_S3=f"http://127.0.0.1:{harness.closed_port()}")),
    ]
    assert [r.returncode for r in runs] == [1, 1, 1, 1], [r.describe() for r in runs]
    after = stack.snapshot()
    assert after == before
    assert "not_there_yet" not in after["collections"]
    assert "missing-bucket-preflight" not in after["buckets"]
