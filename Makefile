# The two commands a newcomer needs: `make demo` and `make test`. Both set up
# .venv and node_modules first (again only when pyproject.toml or package.json change).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PATH := $(CURDIR)/$(BIN):$(CURDIR)/node_modules/.bin:$(PATH)

.PHONY: setup demo test lint unit bench scan clean e2e-aws

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[cdk,dev]'
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

demo: setup
	$(BIN)/oomwatch demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy lambdas infra demo agent_config app.py
	@# The tests and benchmarks too (pyproject.toml says what is relaxed there and why). tests/unit imports only
	@# packages; the other tiers import their kits by bare name, as pytest does, so each is checked on its own.
	MYPYPATH=lambdas:. $(BIN)/mypy --explicit-package-bases tests/unit
	for tier in tests/handlers tests/infra tests/e2e bench; do \
	  MYPYPATH=lambdas:.:$$tier $(BIN)/mypy --explicit-package-bases $$tier || exit 1; done

test: lint
	$(BIN)/python -m pytest -n 2 -q

unit: setup
	$(BIN)/python -m pytest -q tests/unit

bench: setup
	$(BIN)/python bench/run.py

# Opt-in, never in CI: deploys to the current AWS account and region, checks an alert arrives, destroys it.
e2e-aws: setup
	$(BIN)/python -m demo.aws_check

clean:
	rm -rf $(VENV) node_modules cdk.out .pytest_cache .mypy_cache .ruff_cache
