"""Connector fixtures (issue 16): each landing variant in tests/fixtures/connectors/
is built as its connector lands it, and its labels.csv is checked row by row.

Variants are batched into as few dbt builds as possible: one build holds at most
one variant of each shape (a shape reads one landing at a time), so four
builds cover every variant (Adyen has four landings). A variant whose base model is not written yet is
listed in PENDING with the reason, left out of the builds, and its test skips.

Run: nice -n 19 .venv/bin/pytest -q tests/python/test_connector_fixtures.py
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from conftest import INPUT_COLUMNS, PROJECT_DIR, Build, dbt_build
from dbt_in_process import run_dbt_in_process

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "connectors"


@dataclass(frozen=True)
class Variant:
    name: str
    role: str  # storefront, processor, erp
    shape: str
    # fixture file -> file in the data folder (<shape>/<table>)
    files: dict[str, str]
    processor: str = ""  # the processor column of processor variants
    vars: dict = field(default_factory=dict)


VARIANTS = {
    variant.name: variant for variant in [
        Variant("stripe_airbyte", "processor", "stripe", {"refunds.csv": "stripe/refunds.csv"}, "stripe"),
        Variant("stripe_api_json", "processor", "stripe", {"refunds.csv": "stripe/refunds.csv"}, "stripe"),
        Variant("adyen_webhooks", "processor", "adyen", {"notification.csv": "adyen/notification.csv"}, "adyen"),
        Variant("adyen_magento2", "processor", "adyen", {"adyen_notification.csv": "adyen/adyen_notification.csv"},
                "adyen", {"adyen_notification_table": "adyen_notification"}),
        Variant("adyen_shopware6", "processor", "adyen", {"adyen_notification.csv": "adyen/adyen_notification.csv"},
                "adyen", {"adyen_notification_table": "adyen_notification"}),
        Variant("adyen_settlement_details_report", "processor", "adyen",
                {"settlement_detail_report.csv": "adyen/settlement_detail_report.csv"}, "adyen"),
        Variant("paypal_transaction_search_airbyte", "processor", "paypal",
                {"transactions.csv": "paypal/transactions.csv"}, "paypal"),
        Variant("paypal_v2_refunds", "processor", "paypal", {"refunds.csv": "paypal/refunds.csv"}, "paypal"),
        Variant("square_airbyte", "processor", "square", {"refunds.csv": "square/refunds.csv"}, "square"),
        Variant("shopify_fivetran_graphql", "storefront", "shopify",
                {name: f"shopify/{name}" for name in ["transaction.csv", "refund.csv", "order_adjustment.csv",
                                                      "order_line_refund.csv", "return.csv", "return_line_item.csv"]}),
        Variant("shopify_fivetran_rest", "storefront", "shopify",
                {name: f"shopify/{name}" for name in ["transaction.csv", "refund.csv", "order_adjustment.csv"]}),
        Variant("shopify_airbyte", "storefront", "shopify",
                {name: f"shopify/{name}" for name in ["order_refunds.csv", "transactions.csv"]}),
        Variant("shopify_stitch", "storefront", "shopify",
                {name: f"shopify/{name}" for name in ["order_refunds.csv", "order_refunds__transactions.csv",
                                                      "transactions.csv"]}),
        Variant("netsuite2_fivetran", "erp", "netsuite",
                {name: f"netsuite/{name}" for name in [
                    "transaction.csv", "transactionaccountingline.csv", "transactionline.csv", "account.csv",
                    "accountingperiod.csv", "accountingbook.csv", "accounttype.csv", "currency.csv", "customer.csv",
                    "subsidiary.csv"]}),
    ]
}

# Variants without a base model yet: (reason). Left out of the builds.
PENDING: dict[str, str] = {
}

# One build per combination: at most one variant per shape in each.
BUILDS = {
    "build_a": {"as_of": "2025-08-01T00:00:00Z",
                "variants": ["stripe_airbyte", "adyen_webhooks", "shopify_fivetran_graphql", "netsuite2_fivetran"]},
    "build_b": {"as_of": "2025-08-01T00:00:00Z",
                "variants": ["stripe_api_json", "paypal_transaction_search_airbyte", "shopify_airbyte", "adyen_magento2"]},
    "build_c": {"as_of": "2025-08-01T00:00:00Z",
                "variants": ["paypal_v2_refunds", "adyen_settlement_details_report", "shopify_fivetran_rest"]},
    "build_d": {"as_of": "2025-08-01T00:00:00Z",
                "variants": ["square_airbyte", "shopify_stitch", "adyen_shopware6"]},
}

# Variance types a storefront or processor fixture can raise on its own (its
# ids meet no other fixture): labels.csv lists only these for them.
SYSTEM_LOCAL_VARIANCES = {"unmapped_status", "unmapped_reason"}

# Base models alone: the seeds they read (each system's currency exponents, Adyen's
# time-zone abbreviations) are built with them, data tests left out.
BASE_MODELS_WITH_THEIR_SEEDS = ("currencies", "currency_exponents", "time_zone_abbreviations")
WITHOUT_TESTS = ("--exclude-resource-type", "test", "--exclude-resource-type", "unit_test")


def read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def labels(variant: str) -> pd.DataFrame:
    return read_csv(FIXTURES / variant / "labels.csv")


def write_data_dir(data: Path, variants: list[Variant]) -> dict:
    """The data folder of one build: each variant's files where its shape reads
    them, and a header-only generic input for a role no variant feeds."""
    data.mkdir(parents=True)
    shapes: dict[str, list[str]] = {"storefront": [], "processor": [], "erp": []}
    dbt_vars: dict = {}
    for variant in variants:
        for source, target in variant.files.items():
            if (FIXTURES / variant.name / source).exists():
                (data / target).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(FIXTURES / variant.name / source, data / target)
        shapes[variant.role].append(variant.shape)
        dbt_vars.update(variant.vars)
    for role, input_name in [("storefront", "storefront_refunds"), ("processor", "processor_refunds"),
                             ("erp", "erp_refund_postings")]:
        if not shapes[role]:
            shapes[role] = ["generic"]
            (data / f"{input_name}.csv").write_text(",".join(INPUT_COLUMNS[input_name]) + "\n")
    return {f"{role}_shapes": names for role, names in shapes.items()} | dbt_vars


def gl_account_map_additions(variants: list[Variant]) -> Path | None:
    for variant in variants:
        path = FIXTURES / variant.name / "gl_account_map_additions.csv"
        if path.exists():
            return path
    return None


def project_with_additions(work: Path, additions: Path) -> Path:
    """A copy of the project whose gl_account_map has the fixture's rows added
    (the labels assume them: GL accounts by NetSuite internal id)."""
    project = work / "project"
    shutil.copytree(PROJECT_DIR, project, ignore=shutil.ignore_patterns(
        ".venv", ".git", "target", "logs", "*.duckdb", "*.duckdb.wal", "python", "connectors", "data", "benchmarks"))
    seed = project / "seeds" / "gl_account_map.csv"
    rows = additions.read_text().splitlines()[1:]
    seed.write_text(seed.read_text().rstrip("\n") + "\n" + "\n".join(rows) + "\n")
    return project


def build_with_additions(work: Path, settings: dict, variants: list[Variant]) -> Build:
    # cautious: a data test runs when every model it reads is built (the singular test over all
    # marts, assert_mart_amounts_at_currency_exponent, also reads the history marts, not built here).
    select = ["--exclude-resource-type", "unit_test", "--indirect-selection", "cautious",
              "--select", "+fct_refund_variances", "+fct_rejected_rows", "+rpt_refund_reconciliation",
              "+fct_refund_audit_trail", "+fct_checkpoint_runs"]
    additions = gl_account_map_additions(variants)
    if additions is None:
        return dbt_build(work, work / "data", settings, *select)
    project = project_with_additions(work, additions)
    dbt_vars = {"data_dir": str(work / "data"), "as_of": settings["as_of"],
                "confirmation_sla_minutes": settings["confirmation_sla_minutes"],
                "business_timezone": settings["business_timezone"], **settings["dbt_vars"]}
    database = work / "recon.duckdb"
    result = run_dbt_in_process("build", *select, database=database, dbt_vars=dbt_vars, artifacts=work,
                                project_dir=project)
    return Build(work / "data", database, result.returncode, result.stdout + result.stderr, dbt_vars)


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Build]:
    """Every build, once; each variant maps to the build that holds it."""
    by_variant: dict[str, Build] = {}
    for build_name, spec in BUILDS.items():
        variants = [VARIANTS[name] for name in spec["variants"] if name not in PENDING]
        if not variants:
            continue
        work = tmp_path_factory.mktemp(build_name)
        dbt_vars = write_data_dir(work / "data", variants)
        settings = {"as_of": spec["as_of"], "confirmation_sla_minutes": 30, "business_timezone": "UTC",
                    "dbt_vars": dbt_vars}
        build = build_with_additions(work, settings, variants)
        assert build.returncode == 0, build.output[-4000:]
        for variant in variants:
            by_variant[variant.name] = build
    return by_variant


def processor_state(build: Build, variant: Variant) -> pd.DataFrame:
    return build.query("""
        select processor_refund_id as refund_id, coalesce(order_id, '') as order_id, canonical_status,
               cast(amount_minor as varchar) as amount_minor, currency
        from main_intermediate.int_processor_refunds_collapsed where processor = ?
    """, [variant.processor]).set_index("refund_id")


def storefront_state(build: Build, variant: Variant) -> pd.DataFrame:
    return build.query("""
        select storefront_refund_id as refund_id, coalesce(order_id, '') as order_id, canonical_status,
               cast(amount_minor as varchar) as amount_minor, currency
        from main_intermediate.int_storefront_refunds_deduplicated where system_name = ?
    """, [variant.shape]).set_index("refund_id")


def erp_state(build: Build) -> pd.DataFrame:
    return build.query("""
        select coalesce(processor_refund_id, erp_document_id) as refund_id, coalesce(order_id, '') as order_id,
               'posted' as canonical_status, cast(amount_minor as varchar) as amount_minor, currency
        from main_intermediate.int_erp_postings_deduplicated
        qualify row_number() over (partition by coalesce(processor_refund_id, erp_document_id) order by posted_at) = 1
    """).set_index("refund_id")


def variance_types(build: Build, refund_id: str, system: str) -> set[str]:
    frame = build.query("select variance_type from fct_refund_variances where refund_id = ? and discrepancy_system = ?",
                        [refund_id, system])
    return set(frame["variance_type"])


def rejected_ids(build: Build) -> set[str]:
    return set(build.query("select coalesce(record_id, '') as record_id from fct_rejected_rows")["record_id"])


@pytest.mark.parametrize("variant_name", sorted(VARIANTS))
def test_variant_matches_its_labels(variant_name: str, builds: dict[str, Build]) -> None:
    if variant_name in PENDING:
        pytest.skip(PENDING[variant_name])
    variant, build = VARIANTS[variant_name], builds[variant_name]
    state = {"processor": lambda: processor_state(build, variant), "storefront": lambda: storefront_state(build, variant),
             "erp": lambda: erp_state(build)}[variant.role]()
    rejected = rejected_ids(build)
    problems = []
    for label in labels(variant_name).itertuples():
        if label.refund_id.startswith(("period:", "history:")):
            continue  # checked by their own tests below
        want_rejected = label.expected_rejected == "yes"
        if want_rejected != (label.refund_id in rejected):
            problems.append(f"{label.refund_id}: rejected {label.refund_id in rejected}, labelled {label.expected_rejected}")
        if label.expected_canonical_status in ("excluded", "voided"):
            if label.refund_id in state.index:
                problems.append(f"{label.refund_id}: labelled {label.expected_canonical_status} but read as a refund")
            continue
        if want_rejected:
            continue
        if label.refund_id not in state.index:
            problems.append(f"{label.refund_id}: not read")
            continue
        row = state.loc[label.refund_id]
        got = (row["order_id"], row["canonical_status"], row["amount_minor"], row["currency"])
        want = (label.order_id, label.expected_canonical_status, label.expected_amount_minor, label.expected_currency)
        if variant.role == "erp":
            got, want = got[2:], want[2:]  # the ERP's order reference and status are checked by the variances
        if got != want:
            problems.append(f"{label.refund_id}: got {got}, labelled {want}")
        types = variance_types(build, label.refund_id, variant.role)
        if variant.role != "erp":
            types &= SYSTEM_LOCAL_VARIANCES
        want_types = set() if label.expected_variance_types == "none" else set(label.expected_variance_types.split(";"))
        if types != want_types:
            problems.append(f"{label.refund_id}: variances {sorted(types)}, labelled {sorted(want_types)}")
    assert not problems, "\n".join(problems)


def test_table_var_names_the_file_read(tmp_path: Path) -> None:
    """On DuckDB <shape>_<table>_table names the file that is read (Airbyte's own
    table names are found without it, as build_a shows with stripe/refunds.csv)."""
    data = tmp_path / "data"
    dbt_vars = write_data_dir(data, [VARIANTS["stripe_api_json"]])
    (data / "stripe" / "refunds.csv").rename(data / "stripe" / "stripe_api_refunds.csv")
    settings = {"as_of": "2025-08-01T00:00:00Z", "confirmation_sla_minutes": 30, "business_timezone": "UTC",
                "dbt_vars": dbt_vars | {"stripe_refund_table": "stripe_api_refunds"}}
    # with the seeds it reads: Stripe's exponents
    build = dbt_build(tmp_path, data, settings, "--select", *BASE_MODELS_WITH_THEIR_SEEDS,
                      "base_stripe__processor_refunds", *WITHOUT_TESTS)
    assert build.returncode == 0, build.output[-3000:]
    read = build.query("select processor_refund_id, source_file, created_at from main_staging.base_stripe__processor_refunds "
                       "order by 1")
    assert len(read) == len(read_csv(FIXTURES / "stripe_api_json" / "refunds.csv"))
    assert read["source_file"].str.endswith("stripe/stripe_api_refunds.csv").all()
    assert read["created_at"].iloc[0] == "2025-07-03T10:00:00Z"  # epoch seconds 1751536800


def test_netsuite_calendar_reads_fivetran_dates_and_keeps_locks(builds: dict[str, Build]) -> None:
    """accountingperiod dates written `2025-07-02 0:00:00` parse; a locked period whose
    closing date cannot be read is still locked, and its row carries the rejection."""
    build = builds["netsuite2_fivetran"]
    periods = build.query("""
        select accounting_period, is_accepted, is_locked_at_as_of, rejection_reason, cast(closed_at as varchar) as closed_at
        from main_staging.stg_erp__accounting_periods order by accounting_period
    """).set_index("accounting_period")
    assert periods.loc["2025-06", "closed_at"] == "2025-07-02 00:00:00"
    assert bool(periods.loc["2025-06", "is_locked_at_as_of"])
    # period:105 (labels.csv): unreadable closing date, arlocked T -> still locked, rejection reported
    assert bool(periods.loc["2025-05", "is_locked_at_as_of"]) and bool(periods.loc["2025-05", "is_accepted"])
    assert periods.loc["2025-05", "rejection_reason"] == "unparseable timestamp in closed_at"
    assert not bool(periods.loc["2025-07", "is_locked_at_as_of"])


def test_rejected_calendar_rows_appear_in_fct_rejected_rows(builds: dict[str, Build]) -> None:
    """period:105 (labels.csv): listed in fct_rejected_rows as a calendar row, for its closing
    date only, and in the audit trail under the same id (the trail holds every listed row)."""
    build = builds["netsuite2_fivetran"]
    rejected = build.query("""
        select rejected_row_id, input_name, record_id, rejected_column, rejection_reason
        from fct_rejected_rows where input_name = 'erp_accounting_periods'
    """)
    assert rejected[["record_id", "rejected_column", "rejection_reason"]].values.tolist() == [
        ["2025-05", "closed_at", "unparseable timestamp in closed_at"]]
    trail = build.query("select audit_record_id, system, event, is_rejected from fct_refund_audit_trail "
                        "where audit_record_id like 'erp_accounting_periods:%'")
    assert trail.values.tolist() == [[rejected["rejected_row_id"][0], "erp", "rejected_row", True]]
    # A calendar row that cannot be placed can hide a locked-period posting: the checkpoint
    # counts it among its rejected rows and is never clean.
    run = build.query("select rows_rejected, outcome, outcome_reasons from fct_checkpoint_runs")
    assert run["rows_rejected"][0] == build.query("select count(*) as n from fct_rejected_rows")["n"][0]
    assert run["outcome"][0] != "clean" and "input rows rejected" in run["outcome_reasons"][0]


def test_paypal_payment_is_the_original_transaction_or_the_capture(builds: dict[str, Build]) -> None:
    """Transaction Search: the payment is paypal_reference_id, `+0200` offsets read; v2: the
    capture is the links entry with rel = up (there is no capture_id column)."""
    search = builds["paypal_transaction_search_airbyte"].query("""
        select processor_refund_id, payment_id, cast(created_at as varchar) as created_at
        from main_intermediate.int_processor_refunds_collapsed where processor = 'paypal' order by 1
    """).set_index("processor_refund_id")
    assert search.loc["1REF0001AA000001", "payment_id"] == "9PAY0001AA000001"
    assert search.loc["1REF0003AA000003", "created_at"] == "2025-07-05 10:00:00"
    v2 = builds["paypal_v2_refunds"].query("""
        select processor_refund_id, payment_id, cast(created_at as varchar) as created_at
        from main_intermediate.int_processor_refunds_collapsed where processor = 'paypal' order by 1
    """).set_index("processor_refund_id")
    assert v2.loc["1JU08902781691411", "payment_id"] == "2GG279541U471931P"
    assert v2.loc["1JU08902781691411", "created_at"] == "2025-07-03 17:00:00"
    assert v2["payment_id"].notna().all()


def test_shopify_reason_and_gateway_reference_come_from_where_shopify_keeps_them(builds: dict[str, Build]) -> None:
    """Reason: the return's reason (GraphQL), else the refund note; never an adjustment
    ('Shipping refund', 'Refund discrepancy'). Processor id: authorization(_code), else receipt."""
    def staged(variant: str) -> pd.DataFrame:
        return builds[variant].query("""
            select storefront_refund_id, raw_reason, processor_refund_id, refund_type
            from main_intermediate.int_storefront_refunds_deduplicated where system_name = 'shopify'
        """).set_index("storefront_refund_id")

    graphql = staged("shopify_fivetran_graphql")
    assert graphql.loc["20002", "raw_reason"] == "size_too_small"
    assert graphql.loc["20002", "processor_refund_id"] == "re_3Pa1full"
    assert graphql.loc["20004", "raw_reason"] == "defective"
    assert pd.isna(graphql.loc["20006", "raw_reason"])
    assert graphql.loc["20008", "raw_reason"] == "wrong_item"
    rest = staged("shopify_fivetran_rest")
    assert rest.loc["21002", "raw_reason"] == "Customer changed mind"
    assert pd.isna(rest.loc["21004", "raw_reason"])
    assert pd.isna(rest.loc["21006", "processor_refund_id"])
    assert rest.loc["21010", "processor_refund_id"] == "re_105"
    assert rest.loc["21004", "refund_type"] == "partial" and rest.loc["21002", "refund_type"] == "full"
    airbyte = staged("shopify_airbyte")
    assert airbyte.loc["22002", "raw_reason"] == "Customer returned the item"
    assert airbyte.loc["22006", "processor_refund_id"] == "re_203a"
    assert pd.isna(airbyte.loc["22007", "processor_refund_id"])
    assert airbyte.loc["22004", "refund_type"] == "partial"
    for frame in (graphql, rest, airbyte):
        assert not frame["raw_reason"].isin(["Shipping refund", "Refund discrepancy"]).any()


def test_adyen_settlement_lines_are_dated_in_utc_and_keyed_by_modification(builds: dict[str, Build]) -> None:
    """Settlement details: the refund is the Modification Reference, the payment the Psp
    Reference; Creation Date is local time in the report's TimeZone (CEST: +02:00)."""
    staged = builds["adyen_settlement_details_report"].query("""
        select processor_refund_id, payment_id, cast(created_at as varchar) as created_at
        from main_intermediate.int_processor_refunds_collapsed where processor = 'adyen'
    """).set_index("processor_refund_id")
    assert staged.loc["QFQTPCQ8HXSKGK82", "payment_id"] == "VK9DRSLLRCQ2WN82"
    assert staged.loc["QFQTPCQ8HXSKGK82", "created_at"] == "2025-07-03 10:00:05"


def test_netsuite_history_mode_reads_only_active_rows(tmp_path: Path) -> None:
    """history:302 and history:106 (labels.csv): with Fivetran's history mode on transaction,
    transactionaccountingline and accountingperiod, only the _fivetran_active version of a
    row is read: the edited refund once, at its new amount (20.00, not 25.00); the period
    reopened on 2025-07-15 open, not locked as its closed version says."""
    data = tmp_path / "data"
    dbt_vars = write_data_dir(data, [VARIANTS["netsuite2_fivetran"]])
    for name in ["transaction.csv", "transactionaccountingline.csv", "accountingperiod.csv"]:
        shutil.copy(FIXTURES / "netsuite2_fivetran" / "history_mode" / name, data / "netsuite" / name)
    settings = {"as_of": "2025-08-01T00:00:00Z", "confirmation_sla_minutes": 30, "business_timezone": "UTC",
                "dbt_vars": dbt_vars}
    build = dbt_build(tmp_path, data, settings, "--select", "gl_account_map", "currencies", "base_netsuite__erp_refund_postings",
                      "stg_erp__accounting_periods", "+stg_erp__accounting_periods",
                      "--exclude-resource-type", "unit_test", "--exclude-resource-type", "test")
    assert build.returncode == 0, build.output[-3000:]
    read = build.query("select erp_document_id, processor_refund_id, amount from main_staging.base_netsuite__erp_refund_postings")
    assert read.values.tolist() == [["302", "re_A02part", "20.00"]]
    periods = build.query("""
        select accounting_period, count(*) over (partition by accounting_period) as versions, is_locked_at_as_of, is_closed
        from main_staging.stg_erp__accounting_periods order by accounting_period
    """).set_index("accounting_period")
    assert (periods["versions"] == 1).all()
    assert not bool(periods.loc["2025-06", "is_locked_at_as_of"]) and not bool(periods.loc["2025-06", "is_closed"])
    assert bool(periods.loc["2025-05", "is_locked_at_as_of"])


def test_netsuite_amounts_are_in_the_transaction_currency(builds: dict[str, Build]) -> None:
    """A USD subsidiary refunding in JPY, GBP and EUR (labels.csv: re_A06jpy, WLWZVIW4NDYQMQ48,
    309): the amount is the transaction currency's (transactionline.foreignamount, else the
    accounting line's USD amount / exchangerate when exact), the USD amount and currency are kept
    beside it, and a division that is not exact at the currency's exponent is rejected, not rounded."""
    build = builds["netsuite2_fivetran"]
    postings = build.query("""
        select erp_document_id, cast(amount_minor as varchar) as amount_minor, currency, base_amount_text,
               base_currency, coalesce(rejection_reason, '') as rejection_reason
        from main_staging.stg_erp__refund_postings where erp_document_id in ('301', '305', '308', '309')
        order by erp_document_id
    """)
    inexact = "base amount / exchange rate is not exact at the currency exponent"
    assert postings.fillna("").values.tolist() == [
        ["301", "4999", "USD", "49.99", "USD", ""],
        ["305", "3700", "JPY", "25.53", "USD", ""],  # foreignamount 3700; 3700 x 0.0069 = 25.53 USD
        ["308", "1200", "GBP", "15.30", "USD", ""],  # no foreignamount: 15.30 / 1.2750 = 12.00 exactly
        ["309", "", "EUR", "54.12", "USD", inexact],  # 54.12 / 1.0823 = 50.0046...: not a EUR amount
    ]
    rejected = build.query("select record_id, rejected_column, rejection_reason from fct_rejected_rows "
                           "where input_name = 'erp_refund_postings'")
    assert rejected.values.tolist() == [["309", "amount", inexact]]
    mismatches = build.query("select refund_id from fct_refund_variances where variance_type = 'amount_mismatch'")
    assert not set(mismatches["refund_id"]) & {"re_A06jpy", "WLWZVIW4NDYQMQ48"}


def _edit_landing(path: Path, edit) -> None:
    frame = edit(read_csv(path))
    frame.to_csv(path, index=False)


def _staged_ids(build: Build, model: str, id_column: str, status_column: str) -> list[list[str]]:
    return build.query(f"select {id_column}, {status_column} from main_staging.{model} order by 1, 2").values.tolist()


def test_connector_history_and_delete_columns_keep_current_rows_only(tmp_path: Path) -> None:
    """Each base model reads only the current version of a row (connector_current_rows):
    Airbyte append syncs (Stripe, PayPal Transaction Search, Shopify order_refunds): one row per
    id, the latest by the stream's cursor then _airbyte_extracted_at; Fivetran soft deletes
    (_fivetran_deleted: Adyen settlement lines, Shopify transactions) and history mode
    (_fivetran_active: PayPal refunds) skipped; Stitch (_sdc_deleted_at set: deleted;
    _sdc_sequence orders versions: Stripe refunds)."""
    first, second = tmp_path / "airbyte_fivetran", tmp_path / "stitch_history"
    settings = {"as_of": "2025-08-01T00:00:00Z", "confirmation_sla_minutes": 30, "business_timezone": "UTC"}
    select: list[str] = [*BASE_MODELS_WITH_THEIR_SEEDS]
    problems: list[str] = []

    def check(ok: bool, what: str) -> None:
        if not ok:
            problems.append(what)

    # Build 1: Airbyte re-extractions and Fivetran soft deletes.
    dbt_vars = write_data_dir(first / "data", [VARIANTS[name] for name in [
        "stripe_airbyte", "adyen_settlement_details_report", "paypal_transaction_search_airbyte", "shopify_fivetran_graphql"]])
    data = first / "data"

    def stale_stripe(frame: pd.DataFrame) -> pd.DataFrame:
        # re_A04fail extracted once before (same cursor `updated`, then pending): the later extraction is current
        stale = frame[frame["id"] == "re_A04fail"].assign(_airbyte_extracted_at="2025-07-20 02:00:00+00", status="pending")
        return pd.concat([stale, frame])

    def stale_paypal(frame: pd.DataFrame) -> pd.DataFrame:
        stale = frame[frame["transaction_id"] == "1REF0001AA000001"].assign(_airbyte_extracted_at="2025-07-20 02:00:00+00")
        return pd.concat([frame, stale])

    _edit_landing(data / "stripe" / "refunds.csv", stale_stripe)
    _edit_landing(data / "paypal" / "transactions.csv", stale_paypal)
    _edit_landing(data / "adyen" / "settlement_detail_report.csv", lambda frame: frame.assign(
        _fivetran_deleted=(frame["Modification Reference"] == "QFQTPCQ8HXSKGK82").map({True: "true", False: "false"})))
    _edit_landing(data / "shopify" / "transaction.csv", lambda frame: frame.assign(
        _fivetran_deleted=(frame["id"] == "20004").map({True: "true", False: "false"})))
    build = dbt_build(first, data, settings | {"dbt_vars": dbt_vars}, "--select", "base_stripe__processor_refunds",
                      "base_adyen__processor_refunds", "base_paypal__processor_refunds", "base_shopify__storefront_refunds",
                      *select, *WITHOUT_TESTS)
    assert build.returncode == 0, build.output[-3000:]
    stripe = _staged_ids(build, "base_stripe__processor_refunds", "processor_refund_id", "status")
    check([row[0] for row in stripe] == ["re_A01full", "re_A02part", "re_A03pend", "re_A04fail", "re_A05canc",
                                        "re_A06jpy", "re_A07odd"], f"stripe (Airbyte): one row per id, got {stripe}")
    check(["re_A04fail", "failed"] in stripe, "stripe (Airbyte): the later extraction of re_A04fail is current")
    paypal = _staged_ids(build, "base_paypal__processor_refunds", "processor_refund_id", "status")
    check([row[0] for row in paypal].count("1REF0001AA000001") == 1, f"paypal (Airbyte): one row per id, got {paypal}")
    check(["1REF0003AA000003", "P"] not in paypal, "paypal (Airbyte): the latest transaction_updated_date is current")
    adyen = _staged_ids(build, "base_adyen__processor_refunds", "processor_refund_id", "status")
    check("QFQTPCQ8HXSKGK82" not in [row[0] for row in adyen] and ["RGRUQDR9IYTLHL93", "Refunded"] in adyen,
          f"adyen (Fivetran): a _fivetran_deleted line is skipped, got {adyen}")
    shopify = _staged_ids(build, "base_shopify__storefront_refunds", "storefront_refund_id", "status")
    check([row[0] for row in shopify] == ["20002", "20006", "20008", "20010"],  # 20004 deleted, 20012 a test
          f"shopify (Fivetran): a _fivetran_deleted transaction is skipped, got {shopify}")

    # Build 2: Stitch versions and deletes, Fivetran history mode, Airbyte on Shopify's order_refunds.
    dbt_vars = write_data_dir(second / "data", [VARIANTS[name] for name in [
        "stripe_api_json", "paypal_v2_refunds", "shopify_airbyte"]])
    data = second / "data"

    def stitch_stripe(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.assign(_sdc_batched_at="2025-08-01T02:00:00Z", _sdc_sequence="1754013600000", _sdc_deleted_at="")
        older = frame[frame["id"] == "re_J01full"].assign(status="pending", _sdc_batched_at="2025-07-03T10:05:00Z",
                                                         _sdc_sequence="1751537100000")
        frame.loc[frame["id"] == "re_J05canc", "_sdc_deleted_at"] = "2025-07-10T00:00:00Z"
        return pd.concat([frame, older])

    def history_paypal(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.assign(_fivetran_active="true", _fivetran_start="2025-07-03 17:00:00",
                             _fivetran_end="9999-12-31 23:59:59.999")
        past = frame[frame["id"] == "1JU08902781691411"].assign(status="PENDING", _fivetran_active="false",
                                                                _fivetran_end="2025-07-03 16:59:59.999")
        return pd.concat([past, frame])

    def stale_order_refunds(frame: pd.DataFrame) -> pd.DataFrame:
        stale = frame[frame["id"] == "7201"].assign(_airbyte_extracted_at="2025-07-20 02:00:00+00", note="stale copy")
        return pd.concat([stale, frame])

    _edit_landing(data / "stripe" / "refunds.csv", stitch_stripe)
    _edit_landing(data / "paypal" / "refunds.csv", history_paypal)
    _edit_landing(data / "shopify" / "order_refunds.csv", stale_order_refunds)
    build = dbt_build(second, data, settings | {"dbt_vars": dbt_vars}, "--select", "base_stripe__processor_refunds",
                      "base_paypal__processor_refunds", "base_shopify__storefront_refunds", *select, *WITHOUT_TESTS)
    assert build.returncode == 0, build.output[-3000:]
    stripe = _staged_ids(build, "base_stripe__processor_refunds", "processor_refund_id", "status")
    check(stripe == [["re_J01full", "succeeded"], ["re_J02part", "succeeded"], ["re_J03pend", "pending"],
                     ["re_J04fail", "failed"], ["re_J06kwd", "succeeded"], ["re_J20isk", "succeeded"],
                     ["re_J21iskfrac", "succeeded"], ["re_J22mga", "succeeded"], ["re_J23huf", "succeeded"]],
          f"stripe (Stitch): latest _sdc_sequence only, _sdc_deleted_at skipped, got {stripe}")
    paypal = _staged_ids(build, "base_paypal__processor_refunds", "processor_refund_id", "status")
    check(paypal.count(["1JU08902781691411", "COMPLETED"]) == 1 and ["1JU08902781691411", "PENDING"] not in paypal,
          f"paypal (Fivetran history mode): only _fivetran_active rows, got {paypal}")
    reasons = build.query("select storefront_refund_id, coalesce(reason, '') as reason "
                          "from main_staging.base_shopify__storefront_refunds")
    check("stale copy" not in set(reasons["reason"]) and reasons["storefront_refund_id"].is_unique,
          "shopify (Airbyte): one order_refunds row per id, the latest extraction")
    assert not problems, "\n".join(problems)


def test_shopify_stitch_joins_the_subtable_and_reads_flattened_objects(builds: dict[str, Build]) -> None:
    """Stitch: each transaction joins its refund by _sdc_source_key_id (the note is the reason,
    the refund's created_at the request time); the gateway id from authorization, else the
    flattened receipt__refund_id; the scope from the transactions stream's sale."""
    staged = builds["shopify_stitch"].query("""
        select storefront_refund_id, raw_reason, processor_refund_id, refund_type,
               cast(created_at as varchar) as created_at
        from main_intermediate.int_storefront_refunds_deduplicated where system_name = 'shopify'
    """).set_index("storefront_refund_id")
    assert staged.loc["23002", "raw_reason"] == "Customer returned the item"
    assert staged.loc["23002", "created_at"] == "2025-07-02 14:00:00"
    assert staged.loc["23002", "processor_refund_id"] == "re_301"
    assert staged.loc["23004", "processor_refund_id"] == "re_302"
    assert staged.loc["23004", "refund_type"] == "partial" and staged.loc["23002", "refund_type"] == "full"
    assert pd.isna(staged.loc["23007", "processor_refund_id"]) and pd.isna(staged.loc["23004", "raw_reason"])


def test_square_keeps_one_version_per_refund(builds: dict[str, Build]) -> None:
    """Airbyte's append sync lands a version per change: the base model keeps the latest of
    each id; a latest version that cannot be dated is rejected, never replaced by an older one."""
    build = builds["square_airbyte"]
    read = build.query("select processor_refund_id, status, event_at from main_staging.base_square__processor_refunds")
    assert read["processor_refund_id"].is_unique
    assert len(read) == labels("square_airbyte").shape[0]
    by_id = read.set_index("processor_refund_id")
    assert by_id.loc["bP9mAsEMYPUGjjGNaNO5ZDVyLhSZY_ExAmPlE01", "status"] == "COMPLETED"
    assert by_id.loc["iW6tHzLTfWbNqqNUh7V2gKcfSoZgF_ExAmPlE08", "status"] == "COMPLETED"
    collapsed = build.query("select processor_refund_id, cast(confirmed_at as varchar) as confirmed_at "
                            "from main_intermediate.int_processor_refunds_collapsed where processor = 'square'")
    assert "iW6tHzLTfWbNqqNUh7V2gKcfSoZgF_ExAmPlE08" not in set(collapsed["processor_refund_id"])
    confirmed = collapsed.set_index("processor_refund_id")["confirmed_at"]
    assert confirmed["bP9mAsEMYPUGjjGNaNO5ZDVyLhSZY_ExAmPlE01"] == "2025-07-03 10:00:04.87"


def flattened(frame: pd.DataFrame, column: str, separator: str, keys: list[str]) -> pd.DataFrame:
    """`column` (JSON objects) flattened as an exporter writes it: column<separator>key."""
    import json
    out = frame.copy()
    for key in keys:
        out[f"{column}{separator}{key}"] = [str(json.loads(value).get(key, "")) if value else "" for value in frame[column]]
    return out.drop(columns=[column])


def jq_links(frame: pd.DataFrame) -> pd.DataFrame:
    """links flattened as jq's paths do: links.0.href, links.0.rel, links.1.href, ..."""
    import json
    out = frame.copy()
    parsed = [json.loads(value) for value in frame["links"]]
    for index in range(max(len(links) for links in parsed)):
        for key in ("href", "rel"):
            out[f"links.{index}.{key}"] = [links[index][key] if index < len(links) else "" for links in parsed]
    return out.drop(columns=["links"])


def python_links(frame: pd.DataFrame) -> pd.DataFrame:
    """links as pandas writes a list that json_normalize left in a cell: Python text."""
    import json
    out = frame.copy()
    out["links"] = [str(json.loads(value)) for value in frame["links"]]
    return out


# Flattening forms (issue 25): each exporter's way with a nested object, read like the JSON
# column the fixture holds, or refused with a clear error. (fixture, shape file, transform, error)
FLATTENED_FORMS = {
    "paypal_json_normalize": ("paypal_v2_refunds", "paypal/refunds.csv",
                              lambda f: jq_links(flattened(f, "amount", ".", ["value", "currency_code"])), None),
    "paypal_json_normalize_links_kept_as_json": ("paypal_v2_refunds", "paypal/refunds.csv",
                                                 lambda f: flattened(f, "amount", ".", ["value", "currency_code"]), None),
    "paypal_stitch_meltano": ("paypal_v2_refunds", "paypal/refunds.csv",
                              lambda f: flattened(f, "amount", "__", ["value", "currency_code"]), None),
    "paypal_links_as_python_text": ("paypal_v2_refunds", "paypal/refunds.csv",
                                    lambda f: python_links(flattened(f, "amount", ".", ["value", "currency_code"])),
                                    "column links holds Python text"),
    "paypal_no_amount": ("paypal_v2_refunds", "paypal/refunds.csv", lambda f: f.drop(columns=["amount"]),
                         "has no amount: expected column amount (JSON) or amount.value"),
    "stripe_json_normalize": ("stripe_airbyte", "stripe/refunds.csv",
                              lambda f: flattened(f, "metadata", ".", ["order_id"]), None),
    "stripe_stitch_meltano": ("stripe_airbyte", "stripe/refunds.csv",
                              lambda f: flattened(f, "metadata", "__", ["order_id"]), None),
    "square_json_normalize": ("square_airbyte", "square/refunds.csv",
                              lambda f: flattened(f, "amount_money", ".", ["amount", "currency"]), None),
    "square_stitch_meltano": ("square_airbyte", "square/refunds.csv",
                              lambda f: flattened(f, "amount_money", "__", ["amount", "currency"]), None),
    "square_no_amount": ("square_airbyte", "square/refunds.csv", lambda f: f.drop(columns=["amount_money"]),
                         "has no amount: expected column amount_money (JSON) or amount_money__amount"),
}


@pytest.mark.parametrize("form", sorted(FLATTENED_FORMS))
def test_flattened_nested_objects_read_like_json(form: str, builds: dict[str, Build], tmp_path: Path) -> None:
    """A nested object flattened (json_normalize or jq: amount.value; Stitch or Meltano:
    amount__value) reads exactly as its JSON column does; a form that cannot be read is a
    clear error naming the input."""
    fixture, target, transform, error = FLATTENED_FORMS[form]
    variant = VARIANTS[fixture]
    data = tmp_path / "data"
    dbt_vars = write_data_dir(data, [variant])
    transform(read_csv(FIXTURES / fixture / Path(target).name)).to_csv(
        data / target, index=False)
    settings = {"as_of": "2025-08-01T00:00:00Z", "confirmation_sla_minutes": 30, "business_timezone": "UTC",
                "dbt_vars": dbt_vars}
    model = f"base_{variant.shape}__processor_refunds"
    build = dbt_build(tmp_path, data, settings, "--select", *BASE_MODELS_WITH_THEIR_SEEDS, model, *WITHOUT_TESTS)
    if error:
        assert build.returncode != 0
        assert error in build.output and f"{variant.shape}/refund" in build.output, build.output[-2000:]
        return
    assert build.returncode == 0, build.output[-3000:]
    columns = "processor_refund_id, payment_id, order_id, amount, currency, status, event_at"
    got = build.query(f"select {columns} from main_staging.{model} order by 1, 2")
    want = builds[fixture].query(f"select {columns} from main_staging.{model} order by 1, 2")
    assert len(got) > 0 and got["amount"].notna().any() and got["payment_id"].notna().any()
    assert got["order_id"].notna().any()
    pd.testing.assert_frame_equal(got, want)


def test_shopify_stitch_without_its_transactions_is_a_clear_error(tmp_path: Path) -> None:
    """tap-shopify v3 (GraphQL) through Stitch: order_refunds with _sdc_ columns but neither a
    transactions column nor the subtable; no transaction can be tied to its refund: refused."""
    data = tmp_path / "data"
    dbt_vars = write_data_dir(data, [VARIANTS["shopify_stitch"]])
    (data / "shopify" / "order_refunds__transactions.csv").unlink()
    settings = {"as_of": "2025-08-01T00:00:00Z", "confirmation_sla_minutes": 30, "business_timezone": "UTC",
                "dbt_vars": dbt_vars}
    build = dbt_build(tmp_path, data, settings, "--select", "base_shopify__storefront_refunds", command="run")
    assert build.returncode != 0
    assert "input 'shopify/order_refunds' was written by Stitch" in build.output, build.output[-2000:]
    assert "tap-shopify v3 (GraphQL)" in build.output


def test_adyen_report_time_zone_abbreviations_are_fixed_offsets(builds: dict[str, Build]) -> None:
    """TimeZone is Adyen's abbreviation of the offset in force (seed time_zone_abbreviations):
    PDT and CEST read (DuckDB knows neither), BST is British not Bangladesh, CET in winter is
    +01:00; an ambiguous (IST) or unknown (XYZ) abbreviation is rejected with a reason naming it."""
    build = builds["adyen_settlement_details_report"]
    staged = build.query("""
        select processor_refund_id, cast(created_at as varchar) as created_at
        from main_intermediate.int_processor_refunds_collapsed where processor = 'adyen'
    """).set_index("processor_refund_id")["created_at"]
    assert staged["PDTREFUND0000A01"] == "2025-07-06 15:00:05"
    assert staged["BSTREFUND0000A02"] == "2025-07-06 08:00:05"
    assert staged["CETWINTER0000A03"] == "2025-01-15 09:00:05"
    assert staged["AEDTREFUND000A06"] == "2025-01-09 23:00:05"
    assert staged["RGRUQDR9IYTLHL93"] == "2025-07-04 09:00:05"  # CEST
    # the repeated hour when summer time ends: the abbreviation says which of the two it was
    assert staged["DSTCEST000000A07"] == "2024-10-27 00:30:05"
    assert staged["DSTCET0000000A08"] == "2024-10-27 01:30:05"
    rejected = build.query("""
        select record_id, rejected_column, rejection_reason from fct_rejected_rows
        where record_id in ('ISTREFUND0000A04', 'XYZREFUND0000A05') order by record_id
    """)
    assert rejected.values.tolist() == [
        ["ISTREFUND0000A04", "created_at", "time zone IST in created_at has no UTC offset in seed time_zone_abbreviations"],
        ["XYZREFUND0000A05", "created_at", "time zone XYZ in created_at has no UTC offset in seed time_zone_abbreviations"],
    ]


def test_amount_not_representable_at_iso_exponent_is_rejected_not_rounded(builds: dict[str, Build]) -> None:
    """Adyen and Stripe write ISK with 2 decimals (ISO 4217: 0): 12345 is ISK 123.45, which
    the marts' ISO exponent cannot hold, so the row is rejected with its reason."""
    for variant, refund_id in [("adyen_webhooks", "ISKFRAC000000E02"), ("stripe_api_json", "re_J21iskfrac")]:
        rejected = builds[variant].query("""
            select amount_text, rejected_column, rejection_reason from fct_rejected_rows where record_id = ?
        """, [refund_id])
        assert rejected.values.tolist() == [["123.45", "amount", "more decimals than the currency allows"]], variant


def test_adyen_plugin_tables_are_found_by_their_columns(builds: dict[str, Build]) -> None:
    """Magento 2 and Shopware 6 keep webhooks in `adyen_notification` (pspreference, success
    'true'/'false' or 1/0, created_at UTC, no eventDate): found without adyen_variant; a success
    flag that is none of those leaves the event without a status, and it is rejected."""
    for variant, refund_id, created_at, bad in [
        ("adyen_magento2", "MGREFUND00000001", "2025-07-03 10:00:02", "MGREFUND00000005"),
        ("adyen_shopware6", "SWREFUND00000002", "2025-07-04 11:00:02.25", "SWREFUND00000005"),
    ]:
        build = builds[variant]
        staged = build.query("""
            select processor_refund_id, cast(created_at as varchar) as created_at
            from main_intermediate.int_processor_refunds_collapsed where processor = 'adyen'
        """).set_index("processor_refund_id")["created_at"]
        assert staged[refund_id] == created_at, variant
        rejected = build.query("select rejected_column, rejection_reason from fct_rejected_rows where record_id = ?",
                               [bad])
        assert rejected.values.tolist() == [["status", "missing status"]], variant
