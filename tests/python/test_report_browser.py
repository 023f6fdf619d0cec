"""The report of the labelled multi-currency scenario (conftest's labelled_build:
USD, EUR, GBP, JPY and KWD, every fault kind, rejected rows) rendered in
headless Chromium, checked against the marts it was read from.

No dbt build of its own: it reads the session's labelled build. Skips only
when Chromium is absent (CI installs Debian's `chromium`).
`.venv/bin/pytest tests/python/test_report_browser.py`
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from urllib.parse import unquote

import pytest

from conftest import Build
from html_probe import Page, chromium, dump_dom, screenshot
from recon_runner import money
from recon_runner.marts import VARIANCE_COLUMNS, read_checkpoint
from recon_runner.reports import TABLE_LIMIT, write_report_folder

PATTERN = {"JPY": r"-?¥[\d,]+", "KWD": r"-?KWD[\d,]+\.\d{3}", "USD": r"-?\$[\d,]+\.\d{2}",
           "EUR": r"-?€[\d,]+\.\d{2}", "GBP": r"-?£[\d,]+\.\d{2}"}


@pytest.fixture(scope="module")
def report(labelled_build: Build, tmp_path_factory: pytest.TempPathFactory) -> dict:
    browser = chromium()
    if browser is None:
        pytest.skip("Chromium is not installed here (Debian package `chromium`; CI installs it)")
    checkpoint_id = labelled_build.query("select checkpoint_id from fct_checkpoint_runs")["checkpoint_id"][0]
    summary, variances, details = read_checkpoint(labelled_build.database, checkpoint_id, labelled_build.data_dir)
    work = tmp_path_factory.mktemp("labelled_report")
    folder = write_report_folder(work, checkpoint_id, summary, variances, VARIANCE_COLUMNS, details)
    return {"browser": browser, "folder": folder, "url": (folder / "report.html").as_uri(),
            "profile": work / "profile", "variances": variances, "build": labelled_build}


def dom(report: dict, fragment: str = "") -> Page:
    return dump_dom(report["browser"], report["url"] + fragment, report["profile"])


def shown_rows(page: Page) -> list:
    return [row for row in page.tables["variances"] if not row.hidden]


def test_amounts_at_stake_per_currency_match_the_mart_at_each_exponent(report: dict) -> None:
    page = dom(report)
    assert page.text("banner").startswith("VARIANCES FOUND")
    expected = report["build"].query("""
        with per_refund as (
            select currency, refund_key, max(amount_at_stake) as largest
            from fct_refund_variances group by all
        )
        select currency, sum(largest) as at_stake from per_refund group by all order by currency
    """)
    units = {"JPY": 0, "KWD": 3}
    want = {row.currency: money.display(Decimal(str(row.at_stake)), row.currency, units.get(row.currency, 2))
            for row in expected.itertuples()}
    got = {row.cells[0]: row.cells[3] for row in page.tables["stake-by-currency"]}
    assert {"JPY", "KWD", "USD"} <= set(got) and {key: got[key] for key in want} == want
    for currency, amount in got.items():
        if currency in PATTERN and amount != "n/a":
            assert re.fullmatch(PATTERN[currency], amount), (currency, amount)
    assert "." not in got["JPY"] and got["KWD"].count(".") == 1
    # A JPY row's amounts are whole yen in the table too.
    jpy = [row for row in page.tables["variances"] if row.attrs["data-currency"] == "JPY"]
    assert jpy and all("." not in cell for row in jpy for cell in row.cells[7:11])


def test_filter_and_sort_from_the_address(report: dict) -> None:
    shown = report["variances"][:TABLE_LIMIT]
    common = max({v["variance_type"] for v in shown}, key=lambda t: sum(v["variance_type"] == t for v in shown))
    page = dom(report, f"#type={common}")
    rows = shown_rows(page)
    assert len(rows) == sum(v["variance_type"] == common for v in shown) > 1
    assert {row.attrs["data-type"] for row in rows} == {common} and {row.cells[2] for row in rows} == {common}
    assert page.text("shown-count") == f"Showing {len(rows)} of {len(shown)}"
    # JPY, largest difference first: only yen, descending.
    page = dom(report, "#currency=JPY&sort=amount_delta&dir=desc")
    amounts = [Decimal(row.attrs["data-amount"]) for row in shown_rows(page) if row.attrs["data-amount"]]
    assert amounts and amounts == sorted(amounts, reverse=True)
    assert {row.attrs["data-currency"] for row in shown_rows(page)} == {"JPY"}
    # All currencies: sorted by currency first, then amount within it; never ¥ against $.
    rows = shown_rows(dom(report, "#sort=amount_delta&dir=asc"))
    currencies = [row.attrs["data-currency"] for row in rows]
    assert currencies == sorted(currencies) and len(set(currencies)) >= 4
    for currency in set(currencies):
        within = [row.attrs["data-amount"] for row in rows if row.attrs["data-currency"] == currency]
        numbers = [Decimal(a) for a in within if a]
        assert numbers == sorted(numbers) and within == [f"{n:f}" for n in numbers] + [""] * (len(within) - len(numbers))


def test_age_buckets_rejected_rows_and_audit_trail_match_the_marts(report: dict) -> None:
    page = dom(report)
    build = report["build"]
    ages = build.query("select age_bucket, count(*) as n from fct_refund_variances group by all")
    assert {row.cells[0]: int(row.cells[1]) for row in page.tables["age-buckets"] if row.cells[1] != "0"} == \
        {row.age_bucket: row.n for row in ages.itertuples()}
    rejected = int(build.query("select count(*) as n from fct_rejected_rows")["n"][0])
    assert rejected > 0 and len(page.tables["rejected-rows"]) == min(rejected, 500)
    audit = dump_dom(report["browser"], (report["folder"] / "audit.html").as_uri(), report["profile"])
    links = {row.links[0] for row in page.tables["variances"]}
    assert all(link.startswith("audit.html#") and unquote(link.partition("#")[2]) in audit.ids for link in links)
    key = report["variances"][0]["refund_key"]
    trail = build.query("select system, record_id from fct_refund_audit_trail where refund_key = ? "
                        "order by event_order", [key])
    records = [(row.cells[2], row.cells[4]) for row in audit.tables[f"records-refund-{key}"]]
    assert len(trail) > 0 and records == [(system, record_id or "") for system, record_id in trail.itertuples(index=False)]


def test_screenshot(report: dict, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    screenshot(report["browser"], report["url"], shot, report["profile"], size="1280,3000")
    assert shot.exists() and shot.stat().st_size > 50_000
