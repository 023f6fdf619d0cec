"""Amounts at and beyond the money type's limit (issue 24, observation 11).

Amounts are 64-bit integers of minor units (macros/money: amount_minor_limit,
9,223,372,036,854,775,807). An amount larger than that, in any money column
of any input and any shape that parses money, is one rejected row with its
reason in fct_rejected_rows; it never fails the checkpoint. Amounts at the
limit are read exactly. One build: every money column of every input (the
generic storefront, processor and ERP files, major units, at exponents 0, 2,
3 and 4) and Stripe's minor-unit amounts, side by side.

Run: nice -n 19 .venv/bin/pytest -q tests/python/test_money_limits.py
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import INPUT_COLUMNS, Build, dbt_build, generate

LIMIT = 9_223_372_036_854_775_807
OUT_OF_RANGE = "amount out of range (larger than the money type holds)"
EXPONENT = "amount in exponent notation"
# The exponent (minor units) of each currency the cases use.
EXPONENTS = {"JPY": 0, "USD": 2, "KWD": 3, "CLF": 4}
ID_COLUMN = {"storefront_refunds": "storefront_refund_id", "processor_refunds": "processor_refund_id",
             "erp_refund_postings": "erp_document_id", "stripe": "processor_refund_id"}
INTERMEDIATE = {"storefront_refunds": "int_storefront_refunds_deduplicated",
                "processor_refunds": "int_processor_refunds_collapsed",
                "erp_refund_postings": "int_erp_postings_deduplicated",
                "stripe": "int_processor_refunds_collapsed"}


def major(minor: int, exponent: int) -> str:
    """Minor units as decimal text in major units: 9223372036854775807 at 2 is 92233720368547758.07."""
    text = str(minor)
    if exponent == 0:
        return text
    text = text.rjust(exponent + 1, "0")
    return f"{text[:-exponent]}.{text[-exponent:]}"


@dataclass
class Amount:
    name: str
    amount: str
    currency: str
    minor: int | None = None          # the amount read, when accepted
    reason: str | None = None         # the rejection reason, when rejected


def major_cases() -> list[Amount]:
    """Every value class for decimal text in major units."""
    cases = []
    for currency, exponent in EXPONENTS.items():
        cases += [
            Amount(f"at_limit_{currency}", major(LIMIT, exponent), currency, minor=LIMIT),
            Amount(f"one_beyond_{currency}", major(LIMIT + 1, exponent), currency, reason=OUT_OF_RANGE),
            Amount(f"far_beyond_{currency}", "1" + "0" * 39, currency, reason=OUT_OF_RANGE),
            Amount(f"negative_beyond_{currency}", "-" + major(LIMIT + 1, exponent), currency,
                   reason="negative amount"),
        ]
    return cases + [
        # Whole numbers, no decimals: the limit in yen, one more, twenty digits.
        Amount("whole_beyond_USD", "92233720368547759", "USD", reason=OUT_OF_RANGE),
        Amount("twenty_digits_USD", "12345678901234567890", "USD", reason=OUT_OF_RANGE),
        Amount("decimals_far_beyond_USD", "123456789012345678901234567890.50", "USD", reason=OUT_OF_RANGE),
        # Leading zeros do not make an amount large.
        Amount("leading_zeros_USD", "0" * 40 + "12.50", "USD", minor=1250),
        Amount("exponent_USD", "1e3", "USD", reason=EXPONENT),
        Amount("exponent_decimals_USD", "1.5E+20", "USD", reason=EXPONENT),
        Amount("exponent_negative_USD", "-2E5", "USD", reason=EXPONENT),
        Amount("exponent_small_USD", "2.5e-1", "USD", reason=EXPONENT),
        Amount("negative_decimals_USD", "-12.50", "USD", reason="negative amount"),
        Amount("negative_whole_JPY", "-500", "JPY", reason="negative amount"),
    ]


def minor_cases() -> list[Amount]:
    """Stripe writes integer minor units."""
    return [
        Amount("at_limit", str(LIMIT), "usd", minor=LIMIT),
        Amount("one_beyond", str(LIMIT + 1), "usd", reason=OUT_OF_RANGE),
        Amount("far_beyond", "9" * 30, "jpy", reason=OUT_OF_RANGE),
        Amount("beyond_with_zero_decimals", f"{LIMIT + 1}.00", "usd", reason=OUT_OF_RANGE),
        Amount("at_limit_with_zero_decimals", f"{LIMIT}.0", "usd", minor=LIMIT),
        Amount("fraction", "1250.5", "usd", reason="minor-unit amount is not a whole number"),
        Amount("exponent", "1e25", "usd", reason=EXPONENT),
        Amount("negative_beyond", f"-{LIMIT + 1}", "usd", reason="negative amount"),
    ]


def generic_row(input_name: str, record_id: str, amount: Amount) -> dict[str, str]:
    common = {"order_id": f"ord_{record_id}", "amount": amount.amount, "currency": amount.currency}
    if input_name == "storefront_refunds":
        return {**common, "storefront_refund_id": record_id, "refund_type": "full", "status": "succeeded",
                "created_at": "2026-02-10T10:00:00Z", "storefront": "generic"}
    if input_name == "processor_refunds":
        return {**common, "processor_refund_id": record_id, "processor": "generic", "status": "succeeded",
                "created_at": "2026-02-10T10:00:00Z", "event_at": "2026-02-10T10:01:00Z"}
    return {**common, "erp_document_id": record_id, "gl_account": "4900", "posted_at": "2026-02-10T10:10:00Z"}


def append_rows(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    with open(path, "a", newline="", encoding="utf-8") as handle:
        csv.DictWriter(handle, fieldnames=header, extrasaction="ignore").writerows(rows)


# (input, record id, case): every money column of every input, every case.
CASES = [(name, f"{name[:3]}_{case.name}", case) for name in ("storefront_refunds", "processor_refunds",
                                                                "erp_refund_postings") for case in major_cases()]
CASES += [("stripe", f"re_stripe_{case.name}", case) for case in minor_cases()]


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    work = tmp_path_factory.mktemp("money_limits")
    data = work / "data"
    settings = generate(data, "--refunds", "12", "--seed", "24", "--fault-rate", "0", "--trap-rate", "0",
                        "--bad-rows", "0")
    for name in ("storefront_refunds", "processor_refunds", "erp_refund_postings"):
        append_rows(data / f"{name}.csv", INPUT_COLUMNS[name],
                    [generic_row(name, record_id, case) for input_name, record_id, case in CASES if input_name == name])
    # Sums of amounts at the limit: two storefront refunds and three ERP bookings of one refund.
    at_limit = major(LIMIT, 0)
    append_rows(data / "storefront_refunds.csv", INPUT_COLUMNS["storefront_refunds"], [
        {"storefront_refund_id": f"sr_sum{n}", "order_id": "ord_sum", "processor_refund_id": "re_sum",
         "amount": at_limit, "currency": "JPY", "status": "succeeded", "created_at": f"2026-02-10T10:00:0{n}Z",
         "storefront": "generic"} for n in (1, 2)])
    append_rows(data / "processor_refunds.csv", INPUT_COLUMNS["processor_refunds"], [
        {"processor_refund_id": "re_sum", "processor": "generic", "order_id": "ord_sum", "amount": "1",
         "currency": "JPY", "status": "succeeded", "created_at": "2026-02-10T10:00:00Z",
         "event_at": "2026-02-10T10:01:00Z"}])
    append_rows(data / "erp_refund_postings.csv", INPUT_COLUMNS["erp_refund_postings"], [
        {"erp_document_id": f"CR-sum{n}", "processor_refund_id": "re_sum", "order_id": "ord_sum",
         "gl_account": "4900", "amount": at_limit, "currency": "JPY", "refund_type": "full",
         "posted_at": f"2026-02-10T10:1{n}:00Z"} for n in (1, 2, 3)])
    (data / "stripe").mkdir()
    with open(data / "stripe" / "refund.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "amount", "currency", "status", "created", "charge_id", "reason"])
        writer.writerows([record_id, case.amount, case.currency, "succeeded", "2026-02-10 10:00:00", "ch_1", ""]
                         for input_name, record_id, case in CASES if input_name == "stripe")
    settings = {**settings, "dbt_vars": {**settings["dbt_vars"], "processor_shapes": ["generic", "stripe"]}}
    result = dbt_build(work, data, settings, "--exclude-resource-type", "unit_test")
    assert result.returncode == 0, result.output[-3000:]
    return result


@pytest.mark.parametrize("input_name,record_id,case", CASES, ids=[record_id for _, record_id, _ in CASES])
def test_each_amount_is_read_exactly_or_rejected_with_its_reason(build: Build, input_name: str, record_id: str,
                                                                  case: Amount) -> None:
    rejected = build.query("""
        select input_name, rejected_column, rejection_reason from fct_rejected_rows where record_id = ?
    """, [record_id])
    found = build.query(f"select cast(amount_minor as varchar) as amount_minor from main_intermediate.{INTERMEDIATE[input_name]} "
                        f"where {ID_COLUMN[input_name]} = ?", [record_id])
    if case.reason:
        expected_input = "processor_refunds" if input_name == "stripe" else input_name
        assert rejected.values.tolist() == [[expected_input, "amount", case.reason]]
        assert found.empty
    else:
        assert rejected.empty, rejected
        assert [int(value) for value in found["amount_minor"]] == [case.minor]


def test_the_marts_hold_amounts_at_the_limit_exactly(build: Build) -> None:
    """The largest accepted amount reaches the marts at its currency's exponent, and the run's
    totals count every rejected row."""
    processor = build.query("""
        select currency, cast(processor_amount as varchar) from fct_refund_variances
        where refund_id = 'pro_at_limit_CLF' and variance_type = 'missing_in_storefront'
    """).values.tolist()
    assert processor == [["CLF", "922337203685477.5807"]]
    rejected = build.query("select rows_rejected from fct_checkpoint_runs").values.tolist()
    assert rejected == [[sum(1 for _, _, case in CASES if case.reason)]]


def test_sums_of_amounts_at_the_limit_are_exact(build: Build) -> None:
    """Amounts add up beyond bigint without overflow: two storefront refunds of one processor refund,
    and two duplicate ERP bookings, each at the limit."""
    found = build.query("""
        select variance_type, discrepancy_system, cast(amount_delta as varchar) as amount_delta,
            cast(amount_at_stake as varchar), cast(amount_at_stake_minor as varchar)
        from fct_refund_variances where refund_id = 're_sum' order by 1, 2
    """).values.tolist()
    assert found == [
        ["amount_mismatch", "erp", str(LIMIT - 1) + ".0000", str(LIMIT - 1) + ".0000", str(LIMIT - 1)],
        ["amount_mismatch", "storefront", str(2 * LIMIT - 1) + ".0000", str(2 * LIMIT - 1) + ".0000",
         str(2 * LIMIT - 1)],
        ["duplicate_erp_posting", "erp", str(2 * LIMIT) + ".0000", str(2 * LIMIT) + ".0000", str(2 * LIMIT)],
    ]


# -- Every shape that parses money: each connector fixture with every amount out of range --------

HUGE_MAJOR = "1" + "0" * 25 + ".50"
HUGE_MINOR = "9" * 25
# variant -> ({file: its money columns}, their unit); in a JSON column the amounts are the "value"
# (PayPal) or "amount" (Shopify) members, strings or numbers.
SHAPE_MONEY = {
    "stripe_airbyte": ({"refunds.csv": ["amount"]}, "minor"),
    "stripe_api_json": ({"refunds.csv": ["amount"]}, "minor"),
    "adyen_webhooks": ({"notification.csv": ["amount_value"]}, "minor"),
    "adyen_magento2": ({"adyen_notification.csv": ["amount_value"]}, "minor"),
    "adyen_shopware6": ({"adyen_notification.csv": ["amount_value"]}, "minor"),
    "square_airbyte": ({"refunds.csv": ["amount_money"]}, "minor"),
    "adyen_settlement_details_report": (
        {"settlement_detail_report.csv": ["Gross Debit (GC)", "Gross Credit (GC)"]}, "major"),
    "paypal_transaction_search_airbyte": ({"transactions.csv": ["transaction_info"]}, "major"),
    "paypal_v2_refunds": ({"refunds.csv": ["amount"]}, "major"),
    "shopify_fivetran_graphql": ({"transaction.csv": ["amount_set_pres_amount", "amount_set_shop_amount"]}, "major"),
    "shopify_fivetran_rest": ({"transaction.csv": ["amount"]}, "major"),
    "shopify_airbyte": ({"order_refunds.csv": ["transactions"], "transactions.csv": ["amount"]}, "major"),
    "shopify_stitch": ({"order_refunds__transactions.csv": ["amount"], "transactions.csv": ["amount"]}, "major"),
    "netsuite2_fivetran": ({"transactionaccountingline.csv": ["amount", "netamount", "debit", "credit"],
                            "transactionline.csv": ["foreignamount"]}, "major"),
}


def huge_value(value: object) -> object:
    """An amount out of range, its sign and its JSON type (string or number) kept."""
    negative = str(value).strip().startswith("-")
    if isinstance(value, str):
        return ("-" if negative else "") + HUGE_MAJOR
    return -(10 ** 25) if negative else 10 ** 25


def huge_json(text: str) -> str:
    """Every "value" or "amount" member of a JSON text made out of range."""
    import json

    def walk(node: object) -> object:
        if isinstance(node, dict):
            return {key: huge_value(value) if key in ("value", "amount") and isinstance(value, (str, int, float))
                    else walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node
    return json.dumps(walk(json.loads(text))) if text.strip().startswith(("{", "[")) else text


@pytest.fixture(scope="module")
def shape_builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Build]:
    """The connector fixtures' builds (test_connector_fixtures.BUILDS), every amount out of range."""
    import pandas as pd

    from test_connector_fixtures import BUILDS, FIXTURES, VARIANTS, build_with_additions, write_data_dir

    by_variant = {}
    for build_name, spec in BUILDS.items():
        variants = [VARIANTS[name] for name in spec["variants"]]
        work = tmp_path_factory.mktemp(f"money_{build_name}")
        dbt_vars = write_data_dir(work / "data", variants)
        for variant in variants:
            files, unit = SHAPE_MONEY[variant.name]
            for source, columns in files.items():
                frame = pd.read_csv(FIXTURES / variant.name / source, dtype=str, keep_default_na=False)
                for column in columns:
                    if frame[column].str.strip().str.startswith(("{", "[")).any():
                        frame[column] = frame[column].map(huge_json)
                    else:
                        frame[column] = frame[column].map(lambda value: value if not value.strip() else (
                            ("-" if value.strip().startswith("-") else "")
                            + (HUGE_MINOR if unit == "minor" else HUGE_MAJOR)))
                frame.to_csv(work / "data" / variant.files[source], index=False)
        settings = {"as_of": spec["as_of"], "confirmation_sla_minutes": 30, "business_timezone": "UTC",
                    "dbt_vars": dbt_vars}
        result = build_with_additions(work, settings, variants)
        assert result.returncode == 0, result.output[-4000:]
        for variant in variants:
            by_variant[variant.name] = result
    return by_variant


@pytest.mark.parametrize("variant_name", list(SHAPE_MONEY))
def test_every_shape_rejects_an_amount_out_of_range_as_a_row(variant_name: str, shape_builds: dict[str, Build]) -> None:
    from test_connector_fixtures import VARIANTS

    variant = VARIANTS[variant_name]
    build = shape_builds[variant_name]
    input_name = {"storefront": "storefront_refunds", "processor": "processor_refunds",
                  "erp": "erp_refund_postings"}[variant.role]
    reasons = build.query("""
        select rejection_reason, count(*) as row_count from fct_rejected_rows
        where input_name = ? and source_shape = ? group by 1
    """, [input_name, variant.shape]).set_index("rejection_reason")["row_count"].to_dict()
    assert reasons.get(OUT_OF_RANGE, 0) >= 1, reasons
    model = INTERMEDIATE[input_name if input_name != "processor_refunds" else "stripe"]
    shape_filter = {"storefront": "system_name = 'shopify'", "processor": f"processor = '{variant.processor}'",
                    "erp": "true"}[variant.role]
    accepted = build.query(f"select count(*) as n from main_intermediate.{model} where {shape_filter}")
    assert accepted["n"].iloc[0] == 0
