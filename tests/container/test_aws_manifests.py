"""The keyless AWS pieces that ship around the code: the GKE component, the Cloud Run
manifests and AWS config file, and the trust policies IAM.md explains.

Like test_manifests.py: kubectl (kustomize) and kubernetes-validate, no network.
"""

from __future__ import annotations

import configparser
import json
import os
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from preflight.config import web_identity
from tests.container.test_manifests import (
    DEPLOY,
    K8S_VERSIONS,
    ROOT,
    container,
    env_value,
    load,
    need,
)

COMPONENT = DEPLOY / "k8s" / "components" / "aws-web-identity"
ROLE = "arn:aws:iam::123456789012:role/engines-raw-bucket"
TOKEN_FILE = "/var/run/secrets/aws/serviceaccount/token"


def compose(tmp_path: Path, resource: str) -> tuple[dict[str, Any], ...]:
    """An operator's overlay: `resource` + the component + the role set by a patch."""
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "resources": [os.path.relpath(DEPLOY / resource, overlay)],
        "components": [os.path.relpath(COMPONENT, overlay)],
        "patches": [{"patch": yaml.safe_dump({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "aws-web-identity"}, "data": {"AWS_ROLE_ARN": ROLE}})}],
    }))
    kubectl = need("kubectl")
    done = subprocess.run([kubectl, "kustomize", "--load-restrictor", "LoadRestrictionsNone",
                           str(overlay)], capture_output=True, text=True, check=False,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


@pytest.mark.parametrize("resource", ["k8s/base", "k8s/overlays/native-sidecar"])
def test_aws_web_identity_component_composes_and_validates(tmp_path: Path,
                                                           resource: str) -> None:
    import kubernetes_validate  # a test dependency: missing, the import fails loudly
    docs = compose(tmp_path, resource)
    for doc in docs:
        for version in K8S_VERSIONS:
            kubernetes_validate.validate(doc, version, strict=True)
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    spec = deployment["spec"]["template"]["spec"]
    configmaps = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ConfigMap"}

    (volume,) = [v for v in spec["volumes"] if "projected" in v]
    (source,) = volume["projected"]["sources"]
    token = source["serviceAccountToken"]
    assert token["audience"] == "sts.amazonaws.com"
    assert 600 <= token["expirationSeconds"] <= 86_400
    assert spec["automountServiceAccountToken"] is False  # no Kubernetes API token
    assert spec["securityContext"]["fsGroup"]  # the non-root user can read the token

    for c in (container(spec, "preflight", init=True), container(spec, "engines")):
        env = {e["name"]: e for e in c["env"]}
        (mount,) = [m for m in c["volumeMounts"] if m["name"] == volume["name"]]
        assert mount["readOnly"] is True
        assert env_value(c, "AWS_WEB_IDENTITY_TOKEN_FILE") == TOKEN_FILE
        assert f"{mount['mountPath']}/{token['path']}" == TOKEN_FILE
        reference = env["AWS_ROLE_ARN"]["valueFrom"]["configMapKeyRef"]
        assert configmaps[reference["name"]]["data"][reference["key"]] == ROLE
        assert env["AWS_ROLE_SESSION_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == \
            "metadata.name"
        assert "AWS_ACCESS_KEY_ID" not in env


def test_the_component_alone_keeps_a_placeholder_role() -> None:
    text = (COMPONENT / "kustomization.yaml").read_text()
    assert "kind: Component" in text
    assert "AWS_ROLE_ARN=arn:aws:iam::ACCOUNT_ID:role/" in text


# --- Cloud Run ----------------------------------------------------------------------------

CLOUD_RUN = ("service.yaml", "service-exec.yaml", "job.yaml")


@pytest.mark.parametrize("name", CLOUD_RUN)
def test_no_long_lived_aws_keys_in_cloud_run(name: str) -> None:
    text = (DEPLOY / "cloudrun" / name).read_text()
    for word in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        assert word not in text


def service_containers(name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    template = load(DEPLOY / "cloudrun" / name)["spec"]["template"]["spec"]
    return template, template["containers"]


@pytest.mark.parametrize("name", ["service.yaml", "service-exec.yaml"])
def test_cloud_run_services_read_the_aws_config_file(name: str) -> None:
    template, containers = service_containers(name)
    volumes = {v["name"]: v for v in template["volumes"]}
    for c in containers:
        path = env_value(c, "AWS_CONFIG_FILE")
        assert path == "/etc/aws/config", c["name"]
        (mount,) = [m for m in c["volumeMounts"] if m["mountPath"] == "/etc/aws"]
        assert mount["readOnly"] is True
        secret = volumes[mount["name"]]["secret"]
        assert secret["secretName"] == "engines-aws-config"
        (item,) = secret["items"]
        assert item["path"] == "config"


def test_cloud_run_job_checks_the_engines_aws_path() -> None:
    """The job runs as the engines: their AWS config file, their credential_process."""
    job = load(DEPLOY / "cloudrun" / "job.yaml")
    task = job["spec"]["template"]["spec"]["template"]["spec"]
    (preflight,) = task["containers"]
    assert env_value(preflight, "AWS_CONFIG_FILE") == "/etc/aws/config"
    assert env_value(preflight, "PREFLIGHT_AWS_WEB_IDENTITY") is None
    assert {"name": "aws-config", "mountPath": "/etc/aws", "readOnly": True} in \
        preflight["volumeMounts"]
    (volume,) = [v for v in task["volumes"] if v["name"] == "aws-config"]
    assert volume["secret"] == {"secretName": "engines-aws-config",
                                "items": [{"key": "1", "path": "config"}]}


def test_shipped_aws_config_runs_preflight_aws_credentials() -> None:
    """botocore's own parser reads it; the command line is one preflight accepts, by the
    absolute path of the image's own command (docs/AWS.md: the engines copy that venv)."""
    from botocore.configloader import raw_config_parse

    from tests.container.test_manifests import instructions

    path = DEPLOY / "cloudrun" / "aws-config"
    parsed = raw_config_parse(str(path))
    command = shlex.split(parsed["default"]["credential_process"])
    (entrypoint,) = [json.loads(rest) for keyword, rest in instructions()
                     if keyword == "ENTRYPOINT"]
    assert command[:3] == [*entrypoint, "aws-credentials", "--role-arn"]
    assert command[0].startswith("/")
    role = command[3].replace("ACCOUNT_ID", "123456789012")
    identity = web_identity.parse(role, None, None, None, {"role_arn": "--role-arn",
                                                           "audience": "", "session_name": "",
                                                           "duration": ""}, {})
    assert identity.role_arn == role
    assert configparser.ConfigParser().read(path)  # plain INI as well


# --- IAM -----------------------------------------------------------------------------------

def trust(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((DEPLOY / "iam" / name).read_text())
    return document


def test_trust_policies_are_shown_verbatim_in_iam_md() -> None:
    doc = (DEPLOY / "IAM.md").read_text()
    for name in ("trust-gke.json", "trust-cloud-run.json"):
        assert json.dumps(trust(name), indent=2) in doc, name
    for words in ("`sub` = `system:serviceaccount:NAMESPACE:engines`",
                  "`aud` = `sts.amazonaws.com`",
                  "`accounts.google.com:aud` (the `azp` claim)", "`accounts.google.com:sub`",
                  "`accounts.google.com:oaud` (the `aud` claim)"):
        assert words in doc, words


def test_gke_trust_pins_subject_and_audience() -> None:
    (statement,) = trust("trust-gke.json")["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    provider = statement["Principal"]["Federated"]
    issuer = provider.split(":oidc-provider/", 1)[1]
    assert issuer.startswith("container.googleapis.com/v1/projects/")
    assert set(statement["Condition"]) == {"StringEquals"}
    assert statement["Condition"]["StringEquals"] == {
        f"{issuer}:sub": "system:serviceaccount:NAMESPACE:engines",
        f"{issuer}:aud": "sts.amazonaws.com"}


def test_cloud_run_trust_pins_azp_sub_and_audience() -> None:
    (statement,) = trust("trust-cloud-run.json")["Statement"]
    assert statement["Principal"] == {"Federated": "accounts.google.com"}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert set(statement["Condition"]) == {"StringEquals"}
    assert statement["Condition"]["StringEquals"] == {
        "accounts.google.com:aud": "SERVICE_ACCOUNT_UNIQUE_ID",
        "accounts.google.com:sub": "SERVICE_ACCOUNT_UNIQUE_ID",
        "accounts.google.com:oaud": web_identity.DEFAULT_AUDIENCE}


def test_the_docs_document_the_keyless_setup() -> None:
    page = (ROOT / "docs" / "AWS.md").read_text()
    for words in ("aws.credentials", "preflight aws-credentials", "PREFLIGHT_AWS_WEB_IDENTITY",
                  "credential_process", "aws-web-identity"):
        assert words in page, words
    assert "docs/AWS.md" in (ROOT / "README.md").read_text()  # found from the README
