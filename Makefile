# The two commands of the README: `make conformance` and `make test`.
# Both create .venv, install the project and provision the control-plane binaries first.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
REPORT ?= reports

.PHONY: conformance test venv binaries lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

venv: $(VENV)/.installed

binaries: venv
	$(PY) -m harness.controlplane.binaries

conformance: binaries
	$(VENV)/bin/receiver-conformance run --target embedded --profile all --report-dir $(REPORT)

test: binaries
	$(PY) -m pytest tests steps
	$(VENV)/bin/ruff check .

lint: venv
	$(VENV)/bin/ruff check .

bench: binaries
	$(PY) bench/controlplane.py
	$(PY) bench/receiver.py

clean:
	rm -rf $(VENV) $(REPORT) .pytest_cache .ruff_cache
