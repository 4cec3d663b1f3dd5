#!/usr/bin/env bash
# Look the Dockerfile's base images up again and pin them to their current digests.
#
#   scripts/base-digests.sh           rewrite the ARG BUILDER_IMAGE / RUNTIME_IMAGE lines
#   scripts/base-digests.sh --check   change nothing; exit 1 when a pin is not current
#                                     (make base-digests / make base-digests-check)
#
# Each line holds REPOSITORY:TAG@sha256:DIGEST. The tag is what is followed (debian's
# 13.x-slim, distroless's nonroot); the digest is the sha256 of the manifest the registry
# serves for it, which for these images is the multi-platform index: one pin for amd64 and
# arm64. Review the diff like a dependency bump: a new digest is a new base.
#
# Needs skopeo (Debian: apt-get install skopeo) and the registries (docker.io, gcr.io).
# Environment: DOCKERFILE (default: the repository's), SKOPEO_FLAGS (e.g. --tls-verify=false
# for a local test registry).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dockerfile="${DOCKERFILE:-$root/Dockerfile}"
check=0
[[ "${1:-}" == "--check" ]] && check=1
command -v skopeo >/dev/null || { echo "base-digests: skopeo is not installed (apt-get install skopeo)" >&2; exit 1; }
read -r -a skopeo_flags <<< "${SKOPEO_FLAGS:-}"

stale=0
updated="$(mktemp)"
trap 'rm -f "$updated"' EXIT
cp "$dockerfile" "$updated"
for name in BUILDER_IMAGE RUNTIME_IMAGE; do
    line="$(grep -E "^ARG $name=" "$dockerfile")" \
        || { echo "base-digests: no 'ARG $name=' line in $dockerfile" >&2; exit 1; }
    reference="${line#ARG "$name"=}"
    tagged="${reference%@*}"
    pinned="${reference#"$tagged"}"
    pinned="${pinned#@}"
    # The digest is over the manifest's exact bytes: piped, never through a variable.
    sum="$(skopeo inspect "${skopeo_flags[@]}" --raw "docker://$tagged" | sha256sum)" \
        || { echo "base-digests: cannot read $tagged" >&2; exit 1; }
    current="sha256:${sum%% *}"
    if [[ "$current" == "$pinned" ]]; then
        echo "$name: $tagged@$current (current)"
        continue
    fi
    stale=1
    echo "$name: $tagged: pinned ${pinned:-nothing}, current $current"
    sed -i "s|^ARG $name=.*|ARG $name=$tagged@$current|" "$updated"
done

if ((check)); then
    exit "$stale"
fi
if ((stale)); then
    cp "$updated" "$dockerfile"
    echo "base-digests: $dockerfile rewritten; review and commit the diff" >&2
fi
