"""The image keeps botocore's models of exactly the services preflight's loader lists.

The Dockerfile drops every other model (docs/CONTAINER.md, "Size"); preflight's botocore
loader (preflight/observe/aws.py `restricted_loader`) can load no other service. If the
two lists drift, a client preflight creates would find no model in the image.
"""

from __future__ import annotations

import re

from preflight.observe.aws import DEVELOPER_SERVICES, SERVICES, restricted_loader
from tests import harness


def test_the_dockerfile_keeps_the_models_of_the_services_preflight_calls() -> None:
    dockerfile = (harness.REPO / "Dockerfile").read_text("utf-8")
    (step,) = [line for line in dockerfile.replace("\\\n", " ").splitlines()
               if "botocore/data" in line and line.startswith("RUN")]
    kept = set(re.findall(r"! -name (\S+)", step))
    assert kept == set(SERVICES)


def test_the_loader_lists_only_those_services() -> None:
    """And a developer profile's (SSO, `aws login`) where botocore has them: a pip install
    does, the image does not (the profile then says plainly what to do)."""
    import os

    import botocore

    data = os.path.join(os.path.dirname(botocore.__file__), "data")
    present = [name for name in DEVELOPER_SERVICES if os.path.isdir(os.path.join(data, name))]
    assert "sso" in present  # every botocore the floors allow has IAM Identity Center's
    assert sorted(restricted_loader(None).list_available_services("service-2")) == sorted(
        (*SERVICES, *present))
