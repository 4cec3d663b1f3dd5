"""`make demo`: a passing verdict, then a broken registry and the failing verdict it gets.

Starts a real Firestore emulator and S3 server on free loopback ports, seeds the engines'
sample registry, runs `preflight check` twice, and stops everything it started.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests import seed, servers

PROJECT = "demo-project"
BUCKET = "engines-raw"


def banner(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m" if sys.stdout.isatty() else f"\n== {text}", flush=True)


def run_preflight(env: dict[str, str], verdict: Path) -> int:
    """The text verdict on stdout; the log beside the verdict file, not between the lines
    (a stderr that is not a terminal gets JSON, for pods: kept out of the demo's screen)."""
    command = [sys.executable, "-m", "preflight", "check", "--format", "text",
               "--verdict-file", str(verdict), "--timeout", "30"]
    print("$ preflight check --format text --verdict-file", verdict, flush=True)
    with open(verdict.with_suffix(".log"), "w") as log:
        return subprocess.run(command, env=env, stderr=log, check=False).returncode


def main() -> int:
    workdir = Path(".demo")
    workdir.mkdir(exist_ok=True)
    banner("starting a Firestore emulator and an S3 server (moto) on loopback")
    with servers.running(servers.firestore_emulator(), servers.s3_server()) as (firestore, s3):
        endpoint = f"http://{s3.address}"
        env = {
            "PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"),
            "FIRESTORE_EMULATOR_HOST": firestore.address, "GCP_PROJECT_ID": PROJECT,
            "RAW_BUCKET": BUCKET, "ROUTING_REGISTRY_BACKEND": "firestore",
            "BUDGET_BACKEND": "filesystem",
            # moto answers S3 and STS; every AWS call stays on loopback.
            "AWS_ENDPOINT_URL": endpoint, "AWS_ENDPOINT_URL_S3": endpoint,
            "AWS_ENDPOINT_URL_STS": endpoint, "AWS_ACCESS_KEY_ID": "demo",
            "AWS_SECRET_ACCESS_KEY": "demo-secret", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        print(f"firestore emulator: {firestore.address}   s3: {endpoint}")
        client = seed.firestore_client(firestore.address, PROJECT)
        seed.write(client, seed.registry())
        seed.s3_client(endpoint).create_bucket(Bucket=BUCKET)
        print(f"seeded routing_registry with the engines' 17 kinds for t_system/dev; "
              f"created bucket {BUCKET}")

        banner("1. everything in place: preflight lets the engines start")
        passed = run_preflight(env, workdir / "verdict-pass.json")
        print(f"exit code {passed}")

        banner("2. break it: delete the kpi route, point chat_bus at 'memory', unset RAW_BUCKET")
        routes = client.collection("routing_registry")
        routes.document("kpi-t_system-dev").delete()
        routes.document("chat_bus-t_system-dev").update({"backend_type": "memory"})
        broken = {k: v for k, v in env.items() if k != "RAW_BUCKET"}
        failed = run_preflight(broken, workdir / "verdict-fail.json")
        print(f"exit code {failed}  (the engines would not start)")
        print(f"verdicts: {workdir}/verdict-pass.json, {workdir}/verdict-fail.json "
              f"(logs: the .log beside each)")
    banner("stopped the emulator and the S3 server")
    return 0 if (passed, failed) == (0, 1) else 1


if __name__ == "__main__":
    sys.exit(main())
