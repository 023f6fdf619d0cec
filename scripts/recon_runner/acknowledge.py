"""`checkpoint.py acknowledge` and `checkpoint.py acknowledgements`: the exception
workflow's seed, seeds/variance_acknowledgements.csv (reviewed in a pull
request like the mapping seeds).

acknowledge appends one row for an open variance of the latest completed
checkpoint (the marts of the checkpoint database): its current type, amount
delta and currency, who, today's date, why, a ticket and an expiry. The next
checkpoint applies it (fct_variance_acknowledgements says its state). An
unknown or already acknowledged variance id is refused (exit 64). Rejected
rows and stale sources have no variance id: they cannot be acknowledged.

Every value is written through the csv module (quoted where needed) and
printed through printable(): nothing from the data is trusted as text.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from . import money
from .checkpoint import EXIT_CODES
from .dbt import PROJECT_DIR
from .message import printable
from .store import Busy, CheckpointError, read

SEED = PROJECT_DIR / "seeds" / "variance_acknowledgements.csv"
SEED_COLUMNS = ["variance_id", "variance_type", "amount_delta", "currency", "acknowledged_by", "acknowledged_at",
                "reason", "ticket", "expires_on"]


class Refused(Exception):
    """The command cannot do what was asked (exit 64); the message says why."""


def add_arguments(sub: argparse._SubParsersAction) -> None:
    database = argparse.ArgumentParser(add_help=False)
    database.add_argument("--database", type=Path,
                          default=Path(os.environ.get("REFUND_RECON_PROD_DUCKDB")
                                       or PROJECT_DIR / "refund_recon.duckdb"),
                          help="the checkpoint database whose latest completed checkpoint is read (default "
                               "refund_recon.duckdb, or env REFUND_RECON_PROD_DUCKDB)")
    database.add_argument("--seed", type=Path, default=SEED,
                          help="the acknowledgement seed (default seeds/variance_acknowledgements.csv)")
    acknowledge = sub.add_parser(
        "acknowledge", parents=[database],
        help="accept an open variance for a while: append it to seeds/variance_acknowledgements.csv",
        description=__doc__.split("\n\n")[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    acknowledge.add_argument("variance_id", metavar="VARIANCE_ID", help="fct_refund_variances.variance_id")
    acknowledge.add_argument("--by", required=True, help="who accepts the variance")
    acknowledge.add_argument("--reason", required=True, help="why it is accepted")
    acknowledge.add_argument("--ticket", default="", help="a ticket or case reference")
    acknowledge.add_argument("--expires", default="", metavar="YYYY-MM-DD",
                             help="last day it holds, in the business timezone (default: no expiry)")
    sub.add_parser("acknowledgements", parents=[database],
                   help="list the acknowledgements and their state at the latest completed checkpoint")


def text_argument(name: str, value: str, required: bool) -> str:
    """A person's text for the seed: trimmed, one line, no control characters."""
    value = value.strip()
    if required and not value:
        raise Refused(f"--{name} must not be empty")
    if not value.isprintable():
        raise Refused(f"--{name} must be one line of text without control characters, got {printable(value)!r}")
    return value


def expiry(value: str, today: date) -> str:
    if not value.strip():
        return ""
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise Refused(f"--expires must be a date YYYY-MM-DD, got {printable(value)!r}") from None
    if len(value.strip()) != 10:
        raise Refused(f"--expires must be a date YYYY-MM-DD, got {printable(value)!r}")
    if day < today:
        raise Refused(f"--expires {day} is before today ({today}): an acknowledgement cannot have expired already")
    return day.isoformat()


def seed_rows(seed: Path) -> list[dict[str, str]]:
    try:
        with seed.open(newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise CheckpointError(f"cannot read {seed}: {error}") from None


def append_row(seed: Path, row: dict[str, str]) -> None:
    """Append `row` through the csv module (a comma, quote or newline in a value is quoted),
    the header first when the file is new or empty, a line break first when the file lacks
    its last one."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=SEED_COLUMNS, lineterminator="\n")
    existing = seed.read_bytes() if seed.exists() else b""
    if not existing.strip():
        writer.writeheader()
        existing = b""
    writer.writerow(row)
    prefix = "" if not existing or existing.endswith(b"\n") else "\n"
    with seed.open("w" if not existing else "a", newline="", encoding="utf-8") as handle:
        handle.write(prefix + buffer.getvalue())


def latest_checkpoint(database: Path) -> dict[str, Any]:
    if not database.is_file():
        raise CheckpointError(f"no checkpoint database at {database}: run a checkpoint first "
                              "(or give --database)")
    runs = read(database, "select checkpoint_id, as_of from fct_checkpoint_runs order by as_of desc limit 1")
    if not runs:
        raise CheckpointError(f"{database} holds no completed checkpoint: run one first")
    return runs[0]


def acknowledge(args: argparse.Namespace) -> int:
    today = datetime.now(timezone.utc).date()
    by = text_argument("by", args.by, True)
    reason = text_argument("reason", args.reason, True)
    ticket = text_argument("ticket", args.ticket, False)
    expires = expiry(args.expires, today)
    variance_id = args.variance_id.strip()
    database = args.database.resolve()
    latest = latest_checkpoint(database)
    found = read(database, "select variance_id, refund_id, variance_type, amount_delta, currency, minor_units, "
                           "amount_at_stake, as_of from fct_refund_variances where variance_id = ?", [variance_id])
    if not found:
        raise Refused(f"no open variance {printable(variance_id)!r} at the latest completed checkpoint "
                      f"({latest['checkpoint_id']}, the marts of {database}): copy the id from variances.csv or "
                      "fct_refund_variances.variance_id (rejected rows and stale sources cannot be acknowledged)")
    variance = found[0]
    existing = [row for row in seed_rows(args.seed) if (row.get("variance_id") or "").strip() == variance_id]
    if existing:
        raise Refused(f"variance {printable(variance_id)!r} is already acknowledged in {args.seed} (by "
                      f"{printable(existing[0].get('acknowledged_by'))}, {printable(existing[0].get('acknowledged_at'))}"
                      "): edit or remove that row instead (one row per variance)")
    units = money.with_units(variance)
    row = {"variance_id": variance["variance_id"], "variance_type": variance["variance_type"],
           "amount_delta": money.plain(variance["amount_delta"], units), "currency": variance["currency"] or "",
           "acknowledged_by": by, "acknowledged_at": today.isoformat(), "reason": reason, "ticket": ticket,
           "expires_on": expires}
    append_row(args.seed, row)
    print(f"Acknowledged variance {printable(variance_id)} ({printable(variance['variance_type'])}, refund "
          f"{printable(variance['refund_id'])}, delta {money.text(variance['amount_delta'], variance['currency'], units)}, "
          f"{money.text(variance['amount_at_stake'], variance['currency'], units)} at stake) as of checkpoint "
          f"{latest['checkpoint_id']}" + (f", until the end of {expires}" if expires else ", with no expiry")
          + f": appended to {args.seed}. Commit it for review; the next checkpoint applies it while the variance "
          "stays the same.")
    return 0


def acknowledgements(args: argparse.Namespace) -> int:
    database = args.database.resolve()
    latest = latest_checkpoint(database)
    rows = read(database, "select variance_id, acknowledgement_state, acknowledged_by, expires_on, amount_at_stake, "
                          "current_currency, minor_units, state_reason from fct_variance_acknowledgements "
                          "order by acknowledgement_state, variance_id")
    checked = {row["variance_id"] for row in rows}
    pending = [row for row in seed_rows(args.seed) if (row.get("variance_id") or "").strip() not in checked]
    print(f"Acknowledgements at checkpoint {latest['checkpoint_id']} ({len(rows)}; seed {args.seed}):")
    for row in rows:
        stake = (f", {money.text(row['amount_at_stake'], row['current_currency'], money.minor_units(row['current_currency']))}"
                 " at stake" if row["amount_at_stake"] is not None else "")
        print(f"  {printable(row['variance_id'])}  {row['acknowledgement_state']}{stake}: "
              f"{printable(row['state_reason'])}")
    for row in pending:
        print(f"  {printable((row.get('variance_id') or '').strip())}  pending: added to the seed after this "
              f"checkpoint by {printable(row.get('acknowledged_by'))}; the next checkpoint decides its state")
    if not rows and not pending:
        print("  none")
    return 0


def main(args: argparse.Namespace) -> int:
    command = {"acknowledge": acknowledge, "acknowledgements": acknowledgements}[args.command]
    try:
        return command(args)
    except Refused as refused:
        print(f"REFUSED: {refused}. Nothing was changed.")
        return EXIT_CODES["usage"]
    except Busy as busy:
        print(f"BUSY: {printable(busy)}. Nothing was changed; try again when it has finished.")
        return EXIT_CODES["busy"]
    except CheckpointError as error:
        print(f"FAILED: {printable(error)}. Nothing was changed.")
        return EXIT_CODES["failed"]
