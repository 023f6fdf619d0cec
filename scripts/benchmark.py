#!/usr/bin/env python3
"""Benchmark the project against the hand-written limit and against pandas.

For each size it generates a labelled scenario with the project's generator
(three systems, about 1% faults; --fault-rate for a broken integration's
share), then measures on the same files, side by
side: `dbt parse`; the full `dbt build`; the time to verdict (the
checkpoint's first build: the verdict's models and data tests); models
(`dbt run`) and tests (`dbt test`) separately; the hand-written DuckDB script
(benchmarks/reference.sql); and the pandas implementation
(benchmarks/pandas_reconcile.py). Every measurement is a child process whose
wall time and peak resident memory are recorded; the median of --runs is
reported. The reference and pandas variances are checked against the
project's before anything is timed. Results go to BENCHMARKS.md with the
machine they ran on and where the time goes (dbt's run_results.json).

Apache Spark (--spark-sizes, default 100k): `dbt build --target spark` of the
same files on a local Spark session (dbt-spark `session`, docs/spark.md),
unit tests left out as in the DuckDB build, its variances checked against
DuckDB's. Skipped with a note when pyspark or Java is missing.

The daily checkpoint (--daily-days N, default 3, sizes up to --daily-max-size): the same scenario split into
a history file and N daily delivery files per input (split_deliveries.py);
the runner (scripts/checkpoint.py) checkpoints the history, then each day at
its own as_of, as a scheduler would run it: copy of the database, the
verdict's build, the verdict (its time from the start: the daily time to
verdict), the rest of the build, swap, report. Then one plain full `dbt build` of the same files at the last
as_of, in a fresh database; every model of the last checkpoint is checked
equal to it (compare_builds.py) before the figures count.

BENCHMARKS.md is written down to the line HAND_WRITTEN_MARKER; what follows it
(the analysis) is kept.

--smoke checks correctness only (one size, one run, no timing table).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import textwrap
from datetime import datetime, timezone
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
AS_OF = "2026-03-01T00:00:00Z"
HAND_WRITTEN_MARKER = "<!-- Written by hand from here on: scripts/benchmark.py keeps what follows. -->"

from compare_builds import differences  # this script's folder is on sys.path
from recon_runner.checkpoint import phase_selection
from recon_runner.dbt import dbt_argv, duckdb_memory_limit
from split_deliveries import split

# Runs `argv` as its own child and prints its wall seconds and peak RSS (KiB) as JSON, with
# `verdict_seconds`: when the runner printed its "Verdict:" line (the checkpoint's time to verdict).
MEASURE = textwrap.dedent("""
    import json, resource, subprocess, sys, time
    start = time.perf_counter()
    verdict = None
    with subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as child:
        for line in child.stdout:
            if verdict is None and line.startswith("Verdict:"):
                verdict = time.perf_counter() - start
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"seconds": seconds, "peak_kib": peak, "code": child.returncode, "verdict_seconds": verdict}))
""")

REFERENCE_RUNNER = textwrap.dedent("""
    import duckdb, string, sys
    from pathlib import Path
    sql = string.Template(Path(sys.argv[1]).read_text()).substitute(
        data_dir=sys.argv[2], seeds_dir=sys.argv[3], as_of=sys.argv[4].replace('T', ' ').rstrip('Z'),
        sla_seconds=1800, tolerance='0', timezone='UTC')
    con = duckdb.connect()
    con.execute(f"set memory_limit = '{sys.argv[6]}'" if len(sys.argv) > 6 else "select 1")
    con.execute(sql)
    if len(sys.argv) > 5 and sys.argv[5]:
        con.execute(f"copy (select * from variances) to '{sys.argv[5]}' (header, delimiter ',')")
""")

# Reads the three input files into tables as the project's hook does (serial
# CSV reader, every column as text): what any checkpoint over full-history
# files pays before it can know which rows changed.
READ_RUNNER = textwrap.dedent("""
    import duckdb, sys
    con = duckdb.connect()
    con.execute(f"set memory_limit = '{sys.argv[2]}'")
    for name in ("storefront_refunds", "processor_refunds", "erp_refund_postings"):
        con.execute(f\"\"\"create table {name} as select row_number() over () as n, * from read_csv(
            '{sys.argv[1]}/{name}.csv', header = true, all_varchar = true, quote = '"', escape = '"',
            null_padding = true, parallel = false, strict_mode = false)\"\"\")
""")

PANDAS_RUNNER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from benchmarks.pandas_reconcile import reconcile  # run from the project folder (measure's cwd)
    found = reconcile(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3])
    if len(sys.argv) > 4:
        found.to_csv(sys.argv[4], index=False)
""")


def verdict(check: bool | None) -> str:
    return "matches" if check else ("did not finish" if check is None else "DIFFERS")


def measure(argv: list[str], env: dict[str, str] | None = None, ok_codes: tuple[int, ...] = (0,)) -> dict:
    result = subprocess.run([PYTHON, "-c", MEASURE, *argv], capture_output=True, text=True,
                            env={**os.environ, **(env or {})}, cwd=PROJECT_DIR)
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    if figures["code"] not in ok_codes:
        # Recorded, not fatal: a path that fails (out of memory, say) is a result too.
        print(f"  FAILED (exit {figures['code']}): {' '.join(argv[:3])} ...", flush=True)
        figures["failed"] = True
    return figures


def dbt_args(command: str, work: Path, data: Path, *extra: str, as_of: str = AS_OF) -> list[str]:
    return dbt_argv(command, *extra, dbt_vars={"data_dir": str(data), "as_of": as_of}, target="duckdb", artifacts=work)


DEFAULT_FAULT_RATE = 0.01
fault_rate = DEFAULT_FAULT_RATE   # --fault-rate: the generator's share of cases with one injected fault


def scenario_folder(root: Path, size: int) -> Path:
    """Where the scenario of `size` refunds at the --fault-rate lives (generated once, then reused)."""
    return root / (f"n{size}" if fault_rate == DEFAULT_FAULT_RATE else f"n{size}_faults{fault_rate:g}")


def generate(size: int, folder: Path) -> None:
    marker = folder / "scenario.json"
    if marker.exists() and json.loads(marker.read_text()).get("refunds_requested") == size:
        return
    print(f"  generating {size:,} refunds in {folder}", flush=True)
    subprocess.run([PYTHON, str(PROJECT_DIR / "scripts" / "generate_sample_data.py"), "--out", str(folder),
                    "--refunds", str(size), "--seed", "2026", "--fault-rate", str(fault_rate), "--trap-rate", "0.01"],
                   check=True, capture_output=True)


def variance_set(path: Path) -> set[tuple[str, str, str]]:
    import csv

    with open(path, newline="", encoding="utf-8") as handle:
        return {(row["refund_id"], row["variance_type"], row["discrepancy_system"]) for row in csv.DictReader(handle)}


def project_variances(database: Path, out: Path) -> set[tuple[str, str, str]]:
    import duckdb

    with duckdb.connect(str(database), read_only=True) as con:
        con.execute(f"copy (select refund_id, variance_type, discrepancy_system from fct_refund_variances) "
                    f"to '{out}' (header, delimiter ',')")
    return variance_set(out)


def slowest_models(work: Path, top: int = 6) -> list[tuple[str, float]]:
    results = json.loads((work / "target" / "run_results.json").read_text())["results"]
    timed = [(r["unique_id"].split(".")[-1], r["execution_time"]) for r in results if r["unique_id"].startswith("model.")]
    return sorted(timed, key=lambda item: -item[1])[:top]


def bench_size(size: int, root: Path, runs: int, smoke: bool, memory_limit: str, pandas_max: int) -> dict:
    folder = scenario_folder(root, size)
    data = folder / "data"
    generate(size, data)
    rows = json.loads((data / "scenario.json").read_text())["rows"]
    work = folder / "work"
    database = work / "recon.duckdb"
    env = {"REFUND_RECON_DUCKDB": str(database), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
           "REFUND_RECON_DUCKDB_MEMORY_LIMIT": memory_limit}
    reference_cmd = [PYTHON, "-c", REFERENCE_RUNNER, str(PROJECT_DIR / "benchmarks" / "reference.sql"), str(data),
                     str(PROJECT_DIR / "seeds"), AS_OF]
    pandas_cmd = [PYTHON, "-c", PANDAS_RUNNER, str(data), str(PROJECT_DIR / "seeds"), AS_OF]

    def fresh_database() -> None:
        for leftover in (database, database.with_name(database.name + ".wal")):
            leftover.unlink(missing_ok=True)

    def fresh_seeded_database() -> None:
        fresh_database()
        measure(dbt_args("seed", work, data), env)

    timings: dict[str, list[dict]] = {name: [] for name in
                                      ("parse", "build", "verdict", "run", "variance_path", "test", "reference",
                                       "pandas", "read")}
    result: dict = {"size": size, "rows": rows}
    for run in range(1 if smoke else runs):
        print(f"[{size:,}] run {run + 1}/{1 if smoke else runs}" + (" (also the correctness check)" if run == 0 else ""),
              flush=True)
        fresh_database()
        # The daily checkpoint's build, as the runner runs it: models and data
        # tests; the unit tests test the code and run in CI, not on the data.
        timings["build"].append(measure(dbt_args("build", work, data, "--exclude-resource-type", "unit_test"), env))
        if run == 0:
            # Correctness first: the three paths give the same variances.
            project = project_variances(database, folder / "project_variances.csv")
            result["slowest_models"] = slowest_models(work)
            timings["reference"].append(measure([*reference_cmd, str(folder / "reference_variances.csv"), memory_limit]))
            (folder / "pandas_variances.csv").unlink(missing_ok=True)
            if size <= pandas_max:
                timings["pandas"].append(measure([*pandas_cmd, str(folder / "pandas_variances.csv")]))
            # None: the path did not finish (out of memory, say); False: it finished with other variances.
            checks = {name: variance_set(folder / f"{name}_variances.csv") == project
                      if (folder / f"{name}_variances.csv").exists() else None for name in ("reference", "pandas")}
            result.update(variances=len(project), checks=checks, pandas_run=size <= pandas_max)
            print(f"  {len(project):,} variances; reference {verdict(checks['reference'])}, "
                  f"pandas {verdict(checks['pandas'])}", flush=True)
            if smoke:
                return result
        else:
            timings["reference"].append(measure([*reference_cmd, "", memory_limit]))
            if size <= pandas_max:
                timings["pandas"].append(measure(pandas_cmd))
        timings["parse"].append(measure(dbt_args("parse", work, data, "--no-partial-parse"), env))
        timings["read"].append(measure([PYTHON, "-c", READ_RUNNER, str(data), memory_limit]))
        # The models the reference also computes (fct_refund_variances and what
        # it is built from): the project's cost for the same work, apart from
        # the marts the reference has no counterpart for (audit trail, report).
        fresh_seeded_database()
        timings["variance_path"].append(measure(dbt_args("run", work, data, "--select", "+fct_refund_variances"), env))
        fresh_seeded_database()
        timings["run"].append(measure(dbt_args("run", work, data), env))
        timings["test"].append(measure(dbt_args("test", work, data, "--exclude-resource-type", "unit_test"), env))
        # Time to verdict: the checkpoint's first build (the verdict's models and data tests,
        # recon_runner.checkpoint.phase_selection), from an empty database as the build above.
        fresh_database()
        timings["verdict"].append(measure(dbt_args("build", work, data, "--exclude-resource-type", "unit_test",
                                                   *phase_selection("verdict")), env))
    result["median_seconds"] = {k: statistics.median(t["seconds"] for t in v)
                                if v and not any(t.get("failed") for t in v) else None for k, v in timings.items()}
    result["peak_mib"] = {k: max(t["peak_kib"] for t in v) / 1024 if v else None for k, v in timings.items()}
    return result


def bench_daily(size: int, root: Path, days: int, memory_limit: str) -> dict:
    """The runner over the history, then `days` daily deliveries; then a fresh full build of the same files; checked equal."""
    folder = scenario_folder(root, size)
    deliveries = folder / "deliveries"
    manifest = split(folder / "data", deliveries, days)
    work = folder / "daily"
    shutil.rmtree(work, ignore_errors=True)
    inputs = work / "data"
    daily_db, full_db = work / "daily.duckdb", work / "full.duckdb"
    env = {"DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "REFUND_RECON_DUCKDB_MEMORY_LIMIT": memory_limit}
    runs = []
    for day in range(days + 1):
        for name in manifest["rows"]:
            (inputs / name).mkdir(parents=True, exist_ok=True)
            os.link(deliveries / name / f"day-{day:03d}.csv", inputs / name / f"day-{day:03d}.csv")
        print(f"[{size:,}] daily checkpoint {day}/{days}" + (" (history)" if day == 0 else ""), flush=True)
        # Exit 0, 1 and 2 (clean, variances_found, stale_sources) are completed checkpoints.
        run = measure([PYTHON, str(PROJECT_DIR / "scripts" / "checkpoint.py"), "run", "--data-dir", str(inputs),
                       "--as-of", manifest["as_of"][day], "--database", str(daily_db),
                       "--reports-dir", str(work / "reports")], env, ok_codes=(0, 1, 2))
        runs.append(run)
    # The runner keeps dbt's artifacts beside its database (<database>.dbt/).
    slowest = slowest_models(daily_db.with_name(daily_db.name + ".dbt"))
    print(f"[{size:,}] fresh full build of the same files", flush=True)
    full = measure(dbt_args("build", work, inputs, "--exclude-resource-type", "unit_test", as_of=manifest["as_of"][-1]),
                   {**env, "REFUND_RECON_DUCKDB": str(full_db)})
    found = differences(str(daily_db), str(full_db))
    differ = sorted(name for name, (_, only_daily, only_full) in found.items() if only_daily or only_full)
    print(f"  last daily checkpoint equals the fresh build: {'yes' if not differ else 'NO: ' + ', '.join(differ)}",
          flush=True)
    new_rows = [sum(counts) for counts in zip(*manifest["rows"].values())]  # every input, per delivery
    totals = list(itertools.accumulate(new_rows))  # rows read so far
    daily = runs[1:]
    return {
        "days": days,
        "history_seconds": runs[0]["seconds"],
        "daily_seconds": [run["seconds"] for run in daily],
        "daily_verdict_seconds": [run.get("verdict_seconds") for run in daily],
        "daily_peak_mib": max(run["peak_kib"] for run in daily) / 1024,
        "database_mib": daily_db.stat().st_size / 2**20,
        "full_seconds": full["seconds"],
        "full_peak_mib": full["peak_kib"] / 1024,
        "failed": any(run.get("failed") for run in [*runs, full]),
        "new_row_share": [new_rows[day] / totals[day] for day in range(1, days + 1)],
        "equal": not differ,
        "differ": differ,
        "slowest_models": slowest,
    }


SPARK_VARIANCES = textwrap.dedent("""
    import sys
    from pyspark.sql import SparkSession
    spark_dir = sys.argv[1]
    session = (SparkSession.builder.master("local[2]").config("spark.sql.session.timeZone", "UTC")
               .config("spark.sql.warehouse.dir", spark_dir + "/warehouse")
               .config("spark.hadoop.javax.jdo.option.ConnectionURL",
                       "jdbc:derby:;databaseName=" + spark_dir + "/metastore_db;create=true")
               .config("spark.ui.enabled", "false").enableHiveSupport().getOrCreate())
    rows = session.table("refund_recon.fct_refund_variances").select(
        "refund_id", "variance_type", "discrepancy_system").collect()
    with open(sys.argv[2], "w", newline="", encoding="utf-8") as out:
        import csv
        writer = csv.writer(out)
        writer.writerow(["refund_id", "variance_type", "discrepancy_system"])
        writer.writerows(tuple(row) for row in rows)
    session.stop()
""")


def bench_spark(size: int, root: Path) -> dict:
    """`dbt build --target spark` of the same files on a local Spark session; its variances against DuckDB's."""
    import importlib.util

    missing = [name for name in ("pyspark", "dbt.adapters.spark") if importlib.util.find_spec(name) is None]
    if missing or not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        reason = f"not installed: {', '.join(missing)}" if missing else "no Java"
        print(f"[{size:,}] Spark skipped ({reason})", flush=True)
        return {"skipped": reason}
    folder = scenario_folder(root, size)
    work = folder / "spark"
    shutil.rmtree(work, ignore_errors=True)
    print(f"[{size:,}] dbt build --target spark (local session)", flush=True)
    build = measure(dbt_argv("build", "--exclude-resource-type", "unit_test", target="spark", artifacts=work,
                             dbt_vars={"data_dir": str(folder / "data"), "as_of": AS_OF}),
                    {"REFUND_RECON_SPARK_DIR": str(work / "warehouse"), "REFUND_RECON_SPARK_SCHEMA": "refund_recon",
                     "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"})
    # No peak memory: the JVM pyspark starts is not a child the measurement waits for.
    result = {"seconds": build["seconds"], "failed": bool(build.get("failed"))}
    if not result["failed"]:
        out = folder / "spark_variances.csv"
        subprocess.run([PYTHON, "-c", SPARK_VARIANCES, str(work / "warehouse"), str(out)], check=True,
                       capture_output=True, cwd=PROJECT_DIR)
        result["equal"] = variance_set(out) == variance_set(folder / "project_variances.csv")
        print(f"  Spark {result['seconds']:.0f} s; variances equal to DuckDB's: {result['equal']}", flush=True)
    return result


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory = next((int(line.split()[1]) // 1024 // 1024 for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), 0)
    return f"{os.cpu_count()} cores ({cpu}), {memory} GiB, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def median_of(values: list[float | None] | None) -> float | None:
    """The median, or None when a value is missing (a run that never printed its verdict)."""
    return None if not values or None in values else statistics.median(values)


def write_markdown(results: list[dict], out: Path, runs: int, large_runs: int, memory_limit: str) -> None:
    lines = [
        "# Benchmarks", "",
        f"Measured by `scripts/benchmark.py` on {datetime.now(timezone.utc):%Y-%m-%d}: {machine()}.",
        f"Wall time: the median of {runs} run{'s' if runs != 1 else ''} ({large_runs} at 10M); peak resident memory of the measured process (dbt, with DuckDB in it; the reference and pandas scripts). Each size is a generated "
        f"scenario ({fault_rate:.0%} of cases with a fault, 1% clean traps), as_of 2026-03-01. DuckDB `memory_limit` "
        f"{memory_limit} for the build and the reference script (--memory-limit; the profile's default is "
        f"{duckdb_memory_limit(from_env=False)}, env REFUND_RECON_DUCKDB_MEMORY_LIMIT).", "",
        "| refunds | input rows (storefront / processor / ERP) | variances | dbt parse | dbt build "
        "| time to verdict (the verdict's build) | dbt run (models) "
        "| dbt run, variance path only | dbt test | reference SQL | pandas | run / reference "
        "| variance path / reference | build / reference | verdict / reference | pandas / build | build peak MiB "
        "| pandas peak MiB | build peak / pandas peak | reference peak MiB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    def fmt(value: float | None, suffix: str = " s", ran: bool = True, digits: int = 1) -> str:
        return "not run" if not ran else ("failed" if value is None else f"{value:.{digits}f}{suffix}")

    def ratio(numerator: float | None, denominator: float | None) -> str:
        return "n/a" if numerator is None or denominator is None else f"{numerator / denominator:.2f}x"

    for r in results:
        t, m, rows = r["median_seconds"], r["peak_mib"], r["rows"]
        lines.append(
            f"| {r['size']:,} | {rows['storefront']:,} / {rows['processor']:,} / {rows['erp']:,} | {r['variances']:,} "
            f"| {fmt(t['parse'])} | {fmt(t['build'])} | {fmt(t.get('verdict'))} | {fmt(t['run'])} "
            f"| {fmt(t.get('variance_path'))} "
            f"| {fmt(t['test'])} | {fmt(t['reference'])} "
            f"| {fmt(t['pandas'], ran=r.get('pandas_run', True))} | {ratio(t['run'], t['reference'])} "
            f"| {ratio(t.get('variance_path'), t['reference'])} "
            f"| {ratio(t['build'], t['reference'])} | {ratio(t.get('verdict'), t['reference'])} "
            f"| {ratio(t['pandas'], t['build'])} | {m['build']:.0f} "
            f"| {fmt(m['pandas'], '', ran=r.get('pandas_run', True), digits=0)} | {ratio(m['build'], m['pandas'])} "
            f"| {m['reference']:.0f} |")
    lines += ["", "Correctness (same variances as the project, checked before timing):", ""]
    lines += [f"- {r['size']:,}: reference {verdict(r['checks']['reference'])}, pandas "
              + (verdict(r['checks']['pandas']) if r.get("pandas_run", True) else "not run at this size (--pandas-max-size)")
              for r in results]
    lines += ["", "Reading the three input files alone (the serial CSV reader the project uses, every column as "
              "text), which any checkpoint over full-history files pays before it knows what changed:", ""]
    lines += [f"- {r['size']:,}: {fmt(r['median_seconds'].get('read'))}, "
              f"{ratio(r['median_seconds'].get('read'), r['median_seconds']['build'])} of the build" for r in results]
    lines += ["", "Where the build's time goes (slowest models, seconds, from run_results.json):", ""]
    for r in results:
        lines.append(f"- {r['size']:,}: " + ", ".join(f"{name} {seconds:.1f}" for name, seconds in r["slowest_models"]))
    daily = [r for r in results if r.get("daily")]
    if daily:
        lines += ["", "## Daily checkpoint", "",
                  "The scenario split into a history file and daily delivery files per input (split_deliveries.py): "
                  "the runner checkpoints the history, then each day at its own as_of (copy of the database, full "
                  "build of models and data tests, swap, report files); then one plain `dbt build` of the same files "
                  "at the last as_of in a fresh database. One run each.", "",
                  "| refunds | days | new rows per day (share of all rows) | first checkpoint (history) "
                  "| daily checkpoint (median; min to max) | daily time to verdict (median) | plain full build "
                  "| daily / plain build | daily peak MiB "
                  "| database file MiB | every model equal to the fresh build |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in daily:
            d = r["daily"]
            seconds = d["daily_seconds"]
            median = statistics.median(seconds)
            lines.append(
                f"| {r['size']:,} | {d['days']} | {min(d['new_row_share']):.1%} to {max(d['new_row_share']):.1%} "
                f"| {d['history_seconds']:.1f} s | {median:.1f} s; {min(seconds):.1f} to {max(seconds):.1f} s "
                f"| {fmt(median_of(d.get('daily_verdict_seconds')))} | {d['full_seconds']:.1f} s | {median / d['full_seconds']:.0%} | {d['daily_peak_mib']:.0f} "
                f"| {d['database_mib']:.0f} | {'yes' if d['equal'] else 'NO: ' + ', '.join(d['differ'])}"
                f"{' (a run failed)' if d['failed'] else ''} |")
        lines += ["", "Where the last daily checkpoint's time goes (slowest models, seconds, from run_results.json):", ""]
        lines += [f"- {r['size']:,}: " + ", ".join(f"{name} {seconds:.1f}" for name, seconds in r["daily"]["slowest_models"])
                  for r in daily]
    spark = [r for r in results if r.get("spark")]
    if spark:
        lines += ["", "## Apache Spark", "",
                  "`dbt build --target spark` (unit tests left out, as in the DuckDB build) of the same files on a local "
                  "Spark session in the dbt process (dbt-spark `session`, `local[2]`, profiles.yml defaults), beside "
                  "DuckDB's build of the same size. One run. A local Spark is one JVM on this machine, not a cluster: "
                  "the figure is Spark's fixed cost per statement and its single-machine execution, and says nothing "
                  "about how a cluster scales.", "",
                  "| refunds | Spark build | DuckDB build | Spark / DuckDB | variances equal to DuckDB's |",
                  "|---|---|---|---|---|"]
        for r in spark:
            s = r["spark"]
            if "skipped" in s:
                lines.append(f"| {r['size']:,} | skipped: {s['skipped']} | {fmt(r['median_seconds']['build'])} | | |")
                continue
            lines.append(
                f"| {r['size']:,} | {'failed' if s['failed'] else fmt(s['seconds'])} | {fmt(r['median_seconds']['build'])} "
                f"| {'n/a' if s['failed'] else ratio(s['seconds'], r['median_seconds']['build'])} "
                f"| {'n/a' if s['failed'] else ('yes' if s['equal'] else 'NO')} |")
    lines += ["", "## Cost growth", "",
              "Wall time against refunds (seconds, and seconds per million refunds):", "",
              "| refunds | checkpoint build | per 1M | reference SQL | per 1M | daily checkpoint (median) | per 1M |",
              "|---|---|---|---|---|---|---|"]
    for r in results:
        t = r["median_seconds"]
        day = statistics.median(r["daily"]["daily_seconds"]) if r.get("daily") else None
        per = [f"{fmt(value, '', ran)} | {fmt(None if value is None else value / r['size'] * 1e6, '', ran)}"
               for value, ran in ((t["build"], True), (t["reference"], True), (day, day is not None))]
        lines.append(f"| {r['size']:,} | " + " | ".join(per) + " |")
    kept = ""
    if out.exists() and HAND_WRITTEN_MARKER in out.read_text(encoding="utf-8"):
        kept = out.read_text(encoding="utf-8").split(HAND_WRITTEN_MARKER, 1)[1]
    lines += ["", HAND_WRITTEN_MARKER]
    out.write_text("\n".join(lines) + (kept if kept else "\n"), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000],
                        help="processor refunds per scenario (default 100k 1M 10M)")
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement; the median is reported")
    parser.add_argument("--large-runs", type=int, default=1,
                        help="runs for sizes of 5 million and more (default 1: each run takes tens of minutes)")
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/refund_recon_benchmark"),
                        help="where scenarios and databases go (generated scenarios are reused)")
    parser.add_argument("--out", type=Path, default=PROJECT_DIR / "BENCHMARKS.md", help="the results table")
    parser.add_argument("--fault-rate", type=float, default=DEFAULT_FAULT_RATE,
                        help="share of generated cases with one injected fault (default 0.01; 0.3: a broken integration)")
    parser.add_argument("--smoke", action="store_true", help="correctness of the three paths only, no timing")
    parser.add_argument("--memory-limit", default=duckdb_memory_limit(),
                        help="DuckDB memory_limit for the build and the reference (default: the profile's default)")
    parser.add_argument("--pandas-max-size", type=int, default=2_000_000,
                        help="largest size the pandas path runs at (default 2M: at 10M it needs more than 23 GiB)")
    parser.add_argument("--daily-days", type=int, default=3,
                        help="daily deliveries checkpointed by the runner after the history (default 3; 0: none)")
    parser.add_argument("--daily-max-size", type=int, default=1_000_000,
                        help="largest size the daily checkpoint runs at (default 1M)")
    parser.add_argument("--spark-sizes", type=int, nargs="*", default=[100_000],
                        help="sizes (among --sizes) also built on a local Spark session (default 100k; none: skip)")
    args = parser.parse_args(argv)
    global fault_rate
    fault_rate = args.fault_rate
    results = []
    for size in args.sizes:
        results.append(bench_size(size, args.work_dir, args.large_runs if size >= 5_000_000 else args.runs, args.smoke,
                                  args.memory_limit, args.pandas_max_size))
        if args.daily_days and not args.smoke and size <= args.daily_max_size:
            results[-1]["daily"] = bench_daily(size, args.work_dir, args.daily_days, args.memory_limit)
        if size in args.spark_sizes and not args.smoke:
            results[-1]["spark"] = bench_spark(size, args.work_dir)
        (args.work_dir / "results.json").write_text(json.dumps(results, indent=2, default=str))
        if not args.smoke:  # after each size, so a long run that stops keeps what it measured
            write_markdown(results, args.out, args.runs, args.large_runs, args.memory_limit)
            print(f"wrote {args.out}", flush=True)
    ok = all(check is True for r in results for name, check in r["checks"].items()
             if name != "pandas" or r.get("pandas_run", True)) and all(r["daily"]["equal"] for r in results if "daily" in r) \
        and all(r["spark"].get("equal", True) for r in results if "spark" in r)
    print("all paths agree" if ok else "PATHS DISAGREE")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
