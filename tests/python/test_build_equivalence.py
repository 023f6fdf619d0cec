"""Every mart the same before and after a change that must not change behaviour (issue 29: the marts
read one stack of input rows, int_input_rows, instead of re-stacking the staging models).

The project at BASE_REVISION (taken with `git archive`, so the repository's history is needed: a
shallow clone fails here with a message) and the working tree build the same files at the same
as_of: the bundled sample, and a generated scenario in connector shapes (Shopify, Stripe + PayPal,
NetSuite with two unreadable calendar rows added) with faults and bad rows. Every table of the
base build, the history marts, fct_rejected_rows and the audit trail included, has the same
columns and types and the same rows (as a multiset) in the working tree's build; columns added
since are not compared.

BASE_REVISION is main just before int_input_rows was merged (acknowledgements, suggested matches,
ERP corrections and the recorded amount at stake included). A later change that is meant to change a
mart's rows moves it to that change's own commit, with the reason in the commit.

By hand at a larger size (issue 29 asks for 100k refunds; the test's scenario is small to stay
under a minute of CPU):

    PYTHONPATH=scripts:tests/python .venv/bin/python -c "from test_build_equivalence import by_hand; by_hand(100000)"
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import duckdb
import pytest

from compare_builds import differences
from conftest import PROJECT_DIR, SAMPLE_DIR, dbt_build_vars, generate
from dbt_in_process import run_dbt_in_process

BASE_REVISION = "d249399b5fed251dfb08c6057cfa0f2185ff3534"

# The marts every build has; each must be among the compared tables.
MARTS = {"fct_rejected_rows", "fct_refund_audit_trail", "fct_refund_variances", "fct_expected_erp_postings",
         "rpt_refund_reconciliation", "fct_variance_history", "fct_checkpoint_runs", "fct_checkpoint_sources",
         "fct_checkpoint_totals"}

# Two calendar rows the period reader rejects: one whose closing date is unreadable (still accepted:
# it locks its period), one whose start is not a date (not accepted).
BAD_CALENDAR_ROWS = ("103,Apr 2026,2026-04-01,2026-04-30,T,closed soon,F,F,T,F,F,F\n"
                     "104,May 2026,01/05/2026,2026-05-31,F,,F,F,T,F,F,F\n")


def export_revision(revision: str, into: Path) -> Path:
    """The project's files at `revision`, without touching the repository's worktrees."""
    archived = subprocess.run(["git", "-C", str(PROJECT_DIR), "archive", "--format=tar", revision],
                              capture_output=True, check=False)
    assert archived.returncode == 0, (
        f"git archive {revision} failed (a shallow clone? `git fetch --unshallow`): {archived.stderr.decode()[-500:]}")
    into.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archived.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into


def build(project_dir: Path, work: Path, data_dir: Path, settings: dict) -> Path:
    """Seeds and models (no tests: the working tree's build is tested elsewhere) into work/recon.duckdb."""
    database = work / "recon.duckdb"
    result = run_dbt_in_process("build", "--exclude-resource-type", "unit_test", "--exclude-resource-type", "test",
                                database=database, dbt_vars=dbt_build_vars(data_dir, settings), artifacts=work,
                                project_dir=project_dir)
    assert result.returncode == 0, f"{project_dir}: {(result.stdout + result.stderr)[-3000:]}"
    return database


def columns(database: Path) -> dict[str, dict[str, str]]:
    with duckdb.connect(str(database), read_only=True) as con:
        rows = con.execute("select schema_name || '.' || table_name, column_name, data_type from duckdb_columns() "
                           "where table_name in (select table_name from duckdb_tables())").fetchall()
    found: dict[str, dict[str, str]] = {}
    for table, column, data_type in rows:
        found.setdefault(table, {})[column] = data_type
    return found


def assert_same_marts(after: Path, before: Path) -> dict[str, tuple[int, int, int]]:
    """Every table of `before` in `after`: its columns with their types, and its rows."""
    before_columns, after_columns = columns(before), columns(after)
    changed = {table: {name: (kind, after_columns.get(table, {}).get(name)) for name, kind in cols.items()
                       if after_columns.get(table, {}).get(name) != kind}
               for table, cols in before_columns.items()}
    changed = {table: cols for table, cols in changed.items() if cols}
    assert not changed, f"columns missing or of another type after the change: {changed}"
    found = differences(str(after), str(before), with_history=True)
    differ = {name: figures for name, figures in found.items() if figures[1] or figures[2]}
    assert not differ, "\n".join(f"{name}: {rows} rows before, {only_after} only after, {only_before} only before"
                                 for name, (rows, only_after, only_before) in differ.items())
    compared = {name.split(".")[-1] for name in found}
    assert MARTS <= compared, f"marts not compared: {MARTS - compared}"
    return found


def connector_scenario(out: Path, refunds: int) -> dict:
    settings = generate(out, "--refunds", str(refunds), "--seed", "29", "--fault-rate", "0.3", "--trap-rate", "0.2",
                        "--bad-rows", "25", "--processor-shapes", "stripe", "paypal", "--storefront-shape", "shopify",
                        "--erp-shape", "netsuite", "--business-timezone", "Europe/Berlin")
    with open(out / "netsuite" / "accountingperiod.csv", "a", encoding="utf-8") as calendar:
        calendar.write(BAD_CALENDAR_ROWS)
    return settings


@pytest.fixture(scope="module")
def base_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    known = subprocess.run(["git", "-C", str(PROJECT_DIR), "cat-file", "-e", f"{BASE_REVISION}^{{commit}}"],
                           capture_output=True, check=False)
    if known.returncode != 0:  # a shallow clone or an export: the proof needs the revision it compares with
        pytest.skip(f"revision {BASE_REVISION[:12]} is not in this repository (shallow clone?): "
                    "`git fetch --unshallow` to run the equivalence proof")
    return export_revision(BASE_REVISION, tmp_path_factory.mktemp("base") / "project")


def test_sample_marts_equal_the_base_revision(base_project: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    # Both built here with the same vars: the shared sample database (make sample-db) names its
    # files by another data_dir, and every row carries its file.
    settings = json.loads((SAMPLE_DIR / "scenario.json").read_text())
    before = build(base_project, tmp_path_factory.mktemp("sample_before"), SAMPLE_DIR, settings)
    after = build(PROJECT_DIR, tmp_path_factory.mktemp("sample_after"), SAMPLE_DIR, settings)
    found = assert_same_marts(after, before)
    assert found["main.fct_rejected_rows"][0] == settings["rows"]["rejections"]


def test_connector_scenario_marts_equal_the_base_revision(base_project: Path,
                                                          tmp_path_factory: pytest.TempPathFactory) -> None:
    work = tmp_path_factory.mktemp("connectors")
    settings = connector_scenario(work / "data", 1500)
    before = build(base_project, work / "before", work / "data", settings)
    after = build(PROJECT_DIR, work / "after", work / "data", settings)
    found = assert_same_marts(after, before)
    # Not a vacuous comparison: bad rows of every input, the calendar's two among them.
    with duckdb.connect(str(after), read_only=True) as con:
        rejected = dict(con.execute("select input_name, count(*) from fct_rejected_rows group by 1").fetchall())
    assert rejected.get("erp_accounting_periods") == 2, rejected
    assert set(rejected) == {"storefront_refunds", "processor_refunds", "erp_refund_postings",
                             "erp_accounting_periods"}, rejected
    assert found["main.fct_refund_audit_trail"][0] > 2 * 1500


def by_hand(refunds: int, work: Path = Path("/tmp/refund_recon_equivalence")) -> None:
    """The connector scenario at `refunds`, before and after, compared; prints each table's figures."""
    import shutil

    shutil.rmtree(work, ignore_errors=True)
    base = export_revision(BASE_REVISION, work / "base")
    settings = connector_scenario(work / "data", refunds)
    before = build(base, work / "before", work / "data", settings)
    after = build(PROJECT_DIR, work / "after", work / "data", settings)
    for name, (rows, only_after, only_before) in assert_same_marts(after, before).items():
        print(f"{name}: {rows:,} rows, equal")
    print(f"{refunds:,} refunds: every table equal to {BASE_REVISION[:12]}", file=sys.stderr)
