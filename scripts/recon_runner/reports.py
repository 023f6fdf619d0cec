"""The checkpoint's report folder: report.html and audit.html (jinja2
templates in templates/, autoescaped), summary.json, variances.csv and
rejected_rows.csv.

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


def write_csv(path: Path, rows: list[dict[str, Any]], columns: list[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows({key: csv_cell(at_exponent(row, key)) for key in columns} for row in rows)


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


def trend_chart(trend: list[dict[str, Any]]) -> dict[str, Any]:
    """Points of the open-variance line: one per completed checkpoint (a stale
    one marked), a failed attempt as a cross on the axis (it changed nothing)."""
    width, height, pad = 720, 200, 44
    points = []
    peak = max((row.get("open_variance_count") or 0 for row in trend), default=0) or 1
    step = (width - 2 * pad) / max(len(trend) - 1, 1)
    for index, row in enumerate(trend):
        count = row.get("open_variance_count")
        failed = row.get("kind") == "failed_attempt"
        x = pad + index * step
        y = height - pad - (0 if failed else (height - 2 * pad) * (count or 0) / peak)
        points.append({"x": round(x, 1), "y": round(y, 1), "count": count, "failed": failed,
                       "stale": row.get("outcome") == "stale_sources", "label": str(row.get("as_of"))[:16],
                       "checkpoint_id": row.get("checkpoint_id"), "outcome": row.get("outcome") or "",
                       "reason": (row.get("reason") or "").strip().rstrip(";")})
    line = " ".join(f"{p['x']},{p['y']}" for p in points if not p["failed"])
    return {"width": width, "height": height, "pad": pad, "points": points, "line": line}


def variance_rows(variances: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for row in variances[:TABLE_LIMIT]:
        units = money.with_units(row)
        rows.append({
            **row,
            "units": units,
            "amount_plain": money.plain(row.get("amount_delta"), units),
            "amounts_shown": {column: shown(row.get(column), *money.currency_of(row, column))
                              if row.get(column) is not None else ""
                              for column in ("storefront_amount", "processor_amount", "erp_amount", "amount_delta",
                                             "amount_at_stake")},
            "audit_href": audit_href(row.get("refund_key") or row.get("refund_id")),
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
    table = variance_rows(variances)
    audit = details.get("audit") or {}
    return {
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
        "audit": [{"refund_key": key, "anchor": anchor(key),
                   "variances": [row for row in table if (row.get("refund_key") or row.get("refund_id")) == key],
                   "records": [{**record, "amount_shown": shown(record.get("amount"), record.get("currency"),
                                                                money.with_units(record))
                                if record.get("amount") is not None else ""} for record in audit.get(key, [])]}
                  for key in sorted({str(row.get("refund_key") or row.get("refund_id")) for row in table})],
    }


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
    """report.html, audit.html, summary.json, variances.csv and
    rejected_rows.csv in reports_dir/name, all or nothing: written to a hidden
    folder beside it, then renamed into place (a folder already there is moved
    aside first and removed after)."""
    final = reports_dir / name
    staging = reports_dir / f".{name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        write_csv(staging / "variances.csv", variances, columns)
        write_csv(staging / "rejected_rows.csv", (details or {}).get("rejected_rows") or [], REJECTED_CSV_COLUMNS)
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
