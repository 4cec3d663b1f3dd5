# preflight — the targets the README and CI rely on.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv demo test lint typecheck unit bench bench-quick container-test reliability lock profiles clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: venv
	$(PY) -m tests.demo

lint: venv
	$(VENV)/bin/ruff check preflight tests bench
	$(VENV)/bin/mypy

test: venv lint
	$(VENV)/bin/pytest -q -p no:cacheprovider
	$(MAKE) --no-print-directory bench-quick

# The fault suite, rendering its evidence into the tracked docs/RELIABILITY.md (make test
# renders it into .pytest-results/faults/ only). A partial run (-k) leaves the doc as is.
reliability: venv
	PREFLIGHT_RELIABILITY_DOC=docs/RELIABILITY.md $(VENV)/bin/pytest -q -p no:cacheprovider tests/faults

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
	$(PY) -c 'from pathlib import Path; from preflight import profile; [Path("preflight/profiles", n).write_text(t, "utf-8") for n, t in profile.compile_built_in("engines").items()]'


clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .bench-out .demo
