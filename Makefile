# Everything sets itself up: a fresh machine needs only Python 3.11 and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint sandbox clean reliability bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python run.py demo

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

reliability: $(STAMP)
	$(BIN)/python -m tests.reliability.report

sandbox: $(STAMP)
	$(BIN)/python run.py sandbox

clean:
	rm -rf $(VENV) okrsync.db okrsync.db-* okrsync.db.lock

bench: $(STAMP)
	$(BIN)/python -m bench
