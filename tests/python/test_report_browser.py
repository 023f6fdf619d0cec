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
from html_probe import Page, chromium, dump_dom, layout, png_size, screenshot
from recon_runner import money
from recon_runner.marts import VARIANCE_COLUMNS, read_report
from recon_runner.reports import TABLE_LIMIT, write_report_folder

PATTERN = {"JPY": r"-?¥[\d,]+", "KWD": r"-?KWD[\d,]+\.\d{3}", "USD": r"-?\$[\d,]+\.\d{2}",
           "EUR": r"-?€[\d,]+\.\d{2}", "GBP": r"-?£[\d,]+\.\d{2}"}


@pytest.fixture(scope="module")
def report(labelled_build: Build, tmp_path_factory: pytest.TempPathFactory) -> dict:
    browser = chromium()
    if browser is None:
        pytest.skip("Chromium is not installed here (Debian package `chromium`; CI installs it)")
    checkpoint_id = labelled_build.query("select checkpoint_id from fct_checkpoint_runs")["checkpoint_id"][0]
    summary, variances, details = read_report(labelled_build.database, checkpoint_id, labelled_build.data_dir,
                                                  labelled_build.database.parent)
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
    # A JPY row's amounts are whole yen in the table too: at stake, difference, each system's.
    jpy = [row for row in page.tables["variances"] if row.attrs["data-currency"] == "JPY"]
    assert jpy and all("." not in cell for row in jpy for cell in row.cells[6:8])
    assert all("." not in amount for row in jpy for amount in re.findall(r"¥[\d,.]+", row.cells[8]))


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


def stake_column(build: Build) -> str:
    """The mart's money at stake of one variance: amount_at_stake where fct_refund_variances has
    it, else |amount_delta| (what the report sorts by)."""
    columns = set(build.query("select column_name from information_schema.columns "
                              "where table_name = 'fct_refund_variances'")["column_name"])
    return "abs(amount_at_stake)" if "amount_at_stake" in columns else "abs(amount_delta)"


def test_by_default_the_largest_money_at_stake_comes_first_within_each_currency(report: dict) -> None:
    """No sort in the address: currencies A-Z, and within each the largest money at stake first,
    whatever the sign of the difference; no comparable amount last. #sort=at_stake&dir=asc turns it."""
    build = report["build"]
    largest = build.query(f"select currency, max({stake_column(build)}) as top from fct_refund_variances "
                          "group by currency")
    rows = shown_rows(dom(report))
    currencies = [row.attrs["data-currency"] for row in rows]
    assert currencies == sorted(currencies) and len(set(currencies)) >= 4
    for currency in set(currencies):
        within = [row for row in rows if row.attrs["data-currency"] == currency]
        stakes = [row.attrs["data-stake"] for row in within]
        numbers = [Decimal(stake) for stake in stakes if stake]
        assert numbers == sorted(numbers, reverse=True) and stakes == [f"{n:f}" for n in numbers] + [""] * (
            len(stakes) - len(numbers))
        top = largest.loc[largest["currency"] == currency, "top"].iloc[0]
        assert numbers[0] == money.quantize(Decimal(str(top)), money.minor_units(currency)), currency
    # The stake is never signed (the mart's amount_at_stake, or |delta|): a negative difference
    # sorts by its size (test_report_render.py holds a -37,224 among positive stakes).
    assert all(not row.attrs["data-stake"].startswith("-") for row in rows)
    ascending = shown_rows(dom(report, "#sort=at_stake&dir=asc"))
    for currency in set(currencies):
        numbers = [Decimal(row.attrs["data-stake"]) for row in ascending
                   if row.attrs["data-currency"] == currency and row.attrs["data-stake"]]
        assert numbers == sorted(numbers)


def test_the_trend_shows_the_mart_s_money_at_stake_per_currency(report: dict) -> None:
    """The trend table's money per currency is fct_checkpoint_totals' open_variances: the mart's
    money at stake per checkpoint (the metric amount_at_stake_per_checkpoint)."""
    page = dom(report)
    totals = report["build"].query("""
        select currency, max(minor_units) as units, cast(sum(amount) as varchar) as amount,
            cast(sum(record_count) as integer) as n
        from fct_checkpoint_totals where measure = 'open_variances' group by currency order by currency""")
    want = [f"{money.display(Decimal(row.amount), row.currency, int(row.units))} ({int(row.n)})"
            for row in totals.itertuples()]
    rows = page.tables["trend-table"]
    assert len(totals) >= 4 and rows[-1].cells[4:-1] == want
    assert [page.text(f"trend-{row.currency}").split(" max ")[0] for row in totals.itertuples()] == [
        f"At stake in {row.currency}: {amount.rsplit(' (', 1)[0]}" for row, amount in zip(totals.itertuples(), want)]


# Ids as long as vendors make them: Stripe's are a prefix and 24 characters (re_3PqZ...), and it
# allows up to 255; Shopify's GraphQL ids are gid://shopify/<Type>/<number>.
STRIPE_TAIL = "3PqZk2LkdIwHu7ix0snN0B"
LONGEST_ID = "re_" + "9" * 252


# A merchant selling worldwide: a column per currency in the tables by type, system and age.
CURRENCIES = ["AUD", "BHD", "BRL", "CAD", "CHF", "CZK", "DKK", "EUR", "GBP", "HUF", "JPY", "KRW", "KWD", "MXN",
              "NOK", "PLN", "SEK", "SGD", "USD"]


def with_long_ids(summary: dict, variances: list[dict], details: dict) -> tuple[dict, list[dict], dict]:
    """The checkpoint as a bigger merchant's: every refund and order id vendor-long (one of 255
    characters with no place to break), the variances spread over 19 currencies (the trend's
    money too), long file paths and settings."""
    renamed: dict[str, str] = {}
    for number, row in enumerate(variances):
        old = row["refund_id"]
        new = renamed.setdefault(old, LONGEST_ID if not renamed else f"re_{len(renamed):02d}{STRIPE_TAIL}")
        currency = CURRENCIES[len(renamed) % len(CURRENCIES)]
        row.update(refund_id=new, refund_key=f"processor:{new}", order_id=f"gid://shopify/Order/{5551234567890 + number}",
                   detail=(row.get("detail") or "").replace(old, new), currency=currency,
                   minor_units=money.minor_units(currency))
    details["trend"][-1]["at_stake"] = [
        {"currency": entry["currency"], "minor_units": entry["minor_units"], "amount": entry["amount_at_stake"],
         "count": entry["variance_count"]} for entry in money.at_stake(variances)]
    for row in details.get("new_variances", []):
        new = renamed.get(row["refund_id"], row["refund_id"])
        row.update(refund_id=new, refund_key=f"processor:{new}")
    details["audit"] = {}
    long_folder = "/srv/finance/reconciliation/inbound/" + "exports-2026-03-01T00-00-00Z-" * 4
    for row in details.get("rejected_rows", []):
        row.update(source_file=long_folder + "processor_refunds.csv", record_id=LONGEST_ID)
    summary = {**summary, "data_dir": long_folder, "settings": {**summary.get("settings", {}),
                                                                "dbt_vars": {"input_glob": long_folder + "*.csv"}}}
    return summary, variances, details


def test_the_report_fits_a_1280_px_screen(report: dict, tmp_path: Path) -> None:
    """At 1280 px wide no page scrolls sideways: the labelled checkpoint (about a thousand
    variances, five currencies, rejected rows), the same with vendor-long ids and paths, and its
    audit trail. The screenshot is 1280 px wide."""
    browser, profile = report["browser"], report["profile"]
    pages = [report["folder"] / "report.html", report["folder"] / "audit.html"]
    summary, variances, details = read_report(report["build"].database, report["folder"].name,
                                                  report["build"].data_dir, report["build"].database.parent)
    long_ids = write_report_folder(tmp_path, "long_ids", *with_long_ids(summary, variances, details)[:2],
                                   VARIANCE_COLUMNS, details)
    assert LONGEST_ID in (long_ids / "report.html").read_text()
    pages += [long_ids / "report.html", long_ids / "audit.html"]
    for page in pages:
        measured = layout(browser, page, profile, width=1280)
        assert measured["innerWidth"] == 1280, measured
        assert measured["scrollWidth"] <= 1280 and not measured["outside"], (page.name, measured)
    assert len(report["variances"]) > 900
    shot = tmp_path / "report.png"
    screenshot(browser, (long_ids / "report.html").as_uri(), shot, profile, size="1280,3000")
    assert png_size(shot) == (1280, 3000) and shot.stat().st_size > 50_000
