# Two commands a newcomer needs: `make up` (start everything) and `make test` (lint, types, tests).
# Both create .venv and install what they need on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up test lint unit bench install clean browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[embedded,dev]"
	touch $(STAMP)

install: $(STAMP)

up: $(STAMP)
	$(BIN)/gridcase up

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

# Debian's chromium, chromedriver and CJK fonts for the real-browser test (apt-get; idempotent).
# `make test` tries it and goes on: without a browser that test skips, except on CI where it fails.
browser:
	deploy/install-test-browser.sh

test: lint
	-deploy/install-test-browser.sh
	$(BIN)/python -m pytest -q

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit tests/deploy

bench: $(STAMP)
	$(BIN)/python bench/e2e.py

clean:
	rm -rf $(VENV) .gridcase .pytest_cache .mypy_cache .ruff_cache
