"""Checkpoint verdicts after sequences of runs, failures and deliveries.

Each explicit test is a sequence that once gave a wrong verdict (issue 13's
observations 1-6 and 9); the state machine at the end tries sequences of
deliveries (clean, faulty, dated past the clock, a bad row at a row number
seen before, corrections, repeats), checkpoints (later, again, backfilled,
failed, killed): test_checkpoint_state_machine.py, its own file so that a
pytest worker runs it beside the rest of the suite.

Every failure the state machine finds becomes an explicit test here.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from checkpoint_world import START, World, cp_id, project_copy
from conftest import PROJECT_DIR

pytestmark = pytest.mark.slow


def variance_types(world: World, refund_id: str) -> set[str]:
    with duckdb.connect(str(world.database), read_only=True) as con:
        return {row[0] for row in con.execute(
            "select variance_type from fct_refund_variances where refund_id = ?", [refund_id]).fetchall()}


def summary(world: World, as_of) -> dict:
    return json.loads((world.reports / cp_id(as_of) / "summary.json").read_text())


def test_a_failed_checkpoint_does_not_make_a_repeat_look_clean(world_root: Path) -> None:
    """Observation 1: clean at 12:00, the ERP input missing at 13:00, the same
    files again at 14:00: a repeat is stale (exit 2), and the report is written."""
    world = World(world_root)
    day = START + timedelta(hours=10)
    world.deliver([world.refund_rows(day), world.refund_rows(day + timedelta(minutes=30))])
    assert world.checkpoint(START + timedelta(hours=12)).returncode == 0
    world.failed_checkpoint(START + timedelta(hours=13))
    repeat = world.checkpoint(START + timedelta(hours=14))
    assert repeat.returncode == 2, repeat.stdout[-2000:]
    assert "nothing new since cp_20260301T120000Z" in repeat.stdout
    assert (world.reports / "cp_20260301T140000Z" / "report.html").exists()
    with duckdb.connect(str(world.database), read_only=True) as con:
        attempts = con.execute("select checkpoint_id, outcome, exit_code from checkpoint_attempts "
                               "order by started_at, checkpoint_id").fetchall()
    assert attempts == [("cp_20260301T120000Z", "clean", 0), ("cp_20260301T130000Z", "failed", 3),
                        ("cp_20260301T140000Z", "stale_sources", 2)]


def test_bad_rows_at_the_same_row_number_in_two_deliveries(world_root: Path) -> None:
    """Observation 2: two delivery files with a bad row at row 1 are two rejected rows, not a failed checkpoint."""
    world = World(world_root)
    world.deliver([world.refund_rows(START + timedelta(hours=1))], bad_row_first=True)
    world.deliver([world.refund_rows(START + timedelta(hours=2))], bad_row_first=True)
    result = world.checkpoint(START + timedelta(hours=6))
    assert result.returncode == 1, result.stdout[-2000:]
    with duckdb.connect(str(world.database), read_only=True) as con:
        ids = [row[0] for row in con.execute("select rejected_row_id from fct_rejected_rows").fetchall()]
    assert len(ids) == 6 and len(set(ids)) == 6


def test_a_row_dated_past_the_clock_is_judged_again_later(world_root: Path) -> None:
    """Observation 3: an ERP posting dated three days after its refund,
    delivered early, is rejected while it lies in the future and read once the
    clock passes it: confirmation_lag, never missing_in_erp."""
    world = World(world_root)
    confirmed = START + timedelta(days=9, hours=10)           # 03-10
    late = world.refund_rows(confirmed, erp_received=START + timedelta(days=12, hours=9))  # 03-13
    world.deliver([late, world.refund_rows(confirmed)])
    first = world.checkpoint(START + timedelta(days=9, hours=18))
    assert first.returncode == 1 and "is more than a day after as_of" in first.stdout
    world.deliver([world.refund_rows(START + timedelta(days=12, hours=8))])
    world.checkpoint(START + timedelta(days=12, hours=12))
    assert variance_types(world, "re_0001") == {"confirmation_lag"}


def test_a_rejected_row_is_never_clean(world_root: Path) -> None:
    """Observation 4: one unreadable ERP row among clean data: variances_found, and the message says so."""
    world = World(world_root)
    world.deliver([world.refund_rows(START + timedelta(hours=1))])
    world.deliver([], systems=("erp",), bad_row_first=True)
    result = world.checkpoint(START + timedelta(hours=6))
    assert result.returncode == 1
    assert "VARIANCES FOUND: 0 open, 1 input rows rejected." in result.stdout
    assert "New since the last checkpoint: 0; resolved: 0." in result.stdout
    assert "erp_refund_postings missing erp_document_id 1" in result.stdout


def test_a_tolerance_forgives_amounts_only(world_root: Path) -> None:
    """Issue 24, observation 5, over days: a wrong ERP amount within
    --tolerate-amount exits 0; the next day a never-booked refund beside it
    exits 1 whatever the tolerance; the oracle (checkpoint_world.tolerated)
    judges each from a fresh build."""
    world = World(world_root)
    world.deliver([world.refund_rows(START + timedelta(hours=1), erp_amount="1.00")])
    first = world.checkpoint(START + timedelta(hours=6), tolerate=Decimal("1000"))
    assert first.returncode == 0 and "within --tolerate-amount 1000" in first.stdout
    log = world.database.with_name(world.database.name + ".dbt") / "logs" / "dbt.log"
    first_part = log.stat().st_size
    # (the ERP books another refund that day: an ERP file with no new row is nothing new, stale)
    world.deliver([world.refund_rows(START + timedelta(hours=7), with_erp=False),
                   world.refund_rows(START + timedelta(hours=7, minutes=5))])
    second = world.checkpoint(START + timedelta(hours=12), tolerate=Decimal("1000000"))
    assert second.returncode == 1, second.stdout[-2000:]
    # The clock is not a dbt var (env REFUND_RECON_AS_OF): the second checkpoint reused the first's
    # parse, and the oracle (a fresh build) found its marts equal all the same.
    with log.open(encoding="utf-8") as handle:
        handle.seek(first_part)
        second_part = handle.read()
    assert "Unable to do partial parsing" not in second_part, "a later checkpoint parsed the whole project"
    assert "Nothing changed, skipping partial parsing" in second_part


def test_a_mapping_edit_never_makes_a_never_booked_refund_clean(world_root: Path) -> None:
    """Issue 24, observation 1, over days: a settled refund the ERP never booked;
    the seed then maps the processor's settled status to pending (and, later,
    keeps it succeeded but not final): each checkpoint fails on the mapping
    contract and changes nothing; restored, the refund is a variance again."""
    world = World(world_root)
    world.deliver([world.refund_rows(START + timedelta(hours=1), with_erp=False),
                   world.refund_rows(START + timedelta(hours=1, minutes=5))])
    assert world.checkpoint(START + timedelta(hours=3)).returncode == 1
    world.edit_mapping("settled_to_pending")
    world.deliver([world.refund_rows(START + timedelta(hours=4))])
    assert world.checkpoint(START + timedelta(hours=6)).returncode == 3
    world.edit_mapping("settled_not_final")
    assert world.checkpoint(START + timedelta(hours=7)).returncode == 3
    world.edit_mapping("restore")
    assert world.checkpoint(START + timedelta(hours=8)).returncode == 1


def test_a_checkpoint_reads_the_seeds_of_its_own_project_folder(world_root: Path) -> None:
    """dbt reuses its saved parse while the project's files are unchanged, and loads each seed
    from the folder it was parsed in. A checkpoint from a copy of the project (another checkout,
    a release folder), the copy's reason map then edited, and a checkpoint from the project
    itself on the same database: the second must read the project's own map, where the storefront
    reason `broken` has no row (unmapped_reason, exit 1), not the copy's, where it maps (a false
    clean before the runner kept a saved parse to the folder it was made from)."""
    world = World(world_root)
    world.project = project_copy(world.root / "project", {})
    world.deliver([world.refund_rows(START + timedelta(hours=1))])
    assert world.checkpoint(START + timedelta(hours=3)).returncode == 0
    reasons = world.project / "seeds" / "refund_reason_map.csv"
    reasons.write_text(reasons.read_text(encoding="utf-8") + "storefront,generic,broken,damaged_or_defective,RC-DMG\n",
                       encoding="utf-8")
    world.project = PROJECT_DIR
    broken = world.refund_rows(START + timedelta(hours=4))
    broken["storefront"][0][6] = "broken"
    world.deliver([broken])
    later = world.checkpoint(START + timedelta(hours=6))
    assert later.returncode == 1, later.stdout[-2000:]
    assert variance_types(world, "re_0002") == {"unmapped_reason"}


def test_the_clean_message_compares_like_with_like(world_root: Path) -> None:
    """Observation 5: pending and failed refunds are in the storefront and the
    processor but not the ledger; the confirmation counts the refunds the
    ledger must book, so its net variance is literally zero."""
    world = World(world_root)
    moment = START + timedelta(hours=1)
    world.deliver([world.refund_rows(moment), world.refund_rows(moment, status="pending"),
                   world.refund_rows(moment, status="failed")])
    result = world.checkpoint(START + timedelta(hours=6))
    assert result.returncode == 0, result.stdout[-2000:]
    assert ("USD storefront 11.00 / processor 11.00 / ERP 11.00, net variance (ERP - storefront) 0.00"
            in result.stdout)
    totals = summary(world, START + timedelta(hours=6))["booked_totals"]
    assert totals == [{"currency": "USD", "minor_units": 2, "storefront_total": "11.00", "processor_total": "11.00",
                       "erp_total": "11.00", "net_variance": "0.00", "storefront_refunds": 1,
                       "processor_refunds": 1, "erp_postings": 1}]


def test_a_failed_or_killed_backfill_changes_nothing(world_root: Path) -> None:
    """Observation 6: a backfill that fails or is killed writes no history and
    replaces no mart; the next day keeps each variance's first-detected date."""
    world = World(world_root)
    world.deliver([world.refund_rows(START + timedelta(hours=1), erp_amount="1.00")])
    world.checkpoint(START + timedelta(hours=6))
    world.deliver([world.refund_rows(START + timedelta(days=1, hours=1))])
    world.checkpoint(START + timedelta(days=1, hours=6))
    world.killed_checkpoint(START + timedelta(hours=3))
    world.failed_checkpoint(START + timedelta(hours=3))
    world.deliver([world.refund_rows(START + timedelta(days=2, hours=1))])
    world.checkpoint(START + timedelta(days=2, hours=6))
    with duckdb.connect(str(world.database), read_only=True) as con:
        first = con.execute("select first_detected_at from fct_refund_variances where refund_id = 're_0001'").fetchall()
    assert first == [(START + timedelta(hours=6),)]


def test_the_build_counts_the_rows_the_runner_reports(world_root: Path) -> None:
    """Observation 9: a field with a quoted line break; the rows reported are the rows the build read."""
    world = World(world_root)
    rows = world.refund_rows(START + timedelta(hours=1))
    rows["storefront"][0][10] = "online\nweb shop"  # channel, quoted by the CSV writer
    world.deliver([rows, world.refund_rows(START + timedelta(hours=2))])
    result = world.checkpoint(START + timedelta(hours=6))
    assert "0 rows" not in result.stdout
    assert summary(world, START + timedelta(hours=6))["rows_read"] == {"storefront": 2, "processor": 4, "erp": 2}


READER = """
import sys, time, duckdb, pathlib
con = duckdb.connect(sys.argv[1], read_only=True)
count = lambda: con.execute("select count(*) from fct_checkpoint_runs").fetchone()[0]
print(count(), flush=True)
while not pathlib.Path(sys.argv[2]).exists():
    time.sleep(0.1)
print(count(), flush=True)
"""


def test_a_reader_never_blocks_a_checkpoint_and_keeps_a_whole_state(tmp_path: Path, world_root: Path) -> None:
    """A BI tool (another process) with the database open read-only does not
    make the next checkpoint busy, and keeps reading the complete state it
    opened; a new connection sees the new checkpoint."""
    import subprocess
    import sys

    world = World(world_root)
    world.deliver([world.refund_rows(START + timedelta(hours=1), erp_amount="1.00")])
    world.checkpoint(START + timedelta(hours=6))
    done = tmp_path / "checkpoint_done"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(world.database), str(done)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().strip() == "1"
        world.deliver([world.refund_rows(START + timedelta(days=1, hours=1))])
        result = world.checkpoint(START + timedelta(days=1, hours=6))
        assert result.returncode == 1, result.stdout[-2000:]
    finally:
        done.touch()
    assert reader.stdout.readline().strip() == "1"
    assert reader.wait(timeout=60) == 0
    with duckdb.connect(str(world.database), read_only=True) as con:
        assert con.execute("select count(*) from fct_checkpoint_runs").fetchone()[0] == 2
