#!/usr/bin/env python3
"""Run a refund reconciliation checkpoint: dbt build, then read the marts and report.

Exit codes (for a scheduler):
  0  clean            the build ran, every input delivered rows, zero open variances
  1  variances_found  open variances (see the report)
  2  stale_sources    an input delivered no rows: never reported as clean
  3  failed           the build or a project test failed, or the inputs could not be read
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
EXIT_CODES = {"clean": 0, "variances_found": 1, "stale_sources": 2, "failed": 3}
SYSTEMS = ("storefront", "processor", "erp")


@dataclass
class Settings:
    data_dir: Path
    as_of: str
    target: str
    database: Path
    confirmation_sla_minutes: int
    amount_tolerance: str
    business_timezone: str

    def dbt_vars(self) -> dict[str, object]:
        return {
            "data_dir": str(self.data_dir),
            "as_of": self.as_of,
            "confirmation_sla_minutes": self.confirmation_sla_minutes,
            "amount_tolerance": self.amount_tolerance,
            "business_timezone": self.business_timezone,
        }


def parse_args(argv: list[str] | None) -> tuple[str, Settings]:
    parser = argparse.ArgumentParser(
        description="Refund reconciliation checkpoint.",
        epilog="Exit codes: 0 clean, 1 variances found, 2 stale sources, 3 failed.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="build the project on the inputs and report the variances")
    run.add_argument("--data-dir", type=Path,
                     default=Path(os.environ.get("REFUND_RECON_DATA_DIR") or PROJECT_DIR / "data" / "sample"),
                     help="folder with storefront_refunds, processor_refunds and erp_refund_postings "
                          "(.csv or .parquet); default env REFUND_RECON_DATA_DIR, else the bundled sample")
    run.add_argument("--as-of", default=None,
                     help="the checkpoint clock, ISO 8601 UTC (default: now); every age and SLA is measured "
                          "against it, so a re-run with the same --as-of gives the same report")
    run.add_argument("--target", default=os.environ.get("REFUND_RECON_TARGET", "duckdb"),
                     help="dbt target from profiles.yml (default duckdb)")
    run.add_argument("--database", type=Path,
                     default=Path(os.environ.get("REFUND_RECON_DUCKDB") or PROJECT_DIR / "refund_recon.duckdb"),
                     help="DuckDB file the marts are built into (default refund_recon.duckdb)")
    run.add_argument("--sla-minutes", type=int, default=30,
                     help="confirmation SLA: longest acceptable time from processor confirmation to ERP receipt")
    run.add_argument("--amount-tolerance", default="0",
                     help="largest absolute difference, in major units, still counted as equal (default 0)")
    run.add_argument("--business-timezone", default="UTC",
                     help="IANA timezone that decides dates and accounting periods (default UTC)")
    args = parser.parse_args(argv)
    as_of = args.as_of or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return args.command, Settings(
        data_dir=args.data_dir.resolve(), as_of=as_of, target=args.target, database=args.database.resolve(),
        confirmation_sla_minutes=args.sla_minutes, amount_tolerance=args.amount_tolerance,
        business_timezone=args.business_timezone,
    )


def build(settings: Settings) -> bool:
    """dbt build, in process; dbt prints each model and test as it goes."""
    from dbt.cli.main import dbtRunner

    os.environ["REFUND_RECON_DUCKDB"] = str(settings.database)
    result = dbtRunner().invoke([
        "build", "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR),
        "--target", settings.target, "--vars", json.dumps(settings.dbt_vars()),
    ])
    if result.exception is not None:
        print(f"dbt build could not run: {result.exception}", file=sys.stderr)
    return bool(result.success)


def report(settings: Settings) -> str:
    import duckdb

    # dbt ran in this process and keeps the file open: a plain connect shares it.
    with duckdb.connect(str(settings.database)) as con:
        totals = con.sql("""
            select currency,
                   sum(storefront_refund_count) as storefront_count, sum(storefront_refund_total) as storefront_total,
                   sum(processor_refund_count) as processor_count, sum(processor_refund_total) as processor_total,
                   sum(erp_posting_count) as erp_count, sum(erp_refund_total) as erp_total,
                   sum(net_variance) as net_variance
            from rpt_refund_reconciliation group by currency order by currency
        """).fetchall()
        by_type = con.sql("""
            select variance_type, discrepancy_system, count(*), sum(abs(coalesce(amount_delta, 0)))
            from fct_refund_variances group by all order by 3 desc, 1
        """).fetchall()
        top = con.sql("""
            select variance_type, refund_id, currency, amount_delta, detail
            from fct_refund_variances order by abs(coalesce(amount_delta, 0)) desc, refund_id limit 10
        """).fetchall()
        rejected = con.sql("select input_name, rejection_reason, count(*) from fct_rejected_rows group by all order by 1, 2").fetchall()

    delivered = {system: sum(row[1 + 2 * i] for row in totals) for i, system in enumerate(SYSTEMS)}
    open_variances = sum(row[2] for row in by_type)
    if any(count == 0 for count in delivered.values()):
        outcome = "stale_sources"
    elif open_variances:
        outcome = "variances_found"
    else:
        outcome = "clean"

    lines = [f"Checkpoint as of {settings.as_of} on {settings.data_dir}", "",
             "Three-column totals (storefront | processor | ERP | net variance = ERP - storefront):"]
    for currency, sc, st, pc, pt, ec, et, net in totals:
        lines.append(f"  {currency}: {st} ({sc}) | {pt} ({pc}) | {et} ({ec}) | {net}")
    if rejected:
        lines += ["", "Rejected input rows (see fct_rejected_rows):"]
        lines += [f"  {name}: {count} x {reason}" for name, reason, count in rejected]
    if outcome == "stale_sources":
        empty = ", ".join(system for system, count in delivered.items() if count == 0)
        lines += ["", f"STALE SOURCES: no rows from {empty}. This is not a clean checkpoint."]
    elif outcome == "clean":
        counts = ", ".join(f"{system} {count} records" for system, count in delivered.items())
        lines += ["", f"CLEAN: all three systems delivered ({counts}) and zero variances are open."]
    else:
        lines += ["", f"VARIANCES FOUND: {open_variances} open."]
        lines += [f"  {vtype:<26} {system:<10} {count:>6}  |delta| {amount}" for vtype, system, count, amount in by_type]
        lines += ["", "Largest by amount:"]
        lines += [f"  {vtype} {refund_id} {currency} {delta}: {detail}" for vtype, refund_id, currency, delta, detail in top]
    lines += ["", f"Outcome: {outcome} (exit {EXIT_CODES[outcome]})"]
    print("\n".join(lines))
    return outcome


def main(argv: list[str] | None = None) -> int:
    command, settings = parse_args(argv)
    assert command == "run"
    print(f"[1/2] dbt build on {settings.data_dir} (as_of {settings.as_of}, target {settings.target})", flush=True)
    if not build(settings):
        print("\nOutcome: failed (exit 3): the build or a project test failed; see the dbt output above.")
        return EXIT_CODES["failed"]
    if settings.target != "duckdb":
        print("Built. The report reads the DuckDB marts; on other targets query the marts directly.")
        return EXIT_CODES["clean"]
    print("\n[2/2] reading the marts", flush=True)
    return EXIT_CODES[report(settings)]


if __name__ == "__main__":
    sys.exit(main())
