# preflight: decides whether an engines pod may start.
#
#   make image                                 (podman, or docker; passes the labels below)
#   podman run --rm --read-only preflight:0.1.0 --version
#
# Two stages. The builder (Debian 13 slim + Debian's python3-venv) installs the locked,
# hash-checked dependencies and the package into /opt/venv and byte-compiles it. The final
# stage is distroless Python (Debian 13, CPython 3.13 at /usr/bin/python3: no shell, no
# package manager, no compiler) and receives only /opt/venv. The venv's interpreter is a
# symlink to /usr/bin/python3, which exists at the same path, with the same minor version,
# in both stages. docs/CONTAINER.md explains size, build and run.
#
# Both bases are pinned by the digest of their multi-platform index, so an amd64 and an
# arm64 build start from the same release. `make base-digests` (scripts/base-digests.sh)
# looks the tags up again and rewrites the two lines below: review and commit that diff
# like any dependency bump. A build that cannot reach the registries (the container test)
# substitutes its own bases: --build-arg BUILDER_IMAGE=… --build-arg RUNTIME_IMAGE=….
ARG BUILDER_IMAGE=docker.io/library/debian:13.7-slim@sha256:a99cfc517144bc59b1978475ec53b46ecabec7e43635402ee5b77cc54cd1b20a
ARG RUNTIME_IMAGE=gcr.io/distroless/python3-debian13:nonroot@sha256:83aa8d4f74a4d7f7cf2d472054139bef71a927b76c680c0f2e1021d6b1d6d732

# The runtime base, as a stage: the builder compiles its standard library (below).
FROM ${RUNTIME_IMAGE} AS runtime-base

FROM ${BUILDER_IMAGE} AS builder

ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1

# Unpinned on purpose: Debian 13 point releases replace these versions on the mirror, so
# "=version" pins break the build within weeks; the base image is pinned by digest instead.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates python3-venv \
    && rm -rf /var/lib/apt/lists/*

RUN /usr/bin/python3 -m venv /opt/venv

# Dependencies first (their layer survives source changes). Every file is checked against
# the sha256 in the lock; wheels only, so nothing is compiled here.
COPY requirements.lock /tmp/requirements.lock
#
# botocore ships the models of every AWS service (about 26 MB). preflight's botocore loader
# lists only the services it calls (SERVICES in preflight/observe/aws.py) and can load no
# other, so the other models are dead weight: dropping them keeps the image, with the
# probes' client libraries, under 200 MB (docs/CONTAINER.md). tests/test_image_models.py
# keeps this list and SERVICES in step.
RUN /opt/venv/bin/pip install --require-hashes --only-binary=:all: -r /tmp/requirements.lock \
    && find /opt/venv/lib/python3*/site-packages/botocore/data -mindepth 1 -maxdepth 1 \
        -type d ! -name s3 ! -name sts ! -name dynamodb -exec rm -rf {} +

COPY pyproject.toml README.md /src/
COPY preflight /src/preflight

# The package itself (distribution engines-preflight), without dependencies (all locked
# above). Then drop the installers (pip, setuptools: not needed at run time) and
# byte-compile everything: the final root file system is read-only, so Python could never
# write its caches there. unchecked-hash .pyc files are used as they are, whatever the
# files' timestamps.
RUN /opt/venv/bin/pip install --no-deps --no-build-isolation /src \
    && /opt/venv/bin/pip uninstall --yes pip setuptools \
    && /opt/venv/bin/python -m compileall -q -f -j 0 \
        --invalidation-mode unchecked-hash /opt/venv/lib \
    && /opt/venv/bin/preflight --version

# The runtime base's standard library has no bytecode (distroless unpacks Debian's packages
# without running the maintainer scripts that would compile it), and its root file system is
# read-only here, so every start would compile each stdlib module it imports: measured,
# that tripled preflight's start-up CPU. Compile the runtime's own files, by the same
# CPython minor version, and ship only the __pycache__ folders. checked-hash: a .pyc is used
# only while its source is byte-for-byte the one it was compiled from.
COPY --from=runtime-base /usr/lib/python3.13 /opt/stdlib/usr/lib/python3.13
RUN /usr/bin/python3 -m compileall -q -j 0 --invalidation-mode checked-hash \
        -s /opt/stdlib -p / /opt/stdlib/usr/lib/python3.13 \
    && find /opt/stdlib -type f ! -path '*/__pycache__/*' -delete


FROM ${RUNTIME_IMAGE}

ARG RUNTIME_IMAGE
ARG VERSION=0.1.0
# pyproject.toml's [project.urls] Source; `make image` passes it from there.
ARG SOURCE_URL=https://github.com/jamienowman-glitch/engines-preflight
# The commit and the build time (RFC 3339, UTC); `make image` passes both.
ARG REVISION=""
ARG CREATED=""

LABEL org.opencontainers.image.title="preflight" \
      org.opencontainers.image.description="Decides whether an engines pod may start: Firestore, S3 and the routing registry, checked before the engines run." \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.url="${SOURCE_URL}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="LicenseRef-Proprietary" \
      org.opencontainers.image.base.name="${RUNTIME_IMAGE}"

COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /opt/stdlib/ /

ENV PATH=/opt/venv/bin:/usr/local/bin:/usr/bin:/bin \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LANG=C.UTF-8

# distroless "nonroot": uid/gid 65532. Numeric, so runAsNonRoot can verify it.
USER 65532:65532
WORKDIR /home/nonroot

# preflight serve (sidecar mode) listens here; check mode opens no port.
EXPOSE 8081

ENTRYPOINT ["/opt/venv/bin/preflight"]
CMD ["check"]
