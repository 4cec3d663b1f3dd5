# preflight — the targets the README and CI rely on.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Test servers that are not Python packages: Azurite (Azure Blob) from npm, pinned by its
# lock file. Debian's redis-server, Java, chromium (the audit report's browser test), Node.js
# and the Firestore emulator come from apt (make system-deps).
AZURITE_STAMP := tools/azurite/node_modules/.installed

.PHONY: venv tools demo test test-lowest lint typecheck unit bench bench-quick container-test \
	reliability audit-screenshot system-deps docs \
	lock profiles clean image sbom base-digests base-digests-check

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@# The distribution was called "preflight" before 0.1.0 shipped: drop a stale install.
	$(PY) -m pip uninstall --quiet --yes preflight >/dev/null 2>&1 || true
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

tools: $(AZURITE_STAMP)

$(AZURITE_STAMP): tools/azurite/package.json tools/azurite/package-lock.json
	npm ci --prefix tools/azurite --no-audit --no-fund --loglevel=error
	touch $(AZURITE_STAMP)

demo: venv
	@bash scripts/system-deps.sh demo
	$(PY) -m tests.demo

lint: venv
	$(VENV)/bin/ruff check preflight tests bench scripts
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# The tables the code knows (checks, options, strictness) rewritten in README.md and docs/;
# tests/test_reference.py fails when a committed page differs (make test never writes them).
docs: venv
	$(PY) -m scripts.reference

# The system packages the tests use: installed with apt-get when missing (root, Debian),
# else one line naming the command; nothing to do, no apt call.
system-deps:
	@bash scripts/system-deps.sh

test: system-deps venv lint tools
	$(VENV)/bin/pytest -q -p no:cacheprovider
	$(MAKE) --no-print-directory bench-quick

# The lowest versions every dependency floor in pyproject.toml allows, in .venv-lowest: the
# tests that need no server but moto, `preflight aws-credentials` among them
# (scripts/test-lowest.sh). A floor that fails here is wrong.
test-lowest:
	bash scripts/test-lowest.sh

# The fault suite, rendering its evidence into the tracked docs/RELIABILITY.md (make test
# renders it into .pytest-results/faults/ only). A partial run (-k) leaves the doc as is.
reliability: venv
	PREFLIGHT_RELIABILITY_DOC=docs/RELIABILITY.md $(VENV)/bin/pytest -q -p no:cacheprovider tests/faults

# The README's picture of the audit's HTML report, taken by its browser test in headless
# Chromium (make test keeps it in .pytest-results/audit/ only).
audit-screenshot: venv
	PREFLIGHT_AUDIT_SCREENSHOT=docs/audit-report.png $(VENV)/bin/pytest -q -p no:cacheprovider \
		tests/test_audit_html.py -k test_the_grid_and_the_failing_scopes_findings_are_on_the_page

bench: venv
	$(PY) -m bench.run

bench-quick: venv
	$(PY) -m bench.run --quick --out .bench-out

container-test: venv
	bash tests/container/run.sh

lock:
	bash scripts/lock.sh

# The built-in profiles ship compiled (JSON) next to their YAML source; a test keeps them in step.
profiles: venv
	$(PY) -c 'from pathlib import Path; from preflight.contract import profile; [Path("preflight/contract/profiles", n).write_text(t, "utf-8") for n, t in profile.compile_built_in("engines").items()]'


# The image, labelled (version and source from pyproject.toml, revision from git):
# ENGINE=podman|docker, IMAGE=name:tag (default preflight:VERSION).
image:
	bash scripts/build-image.sh

# CycloneDX SBOM of an image's Python packages: IMAGE=name:tag [SBOM=path].
SBOM ?= build/sbom.cdx.json
sbom: venv
	@test -n "$(IMAGE)" || { echo "make sbom: set IMAGE=name:tag" >&2; exit 2; }
	@test -x $(VENV)/bin/cyclonedx-py || $(PY) -m pip install --quiet cyclonedx-bom==7.5.0
	CYCLONEDX_PY=$(VENV)/bin/cyclonedx-py bash scripts/sbom.sh "$(IMAGE)" "$(SBOM)"

# Re-pin the Dockerfile's FROM images to their current digests (needs skopeo + registries).
base-digests:
	bash scripts/base-digests.sh

base-digests-check:
	bash scripts/base-digests.sh --check

clean:
	rm -rf $(VENV) .venv-lowest .pytest_cache .mypy_cache .ruff_cache .bench-out .demo build \
		tools/azurite/node_modules
