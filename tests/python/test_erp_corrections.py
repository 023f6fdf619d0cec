"""Proposed ERP corrections close the loop (issue 26, section 3).

The checkpoint writes corrections.csv beside its report; appended as one
more ERP delivery, a checkpoint at the same as_of resolves every ERP-side
variance it proposed an entry for, opens none but confirmation_lag (a
correction booked now may itself be late), and rejects no row. Shown over
the generator's faults: one labelled scenario through the runner (an
explicit test per ERP-side variance type), and a hypothesis property over
small scenarios (dbt builds, corrections written by the runner's own code).
Reversals that break the contract (unknown document, reversed twice, another
amount or currency, not a `reversed` account, a reversal reversed) are
rejected rows with their reason, never silently dropped.

Profiles: `ci` (default) tries 2 scenarios; `long` 12
(HYPOTHESIS_PROFILE=long).
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import PROJECT_DIR, dbt_build, generate
from recon_runner.marts import read_corrections
from recon_runner.reports import CORRECTIONS_CSV_COLUMNS, write_corrections_csv

pytestmark = pytest.mark.slow

settings.register_profile("corrections_ci", max_examples=2, deadline=None, database=None, derandomize=True,
                          suppress_health_check=list(HealthCheck), print_blob=True)
settings.register_profile("corrections_long", max_examples=12, deadline=None,
                          suppress_health_check=list(HealthCheck), print_blob=True)
PROFILE = "corrections_long" if os.environ.get("HYPOTHESIS_PROFILE") == "long" else "corrections_ci"

AS_OF = "2026-03-01T00:00:00Z"
INPUT_COLUMNS = ["erp_document_id", "processor_refund_id", "order_id", "gl_account", "amount", "currency",
                 "reason_code", "refund_type", "posted_at", "received_at", "posting_period", "reverses_document_id"]
# The ERP-side types a correction can fix (variance-rules.md); locked_period_posting
# needs a calendar (NetSuite): test_loop_closes_in_periods_the_calendar_has_closed.
FIXABLE = ["missing_in_erp", "duplicate_erp_posting", "amount_mismatch", "status_mismatch",
           "partial_refund_collapsed", "wrong_period", "reason_mismatch", "orphan_erp_posting", "currency_mismatch"]
VARIANCES_SQL = "select variance_id, variance_type, discrepancy_system, refund_id from fct_refund_variances"
# A build here runs seeds, models and data tests, not the project's dbt unit
# tests: they read no input file (given rows, a model each), so a scenario
# cannot change them; make test's sample build runs them (about 13 of the 20
# CPU-seconds of a build of 50 refunds in the dbt process). Nothing here reads
# dbt's manifest.json or run_results.json: not written (about a CPU-second).
FAST_BUILD = ("--exclude-resource-type", "unit_test", "--no-write-json")


def as_deliveries(generated: Path, target: Path) -> Path:
    """The generator's files as a data folder of deliveries (one folder per input)."""
    for name in ("storefront_refunds", "processor_refunds", "erp_refund_postings"):
        (target / name).mkdir(parents=True, exist_ok=True)
        shutil.copy(generated / f"{name}.csv", target / name / "delivery_001.csv")
    return target


def query(database: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute(sql).fetchall()


def loop_outcome(before_db: Path, after_db: Path) -> dict:
    before = {row[0]: row for row in query(before_db, VARIANCES_SQL)}
    after = {row[0]: row for row in query(after_db, VARIANCES_SQL)}
    proposed = {row[0] for row in query(before_db, "select distinct variance_id from fct_proposed_erp_corrections")}
    return {
        "before": before, "after": after, "proposed": proposed,
        "still_open": sorted(before[v][1:] for v in proposed if v in after),
        "opened": sorted(row[1:] for v, row in after.items() if v not in before and row[1] != "confirmation_lag"),
        "rejected": (query(before_db, "select count(*) from fct_rejected_rows")[0][0],
                     query(after_db, "select count(*) from fct_rejected_rows")[0][0]),
        "not_erp": sorted(before[v][1:] for v in proposed if before[v][2] != "erp"),
    }


# ---- the runner: one labelled scenario, an explicit test per type -------------

@pytest.fixture(scope="module")
def runner_loop(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("corrections_runner")
    generate(root / "generated", "--refunds", "160", "--seed", "26", "--fault-rate", "0.8", "--bad-rows", "2")
    data = as_deliveries(root / "generated", root / "data")
    database, reports = root / "checkpoints.duckdb", root / "reports"

    def run() -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, str(PROJECT_DIR / "scripts" / "checkpoint.py"), "run", "--data-dir", str(data),
             "--as-of", AS_OF, "--database", str(database), "--reports-dir", str(reports)],
            cwd=PROJECT_DIR, capture_output=True, text=True, timeout=900,
            env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"})

    first = run()
    assert first.returncode in (0, 1), first.stdout[-3000:] + first.stderr[-2000:]
    folder = next(path for path in reports.iterdir() if (path / "corrections.csv").exists())
    before_db = root / "before.duckdb"
    shutil.copy(database, before_db)
    csv_text = (folder / "corrections.csv").read_text(encoding="utf-8")
    report_html = (folder / "report.html").read_text(encoding="utf-8")
    # The writeback dry run of the ERP export plus the proposal.
    dry_run = subprocess.run(
        [sys.executable, str(PROJECT_DIR / "scripts" / "checkpoint.py"), "validate-writeback",
         "--batch", str(root / "generated"), "--candidate", str(root / "generated" / "erp_refund_postings.csv"),
         str(folder / "corrections.csv"), "--as-of", AS_OF, "--out", str(root / "dry_run.csv")],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=900,
        env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"})
    assert dry_run.returncode in (0, 1), dry_run.stdout[-3000:] + dry_run.stderr[-2000:]
    differences = list(csv.DictReader((root / "dry_run.csv").open(encoding="utf-8")))
    # The proposal, loaded as it is: one more ERP delivery.
    shutil.copy(folder / "corrections.csv", data / "erp_refund_postings" / "delivery_002.csv")
    second = run()
    assert second.returncode in (0, 1), second.stdout[-3000:] + second.stderr[-2000:]
    return {"csv": csv_text, "html": report_html, "differences": differences, **loop_outcome(before_db, database)}


def test_corrections_csv_is_the_input_format(runner_loop: dict) -> None:
    rows = list(csv.reader(io.StringIO(runner_loop["csv"])))
    assert rows[0] == CORRECTIONS_CSV_COLUMNS
    assert rows[0][:len(INPUT_COLUMNS)] == INPUT_COLUMNS
    body = [dict(zip(rows[0], row)) for row in rows[1:]]
    assert len(body) == len({row["erp_document_id"] for row in body}) > 0
    for row in body:
        exponent = {"JPY": 0, "KWD": 3, "BHD": 3}.get(row["currency"], 2)
        assert re.fullmatch(r"[0-9]+" + (rf"\.[0-9]{{{exponent}}}" if exponent else ""), row["amount"]), row
        assert row["posted_at"] == row["received_at"] == "2026-03-01T00:00:00Z"
        assert re.fullmatch(r"RC-[0-9a-f]{16}", row["erp_document_id"])
        assert not any(value.startswith(("=", "+", "-", "@")) for value in row.values()), row
    assert 'href="corrections.csv"' in runner_loop["html"]


@pytest.mark.parametrize("variance_type", FIXABLE)
def test_loop_closes_for(runner_loop: dict, variance_type: str) -> None:
    before, proposed = runner_loop["before"], runner_loop["proposed"]
    of_type = [v for v, row in before.items() if row[1] == variance_type and row[2] == "erp"]
    assert of_type, f"the scenario holds no {variance_type}: the test would prove nothing"
    assert set(of_type) & proposed, f"no correction proposed for any {variance_type}"
    assert not [v for v in of_type if v in proposed and v in runner_loop["after"]]


def test_loop_opens_nothing_and_rejects_nothing(runner_loop: dict) -> None:
    assert runner_loop["still_open"] == []
    assert runner_loop["opened"] == []
    assert runner_loop["rejected"][0] == runner_loop["rejected"][1]
    assert runner_loop["not_erp"] == []


def test_writeback_dry_run_accepts_the_proposal(runner_loop: dict) -> None:
    """validate-writeback on the ERP export plus corrections.csv: no refund
    the proposal corrects differs from its expected posting, no entry of it
    is unreadable."""
    corrected = {row["processor_refund_id"] for row in csv.DictReader(io.StringIO(runner_loop["csv"]))} - {""}
    assert corrected
    assert [row for row in runner_loop["differences"] if row["processor_refund_id"] in corrected] == []
    assert [row for row in runner_loop["differences"] if (row["erp_document_id"] or "").startswith("RC-")] == []


def test_storefront_and_processor_side_variances_stay(runner_loop: dict) -> None:
    others = {v for v, row in runner_loop["before"].items() if row[2] != "erp"}
    assert others and others <= set(runner_loop["after"])


# ---- the property: any small scenario of the generator's faults ---------------

@settings.get_profile(PROFILE)
@given(seed=st.integers(0, 10_000), fault_rate=st.sampled_from([0.5, 0.8]), refunds=st.integers(30, 70))
def test_loop_closes_over_generated_faults(tmp_path_factory: pytest.TempPathFactory, seed: int,
                                           fault_rate: float, refunds: int) -> None:
    root = tmp_path_factory.mktemp("corrections_property")
    generated = generate(root / "generated", "--refunds", str(refunds), "--seed", str(seed),
                         "--fault-rate", str(fault_rate), "--bad-rows", "1")
    data = as_deliveries(root / "generated", root / "data")
    # The first build only proposes (models); the second runs every data test too
    # (FAST_BUILD). The second builds in the first's folder, the first's database
    # moved aside: the same vars, target folder and database path, so dbt reuses
    # the first's parse instead of parsing the whole project again.
    first = dbt_build(root / "build", data, generated, "--resource-type", "seed", "--resource-type", "model",
                      "--no-write-json")
    assert first.returncode == 0, first.output[-3000:]
    proposed = first.database.rename(root / "proposed.duckdb")
    write_corrections_csv(data / "erp_refund_postings" / "delivery_002.csv", read_corrections(proposed))
    second = dbt_build(root / "build", data, generated, *FAST_BUILD)
    assert second.returncode == 0, second.output[-3000:]
    outcome = loop_outcome(proposed, second.database)
    assert outcome["still_open"] == [], (seed, fault_rate, refunds)
    assert outcome["opened"] == [], (seed, fault_rate, refunds)
    assert outcome["rejected"][0] == outcome["rejected"][1]
    assert outcome["not_erp"] == []


def test_loop_closes_in_periods_the_calendar_has_closed(tmp_path: Path) -> None:
    """A NetSuite ERP with its period calendar: faults in closed periods get post_in_open_period,
    an adjusting entry in the earliest open period; loaded as a generic ERP delivery beside the
    NetSuite tables, it resolves wrong_period and locked_period_posting too (booked after the
    close: not a wrong period, variance-rules.md's locked_period_posting)."""
    generated = generate(tmp_path / "generated", "--refunds", "150", "--seed", "5", "--fault-rate", "0.6",
                         "--erp-shape", "netsuite")
    first = dbt_build(tmp_path / "first", tmp_path / "generated", generated,
                      "--resource-type", "seed", "--resource-type", "model", "--no-write-json")
    assert first.returncode == 0, first.output[-3000:]
    write_corrections_csv(tmp_path / "generated" / "erp_refund_postings.csv", read_corrections(first.database))
    both = {**generated, "dbt_vars": {**generated["dbt_vars"], "erp_shapes": ["netsuite", "generic"]}}
    second = dbt_build(tmp_path / "second", tmp_path / "generated", both, *FAST_BUILD)
    assert second.returncode == 0, second.output[-3000:]
    actions = dict(query(first.database, "select action, count(*) from fct_proposed_erp_corrections group by 1"))
    locked = query(first.database, "select count(*) from fct_refund_variances where variance_type = 'locked_period_posting'")
    assert actions.get("post_in_open_period", 0) > 0 and locked[0][0] > 0, (actions, locked)
    outcome = loop_outcome(first.database, second.database)
    assert outcome["still_open"] == [] and outcome["opened"] == [] and outcome["not_erp"] == []
    assert outcome["rejected"][0] == outcome["rejected"][1]


# ---- reversals that break the contract are rejected with their reason ---------

def test_bad_reversals_are_rejected_with_their_reason(tmp_path: Path) -> None:
    generated = generate(tmp_path / "generated", "--refunds", "8", "--seed", "3", "--fault-rate", "0",
                         "--trap-rate", "0", "--bad-rows", "0")
    data = as_deliveries(tmp_path / "generated", tmp_path / "data")
    erp = list(csv.DictReader((data / "erp_refund_postings" / "delivery_001.csv").open(encoding="utf-8")))
    first, second = erp[0], erp[1]
    stamp = "2026-02-28T12:00:00Z"

    def reversal(document_id: str, reverses: str, base: dict, **changes: str) -> dict:
        return {**base, "erp_document_id": document_id, "gl_account": "4950", "posted_at": stamp,
                "received_at": stamp, "reverses_document_id": reverses, **changes}

    rows = [
        reversal("RV-ok", first["erp_document_id"], first),
        reversal("RV-twice", first["erp_document_id"], first, posted_at="2026-02-28T13:00:00Z"),
        reversal("RV-unknown", "CR-nosuch", first),
        reversal("RV-self", "RV-self", first),
        reversal("RV-amount", second["erp_document_id"], second, amount="1"),
        reversal("RV-currency", second["erp_document_id"], second,
                 currency="EUR" if second["currency"] != "EUR" else "USD"),
        reversal("RV-account", second["erp_document_id"], second, gl_account="4900"),
        reversal("RV-of-reversal", "RV-ok", first),
    ]
    with (data / "erp_refund_postings" / "delivery_002.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=INPUT_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    build = dbt_build(tmp_path / "build", data, generated, *FAST_BUILD)
    assert build.returncode == 0, build.output[-3000:]
    rejected = dict(query(build.database, """
        select record_id, rejected_column || ': ' || rejection_reason from fct_rejected_rows
        where input_name = 'erp_refund_postings'"""))
    assert rejected == {
        "RV-twice": "reverses_document_id: the document is already reversed by an earlier posting",
        "RV-unknown": "reverses_document_id: reverses_document_id names no accepted ERP document",
        "RV-self": "reverses_document_id: a posting cannot reverse itself",
        "RV-amount": "amount: a reversal carries the amount of the document it reverses",
        "RV-currency": "currency: a reversal carries the currency of the document it reverses",
        "RV-account": "gl_account: a reversal posts to a GL account that gl_account_map maps to reversed",
        "RV-of-reversal": "reverses_document_id: reverses a reversal: post a new entry instead",
    }
    # The valid pair nets out: the refund it booked is now missing in the ERP
    # (past the SLA), and neither document is an orphan or a duplicate.
    roles = dict(query(build.database, f"""
        select erp_document_id, posting_role from main_intermediate.int_erp_postings_deduplicated
        where erp_document_id in ('RV-ok', '{first["erp_document_id"]}')"""))
    assert roles == {"RV-ok": "reversing", first["erp_document_id"]: "reversed"}
    types = {row[0] for row in query(build.database, f"""
        select variance_type from fct_refund_variances where refund_id = '{first["processor_refund_id"]}'""")}
    assert types == {"missing_in_erp"}
    assert not query(build.database, """
        select * from fct_refund_variances where variance_type in ('orphan_erp_posting', 'duplicate_erp_posting')""")


# ---- the file: formula-like values are held back whole, never altered ---------

def test_a_formula_like_value_holds_back_its_variance_whole(tmp_path: Path) -> None:
    import report_inputs as given
    from recon_runner.marts import VARIANCE_COLUMNS, money_summary
    from recon_runner.reports import write_report_folder
    from datetime import datetime

    def entry(document: str, variance: str, refund: str, reverses: str | None, action: str) -> dict:
        return {"erp_document_id": document, "processor_refund_id": refund, "order_id": "o1", "gl_account": "4950",
                "amount": "12.50", "currency": "USD", "reason_code": None, "refund_type": "full",
                "posted_at": datetime(2026, 3, 1), "received_at": datetime(2026, 3, 1), "posting_period": "2026-03",
                "reverses_document_id": reverses, "correction_id": f"c-{document}", "variance_id": variance,
                "action": action, "explanation": "Reverses it."}

    rows = [entry("RC-1", "v_bad", "=HYPERLINK(\"http://x\")", "CR-1", "adjust_amount"),
            entry("RC-2", "v_bad", "re_ok", None, "adjust_amount"),
            entry("RC-3", "v_ok", "re_ok", "CR-3", "reverse_duplicate"),
            entry("RC-4", "v_minus", "re_4", "-CR-4", "reverse_orphan")]
    variances = given.variances()
    details = {**given.details(), "corrections": rows}
    folder = write_report_folder(tmp_path, "cp", given.summary(**money_summary(variances)), variances,
                                 VARIANCE_COLUMNS, details)
    written = list(csv.reader((folder / "corrections.csv").open(newline="", encoding="utf-8")))
    assert written[0] == CORRECTIONS_CSV_COLUMNS
    assert written[1:] == [["RC-3", "re_ok", "o1", "4950", "12.50", "USD", "", "full", "2026-03-01T00:00:00Z",
                            "2026-03-01T00:00:00Z", "2026-03", "CR-3", "c-RC-3", "v_ok", "reverse_duplicate",
                            "Reverses it."]]
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert 'href="corrections.csv"' in page and "Proposed ERP corrections (1)" in page
    assert "c-RC-1, c-RC-2, c-RC-4 (see fct_proposed_erp_corrections)" in page


# ---- NetSuite's reversal link -------------------------------------------------

def test_netsuite_reversal_link_is_reverses_document_id(tmp_path: Path) -> None:
    """NetSuite2 (Fivetran) `transaction.reversal` / `isreversal` (fixture README):
    refund 310, flagged isreversal, that refund 301 names in `reversal`, reverses 301."""
    from test_connector_fixtures import FIXTURES, VARIANTS, write_data_dir

    data = tmp_path / "data"
    dbt_vars = write_data_dir(data, [VARIANTS["netsuite2_fivetran"]])
    transactions = (FIXTURES / "netsuite2_fivetran" / "transaction.csv").read_text(encoding="utf-8").splitlines()
    header = transactions[0].split(",")
    rows = [line.split(",") for line in transactions[1:]]
    for row in rows:
        if row[header.index("id")] == "301":
            row[header.index("reversal")] = "310"
    reversal = list(rows[0])
    for column, value in {"id": "310", "transactionnumber": "CR-310", "isreversal": "T", "reversal": "",
                          "createddate": "2025-07-08 9:00:00"}.items():
        reversal[header.index(column)] = value
    (data / "netsuite" / "transaction.csv").write_text(
        "\n".join(",".join(row) for row in [header, *rows, reversal]) + "\n", encoding="utf-8")
    lines = (data / "netsuite" / "transactionaccountingline.csv").read_text(encoding="utf-8").splitlines()
    copied = [("310" + line[3:]) for line in lines[1:] if line.startswith("301,")]
    (data / "netsuite" / "transactionaccountingline.csv").write_text("\n".join(lines + copied) + "\n",
                                                                     encoding="utf-8")
    settings = {"as_of": "2025-08-01T00:00:00Z", "confirmation_sla_minutes": 30, "business_timezone": "UTC",
                "dbt_vars": dbt_vars}
    build = dbt_build(tmp_path, data, settings, "--select", "gl_account_map", "currencies",
                      "base_netsuite__erp_refund_postings", "--exclude-resource-type", "unit_test",
                      "--exclude-resource-type", "test")
    assert build.returncode == 0, build.output[-3000:]
    links = dict(query(build.database, """
        select erp_document_id, reverses_document_id from main_staging.base_netsuite__erp_refund_postings"""))
    assert links.pop("310") == "301"
    assert links and set(links.values()) == {None}
