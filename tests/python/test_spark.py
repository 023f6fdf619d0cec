"""The same models on Apache Spark give the same marts as DuckDB.

Generates a 10,000-refund scenario (faults, traps, rejected rows, business
timezone Europe/Berlin), builds it on DuckDB and with `dbt build --target
spark` (dbt-spark's `session` method: a local Spark in the dbt process, its
metastore and tables in a folder of the test's own), reads every mart back
with pyspark and compares them row for row, every column. The inputs are the
same CSV files on both engines, so even the rejected rows' file and row
number must agree. Unit tests are left out of both builds here (they add
about four minutes on Spark; `dbt build --target spark` runs them, see
docs/spark.md). Runs when dbt-spark and pyspark are importable
(`pip install -r requirements-spark.txt`) and Java is installed; skips with
the reason otherwise.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import time
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from checkpoint_world import project_copy
from conftest import ACKNOWLEDGED, acknowledgements_seed, dbt_build, generate, normalized
from recon_runner.dbt import run_dbt


def _missing() -> str | None:
    packages = [name for name in ("pyspark", "dbt.adapters.spark") if importlib.util.find_spec(name) is None]
    if packages:
        return (f"Spark packages not installed ({', '.join(packages)}): "
                "pip install -r requirements-spark.txt into this venv to run the Spark comparison")
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        return "no Java on PATH and no JAVA_HOME: a local Spark session needs Java 17"
    return None


# CI (.ci/run) sets REFUND_RECON_REQUIRE_SPARK: there a missing Java or
# pyspark fails the test (test_spark_is_installed) instead of skipping it.
REQUIRED = bool(os.environ.get("REFUND_RECON_REQUIRE_SPARK"))
pytestmark = pytest.mark.skipif(_missing() is not None and not REQUIRED, reason=_missing() or "")


def test_spark_is_installed() -> None:
    assert _missing() is None, _missing()

# fct_variance_acknowledgements: both builds read a project copy whose seed acknowledges variances
# of the scenario in four states (conftest.acknowledgements_seed); `resolved` needs an earlier
# checkpoint and is a dbt unit test, which this engine's build runs too.
# Execution settings only (the same SQL, the same results): on 10,000 refunds, Spark's compiling and
# re-planning of each statement is most of the JVM's CPU (measured 2026-12-07 on this scenario's build:
# 226 CPU-seconds with Spark's defaults, 179 without; 291 s to 174 s of wall time).
SMALL_DATA = {"REFUND_RECON_SPARK_CODEGEN": "false", "REFUND_RECON_SPARK_ADAPTIVE": "false"}
MARTS = ["fct_refund_variances", "rpt_refund_reconciliation", "fct_rejected_rows", "fct_expected_erp_postings",
         "fct_refund_audit_trail", "fct_checkpoint_runs", "fct_variance_history", "fct_checkpoint_totals",
         "fct_checkpoint_sources",
         "fct_proposed_erp_corrections", "fct_suggested_matches", "fct_variance_acknowledgements"]
SPARK_SCHEMA = "refund_recon"


def spark_session(spark_dir: Path):
    """A Spark session on the metastore the build wrote (profiles.yml, target spark)."""
    from pyspark.sql import SparkSession

    return (SparkSession.builder.master("local[2]").appName("refund_recon_test_spark")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.warehouse.dir", str(spark_dir / "warehouse"))
            .config("spark.hadoop.javax.jdo.option.ConnectionURL",
                    f"jdbc:derby:;databaseName={spark_dir / 'metastore_db'};create=true")
            .config("spark.driver.extraJavaOptions", f"-Dderby.stream.error.file={spark_dir / 'derby.log'}")
            .config("spark.ui.enabled", "false")
            .enableHiveSupport().getOrCreate())


def read_spark_marts(spark_dir: Path, columns: dict[str, list[str]]) -> dict[str, list[tuple]]:
    """Every mart's rows, columns in DuckDB's order (Spark puts a partition
    column last). Timestamps are read as the UTC wall time they hold."""
    session = spark_session(spark_dir)
    try:
        rows = {}
        for mart, names in columns.items():
            table = session.table(f"{SPARK_SCHEMA}.{mart}")
            types = dict(table.dtypes)
            select = [f"cast(`{name}` as timestamp_ntz) as `{name}`" if types[name] == "timestamp" else f"`{name}`"
                      for name in names]
            rows[mart] = [tuple(row) for row in table.selectExpr(*select).collect()]
        return rows
    finally:
        session.stop()


def deliver_in_parts(data: Path, input_name: str) -> None:
    """<input>.csv as a folder of two delivery files and a copy of the first
    under another name (a file sent again): both engines read the two parts
    and leave the copy out, by its content. The names have a space and a
    plus sign, which Spark's file paths write as a URI."""
    lines = (data / f"{input_name}.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    (data / f"{input_name}.csv").unlink()
    folder = data / input_name
    folder.mkdir()
    half = len(lines) // 2
    while sum(line.count('"') for line in lines[:half]) % 2:   # not inside a quoted field's line break
        half += 1
    (folder / "2026-02-27.csv").write_text("".join(lines[:half]), encoding="utf-8")
    (folder / "2026-02-28 late+1.csv").write_text(lines[0] + "".join(lines[half:]), encoding="utf-8")
    shutil.copyfile(folder / "2026-02-27.csv", folder / "2026-03-01 resent.csv")


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("spark")
    data = work / "data"
    settings = generate(data, "--refunds", "10000", "--seed", "37", "--fault-rate", "0.4", "--trap-rate", "0.3",
                        "--id-fault-rate", "0.1", "--bad-rows", "30", "--business-timezone", "Europe/Berlin")
    deliver_in_parts(data, "erp_refund_postings")
    (work / "duckdb").mkdir()
    project = project_copy(work / "project", {})
    (project / "seeds" / "variance_acknowledgements.csv").write_text(acknowledgements_seed(data), encoding="utf-8")
    started = time.monotonic()
    duck = dbt_build(work / "duckdb", data, settings, "--exclude-resource-type", "unit_test", project_dir=project)
    duckdb_seconds = time.monotonic() - started

    spark_dir = work / "spark"
    started = time.monotonic()
    spark = run_dbt("build", "--target", "spark", "--exclude-resource-type", "unit_test", dbt_vars=duck.settings,
                    artifacts=work / "spark_artifacts", capture=True, project_dir=project,
                    env={"REFUND_RECON_SPARK_DIR": str(spark_dir), "REFUND_RECON_SPARK_SCHEMA": SPARK_SCHEMA,
                         **SMALL_DATA})
    spark_seconds = time.monotonic() - started
    print(f"\n10,000-refund build: DuckDB {duckdb_seconds:.0f} s, Spark (local session) {spark_seconds:.0f} s")

    result = {"spark": spark, "duckdb": duck, "marts": {}}
    if spark.returncode == 0 and duck.returncode == 0:
        with duckdb.connect(str(duck.database), read_only=True) as local:
            columns = {mart: [name for (name,) in local.execute(
                "select column_name from duckdb_columns() where schema_name = 'main' and table_name = ? "
                "order by column_index", [mart]).fetchall()] for mart in MARTS}
            duckdb_rows = {mart: local.sql(f"select * from main.{mart}").fetchall() for mart in MARTS}
        spark_rows = read_spark_marts(spark_dir, columns)
        result["marts"] = {mart: (spark_rows[mart], duckdb_rows[mart]) for mart in MARTS}
    return result


def test_both_builds_pass_every_test(builds: dict) -> None:
    spark = builds["spark"]
    assert spark.returncode == 0, (spark.stdout + spark.stderr)[-3000:]
    assert builds["duckdb"].returncode == 0, builds["duckdb"].output[-3000:]
    assert "ERROR=0" in spark.stdout and "PASS=" in spark.stdout


def test_each_acknowledgement_state_is_compared(builds: dict) -> None:
    spark_rows, _ = builds["marts"]["fct_variance_acknowledgements"]
    with duckdb.connect(str(builds["duckdb"].database), read_only=True) as con:
        states = [row[0] for row in con.execute(
            "select acknowledgement_state from fct_variance_acknowledgements order by 1").fetchall()]
    assert states == sorted(ACKNOWLEDGED) and len(spark_rows) == len(ACKNOWLEDGED)


@pytest.mark.parametrize("mart", MARTS)
def test_marts_match_row_for_row(builds: dict, mart: str) -> None:
    spark_rows, duckdb_rows = builds["marts"][mart]
    assert duckdb_rows, f"{mart} is empty: nothing was compared"
    spark_counts, duckdb_counts = Counter(normalized(spark_rows)), Counter(normalized(duckdb_rows))
    only_spark, only_duckdb = spark_counts - duckdb_counts, duckdb_counts - spark_counts
    assert not only_spark and not only_duckdb, (
        f"{mart}: {sum(only_spark.values())} rows only on Spark, {sum(only_duckdb.values())} only on DuckDB; "
        f"first of each: {list(only_spark)[:3]} / {list(only_duckdb)[:3]}")
