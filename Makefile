# storywire: `make demo` sets everything up and replays the demo firehose; `make test` sets up and runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test clean

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; assert (3, 11) <= sys.version_info[:2] <= (3, 12), "storywire needs Python 3.11 or 3.12 (bytewax 0.21.1 has no wheels for newer)"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(BIN)/storywire demo

test: setup
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) out
