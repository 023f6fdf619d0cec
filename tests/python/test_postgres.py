"""The same models on a real PostgreSQL server give the same marts as DuckDB.

Loads a generated scenario into PostgreSQL with COPY (text columns, as a
connector lands them), builds with the `postgres` target, builds the same
files on DuckDB, and compares every mart row for row. Runs when a server is
configured through REFUND_RECON_PG_USER / _PASSWORD (and optionally _HOST,
_PORT, _DATABASE); skips with a message otherwise. `.ci/run` starts one.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from checkpoint_world import project_copy
from conftest import (ACKNOWLEDGED, INPUT_COLUMNS, PROJECT_DIR, acknowledgements_seed, dbt_build, generate,
                      normalized)
from dbt_in_process import run_dbt_in_process

PG_ENV = ("REFUND_RECON_PG_USER", "REFUND_RECON_PG_PASSWORD")
pytestmark = pytest.mark.skipif(
    not all(os.environ.get(name) for name in PG_ENV),
    reason="no PostgreSQL server configured: set REFUND_RECON_PG_USER and REFUND_RECON_PG_PASSWORD "
           "(and _HOST, _PORT, _DATABASE if not 127.0.0.1:5432/refund_recon); .ci/run starts one",
)

# Every column of every mart, except where the two engines are meant to differ:
# a warehouse table has no file and no file order, so rejected rows are
# compared by their content, not by file name or row number.
# fct_variance_acknowledgements: both builds read a project copy whose variance_acknowledgements
# seed holds an active, a superseded, an expired and an unknown acknowledgement of this scenario
# (ACKNOWLEDGED); `resolved` needs an earlier checkpoint and is a dbt unit test, which this
# engine's build runs too.
MART_QUERIES = {
    "fct_refund_variances": "select * from {schema}.fct_refund_variances",
    "rpt_refund_reconciliation": "select * from {schema}.rpt_refund_reconciliation",
    "fct_rejected_rows": "select input_name, record_id, order_id, processor_refund_id, rejected_column, "
                         "rejection_reason, amount_text, amount, currency, checkpoint_id from {schema}.fct_rejected_rows",
    "fct_checkpoint_runs": "select * from {schema}.fct_checkpoint_runs",
    "fct_variance_history": "select * from {schema}.fct_variance_history",
    "fct_proposed_erp_corrections": "select * from {schema}.fct_proposed_erp_corrections",
    "fct_suggested_matches": "select * from {schema}.fct_suggested_matches",
    "fct_variance_acknowledgements": "select * from {schema}.fct_variance_acknowledgements",
    "fct_expected_erp_postings": "select * from {schema}.fct_expected_erp_postings",
    # The trail, the sources and the totals name files and rows a warehouse has not (the trail's
    # audit_record_id, source_file, source_row and a rejected row's refund_key, which is its place;
    # a source's delivery files and their md5s): every other column is compared.
    "fct_refund_audit_trail": "select case when is_rejected then null else refund_key end, refund_id, order_id, "
                              "system, record_id, event, raw_status, "
                              "canonical_status, amount, currency, minor_units, recorded_at, event_order, "
                              "is_rejected, rejection_reason, as_of, checkpoint_id from {schema}.fct_refund_audit_trail",
    "fct_checkpoint_sources": "select checkpoint_id, checkpoint_as_of, system_name, rows_read, rows_rejected, "
                              "latest_record_at, previous_checkpoint_id, stale_reason from {schema}.fct_checkpoint_sources",
    "fct_checkpoint_totals": "select * from {schema}.fct_checkpoint_totals",
}


def connect():
    import psycopg2

    return psycopg2.connect(
        host=os.environ.get("REFUND_RECON_PG_HOST", "127.0.0.1"), port=int(os.environ.get("REFUND_RECON_PG_PORT", "5432")),
        user=os.environ["REFUND_RECON_PG_USER"], password=os.environ["REFUND_RECON_PG_PASSWORD"],
        dbname=os.environ.get("REFUND_RECON_PG_DATABASE", "refund_recon"),
    )


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("postgres")
    data = work / "data"
    settings = generate(data, "--refunds", "3000", "--seed", "29", "--fault-rate", "0.4", "--trap-rate", "0.3",
                        "--id-fault-rate", "0.1", "--business-timezone", "Europe/Berlin")
    run_id = uuid.uuid4().hex[:8]
    inputs_schema, target_schema = f"raw_refunds_{run_id}", f"recon_{run_id}"

    with connect() as con, con.cursor() as cur:
        cur.execute(f"create schema {inputs_schema}")
        for table, columns in INPUT_COLUMNS.items():
            cur.execute(f"create table {inputs_schema}.{table} ({', '.join(c + ' text' for c in columns)})")
            with open(data / f"{table}.csv", encoding="utf-8") as handle:
                cur.copy_expert(f"copy {inputs_schema}.{table} from stdin with (format csv, header true)", handle)

    project = project_copy(work / "project", {})
    (project / "seeds" / "variance_acknowledgements.csv").write_text(acknowledgements_seed(data),
                                                                      encoding="utf-8")
    dbt_vars = {"as_of": settings["as_of"], "business_timezone": settings["business_timezone"],
                "refund_inputs_schema": inputs_schema}
    postgres = run_dbt_in_process("build", target="postgres", project_dir=project, artifacts=work / "pg",
                                  dbt_vars=dbt_vars, env={"REFUND_RECON_PG_SCHEMA": target_schema})
    duck = dbt_build(work, data, settings, "--exclude-resource-type", "unit_test", project_dir=project)
    result = {"postgres": postgres, "duckdb": duck, "schema": target_schema, "marts": {}}
    if postgres.returncode == 0 and duck.returncode == 0:
        with connect() as con, con.cursor() as cur, duckdb.connect(str(duck.database), read_only=True) as local:
            for mart, sql in MART_QUERIES.items():
                cur.execute(sql.format(schema=target_schema))
                result["marts"][mart] = (cur.fetchall(), local.sql(sql.format(schema="main")).fetchall())
    with connect() as con, con.cursor() as cur:
        for schema in (inputs_schema, target_schema, f"{target_schema}_staging", f"{target_schema}_intermediate",
                       f"{target_schema}_mappings"):
            cur.execute(f"drop schema if exists {schema} cascade")
    return result


def test_both_builds_pass_every_test(builds: dict) -> None:
    assert builds["postgres"].returncode == 0, builds["postgres"].stdout[-3000:]
    assert builds["duckdb"].returncode == 0, builds["duckdb"].output[-3000:]
    assert "unit tests" in builds["postgres"].stdout, "the unit tests ran on PostgreSQL too"


@pytest.mark.parametrize("mart", list(MART_QUERIES))
def test_marts_match_row_for_row(builds: dict, mart: str) -> None:
    postgres_rows, duckdb_rows = builds["marts"][mart]
    assert postgres_rows, f"{mart} is empty: nothing was compared"
    assert normalized(postgres_rows) == normalized(duckdb_rows)


def test_each_acknowledgement_state_is_compared(builds: dict) -> None:
    with duckdb.connect(str(builds["duckdb"].database), read_only=True) as con:
        states = [row[0] for row in con.execute(
            "select acknowledgement_state from fct_variance_acknowledgements order by 1").fetchall()]
    assert states == sorted(ACKNOWLEDGED)


def test_dialect_check_passes_and_catches_a_duckdb_function(tmp_path: Path) -> None:
    checker = PROJECT_DIR / "scripts" / "check_dialect.py"
    clean = subprocess.run([sys.executable, str(checker)], cwd=PROJECT_DIR, capture_output=True, text=True)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    (tmp_path / "models").mkdir()
    (tmp_path / "macros").mkdir()
    (tmp_path / "models" / "bad.sql").write_text("select strftime(created_at, '%Y') as y, x::int as z from t\n")
    (tmp_path / "macros" / "bad.sql").write_text("{% macro helper() %}regexp_full_match(a, 'b'){% endmacro %}\n"
                                                  "{% macro duckdb__helper() %}regexp_full_match(a, 'b'){% endmacro %}\n")
    found = subprocess.run([sys.executable, str(checker), "--root", str(tmp_path)], capture_output=True, text=True)
    assert found.returncode == 1
    assert "models/bad.sql:1: strftime" in found.stdout and "models/bad.sql:1: ::" in found.stdout
    assert "macros/bad.sql:1: regexp_full_match (in macro helper)" in found.stdout
    assert "duckdb__helper" not in found.stdout


@pytest.fixture(scope="module")
def shaped_postgres(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Stripe, PayPal, Shopify and NetSuite tables loaded as text, built on PostgreSQL."""
    import csv

    work = tmp_path_factory.mktemp("postgres_shapes")
    data = work / "data"
    settings = generate(data, "--refunds", "1200", "--seed", "31", "--fault-rate", "0.4", "--trap-rate", "0.3",
                        "--business-timezone", "Europe/Berlin", "--processor-shapes", "stripe", "paypal",
                        "--storefront-shape", "shopify", "--erp-shape", "netsuite")
    run_id = uuid.uuid4().hex[:8]
    target_schema = f"recon_shapes_{run_id}"
    shape_schemas = {shape: f"{shape}_{run_id}" for shape in ("stripe", "paypal", "shopify", "netsuite")}
    with connect() as con, con.cursor() as cur:
        for shape, schema in shape_schemas.items():
            cur.execute(f"create schema {schema}")
            for path in sorted((data / shape).glob("*.csv")):
                with open(path, encoding="utf-8", newline="") as handle:
                    header = next(csv.reader(handle))
                columns = ", ".join(f'"{column}" text' for column in header)
                cur.execute(f'create table {schema}."{path.stem}" ({columns})')
                with open(path, encoding="utf-8") as handle:
                    cur.copy_expert(f'copy {schema}."{path.stem}" from stdin with (format csv, header true)', handle)
    dbt_vars = {"as_of": settings["as_of"], "business_timezone": settings["business_timezone"],
                **settings["dbt_vars"], **{f"{shape}_schema": schema for shape, schema in shape_schemas.items()}}
    build = run_dbt_in_process("build", "--exclude-resource-type", "unit_test", target="postgres", artifacts=work,
                               dbt_vars=dbt_vars, env={"REFUND_RECON_PG_SCHEMA": target_schema})
    result = {"build": build, "data": data, "variances": []}
    with connect() as con, con.cursor() as cur:
        if build.returncode == 0:
            cur.execute(f"select refund_id, variance_type, discrepancy_system, amount_delta, currency "
                        f"from {target_schema}.fct_refund_variances")
            result["variances"] = cur.fetchall()
        for schema in [*shape_schemas.values(), target_schema, f"{target_schema}_staging",
                       f"{target_schema}_intermediate", f"{target_schema}_mappings"]:
            cur.execute(f"drop schema if exists {schema} cascade")
    return result


def test_shapes_on_postgres_report_exactly_the_labelled_variances(shaped_postgres: dict) -> None:
    import csv

    assert shaped_postgres["build"].returncode == 0, shaped_postgres["build"].stdout[-3000:]
    got = {(refund_id, kind, system, None if delta is None else delta.normalize(), currency)
           for refund_id, kind, system, delta, currency in shaped_postgres["variances"]}
    with open(shaped_postgres["data"] / "ground_truth.csv", encoding="utf-8") as handle:
        want = {(row["refund_id"], row["variance_type"], row["discrepancy_system"],
                 Decimal(row["amount_delta"]).normalize() if row["amount_delta"] else None, row["currency"])
                for row in csv.DictReader(handle)}
    assert any(kind == "locked_period_posting" for _, kind, _, _, _ in want)
    assert got == want


def test_netsuite_history_mode_and_currencies_on_postgres(tmp_path: Path) -> None:
    """The netsuite2_fivetran fixture as Fivetran lands it in a warehouse (history-mode
    accounting lines and periods; `_fivetran_deleted`/`_fivetran_active` boolean,
    `_fivetran_start`/`_fivetran_end` timestamps): current rows only, amounts in the
    transaction currency, the inexact conversion rejected, as on DuckDB."""
    import csv

    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "connectors" / "netsuite2_fivetran"
    tables = {path.stem: path for path in fixture.glob("*.csv") if path.stem not in ("labels", "gl_account_map_additions")}
    tables |= {name: fixture / "history_mode" / f"{name}.csv" for name in ("transactionaccountingline", "accountingperiod")}
    types = {"_fivetran_deleted": "boolean", "_fivetran_active": "boolean", "_fivetran_start": "timestamp",
             "_fivetran_end": "timestamp"}
    run_id = uuid.uuid4().hex[:8]
    netsuite, generic, target = f"netsuite_{run_id}", f"generic_{run_id}", f"recon_ns_{run_id}"
    with connect() as con, con.cursor() as cur:
        cur.execute(f"create schema {netsuite}")
        cur.execute(f"create schema {generic}")
        for table, path in tables.items():
            with open(path, encoding="utf-8", newline="") as handle:
                header = next(csv.reader(handle))
            columns = ", ".join(f'"{column}" {types.get(column, "text")}' for column in header)
            cur.execute(f'create table {netsuite}."{table}" ({columns})')
            with open(path, encoding="utf-8") as handle:
                cur.copy_expert(f'copy {netsuite}."{table}" from stdin with (format csv, header true)', handle)
        for table, columns in INPUT_COLUMNS.items():
            cur.execute(f"create table {generic}.{table} ({', '.join(column + ' text' for column in columns)})")
    dbt_vars = {"as_of": "2025-08-01T00:00:00Z", "erp_shapes": ["netsuite"], "netsuite_schema": netsuite,
                "refund_inputs_schema": generic}
    build = run_dbt_in_process(
        "build", "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test", "--select", "currencies",
        "gl_account_map", "+stg_erp__refund_postings", "+stg_erp__accounting_periods", target="postgres",
        artifacts=tmp_path, dbt_vars=dbt_vars, env={"REFUND_RECON_PG_SCHEMA": target})
    postings, periods = [], []
    with connect() as con, con.cursor() as cur:
        if build.returncode == 0:
            cur.execute(f"select erp_document_id, amount_minor, currency, base_amount_text, base_currency, rejection_reason "
                        f"from {target}_staging.stg_erp__refund_postings order by 1")
            postings = cur.fetchall()
            cur.execute(f"select accounting_period, is_locked_at_as_of from {target}_staging.stg_erp__accounting_periods "
                        f"order by 1")
            periods = cur.fetchall()
        for schema in (netsuite, generic, target, f"{target}_staging", f"{target}_intermediate", f"{target}_mappings"):
            cur.execute(f"drop schema if exists {schema} cascade")
    assert build.returncode == 0, build.stdout[-3000:]
    assert postings == [
        ("301", 4999, "USD", "49.99", "USD", None),
        ("302", 2000, "USD", "20.00", "USD", None),  # the edited version only, once
        ("305", 3700, "JPY", "25.53", "USD", None),
        ("307", 2000, "USD", "20.00", "USD", None),
        ("308", 1200, "GBP", "15.30", "USD", None),
        ("309", None, "EUR", "54.12", "USD", "base amount / exchange rate is not exact at the currency exponent"),
    ]
    assert periods == [("2025-05", True), ("2025-06", False), ("2025-07", False)]  # 2025-06 reopened
