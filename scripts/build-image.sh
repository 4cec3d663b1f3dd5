#!/usr/bin/env bash
# Build the image with its labels filled in: version and source address from pyproject.toml
# (the one place each is written), revision from git, created = now (or SOURCE_DATE_EPOCH).
#
#   scripts/build-image.sh [BUILD FLAGS...]     (make image)
#
# Environment: ENGINE (podman, else docker), IMAGE (default preflight:VERSION). Extra
# arguments go to `ENGINE build` after the label arguments, so a later --build-arg wins:
# the container test passes its locally built bases this way
# (--build-arg BUILDER_IMAGE=… --build-arg RUNTIME_IMAGE=…).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

ENGINE="${ENGINE:-$(command -v podman || command -v docker || true)}"
[[ -n "$ENGINE" ]] || { echo "build-image: neither podman nor docker is installed" >&2; exit 1; }

read -r version source_url < <(python3 - <<'PY'
import pathlib, re, tomllib
project = tomllib.loads(pathlib.Path("pyproject.toml").read_text())["project"]
version = project.get("version") or re.search(
    r"^__version__\s*=\s*[\"']([^\"']+)", pathlib.Path("preflight/__init__.py").read_text(),
    re.MULTILINE).group(1)
print(version, project["urls"]["Source"])
PY
)
revision="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
if [[ "$revision" != unknown ]] && [[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
    revision="$revision-dirty"
fi
if [[ -n "${SOURCE_DATE_EPOCH:-}" ]]; then
    created="$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)"
else
    created="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
fi
IMAGE="${IMAGE:-preflight:$version}"

echo "build-image: $IMAGE (version $version, revision $revision, source $source_url)" >&2
# The build arguments fill the Dockerfile's LABEL; the same values as --label too, because
# podman (buildah) reuses a cached LABEL layer although the arguments changed, which would
# leave the previous build's revision and time on the image. --label is applied to the
# final image whatever the cache holds.
exec "$ENGINE" build \
    --build-arg "VERSION=$version" \
    --build-arg "SOURCE_URL=$source_url" \
    --build-arg "REVISION=$revision" \
    --build-arg "CREATED=$created" \
    --label "org.opencontainers.image.revision=$revision" \
    --label "org.opencontainers.image.created=$created" \
    --label "org.opencontainers.image.version=$version" \
    --label "org.opencontainers.image.source=$source_url" \
    --label "org.opencontainers.image.url=$source_url" \
    "$@" \
    -t "$IMAGE" -f Dockerfile .
