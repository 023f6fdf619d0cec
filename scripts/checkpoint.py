#!/usr/bin/env python3
"""Run a refund reconciliation checkpoint and say plainly how it went.

(Two more commands check a change before it ships: `validate-writeback`, a
dry run of a changed integration, and `mapping-impact`, the variances a
mapping-seed change adds and removes; see `--help` of each.)

A checkpoint checks that every input is there and has rows, runs `dbt build`
(which records the checkpoint in fct_checkpoint_runs and each variance's
history in fct_variance_history), reads the marts, writes the report files,
and sends one message: a clean run says so explicitly, any other outcome
says what is wrong.

Outcomes and exit codes (for a scheduler):
  0  clean            ran, every source delivered fresh rows, zero open variances
                      (also: variances found, all within --tolerate-amount)
  1  variances_found  open variances; the report lists them
  2  stale_sources    a source delivered nothing new: never reported as clean
  3  failed           the build or a project test failed, or an input is missing
  4  busy             another checkpoint is running on the same database
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent))

import change_checks  # noqa: E402
from notify import mask_url, post_json  # noqa: E402
from report_files import write_csv, write_html, write_json  # noqa: E402

PROJECT_DIR = Path(__file__).resolve().parent.parent
EXIT_CODES = {"clean": 0, "variances_found": 1, "stale_sources": 2, "failed": 3, "busy": 4}
INPUTS = ("storefront_refunds", "processor_refunds", "erp_refund_postings")
VARIANCE_COLUMNS = [
    "variance_id", "refund_id", "order_id", "variance_type", "discrepancy_system", "system_of_record_discrepancy",
    "storefront_amount", "processor_amount", "erp_amount", "amount_delta", "currency", "detail",
    "first_detected_at", "days_since_first_detected", "as_of",
]


@dataclass
class Settings:
    data_dir: Path
    as_of: str
    target: str
    database: Path
    reports_dir: Path
    confirmation_sla_minutes: int
    amount_tolerance: str
    business_timezone: str
    source_freshness_hours: int
    tolerate_amount: Decimal | None
    webhook_env: str
    shapes: dict[str, list[str]] = field(default_factory=dict)
    extra_vars: dict[str, str] = field(default_factory=dict)
    full_refresh: bool = False

    @property
    def checkpoint_id(self) -> str:
        moment = datetime.fromisoformat(self.as_of.replace("Z", "+00:00"))
        return "cp_" + moment.strftime("%Y%m%dT%H%M%SZ")

    def dbt_vars(self) -> dict[str, object]:
        return {
            "data_dir": str(self.data_dir),
            "as_of": self.as_of,
            "confirmation_sla_minutes": self.confirmation_sla_minutes,
            "amount_tolerance": self.amount_tolerance,
            "business_timezone": self.business_timezone,
            "source_freshness_hours": self.source_freshness_hours,
            **{f"{role}_shapes": shapes for role, shapes in self.shapes.items()},
            **self.extra_vars,
        }


def parse_args(argv: list[str] | None) -> Settings | argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="checkpoint.py", description=__doc__.split("\n\n")[0],
        epilog=__doc__[__doc__.index("Outcomes and exit codes"):], formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run one checkpoint", description=__doc__,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("--data-dir", type=Path,
                     default=Path(os.environ.get("REFUND_RECON_DATA_DIR") or PROJECT_DIR / "data" / "sample"),
                     help="folder with storefront_refunds, processor_refunds and erp_refund_postings (.csv or "
                          ".parquet, or a folder of delivery files each); default env REFUND_RECON_DATA_DIR, else "
                          "the bundled sample")
    run.add_argument("--as-of", default=None,
                     help="the checkpoint clock, ISO 8601 UTC such as 2026-03-01T00:00:00Z (default: now). Every "
                          "age and SLA is measured against it; re-running the same --as-of replaces that checkpoint")
    run.add_argument("--target", default=os.environ.get("REFUND_RECON_TARGET", "duckdb"),
                     help="dbt target from profiles.yml (default duckdb, or env REFUND_RECON_TARGET)")
    run.add_argument("--database", type=Path,
                     default=Path(os.environ.get("REFUND_RECON_DUCKDB") or PROJECT_DIR / "refund_recon.duckdb"),
                     help="DuckDB file holding the marts and the checkpoint history (default refund_recon.duckdb, "
                          "or env REFUND_RECON_DUCKDB)")
    run.add_argument("--reports-dir", type=Path, default=PROJECT_DIR / "reports",
                     help="where each checkpoint's variances.csv, summary.json and report.html go (default reports/)")
    run.add_argument("--sla-minutes", type=int, default=30,
                     help="confirmation SLA: longest acceptable minutes from processor confirmation to ERP receipt")
    run.add_argument("--amount-tolerance", default="0",
                     help="largest absolute difference, in major units, still counted as equal (default 0)")
    run.add_argument("--business-timezone", default="UTC",
                     help="IANA timezone that decides dates and accounting periods (default UTC)")
    run.add_argument("--freshness-hours", type=int, default=24,
                     help="a source whose newest record is older than this at as_of is stale (default 24)")
    run.add_argument("--tolerate-amount", type=Decimal, default=None,
                     help="exit 0 when every open variance's |amount_delta| is at most this (they are still "
                          "reported and recorded as variances_found)")
    run.add_argument("--webhook-env", default="REFUND_RECON_WEBHOOK_URL",
                     help="name of the environment variable holding the Slack-compatible webhook URL "
                          "(default REFUND_RECON_WEBHOOK_URL); unset means no webhook")
    for role, choices in (("storefront", "generic, shopify"), ("processor", "generic, stripe, adyen, paypal"),
                          ("erp", "generic, netsuite")):
        run.add_argument(f"--{role}-shapes", nargs="+", metavar="SHAPE",
                         help=f"the shapes the {role} tables come in ({choices}; default generic); "
                              "several are unioned (README: Your data)")
    run.add_argument("--full-refresh", action="store_true",
                     help="rebuild every model from scratch (needed after a change of a model's columns); the "
                          "checkpoint history is kept. Otherwise a checkpoint over delivery folders is incremental "
                          "(README: Daily checkpoints)")
    run.add_argument("--var", action="append", default=[], metavar="NAME=VALUE",
                     help="another dbt var, e.g. --var netsuite_refund_id_field=otherrefnum (repeatable)")
    change_checks.add_arguments(sub)
    args = parser.parse_args(argv)
    if args.command != "run":
        return args
    as_of = args.as_of or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        datetime.fromisoformat(as_of.replace("Z", "+00:00"))
    except ValueError:
        parser.error(f"--as-of must be ISO 8601, got {as_of!r}")
    extra_vars = {}
    for item in args.var:
        name, sep, value = item.partition("=")
        if not sep or not name.strip().isidentifier():
            parser.error(f"--var takes NAME=VALUE, got {item!r}")
        extra_vars[name.strip()] = value
    shapes = {role: getattr(args, f"{role}_shapes") for role in ("storefront", "processor", "erp")
              if getattr(args, f"{role}_shapes")}
    return Settings(
        data_dir=args.data_dir.resolve(), as_of=as_of, target=args.target, database=args.database.resolve(),
        reports_dir=args.reports_dir.resolve(), confirmation_sla_minutes=args.sla_minutes,
        amount_tolerance=args.amount_tolerance, business_timezone=args.business_timezone,
        source_freshness_hours=args.freshness_hours, tolerate_amount=args.tolerate_amount,
        webhook_env=args.webhook_env, shapes=shapes, extra_vars=extra_vars, full_refresh=args.full_refresh,
    )


class Busy(Exception):
    pass


@contextmanager
def exclusive(database: Path) -> Iterator[None]:
    """One checkpoint at a time per database file: a lock file beside it."""
    lock_path = database.with_name(database.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            raise Busy(handle.read().strip() or "unknown holder") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ}")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()


def input_files(settings: Settings) -> list[tuple[str, list[Path]]]:
    """(input name, candidate files) for every input of the enabled shapes.

    A generic input is <data_dir>/<input>.csv or .parquet, or a folder
    <data_dir>/<input>/ of delivery files (README: Daily checkpoints); another shape's
    tables are the files in <data_dir>/<shape>/ (which tables a shape needs,
    the build checks and names).
    """
    inputs: list[tuple[str, list[Path]]] = []
    for role, name in zip(("storefront", "processor", "erp"), INPUTS):
        for shape in settings.shapes.get(role) or ["generic"]:
            if shape == "generic":
                inputs.append((name, [settings.data_dir / f"{name}.csv", settings.data_dir / f"{name}.parquet",
                                      settings.data_dir / name]))
                continue
            folder = settings.data_dir / shape
            tables = sorted({path.stem for path in folder.glob("*") if path.suffix in (".csv", ".parquet")})
            if not tables:
                inputs.append((f"{shape} ({role})", []))
            for table in tables:
                inputs.append((f"{shape}/{table}", [folder / f"{table}.csv", folder / f"{table}.parquet"]))
    return list(dict(inputs).items())


def check_inputs(settings: Settings) -> list[str]:
    """Each input exists once and has rows; returns problems (empty = fine)."""
    import duckdb

    problems = []
    with duckdb.connect() as con:
        for name, candidates in input_files(settings):
            found = [p for p in candidates if p.exists()]
            if not found:
                expected = f"{name}.csv or .parquet" if candidates else "tables (README: Your data)"
                where = candidates[0].parent if candidates else settings.data_dir / name.split(" ")[0]
                problems.append(f"{name}: no {expected} in {where}")
                continue
            if len(found) > 1:
                problems.append(f"{name}: {' and '.join(p.name for p in found)} present; keep one")
                continue
            described = found[0].name
            if found[0].is_dir():
                # Delivery files: count the latest only (the build reads just
                # the ones it has not read before).
                deliveries = sorted(p for p in found[0].iterdir() if p.suffix in (".csv", ".parquet"))
                if not deliveries:
                    problems.append(f"{name}: no .csv or .parquet delivery files in {found[0]}")
                    continue
                found = [deliveries[-1]]
                described = f"{len(deliveries)} delivery files in {deliveries[-1].parent.name}/, the latest {deliveries[-1].name}"
            path = str(found[0]).replace("'", "''")
            reader = f"read_parquet('{path}')" if path.endswith(".parquet") else \
                f"read_csv('{path}', all_varchar = true, header = true, null_padding = true, strict_mode = false)"
            try:
                rows = con.execute(f"select count(*) from {reader}").fetchone()[0]
            except duckdb.Error as error:
                rows = 0
                print(f"  {name}: cannot count rows ({str(error).splitlines()[0]}); the build will say more")
            print(f"  {name}: {rows} rows in {described}")
            if rows == 0:
                print(f"  {name}: WARNING no rows: this source will be reported stale")
    return problems


def build(settings: Settings) -> bool:
    """dbt build, in process; dbt prints each model and test as it starts and ends.

    Models and data tests: the unit tests check the project's code on fixed
    inputs, not the day's data, and run in CI (`make test`) and on every
    `dbt build` an engineer runs.
    """
    from dbt.cli.main import dbtRunner

    os.environ["REFUND_RECON_DUCKDB"] = str(settings.database)
    result = dbtRunner().invoke([
        "build", "--exclude-resource-type", "unit_test",
        "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR),
        "--target", settings.target, "--vars", json.dumps(settings.dbt_vars()),
        *(["--full-refresh"] if settings.full_refresh else []),
    ])
    if result.exception is not None:
        print(f"dbt build could not run: {result.exception}", file=sys.stderr)
    return bool(result.success)


def rows_as_dicts(con: Any, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params or [])
    columns = [item[0] for item in cursor.description]
    return [dict(zip(columns, row)) for row in cursor.fetchall()]


def read_marts(settings: Settings) -> tuple[dict[str, Any], list[dict[str, Any]], list[tuple[str, int]]]:
    import duckdb

    # dbt ran in this process and may keep the file open: a plain connect shares it.
    with duckdb.connect(str(settings.database)) as con:
        run = rows_as_dicts(con, "select * from fct_checkpoint_runs where checkpoint_id = ?", [settings.checkpoint_id])[0]
        variances = rows_as_dicts(con, f"""
            select {', '.join(VARIANCE_COLUMNS)} from fct_refund_variances
            order by days_since_first_detected desc, abs(coalesce(amount_delta, 0)) desc, variance_id
        """)
        totals = rows_as_dicts(con, """
            select currency, sum(storefront_refund_total) as storefront_total,
                   sum(processor_refund_total) as processor_total, sum(erp_refund_total) as erp_total,
                   sum(net_variance) as net_variance
            from rpt_refund_reconciliation group by currency order by currency
        """)
        rejected = rows_as_dicts(con, """
            select input_name, rejection_reason, count(*) as row_count
            from fct_rejected_rows group by all order by input_name, rejection_reason
        """)
        trend = [(str(as_of), count) for as_of, count in con.execute(
            "select as_of, open_variance_count from fct_checkpoint_runs where as_of <= ? order by as_of",
            [run["as_of"]]).fetchall()]
    summary = {
        "checkpoint_id": run["checkpoint_id"], "as_of": str(run["as_of"]), "outcome": run["outcome"],
        "data_dir": str(settings.data_dir),
        "rows_read": {"storefront": run["storefront_rows_read"], "processor": run["processor_rows_read"],
                      "erp": run["erp_rows_read"]},
        "rows_rejected": run["rows_rejected"],
        "latest_record_at": {"storefront": str(run["storefront_latest_record_at"]),
                             "processor": str(run["processor_latest_record_at"]),
                             "erp": str(run["erp_latest_record_at"])},
        "stale_sources": run["stale_sources"],
        "open_variance_count": run["open_variance_count"], "new_variance_count": run["new_variance_count"],
        "resolved_variance_count": run["resolved_variance_count"],
        "totals": [{key: str(value) for key, value in row.items()} for row in totals],
        "rejected": rejected,
        "variances_by_type": {},
    }
    for row in variances:
        key = row["variance_type"]
        summary["variances_by_type"][key] = summary["variances_by_type"].get(key, 0) + 1
    return summary, variances, trend


def within_tolerance(variances: list[dict[str, Any]], tolerance: Decimal) -> bool:
    """Every open variance's |amount_delta| is at most `tolerance`.

    A variance without a delta (a currency mismatch: the amounts cannot be
    compared) is never within a tolerance.
    """
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


def message(summary: dict[str, Any], variances: list[dict[str, Any]]) -> str:
    outcome = summary["outcome"]
    head = f"Refund reconciliation checkpoint {summary['checkpoint_id']} (as of {summary['as_of']} UTC): "
    if outcome == "failed":
        return head + f"FAILED. {summary.get('error', 'The build did not complete')}. No report was produced."
    rows = summary["rows_read"]
    counts = f"storefront {rows['storefront']} rows, processor {rows['processor']} rows, ERP {rows['erp']} rows"
    totals = "; ".join(f"{t['currency']} storefront {t['storefront_total']} / processor {t['processor_total']} / "
                       f"ERP {t['erp_total']}" for t in summary["totals"])
    if outcome == "clean":
        return (head + f"CLEAN. All three systems delivered fresh data ({counts}) and zero variances are open. "
                f"Totals: {totals}. Net variance zero.")
    lines = []
    if outcome == "stale_sources":
        lines.append(head + f"STALE SOURCES: {summary['stale_sources']} delivered nothing new. "
                     "This is not a clean checkpoint: check the integration.")
    else:
        lines.append(head + f"VARIANCES FOUND: {summary['open_variance_count']} open "
                     f"({summary['new_variance_count']} new, {summary['resolved_variance_count']} resolved).")
    if summary["open_variance_count"]:
        by_type = ", ".join(f"{k} {v}" for k, v in sorted(summary["variances_by_type"].items(), key=lambda i: -i[1]))
        lines.append(f"By type: {by_type}.")
        lines.append("Largest: " + " | ".join(
            f"{v['variance_type']} {v['refund_id']} {v['currency']} {v['amount_delta']}" for v in largest(variances)))
        oldest = variances[:5]
        lines.append("Oldest: " + " | ".join(
            f"{v['variance_type']} {v['refund_id']} open {v['days_since_first_detected']} days" for v in oldest))
    lines.append(f"Data: {counts}.")
    return "\n".join(lines)


def record_failure(settings: Settings, error: str) -> None:
    """Best effort: a failed checkpoint gets its row in fct_checkpoint_runs when the table exists."""
    try:
        import duckdb

        with duckdb.connect(str(settings.database)) as con:
            con.execute("delete from fct_checkpoint_runs where checkpoint_id = ?", [settings.checkpoint_id])
            con.execute(
                "insert into fct_checkpoint_runs (checkpoint_id, as_of, freshness_window_hours, outcome) "
                "values (?, cast(? as timestamptz) at time zone 'UTC', ?, 'failed')",
                [settings.checkpoint_id, settings.as_of, settings.source_freshness_hours],
            )
    except Exception as failure:  # the record is best effort; the exit code is not
        print(f"  (could not record the failure in fct_checkpoint_runs: {str(failure).splitlines()[0]})")


def deliver(settings: Settings, text: str, summary: dict[str, Any]) -> dict[str, Any]:
    url = os.environ.get(settings.webhook_env, "").strip()
    if not url:
        print(f"  webhook: not configured (set env {settings.webhook_env} to send this message)")
        return {"channel": "webhook", "delivered": False, "detail": f"not configured (env {settings.webhook_env})"}
    result = post_json(url, {"text": text, "outcome": summary["outcome"], "checkpoint_id": summary["checkpoint_id"]})
    status = "delivered" if result.delivered else f"NOT delivered after {result.attempts} attempts ({result.detail})"
    print(f"  webhook {mask_url(url)}: {status}")
    return {"channel": "webhook", "endpoint": mask_url(url), "delivered": result.delivered,
            "attempts": result.attempts, "detail": result.detail}


def checkpoint(settings: Settings) -> dict[str, Any]:
    report_dir = settings.reports_dir / settings.checkpoint_id
    report_dir.mkdir(parents=True, exist_ok=True)
    print(f"Checkpoint {settings.checkpoint_id}: data {settings.data_dir}, database {settings.database}", flush=True)

    print("[1/4] source checks: each input present, with rows", flush=True)
    problems = check_inputs(settings) if settings.target == "duckdb" else []
    summary: dict[str, Any]
    variances: list[dict[str, Any]] = []
    trend: list[tuple[str, int]] = []
    if problems:
        for problem in problems:
            print(f"  {problem}")
        error = "; ".join(problems)
    else:
        print("[2/4] dbt build (the checkpoint's models and data tests; unit tests run in CI)", flush=True)
        error = "" if build(settings) else "dbt build failed: a model or a project test failed (see the dbt output)"
    if error:
        record_failure(settings, error)
        summary = {"checkpoint_id": settings.checkpoint_id, "as_of": settings.as_of, "outcome": "failed",
                   "error": error, "data_dir": str(settings.data_dir), "totals": [], "open_variance_count": 0,
                   "new_variance_count": 0, "resolved_variance_count": 0}
    else:
        print("[3/4] reading the marts", flush=True)
        summary, variances, trend = read_marts(settings)
        if summary["outcome"] == "variances_found" and settings.tolerate_amount is not None:
            summary["within_tolerance"] = within_tolerance(variances, settings.tolerate_amount)

    print("[4/4] report and alerts", flush=True)
    text = message(summary, variances)
    print("\n" + text + "\n")
    summary["message"] = text
    write_csv(report_dir / "variances.csv", variances, VARIANCE_COLUMNS)
    summary["deliveries"] = [{"channel": "terminal", "delivered": True},
                             {"channel": "json", "delivered": True, "path": str(report_dir / "summary.json")},
                             deliver(settings, text, summary)]
    write_json(report_dir / "summary.json", summary)
    write_html(report_dir / "report.html", summary, variances, trend)
    print(f"  reports: {report_dir}/variances.csv, summary.json, report.html")
    return summary


def main(argv: list[str] | None = None) -> int:
    settings = parse_args(argv)
    if isinstance(settings, argparse.Namespace):
        command = {"validate-writeback": change_checks.validate_writeback,
                   "mapping-impact": change_checks.mapping_impact}[settings.command]
        return command(settings)
    try:
        with exclusive(settings.database):
            summary = checkpoint(settings)
    except Busy as holder:
        print(f"Another checkpoint is running on {settings.database} ({holder}). "
              "Nothing was changed; run again when it has finished.", file=sys.stderr)
        return EXIT_CODES["busy"]
    outcome = summary["outcome"]
    code = EXIT_CODES[outcome]
    if summary.get("within_tolerance"):
        print(f"Every open variance is within --tolerate-amount {settings.tolerate_amount}: exit 0.")
        code = 0
    print(f"Outcome: {outcome} (exit {code})")
    return code


if __name__ == "__main__":
    sys.exit(main())
