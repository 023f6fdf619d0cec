"""The checkpoint runner over several days: history and aging, resolution,
positive confirmation by webhook, stale sources, idempotent re-runs, the
report files, and the lock against a second concurrent checkpoint.

The days' inputs are written here, row by row, so each expectation follows
from what the test put in:

  day 1  refund A's ERP posting carries the wrong reason code   -> 1 open (age 0)
  day 3  A still wrong; refund B's ERP amount is wrong          -> 2 open (ages 2 and 0)
  day 4  A's posting corrected (a new version of the document)  -> A resolved, B open (age 1)
  day 5  B corrected                                            -> clean, confirmed by webhook
  day 6  the ERP export delivers nothing new                    -> stale_sources, not clean

and between days 1 and 3 an attempt for March 2 whose data folder is missing:
a failed checkpoint, which changes nothing but is announced and drawn in the
report's trend.
"""

from __future__ import annotations

import csv
import fcntl
import json
import re
import shutil
import subprocess
import sys
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Callable
from urllib.parse import unquote

import duckdb
import pytest

from conftest import INPUT_COLUMNS, PROJECT_DIR

RUNNER = PROJECT_DIR / "scripts" / "checkpoint.py"

from html_probe import Page, chromium, dump_dom, screenshot
from recon_runner import money
from recon_runner.message import largest, within_tolerance
from recon_runner.notify import mask_url, post_json

STOREFRONT, PROCESSOR, ERP = (INPUT_COLUMNS[name] for name in ("storefront_refunds", "processor_refunds",
                                                                  "erp_refund_postings"))
DAYS = [1, 3, 4, 5, 6]


def as_of(day: int) -> str:
    return f"2026-03-{day:02d}T06:00:00Z"


def refund(name: str, day: int, hour: int, amount: str = "25.00", minute: int = 0) -> dict[str, list[list[str]]]:
    """A clean refund created on March `day` at `hour`:`minute` UTC, in all three systems."""
    created = f"2026-03-{day:02d}T{hour:02d}:{minute:02d}:00Z"
    confirmed = f"2026-03-{day:02d}T{hour:02d}:{minute + 1:02d}:00Z"
    received = f"2026-03-{day:02d}T{hour:02d}:{minute + 5:02d}:00Z"
    return {
        "storefront": [[f"sr_{name}", f"ord_{name}", f"re_{name}", amount, "USD", "full", "damaged", "succeeded",
                        created, confirmed, "online", "generic"]],
        "processor": [[f"re_{name}", "stripe", f"ch_{name}", f"ord_{name}", amount, "USD", "pending", "", created, created],
                      [f"re_{name}", "stripe", f"ch_{name}", f"ord_{name}", amount, "USD", "succeeded", "", created, confirmed]],
        "erp": [[f"CR-{name}", f"re_{name}", f"ord_{name}", "4900", amount, "USD", "RC-DMG", "full", received, received,
                 "2026-03"]],
    }


def day_inputs(day: int) -> dict[str, list[list[str]]]:
    """Cumulative exports: everything up to `day`, as each system would re-export it."""
    rows: dict[str, list[list[str]]] = {"storefront": [], "processor": [], "erp": []}

    def add(part: dict[str, list[list[str]]]) -> None:
        for system, system_rows in part.items():
            rows[system].extend(system_rows)

    # A fresh clean refund every day in every system. On day 6 the ERP export
    # stops; that day's refund was confirmed 9 minutes before as_of, inside the
    # SLA, so its missing posting is not (yet) a variance.
    for d in DAYS:
        if d <= day:
            fresh = refund(f"fresh{d}", d, 5 if d == 6 else 1, minute=50 if d == 6 else 0)
            if d == 6:
                fresh["erp"] = []
            add(fresh)
    # Refund A: ERP reason code wrong until day 4, when a corrected version of the document arrives.
    a = refund("A", 1, 2)
    a["erp"][0][6] = "RC-CUS"
    if day >= 4:
        a["erp"].append(list(a["erp"][0]))
        a["erp"][1][6] = "RC-DMG"
        a["erp"][1][9] = "2026-03-04T03:00:00Z"
    add(a)
    # Refund B, from day 3: ERP amount wrong until day 5.
    if day >= 3:
        b = refund("B", 3, 2, amount="40.00")
        b["erp"][0][4] = "4.00"
        if day >= 5:
            b["erp"].append(list(b["erp"][0]))
            b["erp"][1][4] = "40.00"
            b["erp"][1][9] = "2026-03-05T03:00:00Z"
        add(b)
    return rows


def write_day(folder: Path, day: int, previous: Path | None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rows = day_inputs(day)
    for system, name, header in (("storefront", "storefront_refunds", STOREFRONT),
                                 ("processor", "processor_refunds", PROCESSOR),
                                 ("erp", "erp_refund_postings", ERP)):
        if system == "erp" and day == 6 and previous is not None:
            shutil.copy(previous / f"{name}.csv", folder / f"{name}.csv")  # byte for byte: nothing new
            continue
        with open(folder / f"{name}.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows[system])


class Webhook:
    """A Slack-compatible endpoint on 127.0.0.1 that keeps what it receives."""

    def __init__(self, on_receive: Callable[[dict], None] | None = None) -> None:
        """`on_receive(payload)` runs as each message arrives, before the sender gets its answer."""
        received: list[dict] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length", 0))
                received.append(json.loads(self.rfile.read(length)))
                if on_receive is not None:
                    on_receive(received[-1])
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.received = received
        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/services/T000/B000/secret-token"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()


def run_checkpoint(work: Path, data: Path, day: int, webhook_url: str | None) -> subprocess.CompletedProcess:
    env = {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
           "HOME": str(work)}
    if webhook_url:
        env["REFUND_RECON_WEBHOOK_URL"] = webhook_url
    return subprocess.run(
        [sys.executable, str(RUNNER), "run", "--data-dir", str(data), "--as-of", as_of(day),
         "--database", str(work / "recon.duckdb"), "--reports-dir", str(work / "reports")],
        cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=600,
    )


@pytest.fixture(scope="module")
def days(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("checkpoints")
    webhook = Webhook()
    results = {}
    previous = None
    try:
        for day in DAYS:
            folder = work / f"day{day}"
            write_day(folder, day, previous)
            previous = folder
            results[day] = run_checkpoint(work, folder, day, webhook.url)
            if day == 1:
                results["failed"] = run_checkpoint(work, work / "day2-never-delivered", 2, webhook.url)
        # Re-run day 6 on the same inputs: must change nothing.
        with duckdb.connect(str(work / "recon.duckdb"), read_only=True) as con:
            before = {table: con.sql(f"select * from {table} order by all").fetchall()
                      for table in ("fct_checkpoint_runs", "fct_variance_history")}
        results["rerun"] = run_checkpoint(work, work / "day6", 6, webhook.url)
        with duckdb.connect(str(work / "recon.duckdb"), read_only=True) as con:
            after = {table: con.sql(f"select * from {table} order by all").fetchall() for table in before}
    finally:
        webhook.close()
    return {"work": work, "results": results, "webhook": webhook.received, "before": before, "after": after}


def query(days: dict, sql: str) -> list[tuple]:
    with duckdb.connect(str(days["work"] / "recon.duckdb"), read_only=True) as con:
        return con.sql(sql).fetchall()


def test_exit_codes_follow_the_outcomes(days: dict) -> None:
    codes = {day: days["results"][day].returncode for day in DAYS}
    assert codes == {1: 1, 3: 1, 4: 1, 5: 0, 6: 2}, {d: days["results"][d].stdout[-2000:] for d in DAYS}
    assert query(days, "select as_of, outcome from fct_checkpoint_runs order by as_of") == [
        (query(days, f"select cast('{as_of(d)[:-1]}' as timestamp)")[0][0], outcome)
        for d, outcome in zip(DAYS, ["variances_found", "variances_found", "variances_found", "clean", "stale_sources"])
    ]


def test_history_ages_and_resolves_variances(days: dict) -> None:
    rows = query(days, """
        select strftime(checkpoint_as_of, '%d') as day, refund_id, variance_type, state,
               date_diff('day', first_detected_at, checkpoint_as_of) as age
        from fct_variance_history order by checkpoint_as_of, refund_id, state
    """)
    assert rows == [
        ("01", "re_A", "reason_mismatch", "open", 0),
        ("03", "re_A", "reason_mismatch", "open", 2),
        ("03", "re_B", "amount_mismatch", "open", 0),
        ("04", "re_A", "reason_mismatch", "resolved", 3),
        ("04", "re_B", "amount_mismatch", "open", 1),
        ("05", "re_B", "amount_mismatch", "resolved", 2),
    ]
    runs = query(days, """
        select strftime(as_of, '%d'), open_variance_count, new_variance_count, resolved_variance_count, stale_sources
        from fct_checkpoint_runs order by as_of
    """)
    assert runs == [("01", 1, 1, 0, None), ("03", 2, 1, 0, None), ("04", 1, 0, 1, None),
                    ("05", 0, 0, 1, None), ("06", 0, 0, 0, "erp")]


def test_report_of_day_four_shows_real_age(days: dict) -> None:
    summary = json.loads((days["work"] / "reports" / "cp_20260304T060000Z" / "summary.json").read_text())
    assert summary["outcome"] == "variances_found"
    assert (summary["open_variance_count"], summary["new_variance_count"], summary["resolved_variance_count"]) == (1, 0, 1)
    with open(days["work"] / "reports" / "cp_20260304T060000Z" / "variances.csv", encoding="utf-8") as handle:
        variances = list(csv.DictReader(handle))
    assert [(v["refund_id"], v["variance_type"], v["days_since_first_detected"], v["amount_delta"])
            for v in variances] == [("re_B", "amount_mismatch", "1", "-36.00")]
    assert variances[0]["first_detected_at"].startswith("2026-03-03 06:00:00")
    # Aged by the refund's date (created March 3), money at the currency's exponent.
    assert {key: variances[0][key] for key in ("refund_date", "posting_period", "age_days", "age_bucket",
                                               "processor_amount", "erp_amount", "minor_units")} == {
        "refund_date": "2026-03-03", "posting_period": "2026-03", "age_days": "1", "age_bucket": "0-7 days",
        "processor_amount": "40.00", "erp_amount": "4.00", "minor_units": "2"}
    assert [(e["currency"], e["amount_at_stake"], e["refund_count"]) for e in summary["at_stake"]] == [
        ("USD", "36.00", 1)]
    assert summary["largest"]["USD"][0]["amount_delta"] == "-36.00"


def test_clean_day_is_confirmed_by_webhook(days: dict) -> None:
    messages = days["webhook"]
    assert [m["outcome"] for m in messages] == [
        "variances_found", "failed", "variances_found", "variances_found", "clean", "stale_sources", "stale_sources"]
    clean = messages[4]["text"]
    assert "CLEAN. Zero open variances, zero rejected input rows" in clean
    assert "storefront 6 rows (newest 2026-03-05 01:01:00), processor 12 rows" in clean and "ERP 8 rows" in clean
    # Like with like: the refunds the ledger must book, and the net is what the numbers say.
    assert ("USD storefront 165.00 / processor 165.00 / ERP 165.00, net variance (ERP - storefront) 0.00"
            in clean)
    stale = messages[5]["text"]
    assert "STALE SOURCES: erp" in stale and "CLEAN" not in stale
    assert "Why: stale: erp newest record 2026-03-05 03:00:00, 27 h before as_of (window 24 h)." in stale
    first = messages[0]["text"]
    assert "reason_mismatch re_A" in first
    reports = days["work"] / "reports"
    assert first.endswith(f"Report: {reports / 'cp_20260301T060000Z' / 'report.html'}")
    # A failed checkpoint is announced too, with its reason and its report.
    failed = messages[1]["text"]
    assert f"FAILED. data folder {days['work'] / 'day2-never-delivered'} does not exist" in failed
    assert failed.endswith(f"Report: {reports / 'cp_20260302T060000Z-failed' / 'report.html'}")
    assert days["results"]["failed"].returncode == 3
    # Day 3: the money at stake (re_A's reason variance puts its whole 25.00 at stake, re_B's
    # amount variance its 36.00 difference) and the largest variance with its detail sentence.
    day3 = messages[2]["text"]
    assert "At stake: USD 61.00 on 2 refunds." in day3 and "New since the last checkpoint: 1; resolved: 0." in day3
    assert "Largest in USD:\n  - amount_mismatch re_B USD 36.00 at stake (erp at fault): " in day3
    # The URL's secret path is never printed.
    for day in DAYS:
        assert "secret-token" not in days["results"][day].stdout + days["results"][day].stderr
    assert "webhook http://127.0.0.1:" in days["results"][5].stdout and "/… : delivered" not in days["results"][5].stdout


def test_rerun_of_the_same_checkpoint_changes_nothing(days: dict) -> None:
    assert days["results"]["rerun"].returncode == 2
    assert days["before"] == days["after"]
    assert query(days, "select count(*) from fct_checkpoint_runs")[0][0] == len(DAYS)


def test_report_files_are_written(days: dict) -> None:
    folder = days["work"] / "reports" / "cp_20260305T060000Z"
    assert sorted(path.name for path in folder.iterdir()) == [
        "audit.html", "corrections.csv", "rejected_rows.csv", "report.html", "summary.json", "variances.csv"]
    page = (folder / "report.html").read_text()
    for needle in ("CLEAN: every source delivered and zero variances are open", "Refunds the ledger must book",
                   "Amounts at stake per currency", "Age by refund date", "Open variances over checkpoints",
                   "New and resolved since the last checkpoint", "Source freshness", "Settings used"):
        assert needle in page
    # One inline script, nothing fetched from the network.
    assert page.count("<script") == 1 and not re.search(r"(src|href)=\"(https?:)?//", page)
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["outcome"] == "clean" and summary["open_variance_count"] == 0
    assert summary["settings"]["confirmation_sla_minutes"] == 30 and summary["settings"]["webhook_env"] == \
        "REFUND_RECON_WEBHOOK_URL"
    assert [d["channel"] for d in summary["deliveries"]] == ["terminal", "webhook"]
    assert summary["deliveries"][1]["delivered"] is True
    assert "secret-token" not in json.dumps(summary) + page
    # Day 6: the stale checkpoint's freshness and its place in the trend, beside the failed attempt.
    stale = Page((days["work"] / "reports" / "cp_20260306T060000Z" / "report.html").read_text())
    assert [(row.cells[0], row.cells[5]) for row in stale.tables["freshness-table"]] == [
        ("storefront", "fresh"), ("processor", "fresh"),
        ("erp", "stale: newest record 2026-03-05 03:00:00, 27 h before as_of (window 24 h)")]
    assert [(row.cells[1], row.cells[2], row.cells[3]) for row in stale.tables["trend-table"]] == [
        ("cp_20260301T060000Z", "variances_found", "1"), ("cp_20260302T060000Z", "failed attempt", ""),
        ("cp_20260303T060000Z", "variances_found", "2"), ("cp_20260304T060000Z", "variances_found", "1"),
        ("cp_20260305T060000Z", "clean", "0"), ("cp_20260306T060000Z", "stale_sources", "0")]
    # ... with each checkpoint's money at stake per currency, as fct_checkpoint_totals holds it.
    totals = query(days, "select checkpoint_id, currency, cast(sum(amount) as varchar), sum(record_count) "
                         "from fct_checkpoint_totals where measure = 'open_variances' group by all")
    currencies = sorted({currency for _, currency, _, _ in totals})
    assert totals and [row.cells[4:-1] for row in stale.tables["trend-table"] if row.cells[2] != "failed attempt"] == [
        [next((f"{money.display(Decimal(amount), currency, money.minor_units(currency))} ({count})"
               for checkpoint, code, amount, count in totals if checkpoint == row.cells[1] and code == currency),
              money.display(0, currency, money.minor_units(currency))) for currency in currencies]
        for row in stale.tables["trend-table"] if row.cells[2] != "failed attempt"]
    # Day 4: A resolved, nothing new.
    day4 = Page((days["work"] / "reports" / "cp_20260304T060000Z" / "report.html").read_text())
    assert [row.cells[:3] for row in day4.tables["resolved-variances"]] == [["reason_mismatch", "erp", "re_A"]]
    assert "new-variances" not in day4.tables


def visible(page: Page) -> list[tuple[str, str, str]]:
    """(refund, type, difference) of the variance rows the page shows, in page order."""
    return [(row.cells[4], row.cells[2], row.cells[7]) for row in page.tables["variances"] if not row.hidden]


def test_report_renders_in_headless_chromium(days: dict, tmp_path: Path) -> None:
    """Day 3 (re_A reason_mismatch, refund of March 1; re_B amount_mismatch -36.00, March 3) in a real
    browser: the banner, money, the in-page filter and sort driven from the address, the audit link."""
    browser = chromium()
    if browser is None:
        pytest.skip("Chromium is not installed here (Debian package `chromium`; CI installs it)")
    folder = days["work"] / "reports" / "cp_20260303T060000Z"
    url = (folder / "report.html").as_uri()
    profile = tmp_path / "profile"
    page = dump_dom(browser, url, profile)
    assert page.text("banner").startswith("VARIANCES FOUND")
    assert page.text("outcome-reasons") == "2 open variances"
    assert [row.cells[:4] for row in page.tables["stake-by-currency"]] == [["USD", "2", "2", "$61.00"]]
    # Default order: the largest money at stake first (data-stake: the mart's amount_at_stake, else |delta|).
    assert sorted(visible(page)) == [("re_A", "reason_mismatch", "$0.00"), ("re_B", "amount_mismatch", "-$36.00")]
    stakes = [Decimal(row.attrs["data-stake"]) for row in page.tables["variances"] if not row.hidden]
    assert stakes == sorted(stakes, reverse=True)
    assert page.text("shown-count") == "Showing 2 of 2"
    filtered = dump_dom(browser, url + "#type=amount_mismatch", profile)
    assert visible(filtered) == [("re_B", "amount_mismatch", "-$36.00")]
    assert [row.cells[4] for row in filtered.tables["variances"] if row.hidden] == ["re_A"]
    assert filtered.text("shown-count") == "Showing 1 of 2"
    ascending = dump_dom(browser, url + "#sort=amount_delta&dir=asc", profile)
    assert [refund for refund, _, _ in visible(ascending)] == ["re_B", "re_A"]
    descending = dump_dom(browser, url + "#sort=refund_id&dir=desc", profile)
    assert [refund for refund, _, _ in visible(descending)] == ["re_B", "re_A"]
    # Each row's audit link lands on that refund's records in all three systems, in time order.
    audit = dump_dom(browser, (folder / "audit.html").as_uri(), profile)
    for row in page.tables["variances"]:
        target, _, fragment = row.links[0].partition("#")
        assert target == "audit.html" and unquote(fragment) in audit.ids, row.links
    sections = {unquote(row.links[0].partition("#")[2]): row.cells[4] for row in page.tables["variances"]}
    records = [row.cells for anchor in sections for row in audit.tables[f"records-{anchor}"]]
    assert {cells[2] for cells in records} == {"storefront", "processor", "erp"}
    assert len(sections) == 2 and all(audit.text(anchor).startswith("Refund ") for anchor in sections)
    shot = tmp_path / "report.png"
    screenshot(browser, url, shot, profile)
    assert shot.exists() and shot.stat().st_size > 20_000


def test_a_second_checkpoint_on_the_same_database_is_refused(tmp_path: Path) -> None:
    database = tmp_path / "busy.duckdb"
    with open(tmp_path / "busy.duckdb.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        lock.write("pid 12345 since 2026-03-01T00:00:00Z")
        lock.flush()
        result = subprocess.run(
            [sys.executable, str(RUNNER), "run", "--database", str(database), "--as-of", "2026-03-01T00:00:00Z",
             "--reports-dir", str(tmp_path / "reports")],
            cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120,
        )
    assert result.returncode == 4
    assert "BUSY: another checkpoint is running" in result.stdout and "pid 12345" in result.stdout
    assert not database.exists()


def test_failed_webhook_is_reported_not_fatal() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = post_json(f"http://127.0.0.1:{port}/hooks/secret", {"text": "x"}, timeout_seconds=1,
                       attempts=2, backoff_seconds=0.01)
    assert not result.delivered and result.attempts == 2
    assert "secret" not in result.detail
    assert mask_url("https://hooks.slack.com/services/T1/B2/XYZ") == "https://hooks.slack.com/…"


def test_largest_compares_amounts_only_within_a_currency() -> None:
    from decimal import Decimal

    variances = [
        {"refund_id": "a", "currency": "JPY", "amount_at_stake": Decimal("90000")},
        {"refund_id": "b", "currency": "USD", "amount_at_stake": Decimal("12.50")},
        {"refund_id": "c", "currency": "USD", "amount_at_stake": Decimal("640.00")},
        {"refund_id": "d", "currency": "USD", "amount_at_stake": Decimal("0")},
        {"refund_id": "e", "currency": "EUR", "amount_at_stake": None},
    ]
    # USD first (two variances with money at stake), largest first within it; JPY's only one is a.
    assert {currency: [v["refund_id"] for v in rows] for currency, rows in largest(variances).items()} == {
        "USD": ["c", "b"], "JPY": ["a"]}
    assert list(largest(variances)) == ["USD", "JPY"]


def test_tolerate_amount_needs_every_delta_within_it() -> None:
    from decimal import Decimal

    small = [{"variance_type": "amount_mismatch", "amount_delta": Decimal(delta)} for delta in ("-0.01", "0", "0.02")]
    summary = {"rows_rejected": 0}
    assert within_tolerance(summary, small, Decimal("0.02"))
    assert not within_tolerance(summary, small, Decimal("0.01"))
    # A currency mismatch has no comparable amount: never tolerated.
    assert not within_tolerance(summary, small + [{"variance_type": "currency_mismatch", "amount_delta": None}],
                                Decimal("1000000"))
    assert within_tolerance(summary, [], Decimal("0"))
    # A rejected row has no amount to tolerate.
    assert not within_tolerance({"rows_rejected": 1}, [], Decimal("1000000"))
