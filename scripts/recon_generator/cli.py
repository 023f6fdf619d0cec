"""Write a labelled refund-reconciliation scenario in the generic input format.

`python scripts/generate_sample_data.py` (a shim) and `python -m
recon_generator` run this; the package docstring says what it writes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .scenario import Scenario
from .vocabulary import ERP_SHAPES, PROCESSOR_SHAPES, STOREFRONT_SHAPES
from .writers import write_scenario


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="folder to write the scenario into")
    parser.add_argument("--refunds", type=int, default=500, help="about how many processor refunds (default 500)")
    parser.add_argument("--seed", type=int, default=7, help="random seed: same seed, same files")
    parser.add_argument("--fault-rate", type=float, default=0.3, help="share of cases with one injected fault")
    parser.add_argument("--trap-rate", type=float, default=0.2, help="share of cases that are clean traps")
    parser.add_argument("--id-fault-rate", type=float, default=0.0,
                        help="share of cases with a dropped or mistyped processor refund id on an ERP posting or "
                             "storefront row, or a near twin with no true counterpart (default 0: off); "
                             "writes suggestion_truth.csv")
    parser.add_argument("--bad-rows", type=int, default=12, help="input rows that must be rejected")
    parser.add_argument("--as-of", default="2026-03-01T00:00:00Z", help="the checkpoint clock the labels assume")
    parser.add_argument("--sla-minutes", type=int, default=30, help="confirmation SLA the labels assume")
    parser.add_argument("--business-timezone", default="UTC", help="timezone of accounting periods")
    parser.add_argument("--format", choices=["csv", "parquet"], default="csv", help="input file format")
    parser.add_argument("--processor-shapes", nargs="+", choices=PROCESSOR_SHAPES, default=["generic"],
                        help="write processor refunds in these shapes; refunds are spread over them")
    parser.add_argument("--storefront-shape", choices=STOREFRONT_SHAPES, default="generic",
                        help="write storefront refunds in this shape")
    parser.add_argument("--erp-shape", choices=ERP_SHAPES, default="generic",
                        help="write ERP postings in this shape")
    return parser


def main(argv: list[str] | None = None) -> int:
    options = parser()
    args = options.parse_args(argv)
    if not 0 <= args.fault_rate + args.trap_rate + args.id_fault_rate <= 1 or args.id_fault_rate < 0:
        options.error("--fault-rate plus --trap-rate plus --id-fault-rate must be between 0 and 1")
    args.processor_shapes = list(dict.fromkeys(args.processor_shapes))
    if args.processor_shapes == ["adyen"]:
        options.error("adyen alone cannot carry pending refunds (it notifies none): add another processor shape")

    scenario = Scenario(args)
    if scenario.shaped and args.format != "csv":
        options.error("shaped inputs are written as CSV only")
    if scenario.shaped and args.id_fault_rate:
        options.error("--id-fault-rate writes the generic input format only")
    summary = write_scenario(args, scenario)
    print(json.dumps(summary["rows"]), file=sys.stderr)
    return 0
