# The two README commands: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
# One pytest worker per core; each test file runs whole on one worker, so a module's expensive
# stack (the browser suite's `ovc demo` + `ovc dev`, the operations guide's demo) is set up once.
# Not loadgroup: on pytest 9.2 xdist ignores xdist_group marks (pytest-dev/pytest-xdist#1386).
# Files are handed out in collection order, the longest first (ovc_assets_tests/conftest.py).
PYTEST_PARALLEL ?= -n auto --dist loadfile --no-loadscope-reorder

.PHONY: demo test dev validate clean mutants

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python >= 3.11 is required (PYTHON=$(PYTHON))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/ovc demo

# pytest exits 5 when it collected nothing; that must fail, never pass quietly.
test: $(VENV)/.installed-dev
	@$(BIN)/python -m pytest $(PYTEST_PARALLEL) $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$status

# `job list` also serialises every job snapshot, as the webserver does.
validate: $(VENV)/.installed
	$(BIN)/dagster definitions validate -m ovc_assets.definitions
	$(BIN)/dagster job list -m ovc_assets.definitions
	$(BIN)/dagster job list -w workspace.yaml

# Mutation testing of the core modules ([tool.mutmut] in pyproject.toml): slow, run by hand,
# a habit, not a gate. Results and what was done about survivors: docs/testing.md.
mutants: $(VENV)/.installed-dev
	$(BIN)/mutmut run --max-children 2; $(BIN)/mutmut results

# The UI lists 4 weeks of 2H partitions by default; start them at the demo week to see it.
dev: $(VENV)/.installed
	OVC_PARTITIONS_START="$${OVC_PARTITIONS_START:-2026-01-11 17:00}" $(BIN)/ovc dev

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis mutants
