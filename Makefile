# runofshow: `make demo` runs the demo, `make test` runs lint and the whole suite.
# Both create .venv and install what they need (Debian/Ubuntu: apt-get for system packages).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: demo test test-fast lint bench services install clean

$(STAMP): pyproject.toml scripts/bootstrap-python.sh
	@bash scripts/bootstrap-python.sh "$(PYTHON)" "$(VENV)"
	@$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

services:
	@bash scripts/install-services.sh

demo: $(STAMP)
	$(BIN)/runofshow demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

test: $(STAMP) services lint
	$(BIN)/pytest -q

# unit and contract tests only: no services to install, no servers beyond loopback stubs; a test
# that takes more than 30 s fails
test-fast: $(STAMP)
	$(BIN)/pytest -q --timeout 30 tests/unit tests/contract

bench: $(STAMP) services
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
