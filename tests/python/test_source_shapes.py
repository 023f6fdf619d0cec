"""Source shapes: the project reads Stripe, Adyen, PayPal, Shopify and NetSuite
tables as they land, and reports exactly the labelled variances.

Two scenarios, each built once: Stripe + PayPal refunds, a Shopify storefront
and a NetSuite ledger (with its period calendar, so locked_period_posting
appears); and Adyen notifications beside generic processor rows, with the
generic storefront and ERP files. The generator writes each scenario in its
shapes with the same labels it gives the generic format.
"""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from conftest import Build, dbt_build, generate


def read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def build_shaped(work: Path, *shape_args: str) -> Build:
    settings = generate(work / "data", "--refunds", "1500", "--fault-rate", "0.4", "--trap-rate", "0.3",
                        "--bad-rows", "12", *shape_args)
    build = dbt_build(work, work / "data", settings, "--exclude-resource-type", "unit_test")
    assert build.returncode == 0, build.output[-4000:]
    return build


@pytest.fixture(scope="module")
def stripe_shopify_netsuite(tmp_path_factory: pytest.TempPathFactory) -> Build:
    return build_shaped(tmp_path_factory.mktemp("stripe_shopify_netsuite"), "--seed", "21",
                        "--business-timezone", "Europe/Berlin", "--processor-shapes", "stripe", "paypal",
                        "--storefront-shape", "shopify", "--erp-shape", "netsuite")


@pytest.fixture(scope="module")
def adyen_generic(tmp_path_factory: pytest.TempPathFactory) -> Build:
    return build_shaped(tmp_path_factory.mktemp("adyen_generic"), "--seed", "22",
                        "--processor-shapes", "adyen", "generic")


def rebuild_settings(build: Build) -> dict:
    """The settings to build the same scenario again (shapes and per-shape vars included)."""
    settings = dict(build.settings)
    settings["dbt_vars"] = {key: value for key, value in settings.items() if key.endswith(("_shapes", "_field"))}
    return settings


def variance_rows(build: Build) -> set[tuple]:
    frame = build.query("""
        select refund_id, variance_type, discrepancy_system,
               coalesce(cast(amount_delta as varchar), '') as amount_delta, currency
        from fct_refund_variances
    """)
    return {(r.refund_id, r.variance_type, r.discrepancy_system,
             Decimal(r.amount_delta) if r.amount_delta else None, r.currency) for r in frame.itertuples()}


def labelled_rows(build: Build) -> set[tuple]:
    frame = read_csv(build.data_dir / "ground_truth.csv")
    return {(r.refund_id, r.variance_type, r.discrepancy_system,
             Decimal(r.amount_delta) if r.amount_delta else None, r.currency) for r in frame.itertuples()}


@pytest.mark.parametrize("build_name", ["stripe_shopify_netsuite", "adyen_generic"])
def test_shaped_run_reports_exactly_the_labelled_variances(build_name: str, request: pytest.FixtureRequest) -> None:
    build: Build = request.getfixturevalue(build_name)
    got, want = variance_rows(build), labelled_rows(build)
    assert len(want) > 300
    assert not want - got, f"labelled but not reported: {sorted(want - got, key=str)[:5]}"
    assert not got - want, f"reported but not labelled: {sorted(got - want, key=str)[:5]}"


@pytest.mark.parametrize("build_name", ["stripe_shopify_netsuite", "adyen_generic"])
def test_shaped_run_rejects_exactly_the_bad_rows(build_name: str, request: pytest.FixtureRequest) -> None:
    build: Build = request.getfixturevalue(build_name)
    got = build.query("select input_name, record_id, rejected_column, rejection_reason from fct_rejected_rows")
    want = read_csv(build.data_dir / "expected_rejections.csv")
    assert {tuple(row) for row in got.fillna("").values} == {tuple(row) for row in want.values}
    assert got.shape[0] == 12
    assert "PASS assert_input_rows_conserved" in build.output
    assert "PASS assert_money_conserved" in build.output


def test_locked_periods_come_from_the_netsuite_calendar(stripe_shopify_netsuite: Build) -> None:
    build = stripe_shopify_netsuite
    locked = build.query("""
        select accounting_period from main_staging.stg_erp__accounting_periods
        where is_locked_at_as_of group by accounting_period order by 1
    """)["accounting_period"].tolist()
    # as_of 2026-03-01, refunds from early January: January closed on 10
    # February; February closes on 11 March (after as_of) and March is open,
    # although a locked quarter starts with it: quarters are not months.
    assert locked == ["2026-01"]
    variances = build.query("""
        select refund_id, variance_type, detail from fct_refund_variances
    """)
    on_locked = variances[variances["variance_type"] == "locked_period_posting"]
    assert len(on_locked) >= 30
    # Always beside the fault that needs the adjusting entry, never alone.
    others = variances[variances["variance_type"] != "locked_period_posting"]
    assert set(on_locked["refund_id"]) <= set(others["refund_id"])
    assert on_locked["detail"].str.contains("closed or locked").all()


def test_shapes_are_unioned_and_noise_is_ignored(stripe_shopify_netsuite: Build, adyen_generic: Build) -> None:
    data = stripe_shopify_netsuite.data_dir
    shapes = stripe_shopify_netsuite.query("""
        select 'processor' as role, source_shape, count(*) as row_count from main_staging.stg_processor__refund_events group by 2
        union all select 'storefront', source_shape, count(*) from main_staging.stg_storefront__refunds group by 2
        union all select 'erp', source_shape, count(*) from main_staging.stg_erp__refund_postings group by 2
    """)
    counts = {(row.role, row.source_shape): row.row_count for row in shapes.itertuples()}
    transactions = read_csv(data / "shopify" / "transaction.csv")
    netsuite = read_csv(data / "netsuite" / "transaction.csv")
    assert counts == {
        ("processor", "stripe"): len(read_csv(data / "stripe" / "refund.csv")),
        ("processor", "paypal"): len(read_csv(data / "paypal" / "refund.csv")),
        # Sales and test-mode refunds are not storefront refunds.
        ("storefront", "shopify"): int(((transactions["kind"] == "refund") & (transactions["test"] == "false")).sum()),
        # Invoices are not refunds.
        ("erp", "netsuite"): int(netsuite["type"].isin(["CustRfnd", "CashRfnd"]).sum()),
    }
    assert (transactions["test"] == "true").any() and (transactions["kind"] == "sale").any()
    assert (netsuite["type"] == "CustInvc").any()

    notifications = read_csv(adyen_generic.data_dir / "adyen" / "notification.csv")
    adyen_rows = adyen_generic.query(
        "select count(*) as n from main_staging.stg_processor__refund_events where source_shape = 'adyen'")["n"][0]
    assert adyen_rows == notifications["eventCode"].str.contains("REFUND").sum()
    assert (notifications["eventCode"] == "AUTHORISATION").any()
    generic_rows = adyen_generic.query(
        "select count(*) as n from main_staging.stg_processor__refund_events where source_shape = 'generic'")["n"][0]
    assert generic_rows == len(read_csv(adyen_generic.data_dir / "processor_refunds.csv"))


def test_shopify_scope_and_ids_survive(stripe_shopify_netsuite: Build) -> None:
    """Partial or full from the sale refunded; the processor id from authorization or the receipt."""
    build = stripe_shopify_netsuite
    staged = build.query("""
        select refund_type, count(*) as n, count(processor_refund_id) as linked
        from main_staging.stg_storefront__refunds where is_accepted group by 1
    """).set_index("refund_type")
    assert {"partial", "full"} <= set(staged.index)
    transactions = read_csv(build.data_dir / "shopify" / "transaction.csv")
    refunds = transactions[(transactions["kind"] == "refund") & (transactions["test"] == "false")]
    from_receipt = refunds[(refunds["authorization"] == "") & refunds["receipt"].str.contains("refund_id")]
    assert len(from_receipt) > 50
    ids = set(build.query("select processor_refund_id from main_staging.stg_storefront__refunds")["processor_refund_id"])
    assert set(from_receipt["receipt"].str.extract(r'"refund_id": "([^"]+)"')[0]) <= ids


def test_missing_shape_table_is_a_clear_error(stripe_shopify_netsuite: Build, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(stripe_shopify_netsuite.data_dir, data)
    (data / "netsuite" / "accountingperiod.csv").unlink()
    settings = rebuild_settings(stripe_shopify_netsuite)
    build = dbt_build(tmp_path, data, settings, "--select", "base_netsuite__erp_refund_postings", command="run")
    assert build.returncode != 0
    assert "input 'netsuite/accountingperiod' not found" in build.output
    assert str(data / "netsuite" / "accountingperiod.csv") in build.output


def test_runner_checkpoints_shaped_tables(stripe_shopify_netsuite: Build, tmp_path: Path) -> None:
    """The checkpoint runner takes the shapes and per-shape vars, and reports what the build reports."""
    import json
    import subprocess
    import sys

    from conftest import PROJECT_DIR

    vars_ = stripe_shopify_netsuite.settings
    result = subprocess.run(
        [sys.executable, str(PROJECT_DIR / "scripts" / "checkpoint.py"), "run",
         "--data-dir", str(stripe_shopify_netsuite.data_dir), "--as-of", vars_["as_of"],
         "--business-timezone", vars_["business_timezone"], "--database", str(tmp_path / "recon.duckdb"),
         "--reports-dir", str(tmp_path / "reports"), "--processor-shapes", "stripe", "paypal",
         "--storefront-shapes", "shopify", "--erp-shapes", "netsuite",
         "--var", "netsuite_order_id_field=custbody_order_id"],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]  # variances_found
    summary = json.loads(next((tmp_path / "reports").glob("cp_*/summary.json")).read_text())
    assert summary["outcome"] == "variances_found"
    assert summary["open_variance_count"] == len(labelled_rows(stripe_shopify_netsuite))


def test_bad_shaped_rows_are_rejected_with_their_reason(stripe_shopify_netsuite: Build, tmp_path: Path) -> None:
    """What DECISIONLOG promises for bad shaped rows: named in fct_rejected_rows, or read safely."""
    import csv

    data = tmp_path / "data"
    shutil.copytree(stripe_shopify_netsuite.data_dir, data)

    def append(path: Path, rows: list[dict[str, str]]) -> None:
        with open(path, newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle))
        with open(path, "a", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=header)
            writer.writerows([{column: row.get(column, "") for column in header} for row in rows])

    created = "2026-02-10T10:00:00Z"
    append(data / "stripe" / "refund.csv", [
        {"id": "re_hostile_fraction", "amount": "1250.5", "currency": "usd", "status": "succeeded", "created": created},
        {"id": "re_hostile_metadata", "amount": "900", "currency": "usd", "status": "succeeded", "created": created,
         "metadata": "{order_id: not json"},
    ])
    append(data / "netsuite" / "transaction.csv", [
        {"id": "NS-HOSTILE-NO-LINES", "type": "CustRfnd", "createddate": created, "postingperiod": "100",
         "currency": "1", "externalid": "re_hostile_metadata", "memo": "re_hostile_metadata"},
        {"id": "NS-HOSTILE-PERIOD", "type": "CashRfnd", "createddate": created, "postingperiod": "999999",
         "currency": "1", "externalid": "re_hostile_metadata", "memo": "re_hostile_metadata"},
    ])
    append(data / "netsuite" / "transactionaccountingline.csv", [
        {"transaction": "NS-HOSTILE-PERIOD", "transactionline": "0", "account": "5", "amount": "9.00",
         "debit": "9.00", "posting": "T"},
    ])
    settings = rebuild_settings(stripe_shopify_netsuite)
    build = dbt_build(tmp_path, data, settings, "--exclude-resource-type", "unit_test")
    assert build.returncode == 0, build.output[-3000:]
    rejected = build.query("""
        select record_id, rejected_column, rejection_reason, source_shape, source_file
        from fct_rejected_rows where record_id like '%hostile%' or record_id like '%HOSTILE%' order by record_id
    """)
    assert rejected[["record_id", "rejected_column", "rejection_reason", "source_shape"]].values.tolist() == [
        ["NS-HOSTILE-NO-LINES", "gl_account", "missing gl_account", "netsuite"],
        ["NS-HOSTILE-PERIOD", "posting_period", "posting_period is not YYYY-MM", "netsuite"],
        ["re_hostile_fraction", "amount", "minor-unit amount is not a whole number", "stripe"],
    ]
    assert rejected["source_file"].str.endswith(("netsuite/transaction.csv", "stripe/refund.csv")).all()
    # Malformed metadata JSON is no order reference, not an error.
    staged = build.query("""
        select order_id, is_accepted, amount_minor from main_staging.stg_processor__refund_events
        where processor_refund_id = 're_hostile_metadata'
    """)
    assert staged.values.tolist() == [[None, True, 900]]
