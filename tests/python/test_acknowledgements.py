"""The exception workflow's acknowledgements, end to end, on a copy of the
project (its seed edited by the CLI as a person would) and three real
checkpoints. The days are relative to today, so `acknowledge --expires`
(never before today) can name a day the scenario passes:

  day 0  refund B's ERP amount is 4.00 for 40.00 (USD amount_mismatch, 36.00
         at stake); refund C's ERP reason code is wrong (EUR reason_mismatch,
         25.00 at stake)                          -> variances_found, 2 open
         acknowledge B (no expiry) and C (expires day 1) with the CLI
  day 1  nothing changed                          -> clean: 0 open, 2 acknowledged,
                                                     EUR 25.00, USD 36.00; ages count on
  day 2  B's ERP amount becomes 5.00 (delta -35.00): superseded; C past its
         expiry: expired                          -> variances_found, 2 open

plus the CLI's refusals (unknown id, already acknowledged, bad expiry,
control characters), the listing, the seed's contract tests (each rule
fails the build, naming the row and column) and mapping-impact's list of
the variances an acknowledgement edit silences.
"""

from __future__ import annotations

import csv
import re
import json
import shutil
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from conftest import INPUT_COLUMNS, PROJECT_DIR
from dbt_in_process import run_dbt_in_process

from recon_runner import change_checks

TODAY = datetime.now(timezone.utc).date()
DAY0 = TODAY + timedelta(days=30)
SEED_HEADER = "variance_id,variance_type,amount_delta,currency,acknowledged_by,acknowledged_at,reason,ticket,expires_on"


def day(offset: int) -> date:
    return DAY0 + timedelta(days=offset)


def as_of(offset: int) -> str:
    return f"{day(offset)}T06:00:00Z"


def stamp(moment: date, hour: int, minute: int) -> str:
    return f"{moment}T{hour:02d}:{minute:02d}:00Z"


def refund(name: str, on: date, amount: str, currency: str = "USD", erp_amount: str | None = None,
           reason_code: str = "RC-DMG") -> dict[str, list[list[str]]]:
    created, confirmed, received = stamp(on, 1, 0), stamp(on, 1, 1), stamp(on, 1, 5)
    return {
        "storefront_refunds": [[f"sr_{name}", f"ord_{name}", f"re_{name}", amount, currency, "full", "damaged",
                                "succeeded", created, confirmed, "online", "generic"]],
        "processor_refunds": [[f"re_{name}", "stripe", f"ch_{name}", f"ord_{name}", amount, currency, "succeeded", "",
                               created, confirmed]],
        "erp_refund_postings": [[f"CR-{name}", f"re_{name}", f"ord_{name}", "4900", erp_amount or amount, currency,
                                 reason_code, "full", received, received, str(on)[:7]]],
    }


def write_inputs(folder: Path, offset: int) -> Path:
    """Cumulative exports up to day `offset`: a fresh clean refund each day (every source fresh),
    B's ERP amount wrong (4.00, then 5.00 from day 2), C's reason code wrong."""
    parts = [refund(f"fresh{d}", day(d), "10.00") for d in range(offset + 1)]
    parts.append(refund("B", day(0), "40.00", erp_amount="5.00" if offset >= 2 else "4.00"))
    parts.append(refund("C", day(0), "25.00", currency="EUR", reason_code="RC-CUS"))
    folder.mkdir(parents=True)
    for name, columns in INPUT_COLUMNS.items():
        with open(folder / f"{name}.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            for part in parts:
                writer.writerows(part[name])
    return folder


def project_copy(target: Path) -> Path:
    """The project without its data, artifacts and Python tests: its seeds are this module's to edit."""
    shutil.copytree(PROJECT_DIR, target, ignore=shutil.ignore_patterns(
        ".venv", ".git", "target", "logs", "reports", "*.duckdb*", "data", "bi", "benchmarks", "docs", "python",
        "fixtures", "__pycache__"))
    assert (target / "seeds" / "variance_acknowledgements.csv").read_text(encoding="utf-8").strip() == SEED_HEADER
    return target


class World:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.project = project_copy(root / "project")
        self.database = root / "recon.duckdb"
        self.seed = self.project / "seeds" / "variance_acknowledgements.csv"

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(self.project / "scripts" / "checkpoint.py"), *args],
                              capture_output=True, text=True, cwd=self.root, stdin=subprocess.DEVNULL,
                              env={**__import__("os").environ, "REFUND_RECON_WEBHOOK_URL": "",
                                   "REFUND_RECON_PROD_DUCKDB": str(self.database)})

    def checkpoint(self, offset: int) -> tuple[subprocess.CompletedProcess, dict]:
        data = write_inputs(self.root / f"day{offset}", offset)
        result = self.cli("run", "--data-dir", str(data), "--as-of", as_of(offset), "--database", str(self.database),
                          "--reports-dir", str(self.root / "reports"), "--no-bi")
        checkpoint_id = "cp_" + day(offset).strftime("%Y%m%d") + "T060000Z"
        summary = json.loads((self.root / "reports" / checkpoint_id / "summary.json").read_text(encoding="utf-8"))
        return result, summary

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        with duckdb.connect(str(self.database), read_only=True) as con:
            return con.execute(sql, params or []).fetchall()

    def variance_id(self, refund_id: str) -> str:
        return self.query("select variance_id from fct_refund_variances where refund_id = ?", [refund_id])[0][0]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The three checkpoints and the CLI calls between them, run once; each test reads what they left."""
    w = World(tmp_path_factory.mktemp("acknowledgements"))
    steps: dict = {"world": w}
    steps["day0"] = w.checkpoint(0)
    b, c = w.variance_id("re_B"), w.variance_id("re_C")
    steps["ids"] = {"B": b, "C": c}
    steps["unknown"] = w.cli("acknowledge", "no_such_variance", "--by", "Ana", "--reason", "typo")
    steps["control"] = w.cli("acknowledge", b, "--by", "Ana\x1b[31m", "--reason", "write-off")
    steps["bad_expiry"] = w.cli("acknowledge", b, "--by", "Ana", "--reason", "write-off", "--expires", "2030-02-30")
    steps["past_expiry"] = w.cli("acknowledge", b, "--by", "Ana", "--reason", "write-off", "--expires",
                                 str(TODAY - timedelta(days=1)))
    steps["seed_after_refusals"] = w.seed.read_text(encoding="utf-8")
    steps["ack_b"] = w.cli("acknowledge", b, "--by", "Ana Controller", "--reason", "closed period, written off")
    steps["ack_b_again"] = w.cli("acknowledge", b, "--by", "Ben", "--reason", "again")
    steps["ack_c"] = w.cli("acknowledge", c, "--by", "Ben", "--reason", 'processor "test" refund, keep',
                           "--ticket", "FIN-7", "--expires", str(day(1)))
    steps["pending_list"] = w.cli("acknowledgements", "--database", str(w.database))
    steps["day1"] = w.checkpoint(1)
    steps["day1_report"] = (w.root / "reports" / steps["day1"][1]["checkpoint_id"] / "report.html").read_text(
        encoding="utf-8")
    with open(w.root / "reports" / steps["day1"][1]["checkpoint_id"] / "variances.csv", newline="",
              encoding="utf-8") as handle:
        steps["day1_csv"] = list(csv.DictReader(handle))
    steps["day1_list"] = w.cli("acknowledgements", "--database", str(w.database))
    steps["day1_history"] = w.query("""
        select variance_id, acknowledgement_state, acknowledged_by from fct_variance_history
        where checkpoint_as_of = cast(? as timestamp) order by variance_id""", [as_of(1).rstrip("Z")])
    steps["day1_ages"] = dict(w.query("select variance_id, days_since_first_detected from fct_refund_variances"))
    steps["day1_totals"] = w.query("""
        select currency, record_count, amount from fct_checkpoint_totals
        where measure = 'acknowledged_variances' order by currency""")
    steps["day2"] = w.checkpoint(2)
    steps["day2_states"] = dict(w.query(
        "select variance_id, acknowledgement_state from fct_variance_acknowledgements"))
    steps["day2_report"] = (w.root / "reports" / steps["day2"][1]["checkpoint_id"] / "report.html").read_text(
        encoding="utf-8")
    return steps


def test_a_variance_is_open_until_acknowledged(world: dict) -> None:
    result, summary = world["day0"]
    assert result.returncode == 1, result.stdout
    assert summary["outcome"] == "variances_found"
    assert (summary["open_variance_count"], summary["acknowledged_variance_count"]) == (2, 0)


def test_cli_refuses_unknown_ids_bad_text_and_bad_expiry(world: dict) -> None:
    for step, words in (("unknown", "no open variance 'no_such_variance'"),
                        ("control", "--by must be one line of text without control characters"),
                        ("bad_expiry", "--expires must be a date YYYY-MM-DD"),
                        ("past_expiry", "is before today")):
        result = world[step]
        assert result.returncode == 64, (step, result.stdout, result.stderr)
        assert words in result.stdout and "Nothing was changed" in result.stdout, (step, result.stdout)
        assert "\x1b" not in result.stdout
    assert world["seed_after_refusals"].strip() == SEED_HEADER


def test_cli_appends_the_variance_as_it_is_and_refuses_a_second_row(world: dict) -> None:
    assert world["ack_b"].returncode == 0, world["ack_b"].stdout + world["ack_b"].stderr
    assert world["ack_c"].returncode == 0, world["ack_c"].stdout + world["ack_c"].stderr
    again = world["ack_b_again"]
    assert again.returncode == 64 and "already acknowledged" in again.stdout and "Ana Controller" in again.stdout
    with open(world["world"].seed, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    ids = world["ids"]
    assert rows == [
        {"variance_id": ids["B"], "variance_type": "amount_mismatch", "amount_delta": "-36.00", "currency": "USD",
         "acknowledged_by": "Ana Controller", "acknowledged_at": str(TODAY), "reason": "closed period, written off",
         "ticket": "", "expires_on": ""},
        {"variance_id": ids["C"], "variance_type": "reason_mismatch", "amount_delta": "0.00", "currency": "EUR",
         "acknowledged_by": "Ben", "acknowledged_at": str(TODAY), "reason": 'processor "test" refund, keep',
         "ticket": "FIN-7", "expires_on": str(day(1))},
    ]
    assert "pending: added to the seed after this checkpoint" in world["pending_list"].stdout


def test_acknowledged_variances_make_a_clean_checkpoint_that_says_so(world: dict) -> None:
    result, summary = world["day1"]
    assert result.returncode == 0, result.stdout
    assert summary["outcome"] == "clean"
    assert (summary["open_variance_count"], summary["unacknowledged_variance_count"],
            summary["acknowledged_variance_count"]) == (2, 0, 2)
    assert [(e["currency"], e["amount_at_stake"]) for e in summary["acknowledged_at_stake"]] == [
        ("EUR", "25.00"), ("USD", "36.00")]
    assert "CLEAN. Zero open variances (2 acknowledged: EUR 25.00, USD 36.00 at stake), zero rejected input rows" \
        in summary["message"]
    assert summary["message"] in result.stdout
    assert [row[:2] for row in world["day1_totals"]] == [("EUR", 1), ("USD", 1)]


def test_history_records_the_state_and_the_age_keeps_counting(world: dict) -> None:
    ids = world["ids"]
    assert world["day1_history"] == sorted([(ids["B"], "active", "Ana Controller"), (ids["C"], "active", "Ben")])
    assert world["day1_ages"] == {ids["B"]: 1, ids["C"]: 1}


def test_report_and_csv_list_acknowledged_variances_apart(world: dict) -> None:
    ids = world["ids"]
    report = world["day1_report"]
    section = report[report.index('id="acknowledged"'):report.index('id="rejected"')]
    assert f'id="acknowledged-{ids["B"]}"' in section and f'id="acknowledged-{ids["C"]}"' in section
    assert "Ana Controller" in section and "closed period, written off" in section
    table = report[report.index('id="variance-table"'):report.index('id="acknowledged"')]
    assert "No open variances." in table and ids["B"] not in table
    flags = {row["variance_id"]: (row["is_acknowledged"], row["acknowledged_by"]) for row in world["day1_csv"]}
    assert flags == {ids["B"]: ("true", "Ana Controller"), ids["C"]: ("true", "Ben")}
    listing = world["day1_list"].stdout
    assert f"{ids['B']}  active, USD 36.00 at stake" in listing and f"{ids['C']}  active" in listing


def test_a_changed_variance_supersedes_and_an_expiry_lapses(world: dict) -> None:
    result, summary = world["day2"]
    ids = world["ids"]
    assert result.returncode == 1, result.stdout
    assert summary["outcome"] == "variances_found"
    assert world["day2_states"] == {ids["B"]: "superseded", ids["C"]: "expired"}
    assert (summary["unacknowledged_variance_count"], summary["acknowledged_variance_count"]) == (2, 0)
    assert "VARIANCES FOUND: 2 open, 0 input rows rejected." in summary["message"]
    assert "Acknowledgements that do not hold: 1 expired, 1 superseded" in summary["message"]
    assert 'data-state="superseded"' in world["day2_report"] and "delta USD -36.00; now amount_mismatch, delta " \
        "USD -35.00" in world["day2_report"]


def test_acknowledgements_name_the_checkpoint_that_judged_them(world: dict) -> None:
    """After three checkpoints the mart's rows are the last one's, and say so (checkpoint_id)."""
    latest = world["world"].query("select checkpoint_id from fct_checkpoint_runs order by as_of desc limit 1")
    assert latest == [(world["day2"][1]["checkpoint_id"],)]
    assert world["world"].query("select distinct checkpoint_id from fct_variance_acknowledgements") == latest


CONTRACT_ROWS = {
    # variance_id: (row after the id, the column the contract names)
    "ok_row": ("amount_mismatch,-1.50,usd,Ana,2026-02-28,fine,,", None),
    "no_leap_day": ("amount_mismatch,-1.50,USD,Ana,2026-02-29,why,,", "acknowledged_at"),
    "no_reason": ("amount_mismatch,-1.50,USD,Ana,2026-03-01,,,", "reason"),
    "none_reason": ("amount_mismatch,-1.50,USD,Ana,2026-03-01,None,,", "reason"),   # Spark's empty cell
    "blank_by": ("amount_mismatch,-1.50,USD,  ,2026-03-01,why,,", "acknowledged_by"),
    "bad_day": ("amount_mismatch,-1.50,USD,Ana,2026-02-30,why,,", "acknowledged_at"),
    "bad_expiry": ("amount_mismatch,-1.50,USD,Ana,2026-03-01,why,,2026-13-01", "expires_on"),
    "early_expiry": ("amount_mismatch,-1.50,USD,Ana,2026-03-01,why,,2026-02-28", "expires_on"),
    "float_delta": ("amount_mismatch,1e3,USD,Ana,2026-03-01,why,,", "amount_delta"),
    "deep_delta": ("amount_mismatch,-1.505,USD,Ana,2026-03-01,why,,", "amount_delta"),
    "jpy_delta": ("amount_mismatch,5.5,JPY,Ana,2026-03-01,why,,", "amount_delta"),
    "bad_type": ("amount_missmatch,-1.50,USD,Ana,2026-03-01,why,,", "variance_type"),
    "bad_currency": ("amount_mismatch,-1.50,XYZ,Ana,2026-03-01,why,,", "currency"),
    "good_leap": ("amount_mismatch,-1.50,USD,Ana,2028-02-29,why,,2028-03-01", None),
    "no_delta": ("currency_mismatch,,EUR,Ana,2026-03-01,why,,", None),
}


def test_seed_contract_names_each_bad_row_and_fails_the_build(tmp_path: Path) -> None:
    """Every rule of the acknowledgement contract, one row each, in one build of the seeds and
    the contract tests; a duplicate id fails the seed's key test (column_values)."""
    project = project_copy(tmp_path / "project")
    rows = CONTRACT_ROWS
    lines = [SEED_HEADER] + [f"{key},{rest}" for key, (rest, _) in rows.items()] + [
        "dup,amount_mismatch,-1.50,USD,Ana,2026-03-01,why,,", " dup ,amount_mismatch,-1.50,USD,Ana,2026-03-01,why,,"]
    (project / "seeds" / "variance_acknowledgements.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run_dbt_in_process("build", "--select", "variance_acknowledgements", "currencies",
                                "assert_acknowledgements_are_well_formed", "--store-failures",
                                dbt_vars={"data_dir": str(PROJECT_DIR / "data" / "sample")},
                                database=tmp_path / "contract.duckdb", target="duckdb", artifacts=tmp_path,
                                project_dir=project)
    assert result.returncode != 0, result.stdout[-3000:]
    with duckdb.connect(str(tmp_path / "contract.duckdb"), read_only=True) as con:
        failures = dict(con.execute(
            "select variance_id, failing_column from main_dbt_test__audit.assert_acknowledgements_are_well_formed"
        ).fetchall())
        key_failures = con.execute("select column_name, problem, bad_value, failing_rows "
                                   "from main_dbt_test__audit.column_values_variance_acknowledgements").fetchall()
    assert failures == {key: column for key, (_, column) in rows.items() if column}
    assert ("trim(variance_id)", "duplicate key", "dup", 2) in key_failures, key_failures
    assert re.search(r"FAIL \d+ column_values_variance_acknowledgements", result.stdout), result.stdout[-3000:]


def test_mapping_impact_lists_what_an_acknowledgement_edit_silences(tmp_path: Path) -> None:
    """mapping-impact's comparison of a base and a head build: the variances acknowledged only with
    the change are silenced (their money at stake per currency, never summed across currencies),
    those acknowledged only at base come back, and an acknowledgement that holds for nothing is
    listed with why."""
    columns = ("variance_id varchar, refund_id varchar, variance_type varchar, currency varchar, "
               "amount_at_stake decimal(38, 4), is_acknowledged boolean")
    for label, acknowledged in (("base", {"v_back"}), ("head", {"v_usd", "v_usd2", "v_eur"})):
        with duckdb.connect(str(tmp_path / f"{label}.duckdb")) as con:
            con.execute(f"create table fct_refund_variances ({columns})")
            for variance_id, currency, stake in (("v_usd", "USD", "36.00"), ("v_usd2", "USD", "4.50"),
                                                 ("v_eur", "EUR", "25.00"), ("v_back", "JPY", "500"),
                                                 ("v_open", "USD", "9.99")):
                con.execute("insert into fct_refund_variances values (?, ?, 'amount_mismatch', ?, ?, ?)",
                            [variance_id, "re_" + variance_id, currency, stake, variance_id in acknowledged])
            con.execute("""create table fct_variance_acknowledgements as select * from (values
                ('v_usd', 'active', 'Ana', 'write-off', null::date, 'holds', 're_v_usd', 'amount_mismatch', 'USD', 36.00),
                ('v_old', 'resolved', 'Ben', 'old', null::date, 'Variance v_old is no longer open', null, 'amount_mismatch', 'USD', null)
                ) as t(variance_id, acknowledgement_state, acknowledged_by, reason, expires_on, state_reason,
                       refund_id, variance_type, currency, amount_at_stake)""")
    rows = change_checks.acknowledgement_changes(tmp_path / "base.duckdb", tmp_path / "head.duckdb")
    moved = {(row["change"], row["variance_id"]) for row in rows}
    assert moved == {("silenced", "v_usd"), ("silenced", "v_usd2"), ("silenced", "v_eur"), ("unsilenced", "v_back"),
                     ("resolved", "v_old")}
    exponents = {"USD": 2, "EUR": 2, "JPY": 0}
    assert change_checks.acknowledged_money(rows, "silenced", exponents) == "EUR 25.00, USD 40.50"
    assert change_checks.acknowledged_money(rows, "unsilenced", exponents) == "JPY 500"
    markdown = change_checks.acknowledgement_markdown(rows, exponents)
    assert "- 3 silenced by this change (no longer counted against clean): EUR 25.00, USD 40.50 at stake." in markdown
    assert "| resolved | v_old |" in markdown and "no longer open" in markdown


# The outcome text from hand-written summaries (report_inputs.py): no build.

def acknowledged_summary(outcome: str, **extra: object) -> dict:
    import report_inputs as given
    from recon_runner import money

    acknowledged = [
        {"variance_id": "a1", "refund_id": "re_a1", "currency": "JPY", "minor_units": 0, "amount_at_stake": "37224"},
        {"variance_id": "a2", "refund_id": "re_a2", "currency": "KWD", "minor_units": 3, "amount_at_stake": "66.967"},
        {"variance_id": "a3", "refund_id": "re_a3", "currency": "KWD", "minor_units": 3, "amount_at_stake": "1.5"},
    ]
    return given.summary(outcome, acknowledged_variance_count=3, acknowledged_at_stake=money.at_stake(acknowledged),
                         **extra)


def test_outcome_text_counts_acknowledged_apart_with_money_per_currency() -> None:
    from recon_runner.message import message

    clean = message(acknowledged_summary("clean", unacknowledged_variance_count=0, open_variance_count=3,
                                         rows_rejected=0), [])
    assert "CLEAN. Zero open variances (3 acknowledged: JPY 37,224, KWD 68.467 at stake), zero rejected input rows" \
        in clean
    found = message(acknowledged_summary("variances_found", unacknowledged_variance_count=8, open_variance_count=11,
                                         acknowledgement_states={"active": 3, "expired": 1, "superseded": 2}), [])
    assert "VARIANCES FOUND: 8 open (3 acknowledged: JPY 37,224, KWD 68.467 at stake), 2 input rows rejected." in found
    assert "Acknowledgements that do not hold: 1 expired, 2 superseded" in found
    stale = message(acknowledged_summary("stale_sources", stale_sources="erp"), [])
    assert "Acknowledged variances: 3 (JPY 37,224, KWD 68.467 at stake); a stale source is never clean" in stale
    import report_inputs as given
    plain = message(given.summary("variances_found"), given.variances())
    assert "acknowledged" not in plain.lower()   # no acknowledgement: the message as before


def test_report_escapes_acknowledgement_text() -> None:
    import report_inputs as given
    from recon_runner.reports import render

    row = dict(given.variances()[0], is_acknowledged=True, acknowledged_by="Ana\x1b[31m\u202e",
               acknowledgement_reason="<script>x</script>\nfake line")
    details = dict(given.details(), acknowledged_variances=[row], acknowledgements=[
        {"variance_id": "old\x1b", "acknowledgement_state": "superseded", "state_reason": "changed <b>"}])
    report, _ = render(acknowledged_summary("variances_found"), given.variances()[1:], details)
    section = report[report.index('id="acknowledged"'):report.index('id="rejected"')]
    assert "Ana\\x1b[31m\\u202e" in section and "\x1b" not in report and "\u202e" not in report
    assert "&lt;script&gt;x&lt;/script&gt;\\nfake line" in section and "changed &lt;b&gt;" in section


def test_mapping_impact_on_a_clone_names_the_variances_an_acknowledgement_silences(
        tmp_path: Path, sample_build) -> None:
    """mapping-impact run as a reviewer would on a pull request that acknowledges two variances of
    the bundled sample (in two currencies) and mistypes a third id: both are silenced with the
    mart's amount at stake per currency, the typo is listed as unknown_variance, and no refund
    moves (an acknowledged variance stays in the variance report)."""
    import os

    picked = sample_build.query("""
        select variance_id, variance_type, amount_delta, currency, minor_units, amount_at_stake
        from fct_refund_variances where currency in ('EUR', 'USD') and amount_delta is not null
        qualify row_number() over (partition by currency order by variance_id) = 1 order by currency""")
    assert list(picked["currency"]) == ["EUR", "USD"]
    project = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(PROJECT_DIR), str(project)], check=True)
    seed = project / "seeds" / "variance_acknowledgements.csv"
    assert seed.read_text(encoding="utf-8").strip() == SEED_HEADER
    lines = [SEED_HEADER]
    for row in picked.itertuples():
        delta = Decimal(str(row.amount_delta)).quantize(Decimal(1).scaleb(-int(row.minor_units)))
        lines.append(f"{row.variance_id},{row.variance_type},{delta},{row.currency},Ana,2026-02-20,write-off,,")
    lines.append("not_a_variance,orphan_erp_posting,1.00,USD,Ana,2026-02-20,typo,,")
    seed.write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings = json.loads((PROJECT_DIR / "data" / "sample" / "scenario.json").read_text())
    result = subprocess.run(
        [sys.executable, "scripts/checkpoint.py", "mapping-impact", "--base", "HEAD", "--as-of", settings["as_of"],
         "--data-dir", str(PROJECT_DIR / "data" / "sample"), "--out", "impact.csv", "--markdown", "impact.md",
         "--fail-on-change"],
        cwd=project, capture_output=True, text=True, timeout=900,
        env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DBT_PROFILES_DIR": str(project)})
    output = result.stdout[-4000:] + result.stderr[-2000:]
    assert result.returncode == 0, output   # --fail-on-change: no refund moves
    assert "Seeds changed since HEAD: variance_acknowledgements.csv" in result.stdout, output
    stake = {row.currency: Decimal(str(row.amount_at_stake)).quantize(Decimal(1).scaleb(-int(row.minor_units)))
             for row in picked.itertuples()}
    assert (f"the change silences 2 variances (EUR {stake['EUR']:,}, USD {stake['USD']:,} at stake) and brings back 0"
            in result.stdout), output
    with open(project / "impact_acknowledged.csv", newline="", encoding="utf-8") as handle:
        rows = {row["variance_id"]: row["change"] for row in csv.DictReader(handle)}
    assert rows == {**{variance_id: "silenced" for variance_id in picked["variance_id"]},
                    "not_a_variance": "unknown_variance"}
    assert "2 silenced by this change" in (project / "impact.md").read_text(encoding="utf-8")
