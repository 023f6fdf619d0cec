"""What a completed checkpoint's marts say, read from the built database."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from .store import read

VARIANCE_COLUMNS = [
    "variance_id", "refund_id", "order_id", "variance_type", "discrepancy_system", "system_of_record_discrepancy",
    "storefront_amount", "processor_amount", "erp_amount", "amount_delta", "currency", "detail",
    "first_detected_at", "days_since_first_detected", "as_of",
]

# The confirmation compares like with like: the refunds the ledger must book
# (processor status succeeded, else the storefront's), in each system's own
# currency. Pending, failed and canceled refunds are not in these totals.
BOOKED_TOTALS_SQL = """
select
    reconciliation.currency,
    coalesce(max(currencies.minor_units), 2) as minor_units,
    sum(reconciliation.storefront_refund_total) as storefront_total,
    sum(reconciliation.processor_refund_total) as processor_total,
    sum(reconciliation.erp_refund_total) as erp_total,
    sum(reconciliation.storefront_refund_count) as storefront_refunds,
    sum(reconciliation.processor_refund_count) as processor_refunds,
    sum(reconciliation.erp_posting_count) as erp_postings
from rpt_refund_reconciliation as reconciliation
left join main_mappings.currencies as currencies on reconciliation.currency = currencies.currency
where reconciliation.canonical_status = 'succeeded'
group by reconciliation.currency
order by reconciliation.currency
"""


def money(amount: Any, minor_units: int) -> str:
    """An amount at its currency's exponent: JPY 37224, USD 398.00."""
    if amount is None:
        return "n/a"
    return f"{Decimal(amount).quantize(Decimal(1).scaleb(-int(minor_units))):,}"


def read_checkpoint(database: Path, checkpoint_id: str, data_dir: Path) -> tuple[dict, list[dict], list[tuple]]:
    """(summary, open variances, trend) of the checkpoint just built."""
    runs = read(database, "select * from fct_checkpoint_runs where checkpoint_id = ?", [checkpoint_id])
    if not runs:
        raise LookupError(f"fct_checkpoint_runs has no row for {checkpoint_id}")
    run = runs[0]
    variances = read(database, f"""
        select {', '.join(VARIANCE_COLUMNS)} from fct_refund_variances
        order by days_since_first_detected desc, abs(coalesce(amount_delta, 0)) desc, variance_id
    """)
    booked = read(database, BOOKED_TOTALS_SQL)
    rejected = read(database, """
        select input_name, rejection_reason, count(*) as row_count
        from fct_rejected_rows group by all order by input_name, rejection_reason
    """)
    trend = [(str(row["as_of"]), row["open_variance_count"], row["outcome"]) for row in read(
        database, "select as_of, open_variance_count, outcome from fct_checkpoint_runs where as_of <= ? order by as_of",
        [run["as_of"]])]
    summary = {
        "checkpoint_id": run["checkpoint_id"], "as_of": str(run["as_of"]), "outcome": run["outcome"],
        "outcome_reasons": (run.get("outcome_reasons") or "").strip().rstrip(";"),
        "previous_checkpoint_id": run.get("previous_checkpoint_id"),
        "data_dir": str(data_dir),
        "rows_read": {"storefront": run["storefront_rows_read"], "processor": run["processor_rows_read"],
                      "erp": run["erp_rows_read"]},
        "rows_rejected": run["rows_rejected"],
        "latest_record_at": {"storefront": str(run["storefront_latest_record_at"]),
                             "processor": str(run["processor_latest_record_at"]),
                             "erp": str(run["erp_latest_record_at"])},
        "freshness_window_hours": run["freshness_window_hours"],
        "stale_sources": run["stale_sources"],
        "open_variance_count": run["open_variance_count"], "new_variance_count": run["new_variance_count"],
        "resolved_variance_count": run["resolved_variance_count"],
        "booked_totals": [
            {"currency": row["currency"],
             **{key: money(row[key], row["minor_units"]) for key in ("storefront_total", "processor_total", "erp_total")},
             "net_variance": money((row["erp_total"] or 0) - (row["storefront_total"] or 0), row["minor_units"]),
             "storefront_refunds": row["storefront_refunds"], "processor_refunds": row["processor_refunds"],
             "erp_postings": row["erp_postings"]}
            for row in booked
        ],
        "rejected": rejected,
        "variances_by_type": {},
    }
    for row in variances:
        key = row["variance_type"]
        summary["variances_by_type"][key] = summary["variances_by_type"].get(key, 0) + 1
    return summary, variances, trend
