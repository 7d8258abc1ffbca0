# One-word tasks. `make run` starts the chat; `make test` runs the tests.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
BIN := $(VENV)/bin

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False
export TOKENIZERS_PARALLELISM := false

.PHONY: run index test test-fast lint format bench eval install install-test browser clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

# torch 2.13.0 (CPU build on this workplace's disk) goes in first, so nothing pulls a CUDA build.
$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) install torch==2.13.0
	$(PIP) install -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(PIP) install -e '.[test]'
	touch $@

$(VENV)/.installed-bench: pyproject.toml $(VENV)/.installed
	$(PIP) install -e '.[bench]' torch==2.13.0
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test browser

# Debian's Chromium drives the browser tests (a test tool's own browser download fails here).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium chromium-driver; \
	fi

index: install
	$(BIN)/ncpi-qa index

run: install
	$(BIN)/ncpi-qa index
	$(BIN)/ncpi-qa app --host 127.0.0.1 --port 7860

test: install-test
	$(BIN)/pytest

test-fast: install-test
	$(BIN)/pytest -m 'not slow'

eval: install
	$(BIN)/ncpi-qa index
	$(BIN)/ncpi-qa eval --dataset evals/dev.jsonl --report evals/report

bench: $(VENV)/.installed-bench
	$(BIN)/ncpi-qa bench

lint: install-test
	$(BIN)/ruff check app tests tools
	$(BIN)/ruff format --check app tests tools

format: install-test
	$(BIN)/ruff format app tests tools
	$(BIN)/ruff check --fix app tests tools

clean:
	rm -rf index/store test-artifacts .pytest_cache
