#!/usr/bin/env bash
# Renew requirements.lock: the runtime dependencies of [project].dependencies in
# pyproject.toml, plus the build backend of [build-system].requires (the image builds the
# package with it, then removes it), resolved for CPython 3.13 (the Python of the image's
# base, distroless python3-debian13; LOCK_PYTHON overrides it) and pinned with the sha256
# of every published file of each pinned release, so that
# `pip install --require-hashes -r requirements.lock` works on any platform the image is
# built for (amd64, arm64). Run by `make lock`; it reads pyproject.toml and the current lock,
# whose pins it keeps, so a dependency added there is locked by running it again without
# moving the others (`UPGRADE=1 make lock` moves them all).
#
# The resolver (uv, pinned in scripts/uv.sh) is installed into a throw-away virtualenv by
# this script; nothing on the machine or in the project's .venv changes.
set -euo pipefail

LOCK_PYTHON="${LOCK_PYTHON:-3.13}"
PYTHON="${PYTHON:-python3}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=scripts/uv.sh
source scripts/uv.sh

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

install_uv "$tmp/venv"

# Work in the temporary folder so the lock's "# via" notes name stable files.
cp pyproject.toml "$tmp/pyproject.toml"
"$tmp/venv/bin/python" - "$tmp/build-system.requires.txt" <<'PY'
import sys, tomllib
with open("pyproject.toml", "rb") as f:
    requires = tomllib.load(f)["build-system"]["requires"]
with open(sys.argv[1], "w", encoding="utf-8") as out:
    out.write("\n".join(requires) + "\n")
PY

# uv keeps the versions an existing output file pins (a new dependency does not move the
# others); UPGRADE=1 resolves every package afresh.
upgrade=()
if [[ "${UPGRADE:-0}" == "1" ]]; then
    upgrade=(--upgrade)
elif [[ -f requirements.lock ]]; then
    cp requirements.lock "$tmp/requirements.out"
fi

(cd "$tmp" && "$UV" pip compile pyproject.toml build-system.requires.txt \
    "${upgrade[@]}" \
    --quiet \
    --universal \
    --python-version "$LOCK_PYTHON" \
    --generate-hashes \
    --no-strip-markers \
    --custom-compile-command "make lock" \
    --output-file requirements.out)

{
    echo "# Runtime dependencies of pyproject.toml's [project].dependencies, and its"
    echo "# [build-system].requires (used only to build the wheel in the image's builder stage),"
    echo "# for CPython $LOCK_PYTHON (the image's Python), amd64 and arm64."
    echo "# Install with: pip install --require-hashes -r requirements.lock"
    cat "$tmp/requirements.out"
} > requirements.lock
echo "requirements.lock: $(grep -c '^[A-Za-z0-9]' requirements.lock) pinned packages" >&2
