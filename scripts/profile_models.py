#!/usr/bin/env python3
"""Where a build's time goes, model by model (issue 15).

    python scripts/profile_models.py --data-dir DATA --as-of 2026-03-01T00:00:00Z --work-dir WORK [--out FILE]
    python scripts/profile_models.py --database WORK/recon.duckdb --target-dir WORK/target [--out FILE]

1. Runs one `dbt build --exclude-resource-type unit_test` into a fresh DuckDB
   file WORK/recon.duckdb (artifacts in WORK/target), or takes an already built
   database and the target/ folder of that build (--database, --target-dir).
2. For every enabled, non-ephemeral model in DAG order (target/manifest.json)
   runs its compiled SELECT once under `EXPLAIN (ANALYZE, FORMAT JSON)`
   against that database (read-only), so it reads the built upstream tables:
   seconds (wall, planning included), rows out, and the three operators with
   the most time. Incremental (history) models: the select as this build
   compiled it (with the incremental branch if the table existed before the
   build); the pre-hook's delete and the insert are not profiled.
3. Sums the data tests' times from run_results.json and lists the slowest.
4. Prints a markdown section and writes it to --out (default WORK/profile.md),
   with the figures as JSON beside it (WORK/profile.json).
"""

from __future__ import annotations

import argparse
import graphlib
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import duckdb


from recon_runner.dbt import PROJECT_DIR, dbt_argv, dbt_env, duckdb_memory_limit

SKIPPED_OPERATORS = {"RESULT_COLLECTOR", "EXPLAIN_ANALYZE", "QUERY"}


def build(data_dir: Path, as_of: str, work: Path, memory_limit: str) -> tuple[Path, float]:
    """One dbt build into a fresh WORK/recon.duckdb; (database, wall seconds)."""
    database = work / "recon.duckdb"
    for leftover in (database, database.with_name(database.name + ".wal")):
        leftover.unlink(missing_ok=True)
    argv = dbt_argv("build", "--exclude-resource-type", "unit_test", target="duckdb", artifacts=work,
                    dbt_vars={"data_dir": str(data_dir), "as_of": as_of})
    start = time.perf_counter()
    env = dbt_env(database, {"REFUND_RECON_DUCKDB_MEMORY_LIMIT": memory_limit})
    result = subprocess.run(argv, check=False, cwd=PROJECT_DIR, capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, env=env)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"dbt build failed (exit {result.returncode}):\n{result.stdout[-4000:]}{result.stderr[-2000:]}")
    return database, seconds


def models_in_dag_order(manifest: dict) -> list[dict]:
    """Enabled models that dbt materializes (not ephemeral), upstream first, ties by name."""
    models = {uid: node for uid, node in manifest["nodes"].items()
              if node["resource_type"] == "model" and node["config"].get("enabled", True)
              and node["config"]["materialized"] != "ephemeral"}
    sorter = graphlib.TopologicalSorter({uid: [up for up in node["depends_on"]["nodes"] if up in models]
                                         for uid, node in models.items()})
    sorter.prepare()
    ordered = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=lambda uid: models[uid]["name"])
        ordered += [models[uid] for uid in ready]
        sorter.done(*ready)
    return ordered


def compiled_select(node: dict, target_dir: Path) -> str:
    path = target_dir / "compiled" / node["package_name"] / node["original_file_path"]
    sql = path.read_text(encoding="utf-8") if path.exists() else node.get("compiled_code") or ""
    if not sql.strip():
        sys.exit(f"no compiled SQL for {node['name']} ({path}): was the model built?")
    return sql.strip().rstrip(";")


# DuckDB 2's JSON profile (requirements.txt pins duckdb): each node has name,
# timing (seconds, summed over threads), intermediate_rows (rows out), children.
def operators(node: dict) -> list[tuple[str, float, int]]:
    """Every operator under `node`: (name [table], seconds, rows out)."""
    found = []
    for child in node.get("children", []):
        if child["name"] not in SKIPPED_OPERATORS:
            table = child.get("extra_info", {}).get("Table")
            found.append((child["name"] + (f" {table.split('.')[-1]}" if table else ""), child["timing"],
                          child["intermediate_rows"]))
        found += operators(child)
    return found


def result_rows(node: dict) -> int:
    """Rows a plan node returns: a materialized CTE returns its last child's (the
    query after the definition); a UNION (0 in the profile) its children's sum."""
    if node["name"] in ("CTE", "EXPLAIN_ANALYZE", "RESULT_COLLECTOR"):
        return result_rows(node["children"][-1])
    if node["name"] == "UNION":
        return sum(result_rows(child) for child in node["children"])
    return node["intermediate_rows"]


def profile(database: Path, target_dir: Path, memory_limit: str, work: Path) -> tuple[list[dict], dict]:
    manifest = json.loads((target_dir / "manifest.json").read_text(encoding="utf-8"))
    run_results = json.loads((target_dir / "run_results.json").read_text(encoding="utf-8"))["results"]
    dbt_seconds = {r["unique_id"]: r["execution_time"] for r in run_results}
    models = models_in_dag_order(manifest)
    found = []
    with duckdb.connect() as con:
        # The compiled SQL names the catalog dbt saw (the build's file name): attach under that name.
        con.execute(f"attach '{database}' as \"{models[0]['database']}\" (read_only)")
        con.execute(f"use \"{models[0]['database']}\"")
        con.execute("set TimeZone = 'UTC'")  # as profiles.yml
        con.execute(f"set memory_limit = '{memory_limit}'")
        con.execute(f"set temp_directory = '{work / 'profile.tmp'}'")
        for node in models:
            sql = compiled_select(node, target_dir)
            start = time.perf_counter()
            profiled = json.loads(con.execute(f"explain (analyze, format json) {sql}\n").fetchone()[1])
            plan = {"children": profiled["operator"]}
            seconds = time.perf_counter() - start
            config = node["config"]["materialized"]
            found.append({
                "model": node["name"], "layer": node["fqn"][1] + ("" if config == "table" else f" ({config})"),
                "materialized": config, "relation": node["relation_name"], "seconds": seconds,
                "rows": result_rows(plan["children"][0]), "dbt_seconds": dbt_seconds.get(node["unique_id"]),
                "top_operators": sorted(operators(plan), key=lambda op: -op[1])[:3],
                "incremental_branch": config == "incremental" and node["relation_name"] in sql})
            print(f"  {node['name']}: {seconds:.2f} s, {found[-1]['rows']:,} rows", file=sys.stderr, flush=True)
    tests = sorted(((r["unique_id"].split(".")[2], r["execution_time"]) for r in run_results
                    if r["unique_id"].startswith("test.")), key=lambda test: -test[1])
    return found, {"count": len(tests), "seconds": sum(s for _, s in tests), "slowest": tests[:5]}


def markdown(models: list[dict], tests: dict, header: list[str], memory_limit: str) -> str:
    lines = ["## Where the time goes, model by model", "", *header, "",
             "| model | layer | rows | seconds | dbt seconds | top operators (seconds, rows out) |",
             "|---|---|---|---|---|---|"]
    for m in models:
        ops = "; ".join(f"{name} {s:.2f} s ({rows:,})" for name, s, rows in m["top_operators"])
        dbt = "n/a" if m["dbt_seconds"] is None else f"{m['dbt_seconds']:.2f}"
        lines.append(f"| {m['model']} | {m['layer']} | {m['rows']:,} | {m['seconds']:.2f} | {dbt} | {ops} |")
    layers: dict[str, list[dict]] = defaultdict(list)
    for m in models:
        layers[m["layer"]].append(m)
    lines += ["", "Totals per layer:", "", "| layer | models | seconds | dbt seconds |", "|---|---|---|---|"]
    for layer, members in layers.items():
        lines.append(f"| {layer} | {len(members)} | {sum(m['seconds'] for m in members):.2f} "
                     f"| {sum(m['dbt_seconds'] or 0 for m in members):.2f} |")
    lines.append(f"| all | {len(models)} | {sum(m['seconds'] for m in models):.2f} "
                 f"| {sum(m['dbt_seconds'] or 0 for m in models):.2f} |")
    lines += ["", f"Data tests: {tests['count']}, {tests['seconds']:.2f} s summed (run_results.json); the slowest:", ""]
    lines += [f"- {name} {seconds:.2f} s" for name, seconds in tests["slowest"]]
    incremental = [m["model"] for m in models if m["materialized"] == "incremental"]
    lines += ["", "Notes:", "",
              ("- seconds: the model's compiled select run once, alone, under `EXPLAIN ANALYZE` against the built "
              "database (upstream tables already built), with all of DuckDB's threads; dbt seconds: the model in the "
              "build (run_results.json), where dbt runs up to 2 models at once (REFUND_RECON_THREADS) and also "
               "writes the table. So neither column sums to the build's wall time, and they differ from each other."),
              ("- Operator seconds are DuckDB's per-operator timings (summed over its threads); rows out is the "
               "operator's output cardinality. A view's select is also paid inside every model that reads it."),
              (f"- DuckDB `memory_limit` {memory_limit} for the profiled selects (`SET memory_limit`; --memory-limit, "
               "default env REFUND_RECON_DUCKDB_MEMORY_LIMIT, else the profile's default).")]
    if incremental:
        branch = ("with the incremental predicate (reads its own table, as it is after the build); "
                  if any(m["incremental_branch"] for m in models)
                  else "the first-build branch (no incremental predicate: the table did not exist yet); ")
        lines.append(f"- Incremental history models ({', '.join(incremental)}): the select as this build compiled it, "
                     + branch
                     + "the pre-hook's delete and the insert are not profiled.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, help="input files to build from (not with --database)")
    parser.add_argument("--as-of", help="the checkpoint's as_of for the build, e.g. 2026-03-01T00:00:00Z")
    parser.add_argument("--work-dir", type=Path, help="where the build's database, target/ and outputs go")
    parser.add_argument("--database", type=Path, help="an already built DuckDB file: no build")
    parser.add_argument("--target-dir", type=Path, help="the target/ folder of the build of --database")
    parser.add_argument("--memory-limit", default=duckdb_memory_limit(),
                        help="DuckDB memory_limit for the build and the profiled selects "
                             "(default env REFUND_RECON_DUCKDB_MEMORY_LIMIT, else the profile's default)")
    parser.add_argument("--out", type=Path, help="the markdown section (default WORK/profile.md)")
    args = parser.parse_args(argv)
    if bool(args.database) != bool(args.target_dir):
        parser.error("--database and --target-dir go together")
    if not args.database and not (args.data_dir and args.as_of and args.work_dir):
        parser.error("a build needs --data-dir, --as-of and --work-dir (or give --database and --target-dir)")
    load_before = os.getloadavg()[0]  # other work on the machine inflates every figure
    work = (args.work_dir or args.target_dir.parent).resolve()
    work.mkdir(parents=True, exist_ok=True)
    if args.database:
        database, target_dir = args.database.resolve(), args.target_dir.resolve()
        built = f"Database {database} built earlier (its own memory_limit); artifacts {target_dir}."
    else:
        database, seconds = build(args.data_dir.resolve(), args.as_of, work, args.memory_limit)
        target_dir = work / "target"
        built = (f"`dbt build --exclude-resource-type unit_test` of {args.data_dir} at as_of {args.as_of}: "
                 f"{seconds:.1f} s wall, DuckDB `memory_limit` {args.memory_limit} "
                 "(env REFUND_RECON_DUCKDB_MEMORY_LIMIT).")
    models, tests = profile(database, target_dir, args.memory_limit, work)
    header = [(f"Profiled by `scripts/profile_models.py` on {datetime.now(UTC):%Y-%m-%d}: {os.cpu_count()} cores, "
               f"DuckDB {duckdb.__version__}, load average {load_before:.1f} at the start and "
               f"{os.getloadavg()[0]:.1f} at the end. {built}")]
    text = markdown(models, tests, header, args.memory_limit)
    out = args.out or work / "profile.md"
    out.write_text(text, encoding="utf-8")
    (work / "profile.json").write_text(json.dumps({"models": models, "tests": tests}, indent=2), encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
