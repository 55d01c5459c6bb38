# The two commands a newcomer needs (see README):  make course   and   make test
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SHARED_CIFAR := $(abspath ../shared/datasets/cifar10)
export ZFKERAS_CIFAR10 ?= $(if $(wildcard $(SHARED_CIFAR)),$(SHARED_CIFAR),)
export TF_CPP_MIN_LOG_LEVEL ?= 3
export PYTHONHASHSEED = 0
# pipefail: a recipe piped through a filter still fails when its command fails.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c

# pip prints "WARNING: Location 'file:///.../simple/<pkg>/' is ignored: it is neither a file nor
# a directory" for every package missing from a file:// index in the machine's pip config. Drop
# exactly those lines; everything else pip says (errors included) and its exit status stay.
PIP_LOCATION_NOISE := ^WARNING: Location 'file://[^']*' is ignored: it is neither a file nor a directory\.$$
QUIET_PIP = 2>&1 | { grep -v "$(PIP_LOCATION_NOISE)" || true; }

.PHONY: setup course chapters scorecard test test-unit lint weights clean

$(BIN)/.installed: requirements.txt pyproject.toml
	@echo "setup: $(VENV) with zfkeras (editable) and its course and test extras"
	@$(PY) -m venv $(VENV)
	@$(BIN)/pip install -q --upgrade pip $(QUIET_PIP)
	@PYTHONWARNINGS=ignore $(BIN)/pip install -q -r requirements.txt $(QUIET_PIP)
	@touch $@

setup: $(BIN)/.installed

## Render the course: execute every chapter (full mode) into build/notebooks/, then build the
## book from those copies (Sphinx, quiet; tools/build_book.py): build/book/index.html.
## One line per chapter (ok/FAILED, seconds); kernel logs in build/logs/.
course: setup
	$(BIN)/python tools/render.py --out build

## Store chapters executed: run them from a clean kernel (full mode unless ZFKERAS_QUICK=1)
## and save them in place with outputs, e.g.  make chapters NB=chapters/03_activations.ipynb
## (NB defaults to every chapter; a failing chapter is reported and left unchanged).
NB ?= $(sort $(wildcard chapters/[0-9][0-9]_*.ipynb))
chapters: setup
	$(BIN)/python tools/render.py --in-place $(NB)

## The README's scorecard and chapter times, written from the stored chapters' outputs (after
## `make chapters`; tests/test_scorecard.py fails when they are out of date).
scorecard: setup
	$(BIN)/python tools/scorecard.py

## All tests: lint, unit tests, and every chapter under nbval in quick mode.
test: setup
	$(BIN)/ruff check zfkeras tests benchmarks tools book chapters solutions
	$(BIN)/ruff format --check zfkeras tests benchmarks tools book chapters solutions
	ZFKERAS_QUICK=1 $(BIN)/python -m pytest tests chapters --nbval-lax --nbval-current-env -p no:cacheprovider

## The quick loop while editing (a few minutes on 2 cores): lint, then the unit tests without
## the slow ones (training, wheel builds, large architectures) and those loading shipped models.
test-unit: setup
	$(BIN)/ruff check zfkeras tests benchmarks tools book chapters solutions
	$(BIN)/ruff format --check zfkeras tests benchmarks tools book chapters solutions
	ZFKERAS_QUICK=1 $(BIN)/python -m pytest tests -m "not slow and not shipped" -q -p no:cacheprovider

## Retrain the shipped weights (hours on 2 CPU cores; minutes on a GPU).
weights: setup
	bash tools/train_weights.sh

clean:
	rm -rf build runs
