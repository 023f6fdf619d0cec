#!/usr/bin/env python3
"""How good are the suggested matches? fct_suggested_matches against a
labelled scenario with dropped and mistyped processor refund ids.

    python scripts/suggestion_quality.py --refunds 20000 --seed 5 --id-fault-rate 0.1

Generates the scenario (generate_sample_data.py --id-fault-rate: the true
counterparts in suggestion_truth.csv, near twins and the other unlinked
records with none), runs dbt on the suggestion path (+fct_suggested_matches)
with every candidate kept (var suggested_match_min_score 0) into a DuckDB
file of its own, and prints for each threshold:

* found: the planted faults whose rank-1 suggestion is the true counterpart
  under both variances of the pair (the unlinked record's and the processor
  refund's);
* right: the rank-1 suggestions shown (score at least the threshold) that
  name the true counterpart, among all rank-1 suggestions shown, those for
  records with no true counterpart included.

Keeping every candidate and filtering afterwards gives what the mart shows at
each threshold: the rank orders by score first, so the rank-1 candidate at a
threshold is the overall rank-1 when its score reaches it.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

from recon_runner.dbt import PROJECT_DIR, relation, run_dbt

DEFAULT_MIN_SCORE = Decimal("0.7")
SWEEP = [Decimal(t) for t in ("0.5", "0.6", "0.65", "0.7", "0.75", "0.8", "0.85", "0.9")]


def read_truth(path: Path) -> dict[tuple[str, str], tuple[str, str]]:
    """(record_system, record_id) -> (processor_refund_id, id_fault) for each planted fault."""
    with open(path, newline="", encoding="utf-8") as handle:
        return {(row["record_system"], row["record_id"]): (row["processor_refund_id"], row["id_fault"])
                for row in csv.DictReader(handle)}


def measure(con, truth: dict[tuple[str, str], tuple[str, str]], min_score: Decimal, matches: str) -> dict:
    """The quality figures of the rank-1 suggestions of fct_suggested_matches at `min_score`.

    `con` is a DuckDB connection to a built database, `matches` the relation of its
    fct_suggested_matches (recon_runner.dbt.relation)."""
    rows = con.execute(
        "select variance_id, system, record_id, candidate_system, candidate_record_id, score "
        f"from {matches} where rank = 1 and score >= ?", [min_score]).fetchall()
    by_processor = {(system, processor_id): record_id for (system, record_id), (processor_id, _) in truth.items()}
    top: dict[tuple[str, str, str], str] = {}  # (system, record_id, candidate_system) -> candidate_record_id
    right = 0
    for _, system, record_id, candidate_system, candidate_record_id, _ in rows:
        top[(system, record_id, candidate_system)] = candidate_record_id
        if system == "processor":
            right += by_processor.get((candidate_system, record_id)) == candidate_record_id
        else:
            right += truth.get((system, record_id), (None,))[0] == candidate_record_id
    found_by_fault: dict[str, list[int]] = {}
    for (system, record_id), (processor_id, fault) in truth.items():
        found = (top.get((system, record_id, "processor")) == processor_id
                 and top.get(("processor", processor_id, system)) == record_id)
        counts = found_by_fault.setdefault(f"{system}:{fault}", [0, 0])
        counts[0] += found
        counts[1] += 1
    found_total = sum(found for found, _ in found_by_fault.values())
    return {
        "min_score": str(min_score),
        "planted": len(truth),
        "found": found_total,
        "found_share": found_total / len(truth) if truth else None,
        "found_by_fault": {key: {"found": found, "planted": planted}
                           for key, (found, planted) in sorted(found_by_fault.items())},
        "rank1_shown": len(rows),
        "rank1_right": right,
        "right_share": right / len(rows) if rows else None,
    }


def build(work: Path, refunds: int, seed: int, id_fault_rate: float) -> tuple[Path, Path, float]:
    """Generate and run the suggestion path: (data folder, database, dbt seconds)."""
    import time

    data = work / "data"
    subprocess.run([sys.executable, str(PROJECT_DIR / "scripts" / "generate_sample_data.py"), "--out", str(data),
                    "--refunds", str(refunds), "--seed", str(seed), "--id-fault-rate", str(id_fault_rate)],
                   check=True, capture_output=True)
    settings = json.loads((data / "scenario.json").read_text())
    database = work / "suggestions.duckdb"
    dbt_vars = {"data_dir": str(data), "as_of": settings["as_of"], "business_timezone": settings["business_timezone"],
                "confirmation_sla_minutes": settings["confirmation_sla_minutes"], "suggested_match_min_score": 0}
    started = time.monotonic()
    for command, *args in (["seed"], ["run", "--select", "+fct_suggested_matches"]):
        result = run_dbt(command, *args, database=database, dbt_vars=dbt_vars, artifacts=work, capture=True)
        if result.returncode:
            raise SystemExit(f"dbt {command} failed:\n{(result.stdout + result.stderr)[-3000:]}")
    return data, database, time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--refunds", type=int, default=20000, help="scenario size (default 20000)")
    parser.add_argument("--seed", type=int, default=5, help="generator seed (default 5)")
    parser.add_argument("--id-fault-rate", type=float, default=0.1, help="generator --id-fault-rate (default 0.1)")
    parser.add_argument("--work", type=Path, help="folder for the scenario and database (default: a temporary one)")
    args = parser.parse_args(argv)
    import duckdb

    with tempfile.TemporaryDirectory() as scratch:
        work = args.work or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        data, database, seconds = build(work, args.refunds, args.seed, args.id_fault_rate)
        truth = read_truth(data / "suggestion_truth.csv")
        with duckdb.connect(str(database), read_only=True) as con:
            unlinked = con.execute(
                f"select variance_type, count(*) from {relation('fct_refund_variances', work)} where variance_type in "
                "('orphan_erp_posting', 'missing_in_erp', 'missing_at_processor', 'missing_in_storefront') "
                "group by 1 order by 1").fetchall()
            results = [measure(con, truth, threshold, relation('fct_suggested_matches', work)) for threshold in SWEEP]
    print(f"refunds {args.refunds:,}, seed {args.seed}, id-fault-rate {args.id_fault_rate}; dbt seed + run of "
          f"+fct_suggested_matches {seconds:.1f} s")
    print("unlinked variances: " + ", ".join(f"{kind} {count:,}" for kind, count in unlinked))
    print("| min score | planted faults | found (rank 1 right from both sides) | rank-1 shown | rank-1 right |")
    print("|---|---|---|---|---|")
    for result in results:
        mark = " (default)" if Decimal(result["min_score"]) == DEFAULT_MIN_SCORE else ""
        found = f"{result['found']:,} ({result['found_share']:.1%})"
        right = f"{result['rank1_right']:,} ({result['right_share']:.1%})" if result["rank1_shown"] else "none shown"
        print(f"| {result['min_score']}{mark} | {result['planted']:,} | {found} | {result['rank1_shown']:,} | {right} |")
    default = next(result for result in results if Decimal(result["min_score"]) == DEFAULT_MIN_SCORE)
    print("by fault at the default: " + ", ".join(
        f"{key} {value['found']}/{value['planted']}" for key, value in default["found_by_fault"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
