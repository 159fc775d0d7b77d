# Two commands set everything up: `make demo` and `make test`. Both are idempotent.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# dagster.yaml lives at the top of the project; Dagster reads it from DAGSTER_HOME.
export DAGSTER_HOME := $(CURDIR)
export GX_ANALYTICS_ENABLED := False
export DO_NOT_TRACK := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := False

CUSTOMERS ?= 5000
SEED      ?= 42
SCALE     ?= 100000

.PHONY: demo test lint bench bench-full ui clean help

help:
	@echo "make demo   - install, generate sample exports, run the whole pipeline through Dagster"
	@echo "make test   - install and run the test suite (with SQL lint)"
	@echo "make ui     - open the Dagster UI on http://127.0.0.1:3000"
	@echo "make bench  - benchmark ingest against bare DuckDB (SCALE=$(SCALE))"

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/cxw demo --customers $(CUSTOMERS) --seed $(SEED)

test: $(STAMP)
	$(MAKE) --no-print-directory lint
	$(BIN)/python -m pytest tests --durations=15

# The dbt templater opens a connection, so lint points it at a throw-away warehouse file:
# a clean clone has no data/ folder yet.
lint: $(STAMP)
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && cd dbt_project && \
	  CXW_WAREHOUSE="$$tmp/lint.duckdb" ../$(BIN)/sqlfluff lint models macros tests --disable-progress-bar

ui: $(STAMP)
	$(BIN)/dagster dev -m orchestration.definitions -h 127.0.0.1 -p 3000

bench: $(STAMP)
	$(BIN)/python bench/run.py --customers $(SCALE)

clean:
	rm -rf data/ .dagster_home/ dbt_project/target dbt_project/logs
