"""End to end: build once per scenario, then check the marts against the ground truth.

The generator labels every fault it injects; the project must report exactly
those variances (type, system at fault, delta, currency) and nothing else,
reject exactly the bad rows, and its three-column totals must equal sums
computed here independently with pandas from the raw files.
"""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from conftest import Build, dbt_build

VARIANCE_TYPES = {
    "missing_in_erp", "missing_in_storefront", "missing_at_processor", "orphan_erp_posting",
    "amount_mismatch", "currency_mismatch", "status_mismatch", "partial_refund_collapsed",
    "duplicate_erp_posting", "confirmation_lag", "wrong_period", "unmapped_status",
    "unmapped_reason", "reason_mismatch",
}
INPUTS = ("storefront_refunds", "processor_refunds", "erp_refund_postings")


def read_text_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def read_input(build: Build, name: str) -> pd.DataFrame:
    csv = build.data_dir / f"{name}.csv"
    if csv.exists():
        return read_text_csv(csv)
    return pd.read_parquet(build.data_dir / f"{name}.parquet").fillna("")


def reported(build: Build) -> pd.DataFrame:
    frame = build.query("""
        select refund_id, variance_type, discrepancy_system,
               coalesce(cast(amount_delta as varchar), '') as amount_delta, currency
        from fct_refund_variances
    """)
    frame["amount_delta"] = frame["amount_delta"].map(lambda v: Decimal(v) if v else None)
    return frame


def expected(build: Build) -> pd.DataFrame:
    frame = read_text_csv(build.data_dir / "ground_truth.csv")
    frame["amount_delta"] = frame["amount_delta"].map(lambda v: Decimal(v) if v else None)
    return frame


def keyed(frame: pd.DataFrame, columns: list[str]) -> set[tuple]:
    return set(frame[columns].itertuples(index=False, name=None))


@pytest.mark.parametrize("build_name", ["labelled_build", "parquet_build"])
def test_variance_report_equals_ground_truth(build_name: str, request: pytest.FixtureRequest) -> None:
    build: Build = request.getfixturevalue(build_name)
    key = ["refund_id", "variance_type", "discrepancy_system"]
    got, want = reported(build), expected(build)
    assert len(got) == len(got.drop_duplicates(key)), "one row per (refund, type, system)"
    missed = keyed(want, key) - keyed(got, key)
    extra = keyed(got, key) - keyed(want, key)
    assert not missed, f"{len(missed)} labelled faults not reported, e.g. {sorted(missed)[:5]}"
    assert not extra, f"{len(extra)} variances reported that were not injected, e.g. {sorted(extra)[:5]}"
    # Amounts and currency too, to the minor unit.
    full = key + ["amount_delta", "currency"]
    assert keyed(got, full) == keyed(want, full)


def test_scenario_exercises_every_variance_type(labelled_build: Build) -> None:
    found = set(reported(labelled_build)["variance_type"])
    assert found == VARIANCE_TYPES
    counts = reported(labelled_build).groupby("variance_type").size()
    assert (counts >= 3).all(), counts.to_dict()


def test_variance_rows_are_complete(labelled_build: Build) -> None:
    rows = labelled_build.query("select * from fct_refund_variances")
    assert rows["variance_id"].is_unique
    assert rows["detail"].str.len().min() > 40
    assert not rows["detail"].str.contains("?", regex=False).any(), "a detail sentence lost a value"
    as_of = pd.Timestamp("2026-03-01 00:00:00")
    assert (rows["as_of"] == as_of).all() and (rows["first_detected_at"] == as_of).all()
    assert (rows["days_since_first_detected"] == 0).all()
    missing = rows[rows["variance_type"] == "missing_in_erp"]
    assert missing["erp_amount"].isna().all() and missing["processor_amount"].notna().all()
    assert set(missing["system_of_record_discrepancy"]) == {"storefront has it, processor has it, erp lacks it"}


def test_rejected_rows_are_exactly_the_bad_rows(labelled_build: Build) -> None:
    got = labelled_build.query("""
        select input_name, coalesce(record_id, '') as record_id, rejected_column, rejection_reason,
               source_file, source_row_number
        from fct_rejected_rows
    """)
    want = read_text_csv(labelled_build.data_dir / "expected_rejections.csv")
    columns = ["input_name", "record_id", "rejected_column", "rejection_reason"]
    assert sorted(got[columns].itertuples(index=False, name=None)) == sorted(want[columns].itertuples(index=False, name=None))
    # Each names its file and the row, which holds that record.
    for row in got.itertuples():
        assert row.source_file.endswith(f"{row.input_name}.csv")
        file_row = read_input(labelled_build, row.input_name).iloc[row.source_row_number - 1]
        assert file_row.iloc[0] == row.record_id


def test_rows_are_conserved(labelled_build: Build) -> None:
    """Input rows = rows folded into reconciled records + rejected rows, per input."""
    reconciled = labelled_build.query("""
        select 'storefront_refunds' as input_name, sum(source_row_count) as n from main_intermediate.int_storefront_refunds_deduplicated
        union all select 'processor_refunds', sum(source_row_count) from main_intermediate.int_processor_refunds_collapsed
        union all select 'erp_refund_postings', sum(source_row_count) from main_intermediate.int_erp_postings_deduplicated
    """).set_index("input_name")["n"]
    rejected = labelled_build.query("select input_name, count(*) as n from fct_rejected_rows group by 1").set_index("input_name")["n"]
    for name in INPUTS:
        assert len(read_input(labelled_build, name)) == reconciled[name] + rejected[name], name


def independent_totals(build: Build) -> pd.DataFrame:
    """Per currency, each system's total computed from the raw files with pandas."""
    bad = read_text_csv(build.data_dir / "expected_rejections.csv")
    bad_ids = set(bad["record_id"])

    def amounts(frame: pd.DataFrame, id_column: str, order_by: str) -> pd.DataFrame:
        frame = frame[(frame[id_column] != "") & ~frame[id_column].isin(bad_ids)].copy()
        frame["at"] = pd.to_datetime(frame[order_by], utc=True, format="ISO8601")
        frame["row"] = range(len(frame))
        current = frame.sort_values(["at", "row"]).groupby(id_column).tail(1)
        current = current.assign(currency=current["currency"].str.strip().str.upper(),
                                 amount=current["amount"].map(Decimal))
        return current

    storefront = amounts(read_input(build, "storefront_refunds"), "storefront_refund_id", "updated_at")
    processor = amounts(read_input(build, "processor_refunds"), "processor_refund_id", "event_at")
    erp = amounts(read_input(build, "erp_refund_postings"), "erp_document_id", "received_at")
    erp["amount"] = [-a if gl.strip() == "4950" else a for a, gl in zip(erp["amount"], erp["gl_account"])]
    totals = pd.DataFrame({
        "storefront": storefront.groupby("currency")["amount"].sum(),
        "processor": processor.groupby("currency")["amount"].sum(),
        "erp": erp.groupby("currency")["amount"].sum(),
    })
    return totals.apply(lambda column: column.map(lambda v: Decimal(0) if pd.isna(v) else Decimal(v)))


def test_three_column_totals_match_pandas(labelled_build: Build) -> None:
    mart = labelled_build.query("""
        select currency,
               cast(sum(storefront_refund_total) as varchar) as storefront,
               cast(sum(processor_refund_total) as varchar) as processor,
               cast(sum(erp_refund_total) as varchar) as erp,
               cast(sum(net_variance) as varchar) as net
        from rpt_refund_reconciliation group by currency
    """).set_index("currency")
    want = independent_totals(labelled_build)
    assert set(mart.index) == set(want.index)
    for currency, row in want.iterrows():
        for system in ("storefront", "processor", "erp"):
            assert Decimal(mart.loc[currency, system]) == row[system], (currency, system)
        assert Decimal(mart.loc[currency, "net"]) == row["erp"] - row["storefront"]


def test_three_column_view_per_order(labelled_build: Build) -> None:
    """An order's storefront and processor totals equal the raw current-state amounts of that order."""
    mart = labelled_build.query("""
        select order_id, currency, sum(storefront_refund_total) as storefront, sum(processor_refund_total) as processor
        from rpt_refund_reconciliation where order_id is not null group by all
    """)
    processor = read_input(labelled_build, "processor_refunds")
    processor = processor[processor["processor_refund_id"].str.startswith(("re_0", "88", "PP-", "pr_"))]
    latest = processor.drop_duplicates("processor_refund_id", keep="last")
    by_order = latest.assign(amount=latest["amount"].map(Decimal)).groupby(["order_id", "currency"])["amount"].sum()
    sample = by_order.head(200)
    merged = mart.set_index(["order_id", "currency"])["processor"]
    for key, amount in sample.items():
        assert Decimal(str(merged[key])) == amount, key


def test_dbt_tests_ran_and_passed(labelled_build: Build) -> None:
    """The build ran the unit tests and the conservation tests, and they passed."""
    log = labelled_build.output
    for name in ("assert_input_rows_conserved", "assert_money_conserved",
                 "int_refund_variances_detected::partial_refund_collapsed_replaces_missing_and_amount"):
        assert f"PASS {name}" in log, name
    assert "21 unit tests" in log


def test_missing_required_column_is_a_clear_error(labelled_build: Build, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(labelled_build.data_dir, data)
    erp = read_text_csv(data / "erp_refund_postings.csv").drop(columns=["amount"])
    erp.to_csv(data / "erp_refund_postings.csv", index=False)
    build = dbt_build(tmp_path, data, labelled_build.settings | {"confirmation_sla_minutes": 30},
                      "--select", "base_generic__erp_refund_postings", command="run")
    assert build.returncode != 0
    assert "input 'erp_refund_postings'" in build.output
    assert "missing required column 'amount'" in build.output
    assert str(data / "erp_refund_postings.csv") in build.output
