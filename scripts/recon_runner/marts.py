"""What a completed checkpoint's marts say, read from the built database.

read_checkpoint returns (summary, variances, details) from the verdict's
marts: summary is what summary.json and the message carry; variances are the
open variances no acknowledgement accepts (fct_refund_variances, contract
columns, amounts as exact Decimals in major units; the acknowledged ones are
in details); details are what only the HTML report shows (the trend with
failed attempts, new and resolved variances, rejected rows).
read_after_verdict adds what the marts built after the verdict hold: the
audit trail of each refund with a variance, corrections, suggested matches.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from . import money as money_
from .dbt import relation
from .reports import table_order
from .store import ATTEMPTS_TABLE, read

VARIANCE_COLUMNS = [
    "variance_id", "refund_id", "refund_key", "order_id", "variance_type", "discrepancy_system",
    "system_of_record_discrepancy", "refund_date", "posting_period", "age_days", "age_bucket",
    "storefront_amount", "storefront_currency", "processor_amount", "processor_currency", "erp_amount",
    "erp_currency", "amount_delta", "amount_at_stake", "amount_at_stake_minor", "currency", "minor_units", "detail",
    "first_detected_at", "days_since_first_detected",
    "is_acknowledged", "acknowledged_by", "acknowledgement_reason", "acknowledgement_expires_on", "as_of",
]
ACKNOWLEDGEMENT_COLUMNS = ["variance_id", "acknowledgement_state", "state_reason", "variance_type", "amount_delta",
                           "currency", "minor_units", "acknowledged_by", "acknowledged_at", "reason", "ticket",
                           "expires_on", "refund_id", "amount_at_stake"]
# Read beside the CSV's columns: for sorting the age buckets in the report.
READ_ONLY_COLUMNS = ["age_bucket_order"]
MONEY_COLUMNS = ("storefront_amount", "processor_amount", "erp_amount", "amount_delta", "amount_at_stake")
REJECTED_COLUMNS = ["input_name", "source_shape", "source_file", "source_row_number", "record_id", "order_id",
                    "rejected_column", "rejection_reason", "amount_text", "currency"]
AUDIT_LIMIT_REFUNDS = 1000
# Suggested matches shown under each unlinked variance in the report (the best first).
SUGGESTIONS_SHOWN = 3
SYSTEMS = ("storefront", "processor", "erp")

# The confirmation compares like with like: the refunds the ledger must book
# (processor status succeeded, else the storefront's), in each system's own
# currency. Pending, failed and canceled refunds are not in these totals.
def booked_totals(totals: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """fct_checkpoint_totals' `succeeded_refund_total` rows (one per system and
    currency) side by side, one row per currency: the refunds the ledger must
    book. A system with no such refund in a currency has no row there: 0."""
    by_currency: dict[str, dict[str, Any]] = {}
    for row in totals:
        booked = by_currency.setdefault(row["currency"], {
            "currency": row["currency"], "minor_units": row["minor_units"],
            "storefront_total": 0, "processor_total": 0, "erp_total": 0,
            "storefront_refunds": 0, "processor_refunds": 0, "erp_postings": 0})
        booked[f"{row['system']}_total"] = row["amount"]
        booked["erp_postings" if row["system"] == "erp" else f"{row['system']}_refunds"] = row["record_count"]
    return [by_currency[currency] for currency in sorted(by_currency)]


def columns_of(database: Path, table: str) -> list[str]:
    return [row["column_name"] for row in read(
        database, "select column_name from information_schema.columns where table_schema = 'main' "
                  "and table_name = ? order by ordinal_position", [table])]


def exact(rows: list[dict[str, Any]], columns: tuple[str, ...] = MONEY_COLUMNS,
          currency_units: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """Amounts at their own currency's exponent (the marts hold decimal(38,4)):
    each system's amount at its system's currency (`<system>_minor_units`
    added from the currencies seed), the delta and the amount at stake at
    the variance's."""
    for row in rows:
        row["minor_units"] = money_.with_units(row)
        for system in SYSTEMS:
            currency = row.get(f"{system}_currency")
            if currency is not None:
                row[f"{system}_minor_units"] = money_.minor_units(currency, (currency_units or {}).get(currency))
        for column in columns:
            if column in row:
                row[column] = money_.quantize(row[column], money_.currency_of(row, column)[1])
    return rows


def stale_reason(system: str, stale_sources: str | None, reasons: str) -> str | None:
    """The freshness rule that fired for `system`, from outcome_reasons
    ("stale: erp newest record ..., 27 h before as_of (window 24 h); 2 open variances; ")."""
    if system not in [name.strip() for name in (stale_sources or "").split(",")]:
        return None
    for part in reasons.replace("stale: ", "", 1).split("; "):
        if part.startswith(system + " "):
            return part[len(system) + 1:].strip()
    return "stale"


def freshness(run: dict[str, Any], reasons: str) -> list[dict[str, Any]]:
    result = []
    for system in SYSTEMS:
        latest = run.get(f"{system}_latest_record_at")
        hours = None
        if isinstance(latest, datetime) and isinstance(run["as_of"], datetime):
            hours = int((run["as_of"] - latest).total_seconds() // 3600)
        reason = stale_reason(system, run.get("stale_sources"), reasons)
        result.append({"system": system, "rows_read": run.get(f"{system}_rows_read"),
                       "latest_record_at": None if latest is None else str(latest), "hours_before_as_of": hours,
                       "window_hours": run.get("freshness_window_hours"), "is_stale": reason is not None,
                       "stale_reason": reason})
    return result


def history_amount(row: dict[str, Any]) -> Decimal | None:
    """fct_variance_history's delta in major units: the decimal column where the
    mart has it, else the exact integer minor units scaled."""
    units = money_.with_units(row)
    if row.get("amount_delta") is not None:
        return money_.quantize(row["amount_delta"], units)
    if row.get("amount_delta_minor") is None:
        return None
    return money_.quantize(Decimal(int(row["amount_delta_minor"])).scaleb(-units), units)


def money_summary(variances: list[dict[str, Any]]) -> dict[str, Any]:
    """Money at stake per currency (overall, by type, by system at fault, by age
    bucket) and the five largest variances within each currency."""
    return {
        "at_stake": money_.at_stake(variances),
        "at_stake_by_type": money_.at_stake(variances, "variance_type"),
        "at_stake_by_system": money_.at_stake(variances, "discrepancy_system"),
        "at_stake_by_age_bucket": money_.at_stake(variances, "age_bucket"),
        "largest": {currency: [{key: row.get(key) for key in (
                        "variance_id", "refund_id", "variance_type", "discrepancy_system", "amount_delta",
                        "amount_at_stake", "currency",
                        "minor_units", "detail")} for row in rows]
                    for currency, rows in money_.largest(variances).items()},
    }


def attach_trend_money(database: Path, trend: list[dict[str, Any]], as_of: Any) -> None:
    """Each completed checkpoint's money at stake per currency, from the mart
    (fct_checkpoint_totals, measure open_variances: the sum of the amount at
    stake fct_variance_history records): trend row `at_stake` =
    [{currency, minor_units, amount, count}]; [] when nothing was open, None
    when it is not known: the checkpoint has open variances but no totals
    (recorded before the table existed), or a variance whose amount at stake
    was never recorded (unvalued_variance_count > 0, or null: totals written
    before the history held the amount at stake, when `amount` was the sum of
    |amount_delta|)."""
    columns = columns_of(database, "fct_checkpoint_totals")
    if not columns:
        return
    unvalued = ("coalesce(unvalued_variance_count, record_count)" if "unvalued_variance_count" in columns
                else "record_count")
    totals: dict[Any, list[dict[str, Any]]] = {}
    unknown: set[Any] = set()
    for row in read(database, f"""
            select as_of, currency, max(minor_units) as minor_units, sum(record_count) as count,
                sum(amount) as amount, sum({unvalued}) as unvalued
            from fct_checkpoint_totals where measure = 'open_variances' and as_of <= ?
            group by as_of, currency order by as_of, currency""", [as_of]):
        if row.pop("unvalued"):
            unknown.add(row["as_of"])
        row["minor_units"] = money_.with_units(row)
        row["amount"] = money_.quantize(row["amount"] or 0, row["minor_units"])
        totals.setdefault(row.pop("as_of"), []).append(row)
    for row in trend:
        if row["kind"] == "checkpoint":
            row["at_stake"] = None if row["as_of"] in unknown else totals.get(
                row["as_of"], [] if not row.get("open_variance_count") else None)


def of_checkpoint(checkpoint_id: str | None) -> tuple[str, list[Any]]:
    """The condition and parameter that keep a mart's rows of one checkpoint
    (every mart names its checkpoint_id); none when `checkpoint_id` is None."""
    return ("checkpoint_id = ?", [checkpoint_id]) if checkpoint_id is not None else ("1 = 1", [])


def read_corrections(database: Path, checkpoint_id: str | None = None) -> list[dict[str, Any]]:
    """fct_proposed_erp_corrections (empty where the build has no such mart),
    each refund's reversals before its (re)post; of `checkpoint_id` only when given."""
    if not columns_of(database, "fct_proposed_erp_corrections"):
        return []
    condition, parameters = of_checkpoint(checkpoint_id)
    return read(database, f"""
        select * from fct_proposed_erp_corrections
        where {condition}
        order by variance_id, reverses_document_id is null, reverses_document_id, erp_document_id""", parameters)


def read_suggestions(database: Path, currency_units: dict[str, int],
                     checkpoint_id: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """variance_id -> its best suggested matches (fct_suggested_matches, rank
    1 to SUGGESTIONS_SHOWN), for the report to show under the variance; of
    `checkpoint_id` only when given."""
    condition, parameters = of_checkpoint(checkpoint_id)
    rows = read(database, f"""
        select variance_id, candidate_variance_id, candidate_system, candidate_record_id, order_id_matches,
            amount_delta, currency, time_delta_minutes, score, rank, reason
        from fct_suggested_matches
        where rank <= ? and {condition}
        order by variance_id, rank""", [SUGGESTIONS_SHOWN, *parameters])
    for row in rows:
        row["minor_units"] = currency_units.get(row["currency"])
    suggestions: dict[str, list[dict[str, Any]]] = {}
    for row in exact(rows, ("amount_delta",)):
        suggestions.setdefault(row["variance_id"], []).append(row)
    return suggestions


def read_checkpoint(database: Path, checkpoint_id: str, data_dir: Path,
                    artifacts: Path) -> tuple[dict, list[dict], dict]:
    """(summary, open variances, report details) of the checkpoint just built; `artifacts`
    holds the build's target/ (its manifest names the seeds' relations)."""
    runs = read(database, "select * from fct_checkpoint_runs where checkpoint_id = ?", [checkpoint_id])
    if not runs:
        raise LookupError(f"fct_checkpoint_runs has no row for {checkpoint_id}")
    run = runs[0]
    currencies = relation("currencies", artifacts)
    currency_units = {row["currency"]: row["minor_units"]
                      for row in read(database, f"select currency, minor_units from {currencies}")}
    every_variance = exact(read(database, f"""
        select {', '.join(VARIANCE_COLUMNS + READ_ONLY_COLUMNS)} from fct_refund_variances
        order by age_days desc nulls last, days_since_first_detected desc, currency,
            amount_at_stake desc nulls last, variance_id
    """), currency_units=currency_units)
    # An acknowledged variance (an active row of variance_acknowledgements) is
    # listed apart and does not count against clean: `variances` are the rest.
    variances = [row for row in every_variance if not row.get("is_acknowledged")]
    acknowledged = [row for row in every_variance if row.get("is_acknowledged")]
    acknowledgements = exact(read(database, f"""
        select {', '.join(ACKNOWLEDGEMENT_COLUMNS)} from fct_variance_acknowledgements
        order by acknowledgement_state, currency, variance_id"""), ("amount_delta", "amount_at_stake"))
    booked = booked_totals(read(database, """
        select system, currency, minor_units, record_count, amount from fct_checkpoint_totals
        where checkpoint_id = ? and measure = 'succeeded_refund_total'""", [checkpoint_id]))
    rejected = read(database, """
        select input_name, rejection_reason, count(*) as row_count
        from fct_rejected_rows group by all order by input_name, rejection_reason
    """)
    rejected_rows = read(database, f"""
        select {', '.join(REJECTED_COLUMNS)} from fct_rejected_rows
        order by input_name, source_file, source_row_number
    """)
    trend = [dict(row, kind="checkpoint") for row in read(database, """
        select checkpoint_id, as_of, open_variance_count, outcome, outcome_reasons as reason
        from fct_checkpoint_runs where as_of <= ? order by as_of""", [run["as_of"]])]
    if columns_of(database, ATTEMPTS_TABLE):
        trend += [dict(row, kind="failed_attempt", open_variance_count=None) for row in read(database, f"""
            select checkpoint_id, as_of, outcome, reason, started_at from {ATTEMPTS_TABLE}
            where outcome = 'failed' and as_of <= ? order by as_of, started_at""", [run["as_of"]])]
    trend.sort(key=lambda row: (row["as_of"], row["kind"] == "checkpoint", str(row.get("started_at") or "")))
    attach_trend_money(database, trend, run["as_of"])
    changes = read(database, """
        select variance_id, refund_id, variance_type, discrepancy_system, state, first_detected_at, resolved_at,
            amount_delta, amount_delta_minor, currency, minor_units
        from fct_variance_history
        where checkpoint_as_of = ? and (state = 'resolved' or first_detected_at = checkpoint_as_of)
        order by state, currency, variance_type, refund_id""", [run["as_of"]])
    current = {row["variance_id"]: row for row in every_variance}
    new, resolved = [], []
    for row in changes:
        row["amount_delta"] = history_amount(row)
        row["minor_units"] = money_.with_units(row)
        if row["state"] == "open":
            row.update({key: current.get(row["variance_id"], {}).get(key)
                        for key in ("refund_key", "detail", "age_bucket")})
            new.append(row)
        else:
            resolved.append(row)
    reasons = (run.get("outcome_reasons") or "").strip().rstrip(";")
    summary = {
        "checkpoint_id": run["checkpoint_id"], "as_of": str(run["as_of"]), "outcome": run["outcome"],
        "outcome_reasons": reasons,
        "previous_checkpoint_id": run.get("previous_checkpoint_id"),
        "data_dir": str(data_dir),
        "rows_read": {system: run[f"{system}_rows_read"] for system in SYSTEMS},
        "rows_rejected": run["rows_rejected"],
        "latest_record_at": {system: str(run[f"{system}_latest_record_at"]) for system in SYSTEMS},
        "freshness_window_hours": run["freshness_window_hours"],
        "freshness": freshness(run, reasons),
        "stale_sources": run["stale_sources"],
        "open_variance_count": run["open_variance_count"], "new_variance_count": run["new_variance_count"],
        "resolved_variance_count": run["resolved_variance_count"],
        "unacknowledged_variance_count": len(variances), "acknowledged_variance_count": len(acknowledged),
        # the mart's amount_at_stake of each acknowledged variance, per currency (money.at_stake)
        "acknowledged_at_stake": money_.at_stake(acknowledged),
        "acknowledgement_states": {state: sum(1 for row in acknowledgements if row["acknowledgement_state"] == state)
                                   for state in sorted({row["acknowledgement_state"] for row in acknowledgements})},
        "booked_totals": [
            {"currency": row["currency"], "minor_units": row["minor_units"],
             **{key: money_.plain(row[key], row["minor_units"])
                for key in ("storefront_total", "processor_total", "erp_total")},
             "net_variance": money_.plain((row["erp_total"] or 0) - (row["storefront_total"] or 0),
                                          row["minor_units"]),
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
    summary.update(money_summary(variances))
    details = {"trend": trend, "new_variances": new, "resolved_variances": resolved, "rejected_rows": rejected_rows,
               "acknowledged_variances": acknowledged, "acknowledgements": acknowledgements}
    return summary, variances, details


def read_after_verdict(database: Path, checkpoint_id: str, variances: list[dict[str, Any]],
                       artifacts: Path) -> dict[str, Any]:
    """The report details built after the verdict, of `checkpoint_id` only
    (a mart another checkpoint left is never shown as this one's): the audit
    trail of each refund with a variance (`variances`: open and acknowledged,
    the first AUDIT_LIMIT_REFUNDS refunds in the report's order), the
    proposed ERP corrections and the suggested matches."""
    currencies = relation("currencies", artifacts)
    currency_units = {row["currency"]: row["minor_units"]
                      for row in read(database, f"select currency, minor_units from {currencies}")}
    audit: dict[str, list[dict[str, Any]]] = {}
    keys = sorted({row["refund_key"] for row in table_order(variances, AUDIT_LIMIT_REFUNDS)})
    for row in exact(read(database, """
            select * from fct_refund_audit_trail where refund_key in (select unnest(?)) and checkpoint_id = ?
            order by refund_key, event_order""", [keys, checkpoint_id]), ("amount",)):
        audit.setdefault(row["refund_key"], []).append(row)
    return {"audit": audit, "corrections": read_corrections(database, checkpoint_id),
            "suggestions": read_suggestions(database, currency_units, checkpoint_id)}


def read_report(database: Path, checkpoint_id: str, data_dir: Path, artifacts: Path) -> tuple[dict, list[dict], dict]:
    """read_checkpoint with read_after_verdict's details: everything the report
    of a completed checkpoint shows, for a reader of a database built whole."""
    summary, variances, details = read_checkpoint(database, checkpoint_id, data_dir, artifacts)
    details.update(read_after_verdict(database, checkpoint_id,
                                      variances + (details.get("acknowledged_variances") or []), artifacts))
    return summary, variances, details
