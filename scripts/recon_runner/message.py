"""The checkpoint's message: one plain statement of the outcome and why."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

# The outcome rules are stated once, in fct_checkpoint_runs (README "Outcomes");
# the runner adds failed and busy.


def within_tolerance(summary: dict[str, Any], variances: list[dict[str, Any]], tolerance: Decimal) -> bool:
    """Every open variance's |amount_delta| is at most `tolerance`, and no row was rejected.

    A variance without a delta (a currency mismatch: the amounts cannot be
    compared) is never within a tolerance; a rejected row has no amount to
    tolerate.
    """
    if summary.get("rows_rejected"):
        return False
    return all(v["amount_delta"] is not None and abs(v["amount_delta"]) <= tolerance for v in variances)


def largest(variances: list[dict[str, Any]], count: int = 5) -> list[dict[str, Any]]:
    """The largest |amount_delta| in each currency, the currencies with most open variances first.

    Amounts in different currencies are never compared: 10,000 JPY is not
    larger than 500 USD.
    """
    by_currency: dict[str, list[dict[str, Any]]] = {}
    for variance in variances:
        if variance["amount_delta"]:
            by_currency.setdefault(variance["currency"] or "", []).append(variance)
    ranked = sorted(by_currency.values(), key=lambda group: (-len(group), group[0]["currency"] or ""))
    return [max(group, key=lambda v: abs(v["amount_delta"])) for group in ranked[:count]]


def booked_totals(summary: dict[str, Any]) -> str:
    parts = [f"{t['currency']} storefront {t['storefront_total']} / processor {t['processor_total']} / "
             f"ERP {t['erp_total']}, net variance (ERP - storefront) {t['net_variance']}"
             for t in summary.get("booked_totals", [])]
    return "; ".join(parts) if parts else "none"


def message(summary: dict[str, Any], variances: list[dict[str, Any]]) -> str:
    outcome = summary["outcome"]
    head = f"Refund reconciliation checkpoint {summary['checkpoint_id']} (as of {summary['as_of']} UTC): "
    if outcome == "failed":
        return (head + f"FAILED. {summary.get('error', 'The checkpoint did not complete')}. "
                "Nothing was changed: the marts and the history are those of the last completed checkpoint.")
    rows = summary["rows_read"]
    newest = summary["latest_record_at"]
    counts = (f"storefront {rows['storefront']} rows (newest {newest['storefront']}), "
              f"processor {rows['processor']} rows (newest {newest['processor']}), "
              f"ERP {rows['erp']} rows (newest {newest['erp']})")
    booked = ("Refunds the ledger must book (status succeeded; pending, failed and canceled refunds are not "
              f"counted): {booked_totals(summary)}.")
    if outcome == "clean":
        return (head + f"CLEAN. Zero open variances, zero rejected input rows, and every source delivered new "
                f"rows within {summary['freshness_window_hours']} h of as_of ({counts}). {booked}")
    lines = []
    if outcome == "stale_sources":
        lines.append(head + f"STALE SOURCES: {summary['stale_sources']}. This is not a clean checkpoint: "
                     "check the integration.")
    else:
        lines.append(head + f"VARIANCES FOUND: {summary['open_variance_count']} open "
                     f"({summary['new_variance_count']} new, {summary['resolved_variance_count']} resolved), "
                     f"{summary['rows_rejected'] or 0} input rows rejected.")
    lines.append(f"Why: {summary['outcome_reasons']}.")
    if summary["open_variance_count"]:
        by_type = ", ".join(f"{k} {v}" for k, v in sorted(summary["variances_by_type"].items(), key=lambda i: -i[1]))
        lines.append(f"By type: {by_type}.")
        lines.append("Largest: " + " | ".join(
            f"{v['variance_type']} {v['refund_id']} {v['currency']} {v['amount_delta']}" for v in largest(variances)))
        lines.append("Oldest: " + " | ".join(
            f"{v['variance_type']} {v['refund_id']} open {v['days_since_first_detected']} days"
            for v in variances[:5]))
    if summary.get("rows_rejected"):
        lines.append("Rejected rows: " + "; ".join(
            f"{r['input_name']} {r['rejection_reason']} {r['row_count']}" for r in summary.get("rejected", [])) + ".")
    lines.append(f"Data: {counts}.")
    lines.append(booked)
    return "\n".join(lines)
