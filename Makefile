# One command to set up and run a checkpoint on the sample data, one to set up
# and run every test. Both create .venv and install requirements.txt and the
# project itself (`pip install -e .`: the refund-recon command) first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SAMPLE_AS_OF ?= 2026-03-01T00:00:00Z
export DBT_PROFILES_DIR := $(CURDIR)
export DBT_SEND_ANONYMOUS_USAGE_STATS := false

.PHONY: setup setup-spark checkpoint build lint sample-db test-fast test sample-data clean

setup: $(BIN)/.installed

$(BIN)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

## checkpoint: reconcile the bundled sample data and print the variance summary.
## The sample has variances on purpose (exit 1); make fails only on a failed
## or refused checkpoint (exit 3 or 4).
checkpoint: setup
	@$(BIN)/refund-recon run --as-of $(SAMPLE_AS_OF); code=$$?; \
	    if [ $$code -ge 3 ]; then exit $$code; fi

## build: dbt build from the project root on the sample data
build: setup
	$(BIN)/dbt build --vars '{as_of: "$(SAMPLE_AS_OF)"}'

## lint: sqlfluff (dialect duckdb, dbt templater) over models, tests and macros,
## and the check that no DuckDB-only SQL sits outside a dispatched macro
lint: build
	$(BIN)/python scripts/check_dialect.py
	$(BIN)/sqlfluff lint --processes $(PYTEST_WORKERS) models tests macros

## setup-spark: requirements-spark.txt (dbt-spark session, pyspark) into the
## same venv, for the Spark comparison test (docs/spark.md; needs Java 17+)
setup-spark: $(BIN)/.installed-spark

$(BIN)/.installed-spark: $(BIN)/.installed requirements-spark.txt
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-spark.txt
	touch $@

## sample-db: one dbt build of the sample (its dbt unit tests and data tests
## included) into a new database of its own, which the tests then read
## instead of building the sample again (conftest.py, sample_build)
SAMPLE_DB := $(CURDIR)/target/test_sample.duckdb
sample-db: setup
	rm -f $(SAMPLE_DB) $(SAMPLE_DB).wal && mkdir -p $(dir $(SAMPLE_DB))
	REFUND_RECON_DUCKDB=$(SAMPLE_DB) $(BIN)/dbt build --vars '{as_of: "$(SAMPLE_AS_OF)"}'

## Two pytest workers (pytest-xdist), one test file each at a time, the longest
## files first (tests/python/conftest.py): most of the suite's time is dbt
## parsing, which uses one core.
PYTEST_WORKERS ?= 2
PYTEST := REFUND_RECON_SAMPLE_DB=$(SAMPLE_DB) $(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder

## test-fast: before every commit (docs/testing.md, tiers): the sample built
## once with its dbt unit and data tests, the dialect check, and the test
## files marked fast (FAST_FILES in tests/python/conftest.py)
test-fast: sample-db
	$(BIN)/python scripts/check_dialect.py
	$(PYTEST) -m fast

## test: everything, as CI runs it: sqlfluff in the background (about 85
## CPU-seconds on one core; its own target folder, .sqlfluff) while the sample
## build, the dialect check and every test file run (PostgreSQL and Spark
## included; each skips with a message where its engine is missing, unless CI
## requires it). The lint's output is shown after pytest's; any of the three
## failing fails the target.
LINT_LOG := $(CURDIR)/target/sqlfluff.log
test: setup setup-spark
	@mkdir -p $(dir $(LINT_LOG)); \
	    $(BIN)/sqlfluff lint models tests macros > $(LINT_LOG) 2>&1 & lint=$$!; \
	    $(MAKE) --no-print-directory sample-db && $(BIN)/python scripts/check_dialect.py && $(PYTEST); tests=$$?; \
	    wait $$lint; linted=$$?; grep -v "^WARNING .*Skipped file" $(LINT_LOG); \
	    echo "sqlfluff: exit $$linted; sample build and pytest: exit $$tests"; \
	    [ $$tests -eq 0 ] && [ $$linted -eq 0 ]

## sample-data: regenerate the bundled sample from the labelled generator
sample-data: setup
	$(BIN)/python scripts/generate_sample_data.py --out data/sample --refunds 400 --seed 7

clean:
	rm -rf target logs refund_recon_dev.duckdb
