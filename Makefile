# The two commands a newcomer needs (see README):  make course   and   make test
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SHARED_CIFAR := $(abspath ../shared/datasets/cifar10)
export ZFKERAS_CIFAR10 ?= $(if $(wildcard $(SHARED_CIFAR)),$(SHARED_CIFAR),)
export TF_CPP_MIN_LOG_LEVEL ?= 3
export PYTHONHASHSEED = 0

.PHONY: setup course test lint weights clean

$(BIN)/.installed: requirements.txt pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $@

setup: $(BIN)/.installed

## Render the course: execute every chapter (full mode) and write HTML + index under build/.
course: setup
	$(BIN)/python tools/render.py --out build

## All tests: lint, unit tests, and every chapter under nbval in quick mode.
test: setup
	$(BIN)/ruff check zfkeras tests benchmarks tools
	ZFKERAS_QUICK=1 $(BIN)/python -m pytest tests chapters --nbval-lax --nbval-current-env -p no:cacheprovider

## Retrain the shipped weights (hours on 2 CPU cores; minutes on a GPU).
weights: setup
	bash tools/train_weights.sh

clean:
	rm -rf build runs
