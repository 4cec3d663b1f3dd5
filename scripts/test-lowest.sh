#!/usr/bin/env bash
# `make test-lowest`: preflight on the LOWEST version of every dependency that the floors
# in pyproject.toml allow, on python3 (PYTHON; CI's is its distribution's).
# A floor that does not import or fails a test here is wrong: raise it in pyproject.toml.
#
# The runtime dependencies are resolved alone with `--resolution lowest-direct` (each
# direct dependency at its floor, what they pull in at its newest), so no test tool drags
# a runtime floor up. Two venvs under .venv-lowest (LOWEST_VENV), rebuilt on every run:
#   runtime/  those pins and preflight, nothing else: it runs every `preflight` the tests
#             start (PREFLIGHT_TEST_PYTHON), so a module preflight needs but does not
#             declare fails here instead of being lent by a test tool;
#   tests/    the same pins plus the test tools the selected tests use (pytest, hypothesis,
#             moto[server]), each at its own floor: it runs pytest, the in-process tests and
#             moto.
# The tests: every one that needs no server but moto (pytest --servers moto; the metadata
# server stand-in runs in-process): the judges, the profile, the CLI, and aws.credentials
# with `preflight aws-credentials` against the stand-in and moto's STS. The test extras'
# other floors (kubectl, kubernetes-validate, hadolint, the emulators) are left to
# `make test`: they check files and servers, not preflight's imports.
set -euo pipefail

PYTHON="${PYTHON:-python3}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=scripts/uv.sh
source scripts/uv.sh
venv="${LOWEST_VENV:-.venv-lowest}"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
install_uv "$tmp/uv"

"$UV" pip compile pyproject.toml --quiet --resolution lowest-direct --python "$PYTHON" \
    --no-header --output-file "$tmp/runtime.txt"
"$PYTHON" - "$tmp/tools.txt" <<'PY'
import re, sys, tomllib
with open("pyproject.toml", "rb") as f:
    test = tomllib.load(f)["project"]["optional-dependencies"]["test"]
tools = [r for r in test if re.match(r"(pytest|hypothesis|moto)\b", r)]
assert len(tools) == 3, tools
with open(sys.argv[1], "w", encoding="utf-8") as out:
    out.write("\n".join(tools) + "\n")
PY

rm -rf "$venv"
for role in runtime tests; do
    "$UV" venv --quiet --python "$PYTHON" "$venv/$role"
    "$UV" pip install --quiet --python "$venv/$role/bin/python" -r "$tmp/runtime.txt"
done
"$UV" pip install --quiet --python "$venv/runtime/bin/python" --no-deps .
"$UV" pip install --quiet --python "$venv/tests/bin/python" --no-deps -e .
"$UV" pip install --quiet --python "$venv/tests/bin/python" --resolution lowest-direct \
    --constraint "$tmp/runtime.txt" -r "$tmp/tools.txt"

echo "test-lowest: $("$venv/runtime/bin/python" --version), the direct dependencies at:" >&2
"$venv/runtime/bin/python" - >&2 <<'PY'
import re, tomllib
from importlib.metadata import version
with open("pyproject.toml", "rb") as f:
    wanted = tomllib.load(f)["project"]["dependencies"]
for requirement in wanted:
    name = re.match(r"[A-Za-z0-9_.\-]+", requirement)[0]
    print(f"  {name}=={version(name)}  ({requirement})")
PY

runtime_python="$(cd "$venv/runtime/bin" && pwd)/python"
PREFLIGHT_TEST_PYTHON="$runtime_python" "$venv/tests/bin/python" -m pytest -q -p no:cacheprovider \
    --servers moto --ignore tests/container --ignore tests/faults tests
