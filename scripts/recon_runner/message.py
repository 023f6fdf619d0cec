"""The checkpoint's message: the outcome and why, the money at stake per
currency, the largest variances with their detail sentence, what is new and
resolved, and where the report is.

The same text goes to the terminal and (escaped for Slack by notify.py's
slack_payload) to the webhook. Money is at the currency's exponent
(`JPY -37,224`, `USD -12.50`) and never compared across currencies.
"""

from __future__ import annotations

import unicodedata
from decimal import Decimal
from typing import Any

from . import money
from .money import largest

__all__ = ["escaped", "largest", "message", "printable", "within_tolerance"]

# The outcome rules are stated once, in fct_checkpoint_runs (docs: outcomes);
# the runner adds failed and busy.
TOP = 5


# The variance types that are a question of amount alone: --tolerate-amount
# applies to these, never to a missing, duplicate, status, period, reason or
# currency variance (their delta is 0, or not about the amount booked).
AMOUNT_TYPES = ("amount_mismatch", "partial_refund_collapsed")


def tolerable(variance: dict[str, Any], tolerance: Decimal) -> bool:
    """An amount_mismatch, or a partial_refund_collapsed whose ERP posting is
    there with another amount (its amount part), with |amount_delta| at most
    `tolerance`. A collapsed refund whose posting is missing is not an amount
    question: never tolerable."""
    kind = variance.get("variance_type")
    if kind not in AMOUNT_TYPES or variance.get("amount_delta") is None:
        return False
    if kind == "partial_refund_collapsed" and variance.get("erp_amount") is None:
        return False
    return abs(Decimal(str(variance["amount_delta"]))) <= tolerance


def within_tolerance(summary: dict[str, Any], variances: list[dict[str, Any]], tolerance: Decimal) -> bool:
    """Every open variance is an amount variance (tolerable) within `tolerance`,
    and no row was rejected.

    A variance of any other type is never within a tolerance, whatever its
    delta: a missing posting, a duplicate, a status, period or reason
    variance, a currency mismatch. A rejected row has no amount to tolerate.
    """
    if summary.get("rows_rejected"):
        return False
    return all(tolerable(v, tolerance) for v in variances)


# Characters that rearrange or restyle what a terminal, Slack or a page shows
# (a newline starts a fake line, ESC [ starts an ANSI sequence, U+202E
# reverses text): control characters, line and paragraph separators, and
# the bidirectional overrides and isolates.
BIDI_CONTROLS = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(value: Any) -> str:
    """`value` as text with every control character written out as an escape
    (\\n, \\x1b, \\u202e): data can never start a line, colour a terminal or
    reorder text in a message."""
    text = "" if value is None else str(value)
    if text.isprintable():
        return text
    out = []
    for character in text:
        if (character in BIDI_CONTROLS or unicodedata.category(character) in ("Cc", "Zl", "Zp")):
            code = ord(character)
            out.append(NAMED.get(character) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"))
        else:
            out.append(character)
    return "".join(out)


def escaped(value: Any) -> Any:
    """Every text in `value` (nested dicts and lists, keys too) through printable()."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {escaped(key): escaped(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [escaped(item) for item in value]
    return value


def grouped(amount: Any) -> str:
    """A plain amount string ("1234.50") with thousands separators ("1,234.50")."""
    if amount in (None, "", "n/a"):
        return "n/a"
    return f"{Decimal(str(amount)):,f}"


def booked_totals(summary: dict[str, Any]) -> str:
    parts = [f"{t['currency']} storefront {grouped(t['storefront_total'])} / processor "
             f"{grouped(t['processor_total'])} / ERP {grouped(t['erp_total'])}, net variance (ERP - storefront) "
             f"{grouped(t['net_variance'])}"
             for t in summary.get("booked_totals", [])]
    return "; ".join(parts) if parts else "none"


def at_stake_line(variances: list[dict[str, Any]]) -> str:
    """At stake: USD 1,234.50 on 8 refunds; JPY 37,224 on 2 refunds: the mart's amount_at_stake per
    currency (money.at_stake); a variance without one (an older mart) is counted, never valued."""
    parts = []
    for entry in money.at_stake(variances):
        if entry["without_amount"] == entry["variance_count"]:
            parts.append(f"{entry['currency'] or '?'}: {entry['without_amount']} variance"
                         f"{'s' if entry['without_amount'] != 1 else ''} without an amount at stake")
            continue
        part = (f"{money.text(entry['amount_at_stake'], entry['currency'], entry['minor_units'])} "
                f"on {entry['refund_count']} refund{'s' if entry['refund_count'] != 1 else ''}")
        if entry["without_amount"]:
            part += f" ({entry['without_amount']} without an amount at stake)"
        parts.append(part)
    return "At stake: " + "; ".join(parts) + "." if parts else "At stake: nothing."


def largest_lines(variances: list[dict[str, Any]], count: int = TOP) -> list[str]:
    lines = []
    for currency, rows in money.largest(variances, count).items():
        lines.append(f"Largest in {currency or '?'}:")
        for v in rows:
            detail = f": {v['detail']}" if v.get("detail") else ""
            lines.append(f"  - {v['variance_type']} {v['refund_id']} "
                         f"{money.text(v['amount_at_stake'], v.get('currency'), money.with_units(v))} at stake "
                         f"({v['discrepancy_system']} at fault){detail}")
    return lines


def acknowledged_money(summary: dict[str, Any]) -> str:
    """'EUR 120.00, USD 5.00': the acknowledged variances' amount at stake per
    currency, the mart's amount_at_stake summed within a currency only
    (money.at_stake); never across currencies."""
    return ", ".join(money.text(entry["amount_at_stake"], entry["currency"], entry["minor_units"])
                     for entry in summary.get("acknowledged_at_stake") or [])


def acknowledged_text(summary: dict[str, Any]) -> str:
    """' (3 acknowledged: EUR 120.00, USD 5.00 at stake)': the open variances an
    acknowledgement accepts; '' when there are none."""
    count = summary.get("acknowledged_variance_count") or 0
    if not count:
        return ""
    amounts = acknowledged_money(summary)
    return f" ({count} acknowledged" + (f": {amounts} at stake)" if amounts else ")")


def lapsed_line(summary: dict[str, Any]) -> str | None:
    """Acknowledgements that no longer hold (expired, superseded) or name no open
    variance (resolved, unknown_variance): each needs a person."""
    states = summary.get("acknowledgement_states") or {}
    parts = [f"{states[state]} {state}" for state in ("expired", "superseded", "resolved", "unknown_variance")
             if states.get(state)]
    if not parts:
        return None
    return ("Acknowledgements that do not hold: " + ", ".join(parts)
            + " (fct_variance_acknowledgements says why; expired and superseded variances count as open).")


def report_location(summary: dict[str, Any]) -> str | None:
    return summary.get("report_url") or summary.get("report_path")


def message(summary: dict[str, Any], variances: list[dict[str, Any]]) -> str:
    """The message's text; every data field in it (ids, reasons, details,
    file names, the error) with its control characters escaped, so the only
    line breaks are the message's own."""
    summary, variances = escaped(summary), escaped(variances)
    outcome = summary["outcome"]
    head = f"Refund reconciliation checkpoint {summary['checkpoint_id']} (as of {summary['as_of']} UTC): "
    where = report_location(summary)
    report = f"Report: {where}" if where else None
    if outcome == "failed":
        text = (head + f"FAILED. {summary.get('error', 'The checkpoint did not complete')}. "
                "Nothing was changed: the marts and the history are those of the last completed checkpoint.")
        return text + ("\n" + report if report else "")
    rows = summary["rows_read"]
    newest = summary["latest_record_at"]
    counts = (f"storefront {rows['storefront']} rows (newest {newest['storefront']}), "
              f"processor {rows['processor']} rows (newest {newest['processor']}), "
              f"ERP {rows['erp']} rows (newest {newest['erp']})")
    booked = ("Refunds the ledger must book (status succeeded; pending, failed and canceled refunds are not "
              f"counted): {booked_totals(summary)}.")
    if outcome == "clean":
        text = (head + f"CLEAN. Zero open variances{acknowledged_text(summary)}, zero rejected input rows, and every "
                f"source delivered new rows within {summary['freshness_window_hours']} h of as_of ({counts}). {booked}")
        if lapsed_line(summary):
            text += "\n" + lapsed_line(summary)
        resolved = summary.get("resolved_variance_count") or 0
        if resolved:
            text += f"\nResolved since the last checkpoint: {resolved}."
        return text + ("\n" + report if report else "")
    lines = []
    if outcome == "stale_sources":
        lines.append(head + f"STALE SOURCES: {summary['stale_sources']}. This is not a clean checkpoint: "
                     "check the integration.")
    else:
        open_count = summary.get("unacknowledged_variance_count", summary["open_variance_count"])
        lines.append(head + f"VARIANCES FOUND: {open_count} open{acknowledged_text(summary)}, "
                     f"{summary['rows_rejected'] or 0} input rows rejected.")
    lines.append(f"Why: {summary['outcome_reasons']}.")
    lines.append(f"New since the last checkpoint: {summary.get('new_variance_count') or 0}; "
                 f"resolved: {summary.get('resolved_variance_count') or 0}.")
    if outcome == "stale_sources" and acknowledged_text(summary):
        lines.append(f"Acknowledged variances: {summary['acknowledged_variance_count']} ({acknowledged_money(summary)} "
                     "at stake); a stale source is never clean, whatever is acknowledged.")
    if lapsed_line(summary):
        lines.append(lapsed_line(summary))
    if variances:
        lines.append(at_stake_line(variances))
        by_type = ", ".join(f"{k} {v}" for k, v in sorted(summary["variances_by_type"].items(),
                                                              key=lambda i: (-i[1], i[0])))
        lines.append(f"By type: {by_type}.")
        lines.extend(largest_lines(variances))
        oldest = sorted(variances, key=lambda v: (-(v.get("age_days") or 0), -(v.get("days_since_first_detected")
                                                                            or 0)))[:TOP]
        lines.append("Oldest: " + " | ".join(
            f"{v['variance_type']} {v['refund_id']}"
            + (f" refund {v['age_days']} days old," if v.get("age_days") is not None else "")
            + f" open {v['days_since_first_detected']} days" for v in oldest))
    if summary.get("rows_rejected"):
        lines.append("Rejected rows: " + "; ".join(
            f"{r['input_name']} {r['rejection_reason']} {r['row_count']}" for r in summary.get("rejected", [])) + ".")
    lines.append(f"Data: {counts}.")
    lines.append(booked)
    if summary.get("within_tolerance"):
        lines.append("Every open variance is an amount difference within the tolerated amount and no row was "
                     "rejected (exit 0).")
    if report:
        lines.append(report)
    return "\n".join(lines)
