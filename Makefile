# storywire: `make demo` sets everything up and replays the demo firehose; `make test` sets up and runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo serve-demo test test-fast lint clean

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; assert (3, 11) <= sys.version_info[:2] <= (3, 12), "storywire needs Python 3.11 or 3.12 (bytewax 0.21.1 has no wheels for newer)"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(BIN)/storywire demo

# replay the demo with article vectors into out/demo, then serve the board on http://127.0.0.1:8000/ (Ctrl-C stops)
serve-demo: setup
	STORYWIRE_OUTPUT__VECTORS=true $(BIN)/storywire demo --out out/demo --no-progress
	rm -f out/demo/service.sqlite out/demo/service.sqlite-wal out/demo/service.sqlite-shm
	$(BIN)/storywire serve --from-dir out/demo --database out/demo/service.sqlite

test: setup
	$(BIN)/python -m pytest

# ruff's pyflakes, pycodestyle and import-order rules and its formatter ([tool.ruff]), mypy on the pure cores ([tool.mypy]),
# the layering of the folders (import-linter contracts in [tool.importlinter], docs/architecture.md)
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# everything not marked slow (no broker, no full model loads in the flow): for the edit-test loop
test-fast: setup
	$(BIN)/python -m pytest -m "not slow"

clean:
	rm -rf $(VENV) out
