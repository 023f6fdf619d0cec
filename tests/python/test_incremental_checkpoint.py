"""The incremental daily checkpoint (issue 5): N daily checkpoints over delivery folders equal one full build.

One labelled scenario is split into a history file and three daily deliveries per
input (scripts/split_deliveries.py). The deliveries arrive one day at a time and
each day is checkpointed at its own as_of, incrementally; on day 2 a run that
stopped after staging comes first (its rows must not count twice). Then one full
build reads all the files at the last as_of. Every model must hold the same rows
(scripts/compare_builds.py), and each trigger of a full recompute must fire.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from compare_builds import differences
from conftest import PROJECT_DIR, Build, dbt_build, generate
from split_deliveries import split

DAYS = 3
INPUTS = ("storefront_refunds", "processor_refunds", "erp_refund_postings")
CHECKPOINT = ("--exclude-resource-type", "unit_test")


def touched_count(build: Build) -> int:
    return int(build.query("select count(*) as n from main_intermediate.int_checkpoint_touched_keys")["n"][0])


def deliver(deliveries: Path, data: Path, day: int) -> None:
    for name in INPUTS:
        (data / name).mkdir(parents=True, exist_ok=True)
        shutil.copy2(deliveries / name / f"day-{day:03d}.csv", data / name / f"day-{day:03d}.csv")


@pytest.fixture(scope="module")
def daily(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("daily")
    settings = generate(root / "scenario", "--refunds", "1500", "--seed", "23", "--fault-rate", "0.4",
                        "--trap-rate", "0.3", "--bad-rows", "10", "--business-timezone", "America/New_York")
    manifest = split(root / "scenario", root / "deliveries", DAYS)
    data = root / "data"
    builds, touched = [], []
    for day in range(DAYS + 1):
        deliver(root / "deliveries", data, day)
        day_settings = {**settings, "as_of": manifest["as_of"][day]}
        if day == 2:
            # A checkpoint that stopped after staging: its rows are in staging,
            # the state still says day 1.
            stopped = dbt_build(root / "incremental", data, day_settings, "--select", "staging", command="run")
            assert stopped.returncode == 0, stopped.output[-3000:]
        build = dbt_build(root / "incremental", data, day_settings, *CHECKPOINT)
        assert build.returncode == 0, build.output[-4000:]
        builds.append(build)
        touched.append(touched_count(build))
    full = dbt_build(root / "full", data, {**settings, "as_of": manifest["as_of"][-1]}, *CHECKPOINT)
    assert full.returncode == 0, full.output[-4000:]
    return {"root": root, "data": data, "settings": settings, "manifest": manifest, "builds": builds,
            "touched": touched, "full": full}


def test_every_model_after_daily_checkpoints_equals_a_full_build(daily: dict) -> None:
    found = differences(str(daily["builds"][-1].database), str(daily["full"].database))
    for model in ("main_staging.stg_processor__refund_events", "main_intermediate.int_refunds_matched",
                  "main_intermediate.int_refund_variances_detected", "main.fct_refund_variances",
                  "main.rpt_refund_reconciliation", "main.fct_expected_erp_postings", "main.fct_rejected_rows"):
        assert found[model][0] > 0, f"{model} is empty: the comparison would prove nothing"
    assert {name: figures for name, figures in found.items() if figures[1] or figures[2]} == {}


def test_each_day_after_the_first_recomputed_only_what_its_delivery_touched(daily: dict) -> None:
    builds, touched = daily["builds"], daily["touched"]
    assert touched[0] == 0  # the first checkpoint builds everything
    refunds = int(daily["full"].query("select count(*) as n from main_intermediate.int_refunds_matched")["n"][0])
    for day in range(1, DAYS + 1):
        assert 0 < touched[day] < refunds / 2, f"day {day}: {touched[day]} touched ids of {refunds} refunds"
    state = builds[-1].query("select source_file, as_of from main_intermediate.int_checkpoint_state")
    assert len(state) == len(INPUTS) * (DAYS + 1)
    assert set(state["as_of"]) == {pd.Timestamp(daily["manifest"]["as_of"][-1].rstrip("Z"))}


def test_daily_history_ages_variances_across_checkpoints(daily: dict) -> None:
    last = daily["builds"][-1]
    runs = last.query("select as_of, outcome from fct_checkpoint_runs order by as_of")
    assert len(runs) == DAYS + 1
    assert set(runs["outcome"]) == {"variances_found"}
    ages = last.query("select days_since_first_detected as age from fct_refund_variances")["age"]
    assert ages.max() == DAYS and ages.min() == 0
    # The full build saw every variance for the first time.
    assert set(daily["full"].query("select days_since_first_detected as age from fct_refund_variances")["age"]) == {0}


def copy_of_daily_checkpoint(daily: dict, name: str) -> Path:
    """A work folder holding a copy of the daily checkpoints' database: one more checkpoint there changes nothing else."""
    work = daily["root"] / name
    work.mkdir()
    shutil.copy(daily["builds"][-1].database, work / "recon.duckdb")
    return work


def was_incremental(work: Path) -> bool:
    """Did the last checkpoint in `work` read only unread deliveries (the incremental path)?"""
    compiled = work.joinpath("target", "compiled", "refund_recon", "models", "staging", "processor",
                             "stg_processor__refund_events.sql").read_text(encoding="utf-8")
    return "where source_file not in (" in compiled


def test_the_runner_checkpoints_delivery_folders_incrementally(daily: dict) -> None:
    work = copy_of_daily_checkpoint(daily, "runner")
    result = subprocess.run(
        [sys.executable, str(PROJECT_DIR / "scripts" / "checkpoint.py"), "run", "--data-dir", str(daily["data"]),
         "--as-of", daily["manifest"]["as_of"][-1], "--business-timezone", daily["settings"]["business_timezone"],
         "--database", str(work / "recon.duckdb"), "--reports-dir", str(work / "reports")],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=600,
        env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
    )
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-2000:]  # variances_found
    assert f"{DAYS + 1} delivery files in processor_refunds/, the latest day-{DAYS:03d}.csv" in result.stdout
    assert "START sql incremental model main_intermediate.int_refunds_matched" in result.stdout
    assert was_incremental(PROJECT_DIR)  # the runner compiles into the project's target/
    with duckdb.connect(str(work / "recon.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from fct_refund_variances").fetchone()[0] == \
            daily["full"].query("select count(*) as n from fct_refund_variances")["n"][0]


def test_a_setting_an_earlier_clock_or_a_rewritten_delivery_recompute_everything(daily: dict) -> None:
    settings = {**daily["settings"], "as_of": daily["manifest"]["as_of"][-1]}
    runs = {
        "unchanged": settings,
        "new_setting": {**settings, "amount_tolerance": 1000},
        "earlier_clock": {**settings, "as_of": daily["manifest"]["as_of"][1]},
    }
    for name, run_settings in runs.items():
        work = copy_of_daily_checkpoint(daily, name)
        build = dbt_build(work, daily["data"], run_settings, *CHECKPOINT)
        assert build.returncode == 0, build.output[-3000:]
        assert was_incremental(work) == (name == "unchanged"), name
        if name == "new_setting":
            # The new tolerance applies to every refund, not just the touched ones.
            mismatches = "select count(*) as n from fct_refund_variances where variance_type = 'amount_mismatch'"
            assert build.query(mismatches)["n"][0] < daily["full"].query(mismatches)["n"][0]

    # Last, as it changes the shared data folder: a delivery already read is
    # rewritten (deliveries are append-only; this one was not).
    work = copy_of_daily_checkpoint(daily, "rewritten")
    first = daily["data"] / "processor_refunds" / "day-001.csv"
    lines = first.read_text(encoding="utf-8").splitlines()
    first.write_text("\n".join([*lines, lines[1]]) + "\n", encoding="utf-8")
    build = dbt_build(work, daily["data"], settings, *CHECKPOINT)
    assert build.returncode == 0, build.output[-3000:]
    assert not was_incremental(work)


def test_every_var_that_changes_results_is_in_the_fingerprint() -> None:
    used = set()
    for path in [*PROJECT_DIR.joinpath("macros").rglob("*.sql"), *PROJECT_DIR.joinpath("models").rglob("*.sql"),
                 *PROJECT_DIR.joinpath("models").rglob("*.yml")]:
        used |= set(re.findall(r"var\(\s*'([a-z_]+)'", path.read_text(encoding="utf-8")))
    macro = PROJECT_DIR.joinpath("macros", "checkpoint", "incremental_checkpoint.sql").read_text(encoding="utf-8")
    listed = macro.split("macro checkpoint_setting_vars()", 1)[1].split("endmacro", 1)[0]
    fingerprinted = set(re.findall(r"'([a-z_]+)'", listed))
    # The clock has its own rule; the rest change no row of an incremental model.
    not_results = {"as_of", "refund_recon_lint", "read_inputs_from_files", "source_freshness_hours",
                   "storefront_loaded_at_field", "processor_loaded_at_field", "erp_loaded_at_field"}
    assert used - fingerprinted - not_results == set()
    assert fingerprinted - used == set(), "a listed var the project does not read"
