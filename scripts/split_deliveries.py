"""Turn a generated scenario into daily delivery files: the shape of a daily checkpoint.

Each generic input (storefront_refunds, processor_refunds, erp_refund_postings)
becomes a folder of CSV files, one per day, that together hold every row of the
input. A row goes to the day it arrived: a processor event on its event_at, a
storefront row on its updated_at (else created_at), an ERP posting on its
received_at (else posted_at). Rows before the first of the last N days (and rows
whose time cannot be read) form the first file, the history; rows after the
scenario's as_of go to the last day. Rows keep their order inside each file.

    python scripts/split_deliveries.py --scenario DIR --out DIR --days 3

writes OUT/<input>/day-000.csv (history) ... day-003.csv and OUT/deliveries.json:
the checkpoint clock (as_of) of each day, so day k is checkpointed at its as_of
with files day-000 .. day-k in place. The incremental checkpoint test and
scripts/benchmark.py use it.
"""

from __future__ import annotations

import argparse
import json
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb

ARRIVAL = {
    "storefront_refunds": "coalesce(try_cast(updated_at as timestamptz), try_cast(created_at as timestamptz))",
    "processor_refunds": "try_cast(event_at as timestamptz)",
    "erp_refund_postings": "coalesce(try_cast(received_at as timestamptz), try_cast(posted_at as timestamptz))",
}


def split(scenario: Path, out: Path, days: int) -> dict:
    """Write the deliveries and return {as_of per day, rows per input and day}."""
    settings = json.loads((scenario / "scenario.json").read_text())
    final = datetime.fromisoformat(settings["as_of"].replace("Z", "+00:00")).astimezone(timezone.utc)
    cuts = [final - timedelta(days=days - day) for day in range(days + 1)]
    out.mkdir(parents=True, exist_ok=True)
    rows: dict[str, list[int]] = {}
    with duckdb.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        for name, arrival in ARRIVAL.items():
            source = scenario / f"{name}.csv"
            folder = out / name
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            con.execute(
                f"create or replace table rows as select *, {arrival} as _arrival "
                f"from read_csv(?, header = true, all_varchar = true, quote = '\"', escape = '\"', "
                f"null_padding = true, parallel = false, strict_mode = false)",
                [str(source)],
            )
            columns = [column for (column,) in con.execute(
                "select column_name from (describe rows) where column_name <> '_arrival'").fetchall()]
            select = ", ".join(f'"{column}"' for column in columns)
            rows[name] = []
            for day in range(days + 1):
                if day == 0:
                    where = "_arrival is null or _arrival <= ?"
                    params = [cuts[0]]
                elif day == days:
                    where = "_arrival > ?"
                    params = [cuts[day - 1]]
                else:
                    where = "_arrival > ? and _arrival <= ?"
                    params = [cuts[day - 1], cuts[day]]
                target = folder / f"day-{day:03d}.csv"
                # COPY answers with the number of rows it wrote.
                rows[name].append(con.execute(
                    f"copy (select {select} from rows where {where}) to '{target}' (header, quote '\"')", params,
                ).fetchone()[0])
    manifest = {
        "as_of": [cut.strftime("%Y-%m-%dT%H:%M:%SZ") for cut in cuts],
        "rows": rows,
        "settings": {key: value for key, value in settings.items() if key not in ("rows", "cases")},
    }
    (out / "deliveries.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", type=Path, required=True, help="a folder written by generate_sample_data.py")
    parser.add_argument("--out", type=Path, required=True, help="where the delivery folders go")
    parser.add_argument("--days", type=int, default=3, help="daily deliveries after the history (default 3)")
    args = parser.parse_args()
    if args.days < 1:
        parser.error("--days must be at least 1")
    manifest = split(args.scenario, args.out, args.days)
    for name, counts in manifest["rows"].items():
        print(f"{name}: history {counts[0]:,} rows, then per day {', '.join(f'{count:,}' for count in counts[1:])}")


if __name__ == "__main__":
    main()
