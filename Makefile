# Bitbucket Relay: `make run` and `make test` are the two commands; everything else serves them.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Exact versions with hashes: LOCK the runtime (the Docker image), DEV_LOCK adds the
# `embedded` and `dev` extras (.venv). Both are written by `make lock` from pyproject.toml.
LOCK := requirements.lock
DEV_LOCK := requirements-dev.lock
LOCK_FLAGS := --quiet --generate-hashes --python-version 3.11 \
  --python-platform x86_64-unknown-linux-gnu --custom-compile-command 'make lock'
# Installed again whenever pyproject.toml or the lock is newer than this stamp.
STAMP := $(VENV)/.installed
PACKAGES := receiver workers shared bbrelay
LINT_PATHS := $(wildcard $(PACKAGES) tests bench)
# Runs a command with BBRELAY_REDIS_URL set: the configured Redis, else an embedded one.
WITH_REDIS := $(BIN)/python -m bbrelay.with_redis --
# The receiver's port under `make run` (Flower listens on the next one).
PORT ?= 8000

.PHONY: help venv lock audit run test lint typecheck unit bench chaos clean distclean

help:
	@echo 'make run [PORT=8000]  start Redis, receiver (PORT), worker, beat and Flower (PORT+1)'
	@echo 'make test             ruff, mypy, unit and integration tests'
	@echo 'make unit             unit tests only'
	@echo 'make lint             ruff check and ruff format --check'
	@echo 'make typecheck        mypy strict'
	@echo 'make bench            every script in bench/ but chaos.py'
	@echo 'make chaos            the reliability suite: faults on real processes (CHAOS_ARGS=--quick)'
	@echo 'make venv             create .venv and install the lock (done by every target that needs it)'
	@echo 'make lock [UPGRADE=1] pin dependencies again from pyproject.toml (uv, with hashes)'
	@echo 'make audit            pip-audit over the lock (also part of make test)'
	@echo 'make clean            caches and build output; make distclean also removes .venv'

venv: $(STAMP)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
	  echo "Bitbucket Relay needs Python >= 3.11; '$(PYTHON)' is not. Try: make PYTHON=python3.11 ..." >&2; \
	  exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml $(DEV_LOCK) | $(BIN)/python
	$(BIN)/python -m pip install --require-hashes -r $(DEV_LOCK)
	$(BIN)/python -m pip install --no-deps -e .
	@touch $@

# Keeps the locked versions that pyproject.toml still allows; UPGRADE=1 moves all to the newest.
# The dev lock is held to the runtime lock's versions: the image and .venv run the same ones.
lock: venv
	$(BIN)/uv pip compile $(LOCK_FLAGS) $(if $(UPGRADE),--upgrade) pyproject.toml -o $(LOCK)
	$(BIN)/uv pip compile $(LOCK_FLAGS) $(if $(UPGRADE),--upgrade) --extra embedded --extra dev \
	  -c $(LOCK) pyproject.toml -o $(DEV_LOCK)

audit: venv
	$(BIN)/python .ci/audit.py $(DEV_LOCK)

run: venv
	$(BIN)/bbrelay run --port $(PORT)

test: venv lint typecheck audit
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
