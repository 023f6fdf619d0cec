"""The checkpoint's report folder: report.html and audit.html (jinja2
templates in templates/, autoescaped), summary.json, variances.csv,
rejected_rows.csv and corrections.csv.

The HTML pages are self-contained (inline CSS, SVG and script; no network):
a controller can forward the folder as it is. Money is shown per currency
with babel at the currency's exponent and never compared across currencies.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

from . import money
from .message import printable

TEMPLATES = Path(__file__).with_name("templates")
OUTCOME_STYLE = {
    "clean": ("#1b7f3b", "CLEAN: every source delivered and zero variances are open"),
    "variances_found": ("#b35c00", "VARIANCES FOUND"),
    "stale_sources": ("#8a1c1c", "STALE SOURCES: not a clean checkpoint"),
    "failed": ("#5a0f0f", "FAILED: the checkpoint did not complete"),
}
AGE_BUCKETS = ["0-7 days", "8-30 days", "31-60 days", "61-90 days", "over 90 days"]
TABLE_LIMIT = 1000
REJECTED_SHOWN = 500
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MONEY_COLUMNS = ("storefront_amount", "processor_amount", "erp_amount", "amount_delta", "amount_at_stake", "amount")
REJECTED_CSV_COLUMNS = ["input_name", "source_shape", "source_file", "source_row_number", "record_id", "order_id",
                        "rejected_column", "rejection_reason", "amount_text", "currency"]

# corrections.csv: the erp_refund_postings input columns in contract order
# (docs/spec/contracts.md 1), then what the correction is.
CORRECTION_INPUT_COLUMNS = ["erp_document_id", "processor_refund_id", "order_id", "gl_account", "amount", "currency",
                            "reason_code", "refund_type", "posted_at", "received_at", "posting_period",
                            "reverses_document_id"]
CORRECTIONS_CSV_COLUMNS = CORRECTION_INPUT_COLUMNS + ["correction_id", "variance_id", "action", "explanation"]


def spreadsheet_safe(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula gets a leading quote
    (OWASP's CSV injection rule); numbers and dates stay as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_cell(value: Any) -> Any:
    """Numbers as plain numbers (-37224, -12.50: no quotes, no thousands
    separator, no exponent); text neutralised; dates as ISO text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, (datetime, date)):
        return str(value)
    return spreadsheet_safe(str(value))


def at_exponent(row: dict[str, Any], key: str) -> Any:
    """A money column at the row's currency exponent (37224 JPY, 4.00 USD)."""
    value = row.get(key)
    if key in MONEY_COLUMNS and isinstance(value, (Decimal, int)) and not isinstance(value, bool):
        return money.quantize(value, money.currency_of(row, key)[1])
    return value


def write_csv(path: Path, rows: list[dict[str, Any]], columns: list[str], at_currency_exponent: bool = True) -> None:
    """A spreadsheet-safe CSV of `columns` (csv_cell); money columns at the row's
    currency exponent unless `at_currency_exponent` is False (amounts as given)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows({key: csv_cell(at_exponent(row, key) if at_currency_exponent else row.get(key))
                          for key in columns} for row in rows)


def correction_cell(value: Any) -> str:
    """A corrections.csv cell as the input contract reads it: timestamps ISO
    8601 UTC with Z, amounts as the mart's exact text."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S") + (f".{value.microsecond:06d}" if value.microsecond else "") + "Z"
    return str(value)


def is_formula_risk(row: dict[str, Any]) -> bool:
    """A cell a spreadsheet would run as a formula (starts with = + - @, tab or CR)."""
    return any(correction_cell(row.get(key)).startswith(FORMULA_STARTS) for key in CORRECTIONS_CSV_COLUMNS)


def correction_groups(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(written, held back): every entry of a variance whose cells include a
    formula risk is held back, so the file never holds one and never half a
    fix (a reversal without its repost). Unlike the report's other CSVs, a
    cell is not prefixed with a quote: the file is loaded into an ERP, where
    a changed id would book another document."""
    risky = {row.get("variance_id") for row in rows if is_formula_risk(row)}
    return ([row for row in rows if row.get("variance_id") not in risky],
            [row for row in rows if row.get("variance_id") in risky])


def write_corrections_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CORRECTIONS_CSV_COLUMNS)
        writer.writerows([correction_cell(row.get(key)) for key in CORRECTIONS_CSV_COLUMNS] for row in rows)


def json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value:f}"  # exact, at the exponent it was quantized to: "-37224", "-12.50"
    return str(value)


def write_json(path: Path, summary: dict[str, Any]) -> None:
    path.write_text(json.dumps(summary, indent=2, default=json_value) + "\n", encoding="utf-8")


def anchor(refund_key: Any) -> str:
    """The id of a refund's section in audit.html."""
    return "refund-" + str(refund_key)


def audit_href(refund_key: Any) -> str:
    return "audit.html#" + quote(anchor(refund_key), safe="")


def shown(amount: Any, currency: str | None, units: int) -> str:
    return money.display(amount, currency, units)


def stake_rows(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """at_stake entries with their amounts shown in their currency ("n/a" where
    no variance of the group has a comparable amount)."""
    rows = []
    for entry in entries:
        comparable = entry["without_amount"] < entry["variance_count"]
        rows.append({**entry,
                     "amount_shown": shown(entry["amount_at_stake"], entry["currency"], entry["minor_units"])
                     if comparable else "n/a",
                     "net_shown": shown(entry["net_delta"], entry["currency"], entry["minor_units"])
                     if comparable else "n/a"})
    return rows


def pivot(variances: list[dict[str, Any]], by: str) -> dict[str, Any]:
    """Open variances by `by` (rows) and currency (columns): count and amount at
    stake in each cell; rows ordered by count. Amounts stay in their own
    currency's column: nothing is added or ranked across currencies."""
    currencies = sorted({row.get("currency") or "" for row in variances})
    entries = {(e[by], e["currency"]): e for e in money.at_stake(variances, by)}
    labels = sorted({label for label, _ in entries},
                    key=lambda label: (-sum(e["variance_count"] for (l, _), e in entries.items() if l == label), label))
    rows = []
    for label in labels:
        cells = []
        for currency in currencies:
            entry = entries.get((label, currency))
            if entry is None:
                cells.append(None)
                continue
            comparable = entry["without_amount"] < entry["variance_count"]
            cells.append({"count": entry["variance_count"],
                          "amount_shown": shown(entry["amount_at_stake"], currency, entry["minor_units"])
                          if comparable else "n/a"})
        rows.append({"label": label, "count": sum(cell["count"] for cell in cells if cell), "cells": cells})
    return {"currencies": currencies, "rows": rows}


def age_table(variances: list[dict[str, Any]]) -> dict[str, Any]:
    """Open variances by the refund's age bucket: count and amount at stake per currency."""
    currencies = sorted({row.get("currency") or "" for row in variances})
    order = {row.get("age_bucket"): row.get("age_bucket_order") for row in variances}
    buckets = [b for b in AGE_BUCKETS] + sorted(
        {str(row.get("age_bucket") or "unknown") for row in variances} - set(AGE_BUCKETS),
        key=lambda b: (order.get(b) or 99, b))
    entries = {(e["age_bucket"], e["currency"]): e for e in money.at_stake(variances, "age_bucket")}
    peak = max((sum(e["variance_count"] for (b, _), e in entries.items() if b == bucket) for bucket in buckets),
               default=0) or 1
    rows = []
    for bucket in buckets:
        cells = [entries.get((bucket if bucket != "unknown" else "", currency)) for currency in currencies]
        count = sum(cell["variance_count"] for cell in cells if cell)
        rows.append({"bucket": bucket, "count": count, "bar": int(100 * count / peak),
                     "amounts": [("n/a" if cell["without_amount"] == cell["variance_count"] else
                                  shown(cell["amount_at_stake"], currency, cell["minor_units"])) if cell else ""
                                 for cell, currency in zip(cells, currencies)]})
    return {"currencies": currencies, "rows": rows}


TREND_PANEL = {"width": 400, "height": 170, "left": 10, "right": 10, "top": 30, "bottom": 30}
TREND_MARKERS = 60  # up to this many points each get a dot; beyond it only the stale, the failed and the last


def as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "").replace("T", " ")[:19])
    except ValueError:
        return None


def date_labels(values: list[Any]) -> list[str]:
    """Short axis labels: "Mar 01" when every checkpoint is in one year, else
    "2026-03-01"; the time of day added ("Mar 01 06:00") when two
    checkpoints share a day. A value that is no date is shown as it is."""
    stamps = [as_datetime(value) for value in values]
    known = {stamp for stamp in stamps if stamp is not None}
    days = {stamp.date() for stamp in known}
    one_year = len({day.year for day in days}) <= 1
    shared_day = len(days) < len(known)
    labels = []
    for value, stamp in zip(values, stamps):
        if stamp is None:
            labels.append(str(value)[:16])
            continue
        label = stamp.strftime("%b %d") if one_year else stamp.strftime("%Y-%m-%d")
        labels.append(label + (stamp.strftime(" %H:%M") if shared_day else ""))
    return labels


def tick_indices(count: int, label_chars: int, plot_width: float) -> list[int]:
    """The points that get a date on the axis: spread evenly, the first and
    the last always, a label's width and a half apart at least (about 6 px a
    character at 10 px; the first label starts at its point, the last ends
    at it, the others are centred), plus a gap."""
    if count <= 0:
        return []
    room = max(2, int(plot_width // (label_chars * 6 * 1.5 + 12)) + 1)
    if count <= room:
        return list(range(count))
    return sorted({round(index * (count - 1) / (room - 1)) for index in range(room)})


def trend_chart(trend: list[dict[str, Any]]) -> dict[str, Any]:
    """The open variances of every checkpoint up to this one as small charts
    side by side: the count, then the money at stake in each currency, each
    currency on its own scale (never two currencies on one axis). A stale
    checkpoint is marked; a failed attempt is a cross on the axis (it changed
    nothing). A trend row's `at_stake` ([{currency, minor_units, amount,
    count}], fct_checkpoint_totals) is None where it is not known: a gap."""
    geometry = TREND_PANEL
    plot_width = geometry["width"] - geometry["left"] - geometry["right"]
    plot_height = geometry["height"] - geometry["top"] - geometry["bottom"]
    baseline = geometry["height"] - geometry["bottom"]
    step = plot_width / max(len(trend) - 1, 1)
    labels = date_labels([row.get("as_of") for row in trend])
    money_rows = [None if row.get("kind") == "failed_attempt" or row.get("at_stake") is None else
                  {str(entry.get("currency") or ""): entry for entry in row["at_stake"]} for row in trend]
    units = {currency: money.with_units(entry) for entries in money_rows if entries
             for currency, entry in entries.items()}
    currencies = sorted(units)

    def value_of(index: int, currency: str | None) -> Any:
        if trend[index].get("kind") == "failed_attempt":
            return None
        if currency is None:
            return trend[index].get("open_variance_count")
        entries = money_rows[index]
        if entries is None:
            return None
        return Decimal(str((entries.get(currency) or {}).get("amount") or 0))

    def panel(title: str, currency: str | None) -> dict[str, Any]:
        def text(value: Any) -> str:
            return str(value) if currency is None else shown(value, currency, units[currency])

        values = [value_of(index, currency) for index in range(len(trend))]
        peak = max((value for value in values if value is not None), default=0)
        points, segments, segment = [], [], []
        for index, (row, value) in enumerate(zip(trend, values)):
            failed = row.get("kind") == "failed_attempt"
            x = round(geometry["left"] + index * step, 1)
            y = round(baseline - (plot_height * float(value) / float(peak) if value and peak else 0), 1)
            if value is not None:
                segment.append(f"{x},{y}")
            elif not failed and segment:
                segments.append(" ".join(segment))
                segment = []
            stale = row.get("outcome") == "stale_sources"
            last = index == len(trend) - 1
            points.append({"x": x, "y": y, "failed": failed, "stale": stale, "known": value is not None,
                           "marker": failed or stale or last or len(trend) <= TREND_MARKERS, "last": last,
                           "label": labels[index], "value_shown": "" if value is None else text(value),
                           "checkpoint_id": row.get("checkpoint_id"), "outcome": row.get("outcome") or "",
                           "reason": (row.get("reason") or "").strip().rstrip(";")})
        if segment:
            segments.append(" ".join(segment))
        latest = next((value for value in reversed(values) if value is not None), None)
        return {"title": title, "currency": currency or "", "points": points, "segments": segments,
                "peak_shown": text(peak), "latest_shown": "" if latest is None else text(latest)}

    panels = [panel("Open variances", None)] + [panel(f"At stake in {currency}", currency)
                                                 for currency in currencies]
    ticks = tick_indices(len(trend), max((len(label) for label in labels), default=0), plot_width)
    rows = []
    for index, row in enumerate(trend):
        entries = money_rows[index]
        money_cells = []
        for currency in currencies:
            entry = (entries or {}).get(currency)
            money_cells.append(None if entries is None else
                               {"amount": shown(0, currency, units[currency]), "count": None} if entry is None else
                               {"amount": shown(entry.get("amount") or 0, currency, units[currency]),
                                "count": entry.get("count") or 0})
        rows.append({"label": str(row.get("as_of") or "")[:16], "checkpoint_id": row.get("checkpoint_id"),
                     "outcome": row.get("outcome") or "", "failed": row.get("kind") == "failed_attempt",
                     "stale": row.get("outcome") == "stale_sources", "count": row.get("open_variance_count"),
                     "reason": (row.get("reason") or "").strip().rstrip(";"), "money": money_cells})
    return {**geometry, "baseline": baseline, "panels": panels, "rows": rows, "currencies": currencies,
            "ticks": [{"x": panels[0]["points"][index]["x"], "label": labels[index],
                       "anchor": "start" if index == 0 else "end" if index == len(trend) - 1 else "middle"}
                      for place, index in enumerate(ticks)  # a date once, under its last point
                      if place == len(ticks) - 1 or labels[index] != labels[ticks[place + 1]]]}


def stake_of(row: dict[str, Any]) -> Decimal | None:
    """A variance's money at stake, for sorting: the mart's amount_at_stake
    where the row has that column, else |amount_delta|. None: no comparable
    amount (sorted last)."""
    value = row["amount_at_stake"] if "amount_at_stake" in row else row.get("amount_delta")
    if value is None or value == "":
        return None
    return abs(Decimal(str(value)))


def table_order(variances: list[dict[str, Any]], limit: int | None = None) -> list[dict[str, Any]]:
    """The variances the report's table shows, in its default order: currency
    A-Z, then the largest money at stake first (no amount last), ties in the
    marts' order. Beyond `limit`, each currency keeps its largest in turn
    (every currency's 1st, then every 2nd, ...): no currency's amounts are
    ranked against another's to decide what is shown."""
    by_currency: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for position, row in enumerate(variances):
        by_currency.setdefault(str(row.get("currency") or ""), []).append((position, row))
    for rows in by_currency.values():
        rows.sort(key=lambda item: (stake_of(item[1]) is None, -(stake_of(item[1]) or 0), item[0]))
    limit = TABLE_LIMIT if limit is None else limit
    if len(variances) > limit:
        turns = sorted((rank, currency) for currency, rows in by_currency.items() for rank in range(len(rows)))
        keep = {(currency, rank) for rank, currency in turns[:limit]}
        by_currency = {currency: [item for rank, item in enumerate(rows) if (currency, rank) in keep]
                       for currency, rows in by_currency.items()}
    return [row for currency in sorted(by_currency) for _, row in by_currency[currency]]


def suggestion_rows(suggestions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A variance's suggested matches (fct_suggested_matches), the best first."""
    return [{**row, "score_shown": f"{Decimal(str(row['score'])):.2f}",
             "amount_shown": shown(row.get("amount_delta"), row.get("currency"), money.with_units(row))
             if row.get("amount_delta") is not None else "n/a"} for row in suggestions]


def variance_rows(variances: list[dict[str, Any]],
                  suggestions: dict[str, list[dict[str, Any]]] | None = None) -> list[dict[str, Any]]:
    rows = []
    for row in table_order(variances):
        units = money.with_units(row)
        currency = row.get("currency")
        stake = stake_of(row)
        rows.append({
            **row,
            "units": units,
            "amount_plain": money.plain(row.get("amount_delta"), units),
            "stake_plain": money.plain(stake, units),
            "stake_shown": "n/a" if stake is None else shown(stake, currency, units),
            "amounts_shown": {column: shown(row.get(column), *money.currency_of(row, column))
                              if row.get(column) is not None else ""
                              for column in ("storefront_amount", "processor_amount", "erp_amount", "amount_delta",
                                             "amount_at_stake")},
            "audit_href": audit_href(row.get("refund_key") or row.get("refund_id")),
            "suggestions": suggestion_rows((suggestions or {}).get(row.get("variance_id"), [])),
        })
    return rows


def setting_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return "; ".join(f"{key}: {setting_text(item)}" for key, item in value.items()) or "none"
    if isinstance(value, (list, tuple)):
        return ", ".join(setting_text(item) for item in value)
    return str(value)


def settings_rows(settings: dict[str, Any] | None) -> list[tuple[str, str]]:
    return [(str(name), setting_text(value)) for name, value in (settings or {}).items()]


def change_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**row, "amount_shown": shown(row.get("amount_delta"), row.get("currency"), money.with_units(row))
             if row.get("amount_delta") is not None else "n/a",
             "audit_href": audit_href(row.get("refund_key")) if row.get("refund_key") else None} for row in rows]


def build_context(summary: dict[str, Any], variances: list[dict[str, Any]],
                  details: dict[str, Any] | None = None) -> dict[str, Any]:
    details = details or {}
    color, banner = OUTCOME_STYLE[summary["outcome"]]
    reasons = [part.strip() for part in (summary.get("outcome_reasons") or "").split(";") if part.strip()]
    table = variance_rows(variances, details.get("suggestions"))
    # acknowledged variances (an active row of variance_acknowledgements) are listed apart
    acknowledged = variance_rows(details.get("acknowledged_variances") or [], details.get("suggestions"))
    audited = table + acknowledged
    audit = details.get("audit") or {}
    return {
        "open_count": summary.get("unacknowledged_variance_count", summary.get("open_variance_count")),
        "acknowledged": acknowledged,
        "acknowledged_stake": stake_rows(money.at_stake(details.get("acknowledged_variances") or [])),
        "lapsed_acknowledgements": [row for row in details.get("acknowledgements") or []
                                    if row.get("acknowledgement_state") != "active"],
        "summary": summary,
        "color": color,
        "banner": banner,
        "reasons": reasons,
        "stake": stake_rows(money.at_stake(variances)),
        "stake_by_type": pivot(variances, "variance_type"),
        "stake_by_system": pivot(variances, "discrepancy_system"),
        "age": age_table(variances),
        "trend": trend_chart(details.get("trend") or []),
        "new_variances": change_rows(details.get("new_variances") or []),
        "resolved_variances": change_rows(details.get("resolved_variances") or []),
        "rejected_rows": (details.get("rejected_rows") or [])[:REJECTED_SHOWN],
        "rejected_total": len(details.get("rejected_rows") or []),
        "freshness": summary.get("freshness") or [],
        "settings": settings_rows(summary.get("settings")),
        "variances": table,
        "variance_total": len(variances),
        "filters": {
            "type": sorted({row["variance_type"] for row in table}),
            "system": sorted({row["discrepancy_system"] for row in table}),
            "currency": sorted({row.get("currency") or "" for row in table}),
            "bucket": [b for b in AGE_BUCKETS if b in {row.get("age_bucket") for row in table}],
        },
        "corrections": correction_summary(details.get("corrections") or []),
        "audit": [{"refund_key": key, "anchor": anchor(key),
                   "variances": [row for row in audited if (row.get("refund_key") or row.get("refund_id")) == key],
                   "records": [{**record, "amount_shown": shown(record.get("amount"), record.get("currency"),
                                                                money.with_units(record))
                                if record.get("amount") is not None else ""} for record in audit.get(key, [])]}
                  for key in sorted({str(row.get("refund_key") or row.get("refund_id")) for row in audited})],
    }


def correction_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    written, held = correction_groups(rows)
    actions: dict[str, int] = {}
    for row in written:
        actions[row["action"]] = actions.get(row["action"], 0) + 1
    return {"count": len(written), "actions": sorted(actions.items()),
            "held_back": sorted({str(row.get("correction_id")) for row in held})}


def environment() -> Any:
    import jinja2
    import markupsafe

    def finalize(value: Any) -> Any:
        """Every value a template prints, control characters escaped (\\n,
        \\x1b) before HTML escaping: an id can neither break a line nor carry a
        terminal escape into a page or a copied cell."""
        if isinstance(value, str) and not isinstance(value, markupsafe.Markup):
            return printable(value)
        return value

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             undefined=jinja2.ChainableUndefined, trim_blocks=True, lstrip_blocks=True,
                             finalize=finalize)
    env.filters["money"] = lambda amount, currency, units=None: (
        "n/a" if amount in (None, "", "n/a") else money.display(amount, currency, money.minor_units(currency, units)))
    return env


def render(summary: dict[str, Any], variances: list[dict[str, Any]],
           details: dict[str, Any] | None = None) -> tuple[str, str]:
    """(report.html, audit.html) as text."""
    context = build_context(summary, variances, details)
    env = environment()
    return env.get_template("report.html.j2").render(**context), env.get_template("audit.html.j2").render(**context)


def write_report_folder(reports_dir: Path, name: str, summary: dict[str, Any], variances: list[dict[str, Any]],
                        columns: list[str], details: dict[str, Any] | None = None) -> Path:
    """report.html, audit.html, summary.json, variances.csv,
    rejected_rows.csv and (unless failed, or not built after the verdict) corrections.csv in reports_dir/name, all or nothing: written to a hidden
    folder beside it, then renamed into place (a folder already there is moved
    aside first and removed after)."""
    final = reports_dir / name
    staging = reports_dir / f".{name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        # every open variance, the acknowledged ones flagged (is_acknowledged)
        write_csv(staging / "variances.csv", variances + ((details or {}).get("acknowledged_variances") or []),
                  columns)
        write_csv(staging / "rejected_rows.csv", (details or {}).get("rejected_rows") or [], REJECTED_CSV_COLUMNS)
        # a failed checkpoint proposes nothing; nor one whose corrections were not built (after the verdict)
        if summary.get("outcome") != "failed" and (summary.get("after_verdict") or {}).get("outcome",
                                                                                          "completed") == "completed":
            write_corrections_csv(staging / "corrections.csv",
                                  correction_groups((details or {}).get("corrections") or [])[0])
        write_json(staging / "summary.json", summary)
        report, audit = render(summary, variances, details)
        (staging / "report.html").write_text(report, encoding="utf-8")
        (staging / "audit.html").write_text(audit, encoding="utf-8")
        aside = reports_dir / f".{name}.old-{os.getpid()}"
        if final.exists():
            final.rename(aside)
        staging.rename(final)
        shutil.rmtree(aside, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final
