"""The report's templates with hand-written inputs (report_inputs.py, no dbt):
escaping, money per currency, the sections a controller reads, a clean and a
failed checkpoint, the audit links, and the files beside the pages.

Runs in about a second: `.venv/bin/pytest tests/python/test_report_render.py`.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

import report_inputs as given
from html_probe import Page
from recon_runner import money
from recon_runner.marts import VARIANCE_COLUMNS, money_summary
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
    # A formula-like order id is only text in HTML (the CSV neutralises it).
    assert hostile[0].cells[5] == '=HYPERLINK("http://x","y")'


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
    # Every JPY amount in the page is whole yen; every USD amount has cents.
    table = {row.attrs["id"]: row.cells for row in page.tables["variances"]}
    assert table["variance-v3"][7:11] == ["¥40,000", "¥40,000", "¥2,776", "-¥37,224"]
    assert table["variance-v1"][7:11] == ["$50.00", "$50.00", "$37.50", "-$12.50"]
    # A currency mismatch: each system's amount in its own currency (the ERP's GBP is not shown in euros).
    assert table["variance-v7"][7:11] == ["€40.00", "€40.00", "£35.00", "n/a"]
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
    assert pages[0].count('class="trend-failed"') == 1 and pages[0].count("trend-point trend-stale") == 1
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
        "audit.html", "rejected_rows.csv", "report.html", "summary.json", "variances.csv"]
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
