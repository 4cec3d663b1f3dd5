# Sourced by the scripts that resolve with uv (lock.sh, test-lowest.sh): `install_uv DIR`
# puts uv (pinned) into a throw-away virtualenv DIR and sets $UV. Nothing on the machine or
# in the project's .venv changes. uv reads the index from UV_INDEX_URL / UV_DEFAULT_INDEX
# (default: PyPI) and ignores pip.conf, so a machine-local extra index never leaks in.
UV_VERSION="${UV_VERSION:-0.13.9}"

install_uv() {
    "${PYTHON:-python3}" -m venv "$1"
    "$1/bin/python" -m pip install --quiet --disable-pip-version-check "uv==${UV_VERSION}"
    UV="$1/bin/uv"
    # SSL_CERT_FILE makes uv use that bundle (needed behind a TLS-inspecting proxy).
    if [[ -n "${SSL_CERT_FILE:-}" || -n "${UV_NATIVE_TLS:-}" ]]; then
        export UV_NATIVE_TLS="${UV_NATIVE_TLS:-1}"
    fi
}
