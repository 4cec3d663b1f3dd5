# preflight — the targets the README and CI rely on.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Test servers that are not Python packages: Azurite (Azure Blob) from npm, pinned by its
# lock file. Debian's redis-server, Java and the Firestore emulator come from apt (.ci/run).
AZURITE_STAMP := tools/azurite/node_modules/.installed

.PHONY: venv tools demo test lint typecheck unit bench bench-quick container-test lock clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

tools: $(AZURITE_STAMP)

$(AZURITE_STAMP): tools/azurite/package.json tools/azurite/package-lock.json
	npm ci --prefix tools/azurite --no-audit --no-fund --loglevel=error
	touch $(AZURITE_STAMP)

demo: venv
	$(PY) -m tests.demo

lint: venv
	$(VENV)/bin/ruff check preflight tests bench
	$(VENV)/bin/mypy

test: venv lint tools
	$(VENV)/bin/pytest -q -p no:cacheprovider
	$(MAKE) --no-print-directory bench-quick

bench: venv
	$(PY) -m bench.run

bench-quick: venv
	$(PY) -m bench.run --quick --out .bench-out

container-test: venv
	bash tests/container/run.sh

lock:
	bash scripts/lock.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .bench-out .demo tools/azurite/node_modules
