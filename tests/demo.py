"""`make demo`: what healthy means for the engines, then the same registry broken.

Starts a real Firestore emulator, a moto server (S3, STS, DynamoDB) and a Redis on free
loopback ports; seeds the engines' start-up registry, the timeline route and every
request-time route of one tenant's serving scope; sets every backend-selecting variable on a
durable backend; and runs `preflight check --serve-scope …` twice:

1. everything in place: every check passes (start-up and first use, the backends probed);
2. broken in ways that teach: a missing start-up kind and a refused backend (they block:
   the engines would not start), a request-time route on a backend its kind refuses and a
   Redis that is down (they warn: the engines start, and the requests that need them fail).

Everything it started is stopped; the verdicts and their logs are left in `.demo/`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests import seed, servers

PROJECT = "demo-project"
BUCKET = "engines-raw"
SERVED = seed.SERVED  # t_acme/prod/p_main
NOTES_TABLE = "tabular_store"  # the engines' default DynamoDB table for tabular kinds
# Every variable that chooses a backend, on a durable one (docs/ENGINES.md §5.7).
DURABLE = {"MEMORY_BACKEND": "firestore", "IDENTITY_BACKEND": "firestore",
           "RATE_LIMIT_BACKEND": "firestore", "REALTIME_REGISTRY_BACKEND": "firestore",
           "ANALYTICS_EVENTS_BACKEND": "firestore", "PAGE_CONTENT_BACKEND": "firestore",
           "SEO_BACKEND": "firestore", "PRIVACY_BACKEND": "firestore",
           "THREE_WISE_BACKEND": "firestore", "CHAT_BUS_BACKEND": "redis"}


def banner(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m" if sys.stdout.isatty() else f"\n== {text}", flush=True)


def run_preflight(env: dict[str, str], verdict: Path) -> int:
    """The text verdict on stdout; the log beside the verdict file, not between the lines
    (a stderr that is not a terminal gets JSON, for pods: kept out of the demo's screen)."""
    command = [sys.executable, "-m", "preflight", "check", "--serve-scope", SERVED,
               "--format", "text", "--verdict-file", str(verdict), "--timeout", "20"]
    print(f"$ preflight check --serve-scope {SERVED} --format text --verdict-file {verdict}",
          flush=True)
    with open(verdict.with_suffix(".log"), "w") as log:
        return subprocess.run(command, env=env, stderr=log, check=False).returncode


def registry() -> dict[str, dict[str, object]]:
    """The start-up kinds, event_stream, and every request-time kind of the served scope;
    notes_store on DynamoDB (a real table in moto), the rest as the engines seed them."""
    return seed.serving_registry(SERVED, notes_store=("dynamodb", {"region": "us-east-1"}))


def main() -> int:
    workdir = Path(".demo")
    workdir.mkdir(exist_ok=True)
    banner("starting a Firestore emulator, a moto server (S3, STS, DynamoDB) and a Redis "
           "on loopback")
    with servers.running(servers.firestore_emulator(), servers.s3_server(),
                         servers.redis_server()) as (firestore, moto, redis):
        endpoint = f"http://{moto.address}"
        env = {
            "PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"),
            "FIRESTORE_EMULATOR_HOST": firestore.address, "GCP_PROJECT_ID": PROJECT,
            "RAW_BUCKET": BUCKET, "ROUTING_REGISTRY_BACKEND": "firestore",
            "BUDGET_BACKEND": "filesystem",
            **DURABLE, "REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(redis.port),
            # moto answers S3, STS and DynamoDB; every AWS call stays on loopback.
            "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "demo",
            "AWS_SECRET_ACCESS_KEY": "demo-secret", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        print(f"firestore emulator: {firestore.address}   moto: {endpoint}   "
              f"redis: 127.0.0.1:{redis.port}")
        client = seed.firestore_client(firestore.address, PROJECT)
        seed.write(client, registry())
        seed.s3_client(endpoint).create_bucket(Bucket=BUCKET)
        create_table(endpoint)
        print(f"seeded routing_registry: the engines' 17 start-up kinds at t_system/dev, "
              f"event_stream, and the request-time kinds of {SERVED}; bucket {BUCKET}; "
              f"DynamoDB table {NOTES_TABLE}")

        banner("1. everything in place: start-up and first use pass, every backend answers")
        passed = run_preflight(env, workdir / "verdict-pass.json")
        print(f"exit code {passed}: the engines may start")

        banner("2. break it: delete the kpi route, point chat_bus at 'memory', put "
               f"config_store of {SERVED} on 's3', stop Redis")
        routes = client.collection("routing_registry")
        routes.document("kpi-t_system-dev").delete()
        routes.document("chat_bus-t_system-dev").update({"backend_type": "memory"})
        tenant, env_name, project = SERVED.split("/")
        routes.document(f"config_store-{tenant}-{env_name}-{project}").update(
            {"backend_type": "s3"})
        redis.stop()
        failed = run_preflight(env, workdir / "verdict-fail.json")
        print(f"exit code {failed}: start-up findings block (the engines would not start); "
              "first-use findings warn (the engines start, and those requests fail; "
              "--strict makes them block)")
        print(f"verdicts: {workdir}/verdict-pass.json, {workdir}/verdict-fail.json "
              f"(logs: the .log beside each)")
    banner("stopped the emulator, the moto server and Redis")
    return 0 if (passed, failed) == (0, 1) else 1


def create_table(endpoint: str) -> None:
    """The table the engines' tabular store writes: string pk (HASH) and sk (RANGE)."""
    import boto3

    boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                 aws_access_key_id="demo", aws_secret_access_key="demo-secret").create_table(
        TableName=NOTES_TABLE, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                   {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}])


if __name__ == "__main__":
    sys.exit(main())
