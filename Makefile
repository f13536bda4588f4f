# pacsflow's two entry points for a fresh machine:
#   make demo   run the main job end to end on the embedded default (SQLite)
#   make test   install everything, then lint, type-check, build the docs and run every test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint docs bench-ingest bench-retrieve bench-cli bench-cohort bench-export demo-deps system-deps venv dev-venv clean \
	server pool deploy workers stop

# The demo needs Python's venv module and, optionally, Orthanc; the tests need more.
demo-deps:
	./scripts/install-system-deps.sh demo

system-deps:
	./scripts/install-system-deps.sh test

# pacsflow and its runtime dependencies (enough for the demo and for production)...
venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml | demo-deps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	touch $@

# ...plus the test and lint tools.
dev-venv: $(VENV)/.installed-dev

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $@

lint: dev-venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The docs site (mkdocs.yml, docs/) into site/; --strict fails on any warning: a broken link or
# anchor, a page missing from the nav, a module mkdocstrings cannot load.
# NO_MKDOCS_2_WARNING: silences the banner recent Material 9 releases print about MkDocs 2.
docs: dev-venv
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

# pytest exits non-zero when no test ran (exit code 5), so make fails then too.
test: system-deps dev-venv lint docs
	$(BIN)/pytest

# Throughput and memory of `pacsflow ingest` against pydicom itself (not a test).
# Pass options with ARGS, e.g. make bench-ingest ARGS="--files 100000".
bench-ingest: system-deps dev-venv
	$(BIN)/python -m bench.ingest $(ARGS)

# Retrieval vs DCMTK movescu/storescp, and C-FIND queries on a capped PACS.
bench-retrieve: system-deps dev-venv
	$(BIN)/python -m bench.retrieve $(ARGS)

# Wall time of CLI commands: the shared local Prefect server against one per call.
bench-cli: system-deps dev-venv
	$(BIN)/python -m bench.cli $(ARGS)

bench-cohort: system-deps dev-venv
	$(BIN)/python -m bench.cohort $(ARGS)

bench-export: dev-venv
	$(BIN)/python -m bench.export $(ARGS)

demo: demo-deps venv
	$(BIN)/python scripts/demo.py

# A Prefect installation on this machine (see docs/guide/deployments.md):
#   make server pool deploy workers N=2    ...    make stop
N ?= 1
server: venv
	./scripts/prefect-ops.sh server
pool: venv
	./scripts/prefect-ops.sh pool
deploy: venv
	./scripts/prefect-ops.sh deploy
workers: venv
	./scripts/prefect-ops.sh workers $(N)
stop:
	./scripts/prefect-ops.sh stop

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache pacsflow.sqlite* demo-data demo-storage site
