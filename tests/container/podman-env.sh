# shellcheck shell=bash
# Sourced by the container harness: a private podman set-up for this machine.
#
# Nothing here is needed by someone building the image on a normal Docker/podman host; it
# is what this workplace needs (no registry, no systemd, cgroup v1, TLS-inspecting egress):
#   - runc as the OCI runtime, cgroupfs as the cgroup manager, file-based events;
#   - explicit ulimits (nofile=20000:20000, nproc=32768:32768);
#   - storage of its own under the cache directory, so the harness never touches (or is
#     touched by) anybody else's podman images and containers.
#
# Needs: CACHE_DIR. Exports CONTAINERS_CONF, CONTAINERS_STORAGE_CONF.

: "${CACHE_DIR:?CACHE_DIR must be set}"

PODMAN_CONF_DIR="$CACHE_DIR/conf"
PODMAN_RUN_ROOT="/run/preflight-container"
mkdir -p "$PODMAN_CONF_DIR" "$CACHE_DIR/storage" "$PODMAN_RUN_ROOT"

cat > "$PODMAN_CONF_DIR/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$PODMAN_RUN_ROOT/libpod"
EOF

cat > "$PODMAN_CONF_DIR/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$CACHE_DIR/storage"
runroot = "$PODMAN_RUN_ROOT/storage"
EOF

export CONTAINERS_CONF="$PODMAN_CONF_DIR/containers.conf"
export CONTAINERS_STORAGE_CONF="$PODMAN_CONF_DIR/storage.conf"
