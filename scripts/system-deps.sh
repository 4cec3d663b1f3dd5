#!/usr/bin/env bash
# make system-deps: the system packages the tests use, installed when missing.
# `system-deps.sh demo` (make demo): only what the demo runs — Java, the Firestore emulator
# and Redis; not the browser or Node the tests also need.
#
# Nothing missing: no apt call at all (fast, and fine without root). Something missing, on
# Debian as root: `apt-get update` once, then `apt-get install` of exactly what is missing.
# Otherwise: one line naming the exact command, and exit 1.
set -euo pipefail
demo=
target="make system-deps"
if [[ "${1:-}" == demo ]]; then
    demo=1
    target="make demo"
fi

# What the tests run, and the Debian package that brings it.
missing=()
command -v java >/dev/null || missing+=(default-jre-headless)  # the Firestore emulator
command -v redis-server >/dev/null || missing+=(redis-server)  # the Redis probe tests
if [[ -z "$demo" ]]; then
    command -v chromium >/dev/null || command -v chromium-browser >/dev/null \
        || missing+=(chromium)                                 # the audit report's browser test
    command -v npm >/dev/null || missing+=(nodejs npm)          # Azurite (make tools)
fi

# The Google Cloud CLI and its Firestore emulator (the monitoring files are parsed with the
# CLI's own code): from Google's apt repository, looked for where tests/servers.py looks.
google=()
gcloud="$(command -v gcloud || true)"
[[ -n "$gcloud" || -n "$demo" ]] || google+=(google-cloud-cli)
emulator_found=
for root in "${CLOUDSDK_ROOT:-/usr/lib/google-cloud-sdk}" \
    ${gcloud:+"$(dirname "$(dirname "$(realpath "$gcloud")")")"}; do
    if [[ -f "$root/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar" ]]; then
        emulator_found=1
    fi
done
[[ -n "$emulator_found" ]] || google+=(google-cloud-cli-firestore-emulator)

if ((${#missing[@]} + ${#google[@]} == 0)); then
    exit 0
fi

wanted=("${missing[@]}" "${google[@]}")
command="apt-get update && apt-get install -y ${wanted[*]}"
source_note=""
if ((${#google[@]})); then
    source_note=" (${google[*]}: from Google's apt repository,"
    source_note+=" https://cloud.google.com/sdk/docs/install#deb)"
fi
if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null; then
    echo "$target: missing ${wanted[*]}: run as root on Debian: $command$source_note" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
if ((${#google[@]})) && ! apt-cache show "${google[@]}" >/dev/null 2>&1; then
    echo "$target: ${google[*]} is in no apt source: add Google's apt repository" \
         "(https://cloud.google.com/sdk/docs/install#deb), then run: $command" >&2
    exit 1
fi
echo "$target: installing ${wanted[*]}" >&2
apt-get install -y -qq "${wanted[@]}"
