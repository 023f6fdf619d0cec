"""The files of a scenario: inputs, labels and scenario.json, streamed batch by batch.

Inputs in the generic format are written here (CSV, or Parquet through a
temporary CSV); inputs in a vendor's shape go through shapes.ShapeWriters.
Labels are always CSV: ground_truth.csv, expected_rejections.csv and, with
--id-fault-rate, suggestion_truth.csv. scenario.json holds the settings the
labels assume, the dbt vars a run needs, and the counts per file and case.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from .scenario import Scenario, batches
from .shapes import ShapeWriters
from .vocabulary import (
    ERP_COLUMNS, PROCESSOR_COLUMNS, REJECTION_COLUMNS, STOREFRONT_COLUMNS, SUGGESTION_COLUMNS, TRUTH_COLUMNS,
)

INPUT_NAMES = ("storefront_refunds", "processor_refunds", "erp_refund_postings")
SHAPE_FOLDERS = ("stripe", "adyen", "paypal", "shopify", "netsuite")


def clear_stale(out: Path) -> None:
    """Remove the inputs and shape tables an earlier scenario left in `out`."""
    for stale in out.glob("*"):
        if stale.suffix in (".csv", ".parquet") and stale.stem in INPUT_NAMES:
            stale.unlink()
        elif stale.name == "suggestion_truth.csv":
            stale.unlink()
        elif stale.is_dir() and stale.name in SHAPE_FOLDERS:
            for table in stale.glob("*.csv"):
                table.unlink()


def write_scenario(args: argparse.Namespace, scenario: Scenario) -> dict:
    """Every file of the scenario into args.out; returns what scenario.json holds."""
    args.out.mkdir(parents=True, exist_ok=True)
    clear_stale(args.out)
    shapes = ShapeWriters(args.out, args.processor_shapes, args.storefront_shape, args.erp_shape,
                          scenario.as_of, scenario.tz, args.seed) if scenario.shaped else None
    generic_roles = {"storefront": args.storefront_shape == "generic",
                     "processor": "generic" in args.processor_shapes, "erp": args.erp_shape == "generic"}

    suffix = ".csv" if args.format == "csv" else ".parquet.csv.tmp"
    files = {
        "storefront": (args.out / f"storefront_refunds{suffix}", STOREFRONT_COLUMNS),
        "processor": (args.out / f"processor_refunds{suffix}", PROCESSOR_COLUMNS),
        "erp": (args.out / f"erp_refund_postings{suffix}", ERP_COLUMNS),
        "truth": (args.out / "ground_truth.csv", TRUTH_COLUMNS),
        "rejections": (args.out / "expected_rejections.csv", REJECTION_COLUMNS),
    }
    if args.id_fault_rate:
        files["pairs"] = (args.out / "suggestion_truth.csv", SUGGESTION_COLUMNS)
    files = {name: spec for name, spec in files.items() if generic_roles.get(name, True)}
    handles = {name: open(path, "w", newline="", encoding="utf-8") for name, (path, _) in files.items()}
    writers = {name: csv.writer(handles[name]) for name in files}
    for name, (_, columns) in files.items():
        writers[name].writerow(columns)
    rows_written = dict.fromkeys(files, 0)
    try:
        for out in batches(scenario, args.refunds, args.bad_rows):
            generic_rows: dict[str, list[list[str]]] = {}
            if shapes is not None:
                shapes.write_batch(out.storefront, out.processor, out.erp, generic_rows)
            for name in files:
                rows = generic_rows.get(name, []) if shapes is not None and name in generic_roles \
                    else getattr(out, name)
                writers[name].writerows(rows)
                rows_written[name] += len(rows)
    finally:
        for handle in handles.values():
            handle.close()
        shape_rows = shapes.close() if shapes is not None else {}

    if args.format == "parquet":
        to_parquet([files[name] for name in ("storefront", "processor", "erp")])

    summary = {
        "as_of": args.as_of, "confirmation_sla_minutes": args.sla_minutes,
        "business_timezone": args.business_timezone, "amount_tolerance": 0,
        "seed": args.seed, "refunds_requested": args.refunds, "format": args.format,
        "rows": {name: rows_written[name] for name in files} | shape_rows,
        "dbt_vars": {
            "storefront_shapes": [args.storefront_shape], "processor_shapes": args.processor_shapes,
            "erp_shapes": [args.erp_shape],
            **({"netsuite_order_id_field": "custbody_order_id"} if args.erp_shape == "netsuite" else {}),
        },
        "cases": dict(sorted(scenario.counts.items())),
    }
    if args.id_fault_rate:
        summary["id_fault_rate"] = args.id_fault_rate
    (args.out / "scenario.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def to_parquet(inputs: list[tuple[Path, list[str]]]) -> None:
    """Each temporary CSV as a Parquet file of string columns, then removed."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    for path, columns in inputs:
        table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(columns, "string"), strings_can_be_null=True))
        pq.write_table(table, path.with_name(path.name.replace(".parquet.csv.tmp", ".parquet")))
        path.unlink()
