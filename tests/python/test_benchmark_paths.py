"""The benchmark's comparison paths are right before they are fast: on a
generated 25,000-refund scenario the hand-written DuckDB script and the
pandas implementation give exactly the project's variances
(scripts/benchmark.py --smoke, the same run the benchmark makes at every size),
and on the labelled scenario they both equal the ground truth."""

from __future__ import annotations

import string
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd

from conftest import PROJECT_DIR, Build


from pandas_reconcile import reconcile


def truth(build: Build) -> set[tuple]:
    frame = pd.read_csv(build.data_dir / "ground_truth.csv", dtype=str, keep_default_na=False)
    return {(r.refund_id, r.variance_type, r.discrepancy_system, Decimal(r.amount_delta) if r.amount_delta else None,
             r.currency) for r in frame.itertuples()}


def test_reference_sql_equals_ground_truth(labelled_build: Build) -> None:
    settings = labelled_build.settings
    sql = string.Template((PROJECT_DIR / "benchmarks" / "reference.sql").read_text()).substitute(
        data_dir=labelled_build.data_dir, seeds_dir=PROJECT_DIR / "seeds", as_of=settings["as_of"].replace("T", " ")[:19],
        sla_seconds=int(settings["confirmation_sla_minutes"]) * 60, tolerance="0", timezone=settings["business_timezone"])
    with duckdb.connect() as con:
        con.execute(sql)
        found = set(con.sql("select refund_id, variance_type, discrepancy_system, amount_delta, currency "
                            "from variances").fetchall())
    assert found == truth(labelled_build)


def test_pandas_equals_ground_truth(labelled_build: Build) -> None:
    settings = labelled_build.settings
    found = reconcile(labelled_build.data_dir, PROJECT_DIR / "seeds", settings["as_of"],
                      int(settings["confirmation_sla_minutes"]), "0", settings["business_timezone"])
    assert set(found.itertuples(index=False, name=None)) == truth(labelled_build)


def test_benchmark_smoke(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(PROJECT_DIR / "scripts" / "benchmark.py"), "--smoke",
                             "--sizes", "25000", "--work-dir", str(tmp_path)],
                            cwd=PROJECT_DIR, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "reference matches, pandas matches" in result.stdout and "all paths agree" in result.stdout
