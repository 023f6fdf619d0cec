"""Hand-written report inputs (no dbt): what read_checkpoint returns for a
checkpoint with variances in USD, JPY and KWD, one hostile refund id, a
currency mismatch, rejected rows, a stale and a failed checkpoint in the trend.

Every amount is an exact Decimal in major units at the currency's exponent,
as the marts hold them (fct_refund_variances, contract columns).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

AS_OF = datetime(2026, 3, 1)
HOSTILE_REFUND = "<script>alert(1)</script>"
SLACK_HOSTILE = "<!channel> <https://x|Click>"


def variance(variance_id: str, refund_id: str, variance_type: str, system: str, currency: str, units: int,
             delta: str | None, age_days: int, bucket: str, order: int, **extra: Any) -> dict[str, Any]:
    return {
        "variance_id": variance_id, "refund_id": refund_id, "refund_key": extra.pop("refund_key", refund_id),
        "order_id": extra.pop("order_id", "ord_" + variance_id), "variance_type": variance_type,
        "discrepancy_system": system, "system_of_record_discrepancy": "held by all three",
        "refund_date": date(2026, 3, 1).fromordinal(date(2026, 3, 1).toordinal() - age_days),
        "posting_period": "2026-02", "age_days": age_days, "age_bucket": bucket, "age_bucket_order": order,
        "storefront_amount": None, "processor_amount": None, "erp_amount": None,
        "amount_delta": None if delta is None else Decimal(delta), "currency": currency, "minor_units": units,
        "storefront_currency": currency, "processor_currency": currency, "erp_currency": currency,
        "detail": extra.pop("detail", f"{variance_type} on {refund_id}."), "first_detected_at": AS_OF,
        "days_since_first_detected": 0, "as_of": AS_OF, **extra,
    }


def variances() -> list[dict[str, Any]]:
    """amount_at_stake as the mart defines it per type (docs/models.md): the
    refund's amount, |delta| for an amount mismatch, the duplicates' total."""
    return [
        variance("v1", "re_usd_small", "amount_mismatch", "erp", "USD", 2, "-12.50", 3, "0-7 days", 1,
                 processor_amount=Decimal("50.00"), erp_amount=Decimal("37.50"), storefront_amount=Decimal("50.00"),
                 amount_at_stake=Decimal("12.50")),
        variance("v2", "re_usd_big", "missing_in_erp", "erp", "USD", 2, "-398.00", 45, "31-60 days", 3,
                 processor_amount=Decimal("398.00"), storefront_amount=Decimal("398.00"),
                 amount_at_stake=Decimal("398.00")),
        variance("v3", "re_jpy", "amount_mismatch", "erp", "JPY", 0, "-37224", 95, "over 90 days", 5,
                 processor_amount=Decimal("40000"), erp_amount=Decimal("2776"), storefront_amount=Decimal("40000"),
                 amount_at_stake=Decimal("37224")),
        variance("v4", "re_jpy", "wrong_period", "erp", "JPY", 0, "0", 95, "over 90 days", 5,
                 amount_at_stake=Decimal("40000")),
        variance("v5", HOSTILE_REFUND, "missing_in_storefront", "storefront", "USD", 2, "-25.00", 10,
                 "8-30 days", 2, order_id="=HYPERLINK(\"http://x\",\"y\")", detail="<b>bold</b> & more",
                 amount_at_stake=Decimal("25.00")),
        variance("v6", "re_kwd", "duplicate_erp_posting", "erp", "KWD", 3, "66.967", 20, "8-30 days", 2,
                 amount_at_stake=Decimal("66.967")),
        # The ERP booked the EUR refund in GBP: each amount in its own currency.
        variance("v7", "re_eur", "currency_mismatch", "erp", "EUR", 2, None, 5, "0-7 days", 1,
                 processor_amount=Decimal("40.00"), storefront_amount=Decimal("40.00"),
                 erp_amount=Decimal("35.00"), erp_currency="GBP", amount_at_stake=Decimal("40.00")),
        variance("v8", "re_usd_mid", "confirmation_lag", "processor", "USD", 2, "40.00", 70, "61-90 days", 4,
                 amount_at_stake=Decimal("40.00")),
    ]


def summary(outcome: str = "variances_found", **extra: Any) -> dict[str, Any]:
    rows = variances()
    by_type: dict[str, int] = {}
    for row in rows:
        by_type[row["variance_type"]] = by_type.get(row["variance_type"], 0) + 1
    return {
        "checkpoint_id": "cp_20260301T000000Z", "as_of": "2026-03-01 00:00:00", "outcome": outcome,
        "outcome_reasons": "8 open variances; 2 input rows rejected (fct_rejected_rows)",
        "previous_checkpoint_id": "cp_20260228T000000Z", "data_dir": "/data/in",
        "rows_read": {"storefront": 10, "processor": 20, "erp": 9}, "rows_rejected": 2,
        "latest_record_at": {"storefront": "2026-02-28 23:00:00", "processor": "2026-02-28 23:30:00",
                             "erp": "2026-02-28 22:00:00"},
        "freshness_window_hours": 24,
        "freshness": [
            {"system": "storefront", "rows_read": 10, "latest_record_at": "2026-02-28 23:00:00",
             "hours_before_as_of": 1, "window_hours": 24, "is_stale": False, "stale_reason": None},
            {"system": "processor", "rows_read": 20, "latest_record_at": "2026-02-28 23:30:00",
             "hours_before_as_of": 0, "window_hours": 24, "is_stale": False, "stale_reason": None},
            {"system": "erp", "rows_read": 9, "latest_record_at": "2026-02-28 22:00:00",
             "hours_before_as_of": 2, "window_hours": 24, "is_stale": False, "stale_reason": None},
        ],
        "stale_sources": None, "open_variance_count": len(rows), "new_variance_count": 3,
        "resolved_variance_count": 1,
        "booked_totals": [{"currency": "JPY", "minor_units": 0, "storefront_total": "1234567",
                           "processor_total": "1234567", "erp_total": "1197343", "net_variance": "-37224"},
                          {"currency": "USD", "minor_units": 2, "storefront_total": "1234.50",
                           "processor_total": "1234.50", "erp_total": "1222.00", "net_variance": "-12.50"}],
        "rejected": [{"input_name": "processor_refunds", "rejection_reason": "invalid amount", "row_count": 2}],
        "variances_by_type": by_type,
        "settings": {"as_of": "2026-03-01T00:00:00Z", "business_timezone": "Europe/Berlin",
                     "confirmation_sla_minutes": 30, "shapes": {"storefront": ["generic"]}},
        **extra,
    }


def stake(currency: str, units: int, amount: str, count: int) -> dict[str, Any]:
    return {"currency": currency, "minor_units": units, "amount": Decimal(amount), "count": count}


def details() -> dict[str, Any]:
    return {
        # at_stake: fct_checkpoint_totals' open_variances per currency (marts.attach_trend_money).
        "trend": [
            {"checkpoint_id": "cp_20260227T000000Z", "as_of": datetime(2026, 2, 27), "open_variance_count": 5,
             "outcome": "variances_found", "reason": "5 open variances; ", "kind": "checkpoint",
             "at_stake": [stake("JPY", 0, "37224", 2), stake("USD", 2, "410.50", 3)]},
            {"checkpoint_id": "cp_20260228T000000Z", "as_of": datetime(2026, 2, 28), "open_variance_count": 6,
             "outcome": "stale_sources", "reason": "stale: erp no rows; ", "kind": "checkpoint",
             "at_stake": [stake("JPY", 0, "37224", 2), stake("USD", 2, "435.50", 4)]},
            {"checkpoint_id": "cp_20260301T000000Z", "as_of": datetime(2026, 3, 1), "open_variance_count": None,
             "outcome": "failed", "reason": "input missing: erp_refund_postings", "kind": "failed_attempt"},
            {"checkpoint_id": "cp_20260301T000000Z", "as_of": datetime(2026, 3, 1), "open_variance_count": 8,
             "outcome": "variances_found", "reason": "8 open variances; ", "kind": "checkpoint",
             "at_stake": [stake("EUR", 2, "0.00", 1), stake("JPY", 0, "37224", 2), stake("KWD", 3, "66.967", 1),
                          stake("USD", 2, "475.50", 4)]},
        ],
        "new_variances": [{"variance_id": "v3", "refund_id": "re_jpy", "refund_key": "re_jpy",
                           "variance_type": "amount_mismatch", "discrepancy_system": "erp", "state": "open",
                           "amount_delta": Decimal("-37224"), "currency": "JPY", "minor_units": 0,
                           "detail": "ERP posted 2,776 JPY, processor refunded 40,000 JPY."}],
        "resolved_variances": [{"variance_id": "v0", "refund_id": "re_gone", "variance_type": "amount_mismatch",
                                "discrepancy_system": "erp", "state": "resolved", "amount_delta": Decimal("-4.00"),
                                "currency": "USD", "minor_units": 2, "first_detected_at": datetime(2026, 2, 20)}],
        "rejected_rows": [
            {"input_name": "processor_refunds", "source_shape": "generic", "source_file": "p.csv",
             "source_row_number": 7, "record_id": "-cmd|' /C calc'!A0", "order_id": "+1", "rejected_column": "amount",
             "rejection_reason": "invalid amount", "amount_text": "@SUM(1)", "currency": "USD"},
            {"input_name": "processor_refunds", "source_shape": "generic", "source_file": "p.csv",
             "source_row_number": 9, "record_id": "re_x", "order_id": None, "rejected_column": "amount",
             "rejection_reason": "invalid amount", "amount_text": "1.2.3", "currency": "USD"},
        ],
        "audit": {
            "re_jpy": [
                {"refund_key": "re_jpy", "event_order": 1, "system": "processor", "event": "refund created",
                 "record_id": "re_jpy", "raw_status": "pending", "canonical_status": "pending",
                 "amount": Decimal("40000"), "currency": "JPY", "minor_units": 0,
                 "recorded_at": datetime(2025, 11, 26, 9), "source_file": "processor_refunds.csv", "source_row": 4,
                 "is_rejected": False, "rejection_reason": None},
                {"refund_key": "re_jpy", "event_order": 2, "system": "erp", "event": "posting",
                 "record_id": "CR-1", "raw_status": "4900", "canonical_status": "succeeded",
                 "amount": Decimal("2776"), "currency": "JPY", "minor_units": 0,
                 "recorded_at": datetime(2025, 11, 26, 10), "source_file": "erp.csv", "source_row": 2,
                 "is_rejected": False, "rejection_reason": None},
            ],
            HOSTILE_REFUND: [
                {"refund_key": HOSTILE_REFUND, "event_order": 1, "system": "processor", "event": "<img src=x>",
                 "record_id": HOSTILE_REFUND, "raw_status": "succeeded", "canonical_status": "succeeded",
                 "amount": Decimal("25.00"), "currency": "USD", "minor_units": 2,
                 "recorded_at": datetime(2026, 2, 19), "source_file": "p.csv", "source_row": 3,
                 "is_rejected": False, "rejection_reason": None},
            ],
        },
    }
