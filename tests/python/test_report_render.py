"""The report's templates with hand-written inputs (report_inputs.py, no dbt):
escaping, money per currency, the sections a controller reads, a clean and a
failed checkpoint, the audit links, and the files beside the pages.

Runs in about a second: `.venv/bin/pytest tests/python/test_report_render.py`.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import unquote

import pytest

import report_inputs as given
from html_probe import Page
from recon_runner import money
from recon_runner.marts import VARIANCE_COLUMNS, money_summary
from recon_runner import reports
from recon_runner.reports import render, write_report_folder


@pytest.fixture(scope="module")
def pages() -> tuple[str, str]:
    return render(given.summary(), given.variances(), given.details())


def cells(page: Page, table: str) -> list[list[str]]:
    return [row.cells for row in page.tables[table]]


def test_data_is_escaped_and_the_only_script_is_the_page_s_own(pages: tuple[str, str]) -> None:
    report, audit = pages
    assert report.count("<script") == 1 and "<script>alert(1)" not in report
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in report
    assert "<b>bold</b>" not in report and "&lt;b&gt;bold&lt;/b&gt; &amp; more" in report
    assert "<script" not in audit and "<img src=x>" not in audit and "&lt;img src=x&gt;" in audit
    # The hostile refund id is text in the table, and its audit link is percent-encoded.
    page = Page(report)
    hostile = [row for row in page.tables["variances"] if row.attrs["data-type"] == "missing_in_storefront"]
    assert hostile[0].cells[4] == given.HOSTILE_REFUND
    assert hostile[0].links == ["audit.html#refund-%3Cscript%3Ealert%281%29%3C%2Fscript%3E"]
    # A formula-like order id is only text in HTML (the CSV neutralises it), in the row's "more".
    assert 'order =HYPERLINK("http://x","y") storefront' in hostile[0].cells[8]


def test_money_at_stake_per_currency_at_each_currency_s_exponent(pages: tuple[str, str]) -> None:
    page = Page(pages[0])
    # currency, open variances, refunds, at stake, net, without an amount
    assert cells(page, "stake-by-currency") == [
        ["EUR", "1", "1", "€40.00", "n/a", "0"],
        ["JPY", "2", "1", "¥40,000", "-¥37,224", "0"],
        ["KWD", "1", "1", "KWD66.967", "KWD66.967", "0"],
        ["USD", "4", "4", "$475.50", "-$395.50", "0"],
    ]
    # By type and by system: one column per currency, nothing added or ranked across currencies.
    assert cells(page, "stake-by-type") == [
        ["amount_mismatch", "2", "", "¥37,224 (1)", "", "$12.50 (1)"],
        ["confirmation_lag", "1", "", "", "", "$40.00 (1)"],
        ["currency_mismatch", "1", "€40.00 (1)", "", "", ""],
        ["duplicate_erp_posting", "1", "", "", "KWD66.967 (1)", ""],
        ["missing_in_erp", "1", "", "", "", "$398.00 (1)"],
        ["missing_in_storefront", "1", "", "", "", "$25.00 (1)"],
        ["wrong_period", "1", "", "¥40,000 (1)", "", ""],
    ]
    assert cells(page, "stake-by-system") == [
        ["erp", "6", "€40.00 (1)", "¥40,000 (2)", "KWD66.967 (1)", "$410.50 (2)"],
        ["processor", "1", "", "", "", "$40.00 (1)"],
        ["storefront", "1", "", "", "", "$25.00 (1)"],
    ]
    # Every JPY amount in the page is whole yen; every USD amount has cents. At stake, the
    # difference, then each system's amount in the row's "more".
    table = {row.attrs["id"]: row.cells for row in page.tables["variances"]}
    assert table["variance-v3"][6:8] == ["¥37,224", "-¥37,224"]
    assert "storefront ¥40,000 processor ¥40,000 ERP ¥2,776 posting" in table["variance-v3"][8]
    assert table["variance-v1"][6:8] == ["$12.50", "-$12.50"]
    assert "storefront $50.00 processor $50.00 ERP $37.50 posting" in table["variance-v1"][8]
    # A currency mismatch: each system's amount in its own currency (the ERP's GBP is not shown in euros).
    assert "storefront €40.00 processor €40.00 ERP £35.00 posting" in table["variance-v7"][8]
    assert not re.search(r"¥[\d,]*\.\d", pages[0]) and not re.search(r"\d\.\d{4}\b", pages[0])


def test_age_is_by_refund_date_in_the_contract_s_buckets(pages: tuple[str, str]) -> None:
    rows = cells(Page(pages[0]), "age-buckets")
    # bucket, count, bar, then at stake EUR, JPY, KWD, USD
    assert [(row[0], row[1]) for row in rows] == [("0-7 days", "2"), ("8-30 days", "2"), ("31-60 days", "1"),
                                                  ("61-90 days", "1"), ("over 90 days", "2")]
    assert rows[0][3:] == ["€40.00", "", "", "$12.50"] and rows[4][3:] == ["", "¥40,000", "", ""]


def test_banner_trend_changes_rejected_freshness_and_settings(pages: tuple[str, str]) -> None:
    page = Page(pages[0])
    banner = page.text("banner")
    assert banner.startswith("VARIANCES FOUND") and "8 open, 3 new, 1 resolved, 2 input rows rejected" in banner
    assert page.text("outcome-reasons") == "8 open variances 2 input rows rejected (fct_rejected_rows)"
    assert [(row[2], row[3]) for row in cells(page, "trend-table")] == [
        ("variances_found", "5"), ("stale_sources", "6"), ("failed attempt", ""), ("variances_found", "8")]
    # One chart for the count and one per currency: a failed attempt and a stale checkpoint marked in each.
    assert pages[0].count('class="trend-failed"') == 5 and pages[0].count("trend-point trend-stale") == 5
    assert cells(page, "new-variances") == [["amount_mismatch", "erp", "re_jpy", "-¥37,224",
                                             "ERP posted 2,776 JPY, processor refunded 40,000 JPY."]]
    assert cells(page, "resolved-variances") == [["amount_mismatch", "erp", "re_gone", "-$4.00",
                                                  "2026-02-20 00:00:00"]]
    assert [row[5] for row in cells(page, "rejected-rows")] == ["invalid amount", "invalid amount"]
    assert [row[0] + ":" + row[5] for row in cells(page, "freshness-table")] == [
        "storefront:fresh", "processor:fresh", "erp:fresh"]
    settings = dict((row.cells[0], row.cells[1]) for row in page.tables["settings-table"])
    assert settings["business_timezone"] == "Europe/Berlin" and settings["shapes"] == "storefront: generic"
    assert [row[1:] for row in cells(page, "booked-totals")] == [
        ["¥1,234,567", "¥1,234,567", "¥1,197,343", "-¥37,224"], ["$1,234.50", "$1,234.50", "$1,222.00", "-$12.50"]]


def variance_order(page: Page) -> list[str]:
    return [row.attrs["id"].removeprefix("variance-") for row in page.tables["variances"]]


def test_the_table_shows_the_largest_money_at_stake_first_within_each_currency(pages: tuple[str, str]) -> None:
    """Currency A-Z, then the mart's amount_at_stake largest first whatever the delta's sign
    (JPY: the status variance's whole 40,000 before the -37,224 amount difference; USD 398.00
    before 40.00 before 25.00 before 12.50); the page's script sorts the same way by default
    (at_stake, desc), so the address needs no sort for this view."""
    page = Page(pages[0])
    assert variance_order(page) == ["v7", "v4", "v3", "v6", "v2", "v8", "v5", "v1"]
    assert [row.attrs["data-stake"] for row in page.tables["variances"]] == [
        "40.00", "40000", "37224", "66.967", "398.00", "40.00", "25.00", "12.50"]
    assert 'var DEFAULT_SORT = "at_stake", DEFAULT_DIR = "desc";' in pages[0]
    assert '<th data-sort="at_stake" class="num">at stake</th>' in pages[0]


def test_the_mart_s_amount_at_stake_wins_over_the_difference_when_the_rows_have_it() -> None:
    """fct_refund_variances.amount_at_stake (the refund's amount where the whole posting is wrong,
    e.g. a wrong period with a zero difference) decides the order and the "at stake" cell; a null
    one (nothing comparable) sorts last in its currency."""
    variances = given.variances()
    stakes = {"v1": "12.50", "v2": "398.00", "v3": "37224", "v4": "40000", "v5": "25.00", "v6": "66.967",
              "v7": None, "v8": "500.00"}
    for row in variances:
        row["amount_at_stake"] = None if stakes[row["variance_id"]] is None else Decimal(stakes[row["variance_id"]])
    page = Page(render(given.summary(), variances, given.details())[0])
    assert variance_order(page) == ["v7", "v4", "v3", "v6", "v8", "v2", "v5", "v1"]
    table = {row.attrs["id"]: row.cells for row in page.tables["variances"]}
    assert table["variance-v4"][6:8] == ["¥40,000", "¥0"] and table["variance-v8"][6:8] == ["$500.00", "$40.00"]
    assert table["variance-v7"][6] == "n/a"


def test_each_system_s_amount_is_shown_in_its_own_currency() -> None:
    """A currency mismatch: the ERP booked GBP where the refund was EUR. With the mart's
    <system>_currency columns, each amount is formatted in its own currency, never the row's."""
    variances = given.variances()
    mismatch = next(row for row in variances if row["variance_id"] == "v7")
    mismatch.update(storefront_amount=Decimal("50.00"), storefront_currency="EUR", processor_amount=Decimal("50.00"),
                    processor_currency="EUR", erp_amount=Decimal("43.10"), erp_currency="GBP")
    page = Page(render(given.summary(), variances, given.details())[0])
    detail = {row.attrs["id"]: row.cells for row in page.tables["variances"]}["variance-v7"][8]
    assert "storefront €50.00 processor €50.00 ERP £43.10 posting" in detail


def test_beyond_the_table_limit_each_currency_keeps_its_largest(monkeypatch: pytest.MonkeyPatch) -> None:
    """Over TABLE_LIMIT rows the page keeps every currency's largest, taking each currency's
    1st, then each one's 2nd, ...: never the first rows in the marts' order (oldest first), and
    never a ranking of yen against dollars."""
    monkeypatch.setattr(reports, "TABLE_LIMIT", 6)
    variances = [given.variance(f"u{n}", f"re_u{n}", "amount_mismatch", "erp", "USD", 2, f"-{n}.00", 90 - n,
                                "over 90 days", 5) for n in range(1, 9)]
    variances += [given.variance(f"j{n}", f"re_j{n}", "amount_mismatch", "erp", "JPY", 0, f"{n}", 1, "0-7 days", 1)
                  for n in range(1, 3)]
    report = render(given.summary(), variances, {})[0]
    assert variance_order(Page(report)) == ["j2", "j1", "u8", "u7", "u6", "u5"]
    assert "This page shows 6 of 10 (the largest in each currency); variances.csv has them all." in report


def trend_row(day: datetime, count: int, **amounts: str) -> dict:
    return {"checkpoint_id": day.strftime("cp_%Y%m%dT%H%M%SZ"), "as_of": day, "open_variance_count": count,
            "outcome": "variances_found", "reason": f"{count} open variances; ", "kind": "checkpoint",
            "at_stake": [given.stake(currency, money.minor_units(currency), amount, count)
                         for currency, amount in amounts.items()]}


def axis_dates(report: str) -> list[tuple[float, str]]:
    """(x, label) of the date axis of the first trend chart."""
    first = report[report.index('<figure class="trend-panel"'):report.index("</figure>")]
    return [(float(x), label) for x, label in re.findall(r'<text class="trend-date" x="([\d.]+)"[^>]*>([^<]*)</text>',
                                                          first)]


def test_the_trend_shows_money_per_currency_and_counts(pages: tuple[str, str]) -> None:
    page = Page(pages[0])
    # One chart for the count, one per currency on its own scale, each titled with today's figure.
    assert [page.text(f"trend-{key}").split(" max ")[0] for key in ("count", "EUR", "JPY", "KWD", "USD")] == [
        "Open variances: 8", "At stake in EUR: €0.00", "At stake in JPY: ¥37,224", "At stake in KWD: KWD66.967",
        "At stake in USD: $475.50"]
    # The table: counts, then money at stake (open variances) per currency; a failed attempt has neither.
    assert [row[3:-1] for row in cells(page, "trend-table")] == [
        ["5", "€0.00", "¥37,224 (2)", "KWD0.000", "$410.50 (3)"],
        ["6", "€0.00", "¥37,224 (2)", "KWD0.000", "$435.50 (4)"],
        ["", "", "", "", ""],
        ["8", "€0.00 (1)", "¥37,224 (2)", "KWD66.967 (1)", "$475.50 (4)"]]
    # Readable dates, each once (the failed attempt and the checkpoint of Mar 01 share one).
    assert axis_dates(pages[0]) == [(10.0, "Feb 27"), (136.7, "Feb 28"), (390.0, "Mar 01")]


def test_trend_dates_stay_readable_however_many_checkpoints() -> None:
    """Two months of daily checkpoints: a few dates on a 400 px axis, as "Jan 05", never closer
    than a label and a half; ISO dates when the checkpoints span two years; the time of day
    when two checkpoints share a day. A checkpoint without totals leaves a gap in the money line."""
    days = [datetime(2026, 1, 1) + timedelta(days=n) for n in range(60)]
    trend = [trend_row(day, n + 1, USD=f"{n}.25") for n, day in enumerate(days)]
    trend[30]["at_stake"] = None
    report = render(given.summary(), given.variances(), {"trend": trend})[0]
    dates = axis_dates(report)
    assert 4 <= len(dates) <= 8 and dates[0][1] == "Jan 01" and dates[-1][1] == "Mar 01"
    assert all(re.fullmatch(r"[A-Z][a-z]{2} \d{2}", label) for _, label in dates)
    assert min(b[0] - a[0] for a, b in zip(dates, dates[1:])) >= 1.5 * 6 * 6 + 12
    usd = report[report.index('id="trend-USD"'):]
    assert usd[:usd.index("</figure>")].count("<polyline") == 2
    page = Page(report)
    assert [row[4] for row in cells(page, "trend-table")][29:32] == ["$29.25 (30)", "", "$31.25 (32)"]
    # Across a new year: ISO dates.
    years = [trend_row(datetime(2025, 12, 20) + timedelta(days=n), 1, EUR="1.00") for n in range(25)]
    labels = [label for _, label in axis_dates(render(given.summary(), [], {"trend": years})[0])]
    assert labels[0] == "2025-12-20" and labels[-1] == "2026-01-13" and len(labels) <= 6
    # Two checkpoints on one day: the time too.
    twice = [trend_row(datetime(2026, 3, 1, hour), 1, EUR="1.00") for hour in (6, 18)]
    assert [label for _, label in axis_dates(render(given.summary(), [], {"trend": twice})[0])] == [
        "Mar 01 06:00", "Mar 01 18:00"]


def test_every_audit_link_lands_on_a_refund_section(pages: tuple[str, str]) -> None:
    report, audit = Page(pages[0]), Page(pages[1])
    links = [link for row in report.tables["variances"] for link in row.links]
    assert len(links) == 8
    for link in links:
        page, _, fragment = link.partition("#")
        assert page == "audit.html" and unquote(fragment) in audit.ids, link
    # The refund's records, in time order, with amounts at the currency's exponent.
    assert [row.cells[:4] + row.cells[7:8] for row in audit.tables["records-refund-re_jpy"]] \
        == [["1", "2025-11-26 09:00:00", "processor", "refund created", "¥40,000"],
            ["2", "2025-11-26 10:00:00", "erp", "posting", "¥2,776"]]


def test_a_clean_checkpoint_with_no_variances() -> None:
    summary = given.summary("clean", outcome_reasons="", open_variance_count=0, new_variance_count=0,
                            resolved_variance_count=2, rows_rejected=0, rejected=[], variances_by_type={})
    report, audit = render(summary, [], {"trend": given.details()["trend"][:2]})
    page = Page(report)
    assert page.text("banner").startswith("CLEAN: every source delivered and zero variances are open")
    assert "outcome-reasons" not in page.ids and "variances" not in page.tables
    assert page.text("no-variances") == "No open variances: nothing is at stake."
    assert [(row[0], row[1]) for row in cells(page, "age-buckets")] == [
        ("0-7 days", "0"), ("8-30 days", "0"), ("31-60 days", "0"), ("61-90 days", "0"), ("over 90 days", "0")]
    assert "No refund has an open variance." in audit


def test_a_failed_checkpoint_renders_its_error() -> None:
    summary = {"checkpoint_id": "cp_20260301T000000Z", "as_of": "2026-03-01T00:00:00Z", "outcome": "failed",
               "error": "input missing: erp <b>", "data_dir": "/x", "settings": {"as_of": "2026-03-01T00:00:00Z"}}
    report, _ = render(summary, [], {})
    page = Page(report)
    assert page.text("banner").startswith("FAILED: the checkpoint did not complete")
    assert "input missing: erp <b>" in page.text("outcome-reasons") and "erp &lt;b&gt;" in report


def test_files_beside_the_pages_keep_money_exact_and_numbers_numbers(tmp_path: Path) -> None:
    variances = given.variances()
    folder = write_report_folder(tmp_path, "cp", given.summary(**money_summary(variances)), variances,
                                 VARIANCE_COLUMNS, given.details())
    assert sorted(path.name for path in folder.iterdir()) == [
        "audit.html", "corrections.csv", "rejected_rows.csv", "report.html", "summary.json", "variances.csv"]
    raw = (folder / "variances.csv").read_text(encoding="utf-8")
    with open(folder / "variances.csv", newline="", encoding="utf-8") as handle:
        rows = {row["variance_id"]: row for row in csv.DictReader(handle)}
    assert [rows[v]["amount_delta"] for v in ("v1", "v2", "v3", "v6", "v7")] == [
        "-12.50", "-398.00", "-37224", "66.967", ""]
    assert rows["v3"]["erp_amount"] == "2776" and rows["v3"]["minor_units"] == "0"
    assert ",-37224,37224," in raw and ",-12.50,12.50," in raw  # unquoted, no thousands separator
    # Each amount beside its own currency: the ERP's GBP 35.00 of the currency mismatch.
    assert [rows["v7"][key] for key in ("processor_amount", "processor_currency", "erp_amount", "erp_currency",
                                        "amount_at_stake", "currency")] == ["40.00", "EUR", "35.00", "GBP", "40.00",
                                                                            "EUR"]
    summary = json.loads((folder / "summary.json").read_text())
    assert {e["currency"]: e["amount_at_stake"] for e in summary["at_stake"]} == {
        "EUR": "40.00", "JPY": "40000", "KWD": "66.967", "USD": "475.50"}
    assert [(v["refund_id"], v["amount_at_stake"]) for v in summary["largest"]["JPY"]] == [
        ("re_jpy", "40000"), ("re_jpy", "37224")]
    assert [v["amount_at_stake"] for v in summary["largest"]["USD"]] == ["398.00", "40.00", "25.00", "12.50"]
    assert list(summary["largest"]) == ["USD", "JPY", "EUR", "KWD"]
    assert summary["booked_totals"][0]["net_variance"] == "-37224"


def test_money_spellings() -> None:
    from decimal import Decimal

    assert money.plain(Decimal("-37224.0000"), 0) == "-37224" and money.plain(Decimal("-12.5"), 2) == "-12.50"
    assert money.text(Decimal("-37224"), "JPY", 0) == "JPY -37,224"
    assert money.display(Decimal("-37224"), "JPY", 0) == "-¥37,224"
    assert money.display(Decimal("-12.5"), "USD", 2) == "-$12.50"
    assert money.display(Decimal("1234.5"), "USD", 2, locale="de_DE") == "1.234,50\xa0$"
    assert money.minor_units("KWD") == 3 and money.minor_units("JPY") == 0 and money.minor_units("JPY", 2) == 2
