"""The money at stake per checkpoint is the variance mart's amount_at_stake,
computed once (int_refund_variances_detected) and recorded per variance per
checkpoint (fct_variance_history): fct_checkpoint_totals, the rows the metric
amount_at_stake_per_checkpoint adds and the report's trend
(recon_runner.marts.attach_trend_money) equal the mart's sums at every
checkpoint, for every variance type (a status mismatch is not worth 0).

A checkpoint sequence in one DuckDB file, dbt only (no runner), on three
generated scenarios of ~300 refunds with every variance type (NetSuite's
period calendar gives locked_period_posting):

  cp1  scenario A at its as_of. Then its record is made as a build from
       before this change left it: the stake columns and checkpoint_id
       dropped from fct_variance_history and unvalued_variance_count from
       fct_checkpoint_totals (dbt adds them back, null, at the next build).
  cp2  A again a day later: nothing new, stale, cp1's open set carried
       forward from those older rows.
  cp3  scenario B: cp2's variances resolved, B's open.
  cp4  scenario C: B's resolved, C's open.

Four `dbt build`s without unit tests (the rule per type is unit-tested in
models/intermediate/int_refund_variances_detected.yml).
"""

from __future__ import annotations

import re
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from conftest import PROJECT_DIR, generate
from dbt_in_process import run_dbt_in_process
from recon_runner.marts import attach_trend_money
from recon_runner.reports import trend_chart

BASIS = dict(re.findall(r"'(\w+)': '(refund|delta)'",
                        (PROJECT_DIR / "macros" / "money" / "amount_at_stake.sql").read_text()))
CHECKPOINTS = [("cp1", "A", "2026-03-02T00:00:00Z"), ("cp2", "A", "2026-03-03T00:00:00Z"),
               ("cp3", "B", "2026-03-04T00:00:00Z"), ("cp4", "C", "2026-03-05T00:00:00Z")]
SEEDS = {"A": "1", "B": "2", "C": "3"}


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    cursor = con.execute(sql, params or [])
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


@pytest.fixture(scope="module")
def sequence(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("stake_history")
    database = work / "recon.duckdb"
    scenarios = {}
    for name, seed in SEEDS.items():
        as_of = next(as_of for _, scenario, as_of in CHECKPOINTS if scenario == name)
        scenarios[name] = (work / name, generate(work / name, "--refunds", "300", "--seed", seed, "--fault-rate",
                                                  "0.6", "--erp-shape", "netsuite", "--as-of", as_of))
    marts, outputs = {}, {}
    for checkpoint, scenario, as_of in CHECKPOINTS:
        data, settings = scenarios[scenario]
        # In the pytest worker's dbt process (dbt_in_process), as conftest's builds; nothing
        # reads the build's JSON artifacts or debug log, so none is written.
        result = run_dbt_in_process("build", "--exclude-resource-type", "unit_test", "--no-write-json",
                                    "--log-level-file", "none", database=database,
                                    dbt_vars={"data_dir": str(data), "as_of": as_of, **settings["dbt_vars"]},
                                    artifacts=work / checkpoint)
        outputs[checkpoint] = result.stdout + result.stderr
        assert result.returncode == 0, outputs[checkpoint][-4000:]
        with duckdb.connect(str(database)) as con:
            marts[checkpoint] = rows(con, """
                select variance_id, variance_type, discrepancy_system, currency, amount_delta, amount_at_stake
                from fct_refund_variances""")
            if checkpoint == "cp1":
                # cp1's record as a build from before this change left it.
                con.execute("alter table fct_variance_history drop column amount_at_stake")
                con.execute("alter table fct_variance_history drop column amount_at_stake_minor")
                con.execute("alter table fct_checkpoint_totals drop column unvalued_variance_count")
                con.execute("alter table fct_variance_history drop column if exists checkpoint_id")
    with duckdb.connect(str(database), read_only=True) as con:
        as_ofs = {checkpoint: con.execute("select cast(? as timestamp)", [as_of[:-1]]).fetchone()[0]
                  for checkpoint, _, as_of in CHECKPOINTS}
        history = rows(con, "select * from fct_variance_history")
        totals = rows(con, "select * from fct_checkpoint_totals where measure like '%variances'")
        runs = rows(con, "select checkpoint_id, as_of, open_variance_count, outcome from fct_checkpoint_runs "
                         "order by as_of")
    trend = [dict(run, kind="checkpoint") for run in runs]
    attach_trend_money(database, trend, max(as_ofs.values()))
    return {"marts": marts, "as_of": as_ofs, "history": history, "totals": totals, "runs": runs,
            "trend": {checkpoint: trend[index] for index, (checkpoint, _, _) in enumerate(CHECKPOINTS)},
            "chart": trend_chart(trend), "database": database}


def summed(items: list[dict], keys: tuple[str, ...], amount: str = "amount_at_stake") -> dict[tuple, Decimal]:
    result: dict[tuple, Decimal] = defaultdict(Decimal)
    for item in items:
        result[tuple(item[key] for key in keys)] += Decimal(str(item[amount]))
    return dict(result)


def variance_totals(sequence: dict, checkpoint: str, measure: str) -> dict[tuple, tuple]:
    return {(row["system"], row["currency"]): (row["record_count"], row["amount"], row["unvalued_variance_count"])
            for row in sequence["totals"] if row["as_of"] == sequence["as_of"][checkpoint]
            and row["measure"] == measure}


def history_at(sequence: dict, checkpoint: str, state: str) -> list[dict]:
    return [row for row in sequence["history"]
            if row["checkpoint_as_of"] == sequence["as_of"][checkpoint] and row["state"] == state]


def test_the_sequence_covers_every_variance_type_and_staleness(sequence: dict) -> None:
    assert [run["outcome"] for run in sequence["runs"]] == [
        "variances_found", "stale_sources", "variances_found", "variances_found"]
    for checkpoint in ("cp1", "cp3", "cp4"):
        assert {row["variance_type"] for row in sequence["marts"][checkpoint]} == set(BASIS), checkpoint
    assert len(BASIS) == 15 and set(BASIS.values()) == {"refund", "delta"}


@pytest.mark.parametrize("checkpoint", ["cp3", "cp4"])
def test_the_totals_are_the_mart_s_amount_at_stake_per_system_and_currency(sequence: dict, checkpoint: str) -> None:
    mart = sequence["marts"][checkpoint]
    counts = summed([dict(row, one=1) for row in mart], ("discrepancy_system", "currency"), "one")
    want = {key: (int(counts[key]), amount, 0)
            for key, amount in summed(mart, ("discrepancy_system", "currency")).items()}
    assert variance_totals(sequence, checkpoint, "open_variances") == want
    # Status, scope, period, reason...: worth the refund's amount, not the 0 of their delta.
    status = [row for row in mart if row["variance_type"] == "status_mismatch"]
    assert status and all(row["amount_at_stake"] > 0 and not row["amount_delta"] for row in status)


@pytest.mark.parametrize("checkpoint", ["cp3", "cp4"])
def test_the_history_records_the_mart_s_figure_for_every_type(sequence: dict, checkpoint: str) -> None:
    mart = {row["variance_id"]: row for row in sequence["marts"][checkpoint]}
    recorded = history_at(sequence, checkpoint, "open")
    assert {row["variance_id"] for row in recorded} == set(mart)
    for row in recorded:
        assert row["amount_at_stake"] == mart[row["variance_id"]]["amount_at_stake"], row
        assert row["amount_at_stake_minor"] == int(row["amount_at_stake"].scaleb(row["minor_units"])), row
    assert summed(recorded, ("variance_type", "currency")) == summed(list(mart.values()),
                                                                     ("variance_type", "currency"))


def test_resolved_variances_keep_their_last_amount_at_stake(sequence: dict) -> None:
    before, after = sequence["marts"]["cp3"], {row["variance_id"] for row in sequence["marts"]["cp4"]}
    gone = [row for row in before if row["variance_id"] not in after]
    counts = summed([dict(row, one=1) for row in gone], ("discrepancy_system", "currency"), "one")
    assert gone and variance_totals(sequence, "cp4", "resolved_variances") == {
        key: (int(counts[key]), amount, 0) for key, amount in summed(gone, ("discrepancy_system", "currency")).items()}


@pytest.mark.parametrize("checkpoint", ["cp3", "cp4"])
def test_the_report_trend_is_the_mart_s_money_per_currency(sequence: dict, checkpoint: str) -> None:
    mart = sequence["marts"][checkpoint]
    counts = summed([dict(row, one=1) for row in mart], ("currency",), "one")
    got = {entry["currency"]: (entry["amount"], entry["count"]) for entry in sequence["trend"][checkpoint]["at_stake"]}
    assert got == {currency: (amount, int(counts[(currency,)]))
                   for (currency,), amount in summed(mart, ("currency",)).items()}
    chart_row = sequence["chart"]["rows"][[name for name, _, _ in CHECKPOINTS].index(checkpoint)]
    assert all(cell is not None for cell in chart_row["money"])


def test_history_written_before_the_stake_is_unknown_never_zero(sequence: dict) -> None:
    """cp1's rows lost their stake (an older build wrote them): the record keeps them null; cp2
    carried them forward (stale) and cp3 resolved them, with the stake where the delta is the
    stake (amount_mismatch, duplicate_erp_posting) and null where it is the refund's amount."""
    assert {row["amount_at_stake"] for row in history_at(sequence, "cp1", "open")} == {None}
    assert {row["unvalued_variance_count"] for row in sequence["totals"]
            if row["as_of"] == sequence["as_of"]["cp1"]} == {None}
    for checkpoint, state in (("cp2", "open"), ("cp3", "resolved")):
        recorded = history_at(sequence, checkpoint, state)
        still_open = {row["variance_id"] for row in sequence["marts"][checkpoint]} if state == "resolved" else set()
        assert recorded and {row["variance_id"] for row in recorded} == {
            row["variance_id"] for row in sequence["marts"]["cp1"]} - still_open
        for row in recorded:
            if BASIS[row["variance_type"]] == "delta":
                assert row["amount_at_stake_minor"] == abs(row["amount_delta_minor"]), row
            else:
                assert row["amount_at_stake_minor"] is None and row["amount_at_stake"] is None, row
        # The totals say how many are unknown, and add no partial sum.
        unknown = summed([dict(row, one=1) for row in recorded if BASIS[row["variance_type"]] == "refund"],
                         ("discrepancy_system", "currency"), "one")
        measure = "open_variances" if state == "open" else "resolved_variances"
        for key, (count, amount, unvalued) in variance_totals(sequence, checkpoint, measure).items():
            assert unvalued == int(unknown.get(key, 0)), (checkpoint, key)
            assert (amount is None) == (unvalued > 0), (checkpoint, key, amount)
    # The trend shows no money where it is not known (a gap), never the older |delta| sum or 0.
    assert sequence["trend"]["cp1"]["at_stake"] is None and sequence["trend"]["cp2"]["at_stake"] is None
    assert sequence["chart"]["rows"][0]["money"] == [None] * len(sequence["chart"]["currencies"])
    assert sequence["chart"]["rows"][1]["money"] == [None] * len(sequence["chart"]["currencies"])


def test_each_history_row_names_its_checkpoint(sequence: dict) -> None:
    """fct_variance_history.checkpoint_id is fct_checkpoint_runs' id of the row's checkpoint_as_of;
    null on cp1's rows, written before the column existed (dbt added it back at cp2)."""
    ids = {run["as_of"]: run["checkpoint_id"] for run in sequence["runs"]}
    assert len(ids) == len(CHECKPOINTS)
    named: dict = defaultdict(set)
    for row in sequence["history"]:
        named[row["checkpoint_as_of"]].add(row["checkpoint_id"])
    assert named == {as_of: {None} if as_of == sequence["as_of"]["cp1"] else {checkpoint_id}
                     for as_of, checkpoint_id in ids.items()}


def test_an_older_totals_row_is_not_read_as_money_at_stake(sequence: dict, tmp_path: Path) -> None:
    """A record whose totals were all written before unvalued_variance_count existed (the column
    absent): the trend has no money for any checkpoint, only counts."""
    copy = tmp_path / "older.duckdb"
    copy.write_bytes(Path(sequence["database"]).read_bytes())
    with duckdb.connect(str(copy)) as con:
        con.execute("alter table fct_checkpoint_totals drop column unvalued_variance_count")
    trend = [dict(run, kind="checkpoint") for run in sequence["runs"]]
    attach_trend_money(copy, trend, max(sequence["as_of"].values()))
    assert [row["at_stake"] for row in trend] == [None] * len(trend)
