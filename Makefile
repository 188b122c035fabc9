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

# The demo has a store of its own: okrsync.db is yours, for `sync` and the cron line.
DEMO_STORE := sqlite:///okrsync-demo.db

demo: $(STAMP)
	OKRSYNC_DATABASE_URL=$(DEMO_STORE) $(BIN)/python run.py demo
	@echo "The demo's store is ./okrsync-demo.db (your own syncs use okrsync.db). Read it with:"
	@echo "  OKRSYNC_DATABASE_URL=$(DEMO_STORE) $(BIN)/python run.py status"

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

reliability: $(STAMP)
	$(BIN)/python -m tests.reliability.report

sandbox: $(STAMP)
	$(BIN)/python run.py sandbox

clean:
	rm -rf $(VENV) okrsync.db okrsync.db-* okrsync.db.lock okrsync-demo.db okrsync-demo.db-* okrsync-demo.db.lock

bench: $(STAMP)
	$(BIN)/python -m bench --day
