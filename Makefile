# One-word tasks. `make run` starts the chat; `make test` runs the tests.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
# .venv holds the runtime only (what `make run` needs). The test and bench extras go into their
# own small venvs layered on it (a .pth file adds .venv's site-packages), so neither leaks into
# .venv and neither installs torch again.
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
BIN := $(VENV)/bin
TEST_VENV := .venv-test
TEST_BIN := $(TEST_VENV)/bin
BENCH_VENV := .venv-bench

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False
export TOKENIZERS_PARALLELISM := false

.PHONY: run index test test-fast lint format bench eval eval-squad train curve soak install install-test install-milvus milvus browser axe clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

# torch 2.13.0 (CPU build on this workplace's disk) goes in first, so nothing pulls a CUDA build.
$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) install torch==2.13.0
	$(PIP) install -e .
	touch $@

# A venv on top of .venv (its packages seen through a .pth file): $(call layered,DIR)
define layered
	$(PYTHON) -m venv $(1)
	$(PY) -c 'import sysconfig; print("import site; site.addsitedir(%r)" % sysconfig.get_paths()["purelib"])' \
	  > "$$($(1)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/_runtime_venv.pth"
endef

$(TEST_BIN)/python: | $(PY)
	$(call layered,$(TEST_VENV))

$(BENCH_VENV)/bin/python: | $(PY)
	$(call layered,$(BENCH_VENV))

# torch==2.13.0 again as a guard: it is already satisfied from .venv, so nothing else is pulled.
$(TEST_VENV)/.installed-test: pyproject.toml tools/bench/pyproject.toml $(VENV)/.installed | $(TEST_BIN)/python
	$(TEST_BIN)/python -m pip --disable-pip-version-check -q install -e '.[test,milvus]' -e tools/bench torch==2.13.0
	touch $@

$(BENCH_VENV)/.installed-bench: pyproject.toml tools/bench/pyproject.toml $(VENV)/.installed | $(BENCH_VENV)/bin/python
	$(BENCH_VENV)/bin/python -m pip --disable-pip-version-check -q install -e '.[bench,milvus]' -e tools/bench torch==2.13.0
	touch $@

install: $(VENV)/.installed
install-test: $(TEST_VENV)/.installed-test browser

# The Milvus backend's client and local server (the milvus extra) into .venv, for
# NCPI_QA_VECTOR_STORE=milvus; torch==2.13.0 again as a guard, so it never changes.
install-milvus: $(VENV)/.installed
	$(PIP) install -e '.[milvus]' torch==2.13.0

# A local Milvus-compatible server (milvus-lite) on 127.0.0.1:19530, data in index/milvus; run
# the app against it with NCPI_QA_VECTOR_STORE=milvus (docs/scaling.md).
milvus: install-milvus
	$(BIN)/milvus-lite server --data-dir index/milvus --host 127.0.0.1 --port 19530

# Debian's Chromium drives the browser tests (a test tool's own browser download fails here).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium chromium-driver; \
	fi

# axe-core (the browser test's accessibility check) from npm into the git-ignored
# test-artifacts/; the test injects it from disk, so the page never fetches it.
axe:
	@[ -f test-artifacts/node_modules/axe-core/axe.min.js ] || \
	  npm install --prefix test-artifacts --no-audit --no-fund --silent axe-core@4

index: install
	$(BIN)/ncpi-qa index

run: install
	$(BIN)/ncpi-qa index
	$(BIN)/ncpi-qa app --host 127.0.0.1 --port 7860

test: install-test
	$(TEST_BIN)/python -m pytest

test-fast: install-test
	$(TEST_BIN)/python -m pytest -m 'not slow'

eval: install
	$(BIN)/ncpi-qa index
	$(BIN)/ncpi-qa eval --dataset evals/dev.jsonl --report evals/report

# SQuAD 2.0 (shared/data/squad2, beside the checkout): the dev articles of the fixed report
# part (never used for fitting or calibration), all indexed together in a scratch store.
SQUAD ?= ../shared/data/squad2
eval-squad: install
	$(BIN)/ncpi-qa eval --squad $(SQUAD) --part report --report evals/report-squad

# Rebuilds the shipped weights (qa/weights/) from SQuAD with a fixed seed: the reader on a time
# budget (TRAIN_MINUTES, 100 on 2 CPU cores here; TRAIN_DEVICE=cuda on a GPU), then the
# answerer around it (about 15 minutes). Snapshots for the learning curve go to build/reader.
# The shipped reader is the main run continued on synthetic look-alikes (TRAIN_SYNTH_MINUTES,
# 35 here; tools/train/reader_data.py), from its own weights, another data order, a lower lr.
TRAIN_MINUTES ?= 100
TRAIN_SYNTH_MINUTES ?= 35
TRAIN_DEVICE ?= cpu
train: install
	cd tools/train && ../../$(PY) train_reader.py --data ../../$(SQUAD) \
	  --minutes $(TRAIN_MINUTES) --device $(TRAIN_DEVICE)
	cd tools/train && ../../$(PY) train_reader.py --data ../../$(SQUAD) \
	  --init ../../app/ncpi_qa/qa/weights/reader.safetensors --seed 20261203 --synth-share 1.0 \
	  --lr 3e-5 --head-lr-mult 1 --minutes $(TRAIN_SYNTH_MINUTES) --device $(TRAIN_DEVICE) \
	  --work ../../build/reader-synth
	cd tools/train && ../../$(PY) train_answerer.py --data ../../$(SQUAD)

# The learning curve: each reader snapshot in build/reader scored on the calib articles.
curve: install
	cd tools/train && ../../$(PY) train_answerer.py --data ../../$(SQUAD) --curve ../../build/reader

# 20 clients for 5 minutes against `ncpi-qa app` on 127.0.0.1; server RSS each minute.
soak: install
	$(BIN)/ncpi-qa index
	$(PY) tools/soak/soak.py --clients 20 --minutes 5

bench: $(BENCH_VENV)/.installed-bench
	$(BENCH_VENV)/bin/ncpi-qa bench

lint: install-test
	$(TEST_BIN)/python -m ruff check app tests tools
	$(TEST_BIN)/python -m ruff format --check app tests tools

format: install-test
	$(TEST_BIN)/python -m ruff format app tests tools
	$(TEST_BIN)/python -m ruff check --fix app tests tools

clean:
	rm -rf index/store test-artifacts .pytest_cache
