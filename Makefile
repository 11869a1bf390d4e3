# The README's two commands: `make demo` (the main job) and `make test`.
# Both create .venv on first use (Python 3.10 + the locked dependency set).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.lavabridge-installed

.PHONY: test test-fast demo lint bench mutate venv clean

$(STAMP): requirements.lock pyproject.toml scripts/bootstrap.sh
	VENV=$(VENV) ./scripts/bootstrap.sh
	touch $@

venv: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest

test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow"

demo: $(STAMP)
	$(VENV)/bin/lavabridge demo

# ruff (style, complexity C901/PLR0912/PLR0915), mypy across the Lava boundary, the import-layer
# contract (pyproject [tool.importlinter]), and the 400-line module limit.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache
	$(PY) scripts/check_module_size.py

bench: $(STAMP)
	$(PY) -m benchmarks.run
	$(PY) -m benchmarks.conv

# curated mutation run (scripts/mutants.py): prints the score and the survivors; not part of CI
mutate: $(STAMP)
	$(PY) scripts/mutate.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
