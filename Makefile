# The two entry points of the README. Both create or reuse ./.venv on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1

.PHONY: setup run test lint bench

setup:
	@bash scripts/setup.sh

run: setup
	$(PY) -m contrastkit train simclr-digits

test: setup
	$(PY) -m pytest -q -p no:cacheprovider

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks
