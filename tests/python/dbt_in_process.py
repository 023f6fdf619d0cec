"""dbt for the tests' own builds, in one long-lived process per pytest worker.

A `dbt build` started as a new process spends about half of a small
scenario's CPU before it runs a node: importing dbt, generating its
manifest's (de)serializers, reading the saved parse. Measured 2026-12-07, the
oracle's seed-and-model build of the bundled sample: 9.0 CPU-seconds as a
subprocess, 4.8 in a process that has run dbt before. The tests' reference and
fixture builds (conftest.dbt_build, checkpoint_world's oracle, a test's own
`dbt build`) run here; the checkpoint runner keeps its subprocess, the path
users run.

It also turns on dbt's cache for test runs (dbt_common.tests): a Jinja
source is parsed once in the process, not again in every command; what is
rendered and run is unchanged (the cache is keyed by the source text).

The process is spawned, not forked, and is the pytest worker's child: dbt's
working directory, environment and globals stay out of the worker, and a
crash loses only that process (the next call starts another). It runs one
command at a time, with the arguments, environment (recon_runner.dbt.dbt_env)
and working directory `run_dbt` gives a subprocess, and returns the same
CompletedProcess: dbt's exit code (0, 1 for a failed node, 2 for an error
before or outside the nodes) and what it printed.
"""

from __future__ import annotations

import atexit
import multiprocessing
import subprocess
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from recon_runner.dbt import PROJECT_DIR, dbt_argv, dbt_env, invoke, keep_parse_of_this_project

_pool: ProcessPoolExecutor | None = None
cpu_seconds = 0.0   # used by the dbt process's commands so far (conftest's per-file CPU figures add it)


def _cpu() -> float:
    import resource

    return sum(usage.ru_utime + usage.ru_stime for usage in (
        resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)))


def _invoke(argv: list[str], env: dict[str, str], cwd: str) -> tuple[int, str, float]:
    """In the dbt process: one dbt command, as `dbt <argv>` run in `cwd` with `env` (recon_runner.dbt.invoke,
    the database closed after it, dbt's Jinja cache for test runs on); its exit code, what it printed and
    the CPU seconds it used."""
    started = _cpu()
    code, text = invoke(argv, env, cwd, capture=True, cache_jinja=True)
    return code, text, _cpu() - started


def _shutdown() -> None:
    if _pool is not None:
        _pool.shutdown(cancel_futures=True)


def run_dbt_in_process(command: str, *args: str, database: Path | None = None, dbt_vars: dict | None = None,
                       target: str | None = None, artifacts: Path | None = None, project_dir: Path = PROJECT_DIR,
                       env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`recon_runner.dbt.run_dbt(..., capture=True)` in the dbt process: stdout holds everything
    dbt printed, stderr is empty."""
    global _pool, cpu_seconds
    argv = dbt_argv(command, *args, dbt_vars=dbt_vars, target=target, artifacts=artifacts, project_dir=project_dir)
    keep_parse_of_this_project(artifacts, project_dir)
    if _pool is None:
        _pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        atexit.register(_shutdown)
    try:
        code, text, used = _pool.submit(_invoke, argv[1:], dbt_env(database, env), str(project_dir)).result()
    except BrokenProcessPool:
        _pool = None   # the process died (killed, out of memory): the next command starts a new one
        raise
    cpu_seconds += used
    return subprocess.CompletedProcess(argv, code, text, "")
