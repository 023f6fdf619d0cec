"""fct_suggested_matches on a labelled scenario with dropped and mistyped
processor refund ids (generate_sample_data.py --id-fault-rate): the quality
targets of issue 26 (rank 1 right for at least 95% of the planted faults, at
least 95% of the rank-1 suggestions shown right), each pair from both sides,
both variances still open; and none on the bundled sample, whose unlinked
records have no counterpart. One dbt build of the suggestion path; the
larger figures are in BENCHMARKS.md (scripts/suggestion_quality.py).
"""

from __future__ import annotations

import csv
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from conftest import Build, dbt_build, generate
from suggestion_quality import measure, read_truth

from recon_runner.checkpoint import checkpoint_id_at
from recon_runner.dbt import relation

UNLINKED_TYPES = ("orphan_erp_posting", "missing_in_erp", "missing_at_processor", "missing_in_storefront")


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    work = tmp_path_factory.mktemp("suggested_matches")
    settings = generate(work / "data", "--refunds", "1500", "--seed", "23", "--id-fault-rate", "0.25")
    result = dbt_build(work, work / "data", settings, "--select", "+fct_suggested_matches",
                       "--exclude-resource-type", "unit_test", "--indirect-selection", "cautious")
    assert result.returncode == 0, result.output[-4000:]
    return result


@pytest.fixture(scope="module")
def con(build: Build):
    with duckdb.connect(str(build.database), read_only=True) as connection:
        yield connection


@pytest.fixture(scope="module")
def quality(build: Build, con) -> dict:
    # Everything the mart shows, at its default threshold (var suggested_match_min_score).
    return measure(con, read_truth(build.data_dir / "suggestion_truth.csv"), Decimal(0),
                   relation("fct_suggested_matches", build.database.parent))


def test_rank_one_is_the_true_counterpart_for_95_percent_of_planted_faults(quality: dict) -> None:
    # Every kind of fault on both systems was planted, so the share covers each.
    assert set(quality["found_by_fault"]) == {f"{system}:{fault}" for system in ("erp", "storefront")
                                              for fault in ("dropped", "digit_changed", "swapped", "truncated")}
    assert all(counts["planted"] >= 5 for counts in quality["found_by_fault"].values()), quality
    assert quality["found_share"] >= 0.95, quality


def test_95_percent_of_rank_one_suggestions_shown_are_right(build: Build, con, quality: dict) -> None:
    # Not vacuous: beside the planted faults the scenario holds unlinked records
    # with no true counterpart, near twins among them (same currency and amount,
    # within the hour, another order), each of which a careless matcher pairs.
    truth = read_truth(build.data_dir / "suggestion_truth.csv")
    with open(build.data_dir / "ground_truth.csv", newline="", encoding="utf-8") as handle:
        unlinked = [row for row in csv.DictReader(handle) if row["variance_type"] in UNLINKED_TYPES]
    paired = {record_id for _, record_id in truth} | {processor_id for processor_id, _ in truth.values()}
    without_counterpart = [row for row in unlinked if row["refund_id"] not in paired]
    assert len(without_counterpart) >= 100, len(without_counterpart)
    assert quality["rank1_shown"] >= 2 * quality["planted"] * 0.95, quality
    assert quality["right_share"] >= 0.95, quality


def test_each_pair_is_listed_from_both_sides_with_the_same_evidence(con) -> None:
    rows = con.execute("""
        select variance_id, candidate_variance_id, system, record_id, candidate_system, candidate_record_id,
               order_id_matches, amount_delta, currency, time_delta_minutes, score
        from main.fct_suggested_matches""").fetchall()
    assert rows
    seen = {(row[0], row[1]): row for row in rows}
    for row in rows:
        other = seen.get((row[1], row[0]))
        assert other is not None, f"listed from one side only: {row}"
        assert (other[2], other[3], other[4], other[5]) == (row[4], row[5], row[2], row[3])
        assert other[6:] == row[6:], (row, other)


def test_both_variances_stay_open(build: Build, con) -> None:
    # The variances of the unlinked types are exactly the labels: a suggestion
    # closes nothing, and every suggested pair is two open variances.
    with open(build.data_dir / "ground_truth.csv", newline="", encoding="utf-8") as handle:
        expected = sorted((row["refund_id"], row["variance_type"]) for row in csv.DictReader(handle)
                          if row["variance_type"] in UNLINKED_TYPES)
    found = sorted(con.execute(
        "select refund_id, variance_type from main.fct_refund_variances where variance_type in (?, ?, ?, ?)",
        list(UNLINKED_TYPES)).fetchall())
    assert found == expected
    orphans = con.execute("""
        select count(*) from main.fct_suggested_matches as suggestions
        left join main.fct_refund_variances as variances
            on suggestions.candidate_variance_id = variances.variance_id
        where variances.variance_id is null""").fetchone()[0]
    assert orphans == 0


def test_each_suggestion_names_its_checkpoint(build: Build, con) -> None:
    as_of = datetime.fromisoformat(build.settings["as_of"].replace("Z", "+00:00"))
    assert con.execute("select distinct checkpoint_id from main.fct_suggested_matches").fetchall() == [
        (checkpoint_id_at(as_of),)]


def test_the_sample_shows_no_suggestion(sample_build: Build) -> None:
    # The bundled sample's 22 unlinked records (ghost postings, storefront
    # refunds with unknown ids) have no counterpart: nothing is suggested.
    with duckdb.connect(str(sample_build.database), read_only=True) as connection:
        unlinked = connection.execute(
            "select count(*) from main.fct_refund_variances where variance_type in (?, ?, ?, ?)",
            list(UNLINKED_TYPES)).fetchone()[0]
        shown = connection.execute("select count(*) from main.fct_suggested_matches").fetchone()[0]
    assert unlinked == 22
    assert shown == 0


def test_the_report_shows_suggestions_under_the_unlinked_variance() -> None:
    # Hand-written inputs (report_inputs.py): v2 is a refund missing in the ERP;
    # its suggested posting, with a hostile id and reason, is listed under it as
    # text, linked to the candidate's own row, the best first; v1 shows none.
    import report_inputs as given
    from html_probe import Page
    from recon_runner.reports import render

    details = given.details()
    details["suggestions"] = {"v2": [
        {"variance_id": "v2", "candidate_variance_id": "v9", "candidate_system": "erp",
         "candidate_record_id": "<img src=x>", "order_id_matches": True, "amount_delta": Decimal("0"),
         "currency": "USD", "minor_units": 2, "time_delta_minutes": 4, "score": Decimal("0.8600"), "rank": 1,
         "reason": "The ERP posting <img src=x> may be processor refund re_usd_big; same order ord_v2."},
        {"variance_id": "v2", "candidate_variance_id": "v10", "candidate_system": "erp",
         "candidate_record_id": "CR-2", "order_id_matches": True, "amount_delta": Decimal("-8.00"),
         "currency": "USD", "minor_units": 2, "time_delta_minutes": 30, "score": Decimal("0.7200"), "rank": 2,
         "reason": "The ERP posting CR-2 may be processor refund re_usd_big; same order ord_v2."},
    ]}
    report, _ = render(given.summary(), given.variances(), details)
    assert "<img src=x>" not in report
    rows = {row.attrs["id"]: row for row in Page(report).tables["variances"]}
    detail = rows["variance-v2"].cells[8]
    assert "Suggested match" in detail and "never applied" in detail
    # The page holds the id escaped (above); read back as text it is the id.
    assert detail.index("erp <img src=x>, score 0.86") < detail.index("erp CR-2, score 0.72")
    assert "#variance-v9" in rows["variance-v2"].links and "#variance-v10" in rows["variance-v2"].links
    assert "Suggested match" not in rows["variance-v1"].cells[8]


def test_the_runner_reads_each_variance_s_best_suggestions(build: Build, con) -> None:
    from recon_runner.marts import SUGGESTIONS_SHOWN, read_suggestions

    units = dict(con.execute("select currency, minor_units from main_mappings.currencies").fetchall())
    suggestions = read_suggestions(build.database, units)
    expected = con.execute(
        "select variance_id, count(*) from main.fct_suggested_matches where rank <= ? group by 1",
        [SUGGESTIONS_SHOWN]).fetchall()
    assert {key: len(rows) for key, rows in suggestions.items()} == dict(expected)
    for rows in suggestions.values():
        assert [row["rank"] for row in rows] == list(range(1, len(rows) + 1))
        # Amounts at the currency's exponent (JPY 0 decimals, KWD 3), as the report shows them.
        assert all(-row["amount_delta"].as_tuple().exponent == units[row["currency"]] for row in rows)
