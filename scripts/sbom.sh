#!/usr/bin/env bash
# A CycloneDX 1.6 SBOM (JSON) of the Python packages installed in an image's /opt/venv.
#
#   scripts/sbom.sh IMAGE OUTPUT.cdx.json      (make sbom; tests/container/run.sh)
#
# The venv is copied out of the image (ENGINE create + cp: no container runs) and
# cyclonedx-py reads the installed distributions' metadata there, so the SBOM lists what
# the image holds (the lock's build-only setuptools, removed in the builder, is absent),
# with licences and package URLs, and the root component from pyproject.toml. The OS
# packages of the distroless base are not in it: distroless describes them itself in
# /var/lib/dpkg/status.d, where image scanners read them.
#
# Environment: ENGINE (podman, else docker), CYCLONEDX_PY (default: cyclonedx-py on PATH,
# from the PyPI package cyclonedx-bom).
set -euo pipefail

[[ $# -eq 2 ]] || { echo "usage: $0 IMAGE OUTPUT.cdx.json" >&2; exit 2; }
image="$1"
output="$2"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ENGINE="${ENGINE:-$(command -v podman || command -v docker || true)}"
CYCLONEDX_PY="${CYCLONEDX_PY:-cyclonedx-py}"
[[ -n "$ENGINE" ]] || { echo "sbom: neither podman nor docker is installed" >&2; exit 1; }
command -v "$CYCLONEDX_PY" >/dev/null || {
    echo "sbom: $CYCLONEDX_PY not found: pip install cyclonedx-bom (or set CYCLONEDX_PY)" >&2
    exit 1
}

tmp="$(mktemp -d)"
container=""
cleanup() {
    [[ -z "$container" ]] || "$ENGINE" rm -f "$container" >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT

container="$("$ENGINE" create "$image")"
"$ENGINE" cp "$container:/opt/venv/lib" "$tmp/lib"
site=("$tmp"/lib/python3.*/site-packages)
[[ -d "${site[0]}" ]] || { echo "sbom: no /opt/venv/lib/python3.*/site-packages in $image" >&2; exit 1; }

# The root component comes from pyproject.toml, whose version is dynamic (cyclonedx-py
# cannot evaluate it): a copy with the version the image's own metadata records.
python3 - "$root/pyproject.toml" "${site[0]}" "$tmp/pyproject.toml" <<'PY'
import pathlib, re, sys, tomllib
from importlib.metadata import distributions
text = pathlib.Path(sys.argv[1]).read_text()
name = tomllib.loads(text)["project"]["name"]
versions = [d.version for d in distributions(path=[sys.argv[2]])
            if re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower() == name]
if len(versions) != 1:
    raise SystemExit(f"sbom: {name} is not installed once in the image's venv ({versions})")
if 'dynamic = ["version"]' not in text:
    raise SystemExit('sbom: pyproject.toml no longer says dynamic = ["version"]: update sbom.sh')
text = text.replace('dynamic = ["version"]', f'version = "{versions[0]}"')
pathlib.Path(sys.argv[3]).write_text(text)
PY

# cyclonedx-py asks "the interpreter" for its sys.path; this one answers with exactly the
# image's site-packages, so nothing of the machine running this script gets in.
cat > "$tmp/python" <<PY
#!/bin/sh
exec python3 -c 'import json, sys; json.dump(sys.argv[1:], sys.stdout)' "${site[0]}"
PY
chmod +x "$tmp/python"

mkdir -p "$(dirname "$output")"
"$CYCLONEDX_PY" environment \
    --pyproject "$tmp/pyproject.toml" --mc-type application \
    --spec-version 1.6 --output-format JSON --output-reproducible --validate \
    --output-file "$output" "$tmp/python"
echo "sbom: $output" >&2
