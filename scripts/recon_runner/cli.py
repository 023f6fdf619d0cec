"""Run a refund reconciliation checkpoint and say plainly how it went.

(Two more commands check a change before it ships: `validate-writeback`, a
dry run of a changed integration, and `mapping-impact`, the variances a
mapping-seed change adds and removes; `acknowledge` and `acknowledgements`
accept an open variance for a while and list them; see `--help` of each.)

A checkpoint checks that every input is there, builds the verdict's models
and data tests in a copy of the checkpoint database, records the verdict
(summary.json) and sends one message: a clean run says so and why, any other
outcome says which rule fired. Then it builds the rest (audit trail, suggested
matches, ERP corrections), swaps the copy in, publishes the marts for BI tools
(bi/current/, replaced whole) and writes the report files. A failure after the
verdict is a second message and never changes the verdict or its exit code.

Outcomes and exit codes (for a scheduler):
  0   clean            zero open variances, zero rejected input rows, every source delivered
                       new rows inside the freshness window (or: every variance an
                       amount difference within --tolerate-amount, no row rejected)
  1   variances_found  open variances or rejected input rows; the report lists them
  2   stale_sources    a source delivered no rows, nothing fresh, or nothing new since the
                       previous checkpoint: never reported as clean
  3   failed           any error before the verdict: its build or a data test failed, an input
                       is missing, a folder is unreadable, a setting is invalid; nothing was
                       changed
  4   busy             another checkpoint, or a process writing the database, holds it;
                       nothing was changed
  64  usage            the command line is wrong
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import traceback
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path

from .checkpoint import DUCKDB_TARGETS, EXIT_CODES, FLAG_VARS, Settings, checkpoint
from .dbt import PROJECT_DIR


class Parser(argparse.ArgumentParser):
    """Usage errors exit 64 (EX_USAGE), not argparse's 2 (= stale_sources here)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"{self.prog}: usage error: {message}", file=sys.stderr)
        sys.exit(EXIT_CODES["usage"])


def amount(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not an amount: {text!r}") from None
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative amount, got {text!r}")
    return value


AS_OF_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?(Z|[+-]00(:?00)?)?")
PRODUCTION_DATABASE = "refund_recon.duckdb"


def canonical_as_of(parser: Parser, given: str | None) -> str:
    """--as-of as 2026-03-01T00:00:00Z, or with its fraction of a second
    (2026-03-01T00:00:00.500000Z); default now, to the microsecond."""
    if given is None:
        moment = datetime.now(timezone.utc)
    else:
        if not AS_OF_PATTERN.fullmatch(given.strip()):
            parser.error(f"--as-of must be ISO 8601 UTC such as 2026-03-01T00:00:00Z (at most 6 decimals of a "
                         f"second), got {given!r}")
        try:
            moment = datetime.fromisoformat(given.strip().replace("Z", "+00:00"))
        except ValueError:
            parser.error(f"--as-of must be ISO 8601, got {given!r}")
        if moment.utcoffset() is not None and moment.utcoffset().total_seconds() != 0:
            parser.error(f"--as-of must be UTC (Z or +00:00), got {given!r}")
    fraction = f".{moment.microsecond:06d}" if moment.microsecond else ""
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


def outputs_beside(database: Path) -> tuple[Path, Path]:
    """(reports folder, BI folder) of a database by default: reports/ and bi/
    beside refund_recon.duckdb, <file>.reports/ and <file>.bi/ beside any other
    database file, so a checkpoint on a test database never writes into, or
    republishes, production's."""
    if database.name == PRODUCTION_DATABASE:
        return database.parent / "reports", database.parent / "bi"
    return database.with_name(database.name + ".reports"), database.with_name(database.name + ".bi")


def build_parser() -> Parser:
    from . import change_checks  # noqa: PLC0415 (the change checks' commands)

    prog = "checkpoint.py" if Path(sys.argv[0]).name == "checkpoint.py" else "refund-recon"
    parser = Parser(prog=prog, description=__doc__.split("\n\n")[0],
                    epilog=__doc__[__doc__.index("Outcomes and exit codes"):],
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    run = sub.add_parser("run", help="run one checkpoint", description=__doc__,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("--data-dir", type=Path,
                     default=Path(os.environ.get("REFUND_RECON_DATA_DIR") or PROJECT_DIR / "data" / "sample"),
                     help="folder with storefront_refunds, processor_refunds and erp_refund_postings (.csv or "
                          ".parquet, or a folder of delivery files each); default env REFUND_RECON_DATA_DIR, else "
                          "the bundled sample")
    run.add_argument("--as-of", default=None,
                     help="the checkpoint clock, ISO 8601 UTC such as 2026-03-01T00:00:00Z, to the microsecond "
                          "(default: now). Every age and SLA is measured against it; re-running the same --as-of "
                          "replaces that checkpoint")
    run.add_argument("--target", default=os.environ.get("REFUND_RECON_TARGET", "prod"),
                     help="dbt target from profiles.yml (default prod: the DuckDB file of --database; or env "
                          "REFUND_RECON_TARGET)")
    run.add_argument("--database", type=Path,
                     default=Path(os.environ.get("REFUND_RECON_PROD_DUCKDB") or PROJECT_DIR / "refund_recon.duckdb"),
                     help="DuckDB file holding the marts and the checkpoint history (default refund_recon.duckdb, "
                          "or env REFUND_RECON_PROD_DUCKDB)")
    run.add_argument("--reports-dir", type=Path, default=None,
                     help="where each checkpoint's variances.csv, summary.json and report.html go (default reports/ "
                          "beside the database refund_recon.duckdb; <database file>.reports/ beside any other)")
    run.add_argument("--sla-minutes", type=int, default=30,
                     help="confirmation SLA: longest acceptable minutes from processor confirmation to ERP receipt")
    run.add_argument("--amount-tolerance", default="0",
                     help="largest absolute difference, in major units, still counted as equal (default 0)")
    run.add_argument("--business-timezone", default="UTC",
                     help="IANA timezone that decides dates and accounting periods (default UTC)")
    run.add_argument("--freshness-hours", type=int, default=24,
                     help="a source whose newest record is older than this at as_of is stale (default 24)")
    run.add_argument("--tolerate-amount", type=amount, default=None,
                     help="exit 0 when no row was rejected and every open variance is an amount difference "
                          "(amount_mismatch; partial_refund_collapsed with its ERP posting there) with |amount_delta| "
                          "at most this (still reported and recorded as variances_found); no other type is tolerated")
    run.add_argument("--webhook-env", default="REFUND_RECON_WEBHOOK_URL",
                     help="name of the environment variable holding the Slack-compatible webhook URL "
                          "(default REFUND_RECON_WEBHOOK_URL); unset means no webhook")
    for role, choices in (("storefront", "generic, shopify"), ("processor", "generic, stripe, adyen, paypal, square"),
                          ("erp", "generic, netsuite")):
        run.add_argument(f"--{role}-shapes", nargs="+", metavar="SHAPE",
                         help=f"the shapes the {role} tables come in ({choices}; default generic); "
                              "several are unioned (docs/inputs.md: Your data)")
    run.add_argument("--full-refresh", action="store_true",
                     help="rebuild every model from scratch (needed after a change of a model's columns); the "
                          "checkpoint history is kept")
    run.add_argument("--var", action="append", default=[], metavar="NAME=VALUE",
                     help="another dbt var, e.g. --var netsuite_refund_id_field=otherrefnum (repeatable); a var "
                          "the runner sets from a flag (as_of, data_dir, amount_tolerance, ...) is a usage error")
    run.add_argument("--bi-dir", type=Path, default=None,
                     help="where each completed checkpoint's marts are published for BI tools (a DuckDB file and "
                          "one Parquet file per mart under <bi-dir>/current/; docs/bi.md); default env "
                          "REFUND_RECON_BI_DIR, else bi/ beside the database refund_recon.duckdb, "
                          "<database file>.bi/ beside any other")
    run.add_argument("--bi-keep", type=int, default=3,
                     help="published checkpoints kept in --bi-dir, the current one included (default 3)")
    run.add_argument("--no-bi", action="store_true", help="do not publish the marts for BI")
    run.add_argument("--debug", action="store_true", help="print a traceback with an error")
    change_checks.add_arguments(sub)
    from . import acknowledge  # noqa: PLC0415 (the exception workflow's commands)

    acknowledge.add_arguments(sub)
    return parser


def parse_args(argv: list[str] | None) -> Settings | argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command != "run":
        return args
    as_of = canonical_as_of(parser, args.as_of)
    if args.target not in DUCKDB_TARGETS:
        parser.error(f"--target {args.target}: the runner builds DuckDB targets ({', '.join(DUCKDB_TARGETS)}); on a "
                     "warehouse, run `dbt build --target ...` and read fct_checkpoint_runs (README: Outcomes and exit "
                     "codes)")
    if args.bi_keep < 1:
        parser.error("--bi-keep must be at least 1")
    database = args.database.resolve()
    reports_beside, bi_beside = outputs_beside(database)
    bi_dir = None if args.no_bi else (args.bi_dir or Path(os.environ.get("REFUND_RECON_BI_DIR") or
                                                          bi_beside)).resolve()
    for name in ("sla_minutes", "freshness_hours"):
        if getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must not be negative")
    extra_vars = {}
    for item in args.var:
        name, sep, value = item.partition("=")
        if not sep or not name.strip().isidentifier():
            parser.error(f"--var takes NAME=VALUE, got {item!r}")
        if name.strip() in FLAG_VARS:
            flag = FLAG_VARS[name.strip()]
            parser.error(f"--var {name.strip()} conflicts with {flag}: the runner sets var {name.strip()} from "
                         f"{flag} (its default when not given); set it with {flag} only")
        extra_vars[name.strip()] = value
    shapes = {role: getattr(args, f"{role}_shapes") for role in ("storefront", "processor", "erp")
              if getattr(args, f"{role}_shapes")}
    return Settings(
        data_dir=args.data_dir.resolve(), as_of=as_of, target=args.target, database=database,
        reports_dir=(args.reports_dir or reports_beside).resolve(), confirmation_sla_minutes=args.sla_minutes,
        amount_tolerance=args.amount_tolerance, business_timezone=args.business_timezone,
        source_freshness_hours=args.freshness_hours, tolerate_amount=args.tolerate_amount,
        webhook_env=args.webhook_env, shapes=shapes, extra_vars=extra_vars, full_refresh=args.full_refresh,
        debug=args.debug, bi_dir=bi_dir, bi_keep=args.bi_keep,
    )


def main(argv: list[str] | None = None) -> int:
    try:
        settings = parse_args(argv)
    except (OSError, RuntimeError) as error:  # a path argument is a symlink loop or an unreadable link
        if "--debug" in (sys.argv if argv is None else argv):
            traceback.print_exc()
        print(f"FAILED: {error}. Nothing was changed.")
        return 3
    if isinstance(settings, argparse.Namespace) and settings.command in ("acknowledge", "acknowledgements"):
        from . import acknowledge

        return acknowledge.main(settings)
    if isinstance(settings, argparse.Namespace):
        from . import change_checks

        command = {"validate-writeback": change_checks.validate_writeback,
                   "mapping-impact": change_checks.mapping_impact}[settings.command]
        return command(settings)
    return checkpoint(settings)
