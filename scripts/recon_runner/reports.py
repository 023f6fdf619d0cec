"""The checkpoint's report files: variances.csv, summary.json and report.html.

The HTML page is self-contained (inline CSS and SVG, no scripts, no network):
outcome banner, three-column totals, open variances by type and by age bucket,
the trend of open variances over past checkpoints, and the variance table.
"""

from __future__ import annotations

import csv
import html
import json
import os
import shutil
from pathlib import Path
from typing import Any

AGE_BUCKETS = [("0-1 days", 0, 1), ("2-7 days", 2, 7), ("8-30 days", 8, 30), (">30 days", 31, None)]
OUTCOME_STYLE = {
    "clean": ("#1b7f3b", "CLEAN: every source delivered and zero variances are open"),
    "variances_found": ("#b35c00", "VARIANCES FOUND"),
    "stale_sources": ("#8a1c1c", "STALE SOURCES: not a clean checkpoint"),
    "failed": ("#5a0f0f", "FAILED: the checkpoint did not complete"),
}
TABLE_LIMIT = 1000
STALE_COLOR, DOT_COLOR = "#8a1c1c", "#3a6ea5"


def age_bucket(days: int) -> str:
    for label, low, high in AGE_BUCKETS:
        if days >= low and (high is None or days <= high):
            return label
    return AGE_BUCKETS[0][0]


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula gets a leading quote
    (OWASP's CSV injection rule); numbers and dates stay as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(path: Path, rows: list[dict[str, Any]], columns: list[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows({key: spreadsheet_safe(value) for key, value in row.items()} for row in rows)


def write_json(path: Path, summary: dict[str, Any]) -> None:
    path.write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")


def bar_chart(title: str, counts: list[tuple[str, int]]) -> str:
    """Horizontal bars as inline SVG."""
    width, bar_height, label_width = 640, 22, 230
    peak = max((count for _, count in counts), default=0) or 1
    height = bar_height * max(len(counts), 1) + 10
    bars = []
    for index, (label, count) in enumerate(counts):
        y = 5 + index * bar_height
        length = int((width - label_width - 60) * count / peak)
        bars.append(
            f'<text x="{label_width - 8}" y="{y + 15}" text-anchor="end">{html.escape(label)}</text>'
            f'<rect x="{label_width}" y="{y + 3}" width="{max(length, 1)}" height="{bar_height - 6}" fill="#3a6ea5"/>'
            f'<text x="{label_width + length + 6}" y="{y + 15}">{count}</text>'
        )
    if not counts:
        bars.append('<text x="10" y="20">none</text>')
    return (f'<figure><figcaption>{html.escape(title)}</figcaption>'
            f'<svg role="img" aria-label="{html.escape(title)}" width="{width}" height="{height}" '
            f'font-size="12" font-family="sans-serif">{"".join(bars)}</svg></figure>')


def trend_chart(history: list[tuple[str, int | None, str]]) -> str:
    """Open variances per completed checkpoint as an inline SVG line; a stale
    checkpoint's point is marked red (failed checkpoints are not in the
    history: they changed nothing)."""
    width, height, pad = 640, 180, 40
    points = [(label, count or 0) for label, count, _ in history]
    if not points:
        return "<p>No checkpoint history yet.</p>"
    peak = max(count for _, count in points) or 1
    step = (width - 2 * pad) / max(len(points) - 1, 1)
    coords = [(pad + i * step, height - pad - (height - 2 * pad) * count / peak) for i, (_, count) in enumerate(points)]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    dots = "".join(
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{STALE_COLOR if outcome == "stale_sources" else DOT_COLOR}"/>'
        f'<text x="{x:.1f}" y="{y - 8:.1f}" text-anchor="middle">{count}</text>'
        f'<text x="{x:.1f}" y="{height - pad + 16}" text-anchor="middle" font-size="10">{html.escape(label[:10])}</text>'
        for (x, y), (label, count), (_, _, outcome) in zip(coords, points, history)
    )
    return (f'<figure><figcaption>Open variances per checkpoint</figcaption>'
            f'<svg role="img" aria-label="Open variances per checkpoint" width="{width}" height="{height}" '
            f'font-size="11" font-family="sans-serif">'
            f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#999"/>'
            f'<polyline points="{line}" fill="none" stroke="#3a6ea5" stroke-width="2"/>{dots}</svg></figure>')


def table(columns: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(column)}</th>" for column in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape('' if value is None else str(value))}</td>" for value in row) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def write_html(path: Path, summary: dict[str, Any], variances: list[dict[str, Any]],
               trend: list[tuple[str, int | None, str]]) -> None:
    color, banner = OUTCOME_STYLE[summary["outcome"]]
    by_type: dict[str, int] = {}
    by_age = {label: 0 for label, _, _ in AGE_BUCKETS}
    for row in variances:
        by_type[row["variance_type"]] = by_type.get(row["variance_type"], 0) + 1
        by_age[age_bucket(int(row["days_since_first_detected"] or 0))] += 1
    totals = table(
        ["currency", "storefront", "processor", "ERP", "net variance (ERP - storefront)"],
        [[t["currency"], t["storefront_total"], t["processor_total"], t["erp_total"], t["net_variance"]]
         for t in summary.get("booked_totals", [])],
    )
    shown = variances[:TABLE_LIMIT]
    variance_table = table(
        ["age (days)", "type", "system", "refund", "order", "delta", "currency", "detail"],
        [[v["days_since_first_detected"], v["variance_type"], v["discrepancy_system"], v["refund_id"],
          v["order_id"], v["amount_delta"], v["currency"], v["detail"]] for v in shown],
    )
    more = (f"<p>Showing {len(shown)} of {len(variances)}; the full list is in variances.csv.</p>"
            if len(variances) > len(shown) else "")
    reasons = summary.get("outcome_reasons")
    detail = f"<p>Why: {html.escape(reasons)}</p>" if reasons else ""
    if summary.get("error"):
        detail += f"<p>{html.escape(summary['error'])}</p>"
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Refund reconciliation checkpoint {html.escape(summary['checkpoint_id'])}</title>
<style>
body {{ font-family: sans-serif; margin: 24px; color: #222; }}
.banner {{ background: {color}; color: #fff; padding: 16px 20px; border-radius: 6px; font-size: 20px; }}
.banner small {{ display: block; font-size: 13px; opacity: .9; margin-top: 4px; }}
table {{ border-collapse: collapse; margin: 8px 0 20px; font-size: 13px; }}
th, td {{ border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }}
th {{ background: #f0f0f0; }}
figure {{ margin: 12px 0; }} figcaption {{ font-weight: bold; margin-bottom: 4px; }}
.charts {{ display: flex; flex-wrap: wrap; gap: 24px; }}
</style></head><body>
<div class="banner">{html.escape(banner)}
<small>Checkpoint {html.escape(summary['checkpoint_id'])} as of {html.escape(summary['as_of'])} UTC;
{summary.get('open_variance_count') or 0} open, {summary.get('new_variance_count') or 0} new, {summary.get('resolved_variance_count') or 0} resolved</small></div>
{detail}
<h2>Refunds the ledger must book (status succeeded)</h2>
{totals}
<h2>Open variances</h2>
<div class="charts">
{bar_chart('By type', sorted(by_type.items(), key=lambda item: (-item[1], item[0])))}
{bar_chart('By age', list(by_age.items()))}
</div>
{trend_chart(trend)}
<h2>Variance table</h2>
{more}
{variance_table}
</body></html>
"""
    path.write_text(page, encoding="utf-8")


def write_report_folder(reports_dir: Path, name: str, summary: dict[str, Any], variances: list[dict[str, Any]],
                        columns: list[str], trend: list[tuple[str, int | None, str]]) -> Path:
    """variances.csv, summary.json and report.html in reports_dir/name, all or
    nothing: written to a hidden folder beside it, then renamed into place (a
    folder already there is moved aside first and removed after)."""
    final = reports_dir / name
    staging = reports_dir / f".{name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        write_csv(staging / "variances.csv", variances, columns)
        write_json(staging / "summary.json", summary)
        write_html(staging / "report.html", summary, variances, trend)
        aside = reports_dir / f".{name}.old-{os.getpid()}"
        if final.exists():
            final.rename(aside)
        staging.rename(final)
        shutil.rmtree(aside, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final
