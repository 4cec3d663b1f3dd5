# shellcheck shell=bash
# Sourced by the container harness. No registry is reachable here, so the two base images
# of the Dockerfile are made locally from Debian 13 (trixie) packages, fetched from the
# Debian mirror this machine's apt is configured with, and handed to the build with
# build arguments that override the Dockerfile's digest-pinned references:
#
#   --build-arg BUILDER_IMAGE=$BUILDER_BASE   (for docker.io/library/debian:13.x-slim@sha256:…)
#       debootstrap --variant=minbase trixie, apt sources as on a real debian:13-slim
#       (trixie, trixie-updates, trixie-security).
#   --build-arg RUNTIME_IMAGE=$RUNTIME_BASE   (for gcr.io/distroless/python3-debian13:nonroot@sha256:…)
#       made the way distroless makes it: the same Debian packages (static + base + cc +
#       python3 package lists of GoogleContainerTools/distroless for debian13) unpacked
#       without running any maintainer script on a merged /usr, plus /etc/passwd with
#       root/nobody/nonroot(65532), the python3 symlinks, the CA bundle and ld.so.cache.
#       No shell, no apt, no dpkg in it.
#
# The Dockerfile stays the one users build against the real images; only the two FROM
# references change. Results are cached as tarballs under $CACHE_DIR/base and as images in
# the harness's private podman storage; PREFLIGHT_CONTAINER_REFRESH=1 (or a cache older
# than 14 days) rebuilds them.
#
# Needs: CACHE_DIR, podman env (podman-env.sh), root, debootstrap, dpkg-deb, ldconfig.

BASE_RECIPE=4
BASE_SUITE="trixie"
BASE_PYTHON="python3.13"
BUILDER_BASE="localhost/stand-in/debian:13-slim"
RUNTIME_BASE="localhost/stand-in/distroless-python3-debian13:nonroot"
BASE_LABEL="io.preflight.harness.recipe"

# Debian packages of distroless //static, //base, //cc and //python3 for debian13
# (static/config.bzl, base/config.bzl, cc/config.bzl, python3/config.bzl), and the CA
# certificates of //common.
DISTROLESS_PACKAGES=(
    base-files netbase tzdata tzdata-legacy media-types ca-certificates
    libc6 libssl3t64 libzstd1 zlib1g
    libgomp1 libstdc++6 libgcc-s1 gcc-14-base
    libbz2-1.0 libdb5.3t64 libexpat1 liblzma5 libsqlite3-0 libuuid1 libncursesw6 libtinfo6
    libcom-err2 libcrypt1 libc-bin libgssapi-krb5-2 libk5crypto3 libkeyutils1 libkrb5-3
    libkrb5support0 libnsl2 libreadline8t64 libtirpc3t64 libffi8
    libpython3.13-minimal libpython3.13-stdlib python3.13-minimal python3.13-venv
)

# The Debian mirror apt uses on this host (deb822 .sources or one-line sources.list), for
# any suite: the same mirror serves trixie.
debian_mirror() {
    python3 - <<'EOF'
import glob, re
uri = None
for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    for stanza in re.split(r"\n\s*\n", open(path, encoding="utf-8").read()):
        fields = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line:
                continue
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip()
        suites = fields.get("suites", "").split()
        if "deb" in fields.get("types", "") and any(
                s in ("bookworm", "trixie", "stable") for s in suites):
            uri = uri or fields.get("uris", "").split()[0]
for path in ["/etc/apt/sources.list", *sorted(glob.glob("/etc/apt/sources.list.d/*.list"))]:
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except OSError:
        continue
    for line in lines:
        parts = line.split()
        if len(parts) >= 3 and parts[0] == "deb" and parts[2] in ("bookworm", "trixie", "stable"):
            uri = uri or parts[1]
print((uri or "http://deb.debian.org/debian").rstrip("/"))
EOF
}

# Security mirror next to the main one (deb.debian.org/debian -> .../debian-security).
debian_security_mirror() {
    local mirror="$1"
    local sec
    sec="$(python3 - <<'EOF'
import glob, re
for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    for stanza in re.split(r"\n\s*\n", open(path, encoding="utf-8").read()):
        if re.search(r"^Suites:.*-security", stanza, re.M):
            m = re.search(r"^URIs:\s*(\S+)", stanza, re.M)
            if m:
                print(m.group(1).rstrip("/"))
                raise SystemExit
EOF
)"
    echo "${sec:-${mirror}-security}"
}

_base_image_current() {
    local image="$1"
    podman image exists "$image" || return 1
    [[ "$(podman image inspect --format "{{index .Config.Labels \"$BASE_LABEL\"}}" "$image")" == "$BASE_RECIPE" ]]
}

_tarball_fresh() {
    local tarball="$1"
    [[ -s "$tarball" ]] || return 1
    [[ "${PREFLIGHT_CONTAINER_REFRESH:-0}" != 1 ]] || return 1
    [[ -z "$(find "$tarball" -mtime +14 -print)" ]]
}

build_builder_base() {
    local tarball="$CACHE_DIR/base/debian-13-slim.r$BASE_RECIPE.tar"
    if ! _tarball_fresh "$tarball"; then
        local mirror security rootfs
        mirror="$(debian_mirror)"
        security="$(debian_security_mirror "$mirror")"
        rootfs="$CACHE_DIR/base/rootfs-debian"
        rm -rf "$rootfs"
        echo "    debootstrap $BASE_SUITE (minbase) from $mirror"
        debootstrap --variant=minbase --merged-usr \
            --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
            "$BASE_SUITE" "$rootfs" "$mirror" > "$CACHE_DIR/base/debootstrap.log" 2>&1 \
            || { tail -n 30 "$CACHE_DIR/base/debootstrap.log" >&2; return 1; }
        rm -f "$rootfs/etc/apt/sources.list"
        cat > "$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $BASE_SUITE $BASE_SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: $BASE_SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
        rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
            "$rootfs"/var/log/* "$rootfs"/tmp/*
        tar --numeric-owner -C "$rootfs" -cf "$tarball.tmp" .
        mv "$tarball.tmp" "$tarball"
        rm -rf "$rootfs"
        podman rmi -f "$BUILDER_BASE" >/dev/null 2>&1 || true
    fi
    if ! _base_image_current "$BUILDER_BASE"; then
        podman import --quiet \
            --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
            --change 'CMD ["bash"]' \
            --change "LABEL $BASE_LABEL=$BASE_RECIPE" \
            "$tarball" "$BUILDER_BASE" >/dev/null
    fi
}

build_runtime_base() {
    local tarball="$CACHE_DIR/base/distroless-python3-debian13.r$BASE_RECIPE.tar"
    if ! _tarball_fresh "$tarball"; then
        local debs="$CACHE_DIR/base/debs" rootfs="$CACHE_DIR/base/rootfs-distroless"
        rm -rf "$debs" "$rootfs"
        mkdir -p "$debs" "$rootfs"
        echo "    fetching ${#DISTROLESS_PACKAGES[@]} Debian packages for the distroless stand-in"
        podman run --rm --network=host -v "$debs:/out" "$BUILDER_BASE" \
            /bin/sh -ec "apt-get -qq update && cd /out && \
                apt-get -qq -o APT::Sandbox::User=root download ${DISTROLESS_PACKAGES[*]}" \
            > "$CACHE_DIR/base/debs.log" 2>&1 \
            || { tail -n 30 "$CACHE_DIR/base/debs.log" >&2; return 1; }
        # Merged /usr, as distroless debian13: the top-level folders are symlinks into
        # /usr, and unpacking keeps them (a package's ./lib/... lands in /usr/lib/...).
        mkdir -p "$rootfs/usr/bin" "$rootfs/usr/sbin" "$rootfs/usr/lib" "$rootfs/usr/lib64"
        ln -s usr/bin "$rootfs/bin"
        ln -s usr/sbin "$rootfs/sbin"
        ln -s usr/lib "$rootfs/lib"
        ln -s usr/lib64 "$rootfs/lib64"
        local deb
        for deb in "$debs"/*.deb; do
            dpkg-deb --fsys-tarfile "$deb" \
                | tar -x --keep-directory-symlink --no-same-owner -C "$rootfs" \
                || { echo "cannot unpack $deb" >&2; return 1; }
        done
        # What distroless adds around the packages.
        (
            cd "$rootfs" || exit 1
            find usr/share/doc -type f ! -name copyright -delete 2>/dev/null || true
            rm -rf usr/share/man usr/share/info usr/share/lintian usr/share/locale
            mkdir -p etc/ssl/certs tmp root home/nonroot var/lib
            chmod 1777 tmp
            chmod 0700 root home/nonroot
            chown 65532:65532 home/nonroot
            cat > etc/passwd <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
EOF
            cat > etc/group <<'EOF'
root:x:0:
nobody:x:65534:
tty:x:5:
staff:x:50:
nonroot:x:65532:
EOF
            printf 'hosts: files dns\n' > etc/nsswitch.conf
            printf 'include /etc/ld.so.conf.d/*.conf\n' > etc/ld.so.conf
            cat usr/share/ca-certificates/mozilla/*.crt > etc/ssl/certs/ca-certificates.crt
            ln -sf "$BASE_PYTHON" usr/bin/python3
            ln -sf "$BASE_PYTHON" usr/bin/python
        )
        ldconfig -r "$rootfs"
        # Nothing that would make it more than distroless: no shell, no package tools.
        rm -rf "$rootfs/usr/bin/sh" "$rootfs/usr/bin/dash" "$rootfs/usr/bin/dpkg" \
            "$rootfs/var/lib/dpkg"
        tar --numeric-owner -C "$rootfs" -cf "$tarball.tmp" .
        mv "$tarball.tmp" "$tarball"
        rm -rf "$rootfs" "$debs"
        podman rmi -f "$RUNTIME_BASE" >/dev/null 2>&1 || true
    fi
    if ! _base_image_current "$RUNTIME_BASE"; then
        podman import --quiet \
            --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
            --change 'ENV LANG=C.UTF-8' \
            --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
            --change 'USER 65532' \
            --change 'WORKDIR /home/nonroot' \
            --change "ENTRYPOINT [\"/usr/bin/$BASE_PYTHON\"]" \
            --change "LABEL $BASE_LABEL=$BASE_RECIPE" \
            "$tarball" "$RUNTIME_BASE" >/dev/null
    fi
}

prepare_base_images() {
    mkdir -p "$CACHE_DIR/base"
    build_builder_base
    build_runtime_base
}
