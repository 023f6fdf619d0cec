# One command to set up and run a checkpoint on the sample data, one to set up
# and run every test. Both create .venv and install requirements.txt first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SAMPLE_AS_OF ?= 2026-03-01T00:00:00Z
export DBT_PROFILES_DIR := $(CURDIR)
export DBT_SEND_ANONYMOUS_USAGE_STATS := false

.PHONY: setup setup-spark checkpoint build lint test sample-data clean

setup: $(BIN)/.installed

$(BIN)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

## checkpoint: reconcile the bundled sample data and print the variance summary.
## The sample has variances on purpose (exit 1); make fails only on a failed
## or refused checkpoint (exit 3 or 4).
checkpoint: setup
	@$(BIN)/python scripts/checkpoint.py run --as-of $(SAMPLE_AS_OF); code=$$?; \
	    if [ $$code -ge 3 ]; then exit $$code; fi

## build: dbt build from the project root on the sample data
build: setup
	$(BIN)/dbt build --vars '{as_of: "$(SAMPLE_AS_OF)"}'

## lint: sqlfluff (dialect duckdb, dbt templater) over models, tests and macros,
## and the check that no DuckDB-only SQL sits outside a dispatched macro
lint: build
	$(BIN)/python scripts/check_dialect.py
	$(BIN)/sqlfluff lint models tests macros

## setup-spark: requirements-spark.txt (dbt-spark session, pyspark) into the
## same venv, for the Spark comparison test (docs/spark.md; needs Java 17+)
setup-spark: $(BIN)/.installed-spark

$(BIN)/.installed-spark: $(BIN)/.installed requirements-spark.txt
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-spark.txt
	touch $@

## test: dbt build, lint, then pytest (which builds its own labelled scenarios).
## Two pytest workers (pytest-xdist), one test file each at a time, the longest
## files first (tests/python/conftest.py): most of the suite's time is dbt
## parsing, which uses one core.
PYTEST_WORKERS ?= 2
test: lint setup-spark
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder

## sample-data: regenerate the bundled sample from the labelled generator
sample-data: setup
	$(BIN)/python scripts/generate_sample_data.py --out data/sample --refunds 400 --seed 7

clean:
	rm -rf target logs refund_recon_dev.duckdb
