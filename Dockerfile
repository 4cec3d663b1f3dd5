# preflight: decides whether an engines pod may start.
#
#   podman build -t preflight:0.1.0 .        (docker build works the same)
#   podman run --rm --read-only preflight:0.1.0 --version
#
# Two stages. The builder (Debian 12 slim + Debian's python3-venv) installs the locked,
# hash-checked dependencies and the package into /opt/venv and byte-compiles it. The final
# stage is distroless Python (Debian 12, CPython 3.11 at /usr/bin/python3: no shell, no
# package manager, no compiler) and receives only /opt/venv. The venv's interpreter is a
# symlink to /usr/bin/python3, which exists at the same path in both stages.
# docs/CONTAINER.md explains size, build and run.

FROM docker.io/library/debian:12-slim AS builder

ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1

# Unpinned on purpose: Debian 12 point releases replace these versions on the mirror, so
# "=version" pins break the build within weeks; pin the base image by digest instead.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates python3-venv \
    && rm -rf /var/lib/apt/lists/*

RUN /usr/bin/python3 -m venv /opt/venv

# Dependencies first (their layer survives source changes). Every file is checked against
# the sha256 in the lock; wheels only, so nothing is compiled here.
COPY requirements.lock /tmp/requirements.lock
RUN /opt/venv/bin/pip install --require-hashes --only-binary=:all: -r /tmp/requirements.lock

COPY pyproject.toml README.md /src/
COPY preflight /src/preflight

# The package itself, without dependencies (all locked above). Then drop the installers
# (pip, setuptools: not needed at run time) and byte-compile everything: the final root
# file system is read-only, so Python could never write its caches there.
# unchecked-hash .pyc files are used as they are, whatever the files' timestamps.
RUN /opt/venv/bin/pip install --no-deps --no-build-isolation /src \
    && /opt/venv/bin/pip uninstall --yes pip setuptools \
    && /opt/venv/bin/python -m compileall -q -f -j 0 \
        --invalidation-mode unchecked-hash /opt/venv/lib \
    && /opt/venv/bin/preflight --version


FROM gcr.io/distroless/python3-debian12:nonroot

ARG VERSION=0.1.0

LABEL org.opencontainers.image.title="preflight" \
      org.opencontainers.image.description="Decides whether an engines pod may start: Firestore, S3 and the routing registry, checked before the engines run." \
      org.opencontainers.image.source="https://example.invalid/platform/preflight" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Proprietary" \
      org.opencontainers.image.base.name="gcr.io/distroless/python3-debian12:nonroot"

COPY --from=builder /opt/venv /opt/venv

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
