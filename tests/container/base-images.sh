# shellcheck shell=bash
# Sourced by the container harness. No registry is reachable here, so the two base images
# that the Dockerfile's FROM lines name are made locally from Debian 12 packages, fetched
# from the Debian mirror this machine's apt is configured with:
#
#   docker.io/library/debian:12-slim
#       debootstrap --variant=minbase bookworm, apt sources as on a real debian:12-slim
#       (bookworm, bookworm-updates, bookworm-security).
#   gcr.io/distroless/python3-debian12:nonroot
#       made the way distroless makes it: the same Debian packages (base + cc + python3
#       package lists of GoogleContainerTools/distroless) unpacked without running any
#       maintainer script, plus /etc/passwd with root/nobody/nonroot(65532), the python3
#       symlinks, the CA bundle and ld.so.cache. No shell, no apt, no dpkg in it.
#
# The Dockerfile stays the one users build against the real images. Results are cached
# as tarballs under $CACHE_DIR/base and as images in the harness's private podman
# storage; PREFLIGHT_CONTAINER_REFRESH=1 (or a cache older than 14 days) rebuilds them.
#
# Needs: CACHE_DIR, podman env (podman-env.sh), root, debootstrap, dpkg-deb, ldconfig.

BASE_RECIPE=3
BUILDER_BASE="docker.io/library/debian:12-slim"
RUNTIME_BASE="gcr.io/distroless/python3-debian12:nonroot"
BASE_LABEL="io.preflight.harness.recipe"

# Debian packages of distroless //base, //cc and //python3 for debian12.
DISTROLESS_PACKAGES=(
    base-files netbase tzdata ca-certificates libc6 libssl3
    libgcc-s1 libgomp1 libstdc++6
    libbz2-1.0 libdb5.3 libexpat1 liblzma5 libsqlite3-0 libuuid1 libncursesw6 libtinfo6
    python3-distutils zlib1g libcom-err2 libcrypt1 libgssapi-krb5-2 libk5crypto3
    libkeyutils1 libkrb5-3 libkrb5support0 libnsl2 libreadline8 libtirpc3 libffi8
    libpython3.11-minimal libpython3.11-stdlib python3.11-minimal
)

# The Debian mirror apt uses on this host (deb822 .sources or one-line sources.list).
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
        if "bookworm" in fields.get("suites", "").split() and "deb" in fields.get("types", ""):
            uri = uri or fields.get("uris", "").split()[0]
for path in ["/etc/apt/sources.list", *sorted(glob.glob("/etc/apt/sources.list.d/*.list"))]:
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except OSError:
        continue
    for line in lines:
        parts = line.split()
        if len(parts) >= 3 and parts[0] == "deb" and parts[2] == "bookworm":
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
        if re.search(r"^Suites:.*bookworm-security", stanza, re.M):
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
    local tarball="$CACHE_DIR/base/debian-12-slim.r$BASE_RECIPE.tar"
    if ! _tarball_fresh "$tarball"; then
        local mirror security rootfs
        mirror="$(debian_mirror)"
        security="$(debian_security_mirror "$mirror")"
        rootfs="$CACHE_DIR/base/rootfs-debian"
        rm -rf "$rootfs"
        echo "    debootstrap bookworm (minbase) from $mirror"
        debootstrap --variant=minbase \
            --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
            bookworm "$rootfs" "$mirror" > "$CACHE_DIR/base/debootstrap.log" 2>&1 \
            || { tail -n 30 "$CACHE_DIR/base/debootstrap.log" >&2; return 1; }
        rm -f "$rootfs/etc/apt/sources.list"
        cat > "$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: bookworm-security
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
    local tarball="$CACHE_DIR/base/distroless-python3-debian12.r$BASE_RECIPE.tar"
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
        local deb
        for deb in "$debs"/*.deb; do
            dpkg-deb -x "$deb" "$rootfs"
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
            ln -sf python3.11 usr/bin/python3
            ln -sf python3.11 usr/bin/python
        )
        ldconfig -r "$rootfs"
        # Nothing that would make it more than distroless: no shell, no package tools.
        rm -rf "$rootfs/bin/sh" "$rootfs/usr/bin/dpkg" "$rootfs/var/lib/dpkg"
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
            --change 'ENTRYPOINT ["/usr/bin/python3.11"]' \
            --change "LABEL $BASE_LABEL=$BASE_RECIPE" \
            "$tarball" "$RUNTIME_BASE" >/dev/null
    fi
}

prepare_base_images() {
    mkdir -p "$CACHE_DIR/base"
    build_builder_base
    build_runtime_base
}
