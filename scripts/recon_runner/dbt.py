"""How this project starts dbt from Python, with the project's profiles and a
chosen DuckDB file: `run_dbt`, a subprocess of the dbt beside this
interpreter, or a `DbtSession`, one process that runs several dbt
commands (a checkpoint's two builds) and pays dbt's start once. Neither runs
dbt in the caller's process: the caller reads, copies and renames the
database file between and after the commands, with no handle of dbt's left
open on it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parents[2]


def duckdb_memory_limit(from_env: bool = True) -> str:
    """DuckDB's memory_limit for a build: env REFUND_RECON_DUCKDB_MEMORY_LIMIT, else profiles.yml's default."""
    if from_env and os.environ.get("REFUND_RECON_DUCKDB_MEMORY_LIMIT"):
        return os.environ["REFUND_RECON_DUCKDB_MEMORY_LIMIT"]
    found = re.search(r"env_var\('REFUND_RECON_DUCKDB_MEMORY_LIMIT', '([^']+)'\)",
                      (PROJECT_DIR / "profiles.yml").read_text(encoding="utf-8"))
    if not found:
        raise RuntimeError("profiles.yml: no default for env REFUND_RECON_DUCKDB_MEMORY_LIMIT")
    return found.group(1)


def dbt_executable() -> str:
    beside = Path(sys.executable).with_name("dbt")
    return str(beside) if beside.exists() else "dbt"


def dbt_argv(command: str, *args: str, dbt_vars: dict | None = None, target: str | None = None,
             artifacts: Path | None = None, project_dir: Path = PROJECT_DIR) -> list[str]:
    """The command line of `dbt <command>` on the project (`command` may name a subcommand:
    "source freshness")."""
    argv = [dbt_executable(), "--no-use-colors", *command.split(), "--project-dir", str(project_dir),
            "--profiles-dir", str(project_dir)]
    if target:
        argv += ["--target", target]
    if artifacts is not None:
        argv += ["--target-path", str(artifacts / "target"), "--log-path", str(artifacts / "logs")]
    if dbt_vars:
        argv += ["--vars", json.dumps(dbt_vars)]
    return [*argv, *args]


def dbt_env(database: Path | None = None, env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment dbt runs in: `database` is the DuckDB file every DuckDB target writes."""
    full_env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", **(env or {})}
    if database is not None:
        full_env["REFUND_RECON_DUCKDB"] = str(database)
        full_env["REFUND_RECON_PROD_DUCKDB"] = str(database)
    return full_env


def keep_parse_of_this_project(artifacts: Path | None, project_dir: Path) -> None:
    """Remove dbt's saved parse in `artifacts` (target/partial_parse.msgpack) unless it was made
    from `project_dir`, and record that the next one will be (target/partial_parse.project).

    dbt reuses its saved parse when the project's files have the same contents, wherever the
    project now is, and a seed's node keeps the folder it was parsed in: dbt loads the seed's
    file from there. A checkpoint's artifacts live beside its database, not in the project, so
    after a run from a copy of the project (another checkout, a release folder), a run from the
    project itself loaded every seed it had not changed from the copy: the copy's edited
    mapping, or a failed seed once the copy was gone. Unknown origin counts as another project:
    one full parse, never a seed read from elsewhere."""
    if artifacts is None:
        return
    target = artifacts / "target"
    recorded = target / "partial_parse.project"
    here = str(project_dir.resolve())
    try:
        same = recorded.read_text(encoding="utf-8") == here
    except OSError:
        same = False
    if not same:
        (target / "partial_parse.msgpack").unlink(missing_ok=True)
        target.mkdir(parents=True, exist_ok=True)
        recorded.write_text(here, encoding="utf-8")


def run_dbt(command: str, *args: str, database: Path | None = None, dbt_vars: dict | None = None,
            target: str | None = None, artifacts: Path | None = None, capture: bool = False,
            project_dir: Path = PROJECT_DIR, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`dbt <command>` on the project, into `database`; `artifacts` is a folder for
    target/ and logs/ (default the project's own). Output goes to the terminal
    unless `capture`."""
    keep_parse_of_this_project(artifacts, project_dir)
    return subprocess.run(dbt_argv(command, *args, dbt_vars=dbt_vars, target=target, artifacts=artifacts,
                                   project_dir=project_dir),
                          cwd=project_dir, env=dbt_env(database, env), text=True, capture_output=capture,
                          stdin=subprocess.DEVNULL)


def relation_parts(name: str, artifacts: Path | None = None) -> tuple[str, str]:
    """(schema, identifier) where dbt built model or seed `name`, from the manifest
    of the build whose target/ is under `artifacts` (default the project's): no
    schema name (main, main_intermediate, ...) is written in Python. KeyError
    when the build has no such node."""
    manifest = (artifacts or PROJECT_DIR) / "target" / "manifest.json"
    nodes = json.loads(manifest.read_text(encoding="utf-8"))["nodes"]
    for node in nodes.values():
        if node["resource_type"] in ("model", "seed") and node["name"] == name:
            return node["schema"], node.get("alias") or node["name"]
    raise KeyError(f"{manifest}: no model or seed named {name!r}")


def quoted(*parts: str | None) -> str:
    """A qualified SQL name, each part double-quoted: "base"."main"."fct_x"."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in parts if part)


def relation(name: str, artifacts: Path | None = None, database: str | None = None) -> str:
    """`"schema"."identifier"` of model or seed `name` (relation_parts), prefixed
    with `database` (an attached DuckDB file) when given."""
    return quoted(database, *relation_parts(name, artifacts))


_parsed: dict[tuple[str, ...], Any] = {}   # in a DbtSession's process: parse argv -> dbt's Manifest


def invoke(argv: list[str], env: dict[str, str], cwd: str, capture: bool = False,
           cache_jinja: bool = False, parse_argv: list[str] | None = None) -> tuple[int, str]:
    """In a process that runs dbt commands (DbtSession, the tests' dbt process):
    `dbt <argv>` in `cwd` with `env`, then dbt-duckdb's database closed so the
    caller can read, copy or move the file. (dbt's exit code: 0, 1 for a failed
    node, 2 for an error before or outside the nodes; what it printed when
    `capture`, else it prints to this process's stdout.) `cache_jinja`: dbt's
    test-run cache of parsed Jinja sources (dbt_common.tests), for the tests.
    `parse_argv`: `dbt parse` with the same project, vars and target, run once
    in this process; every command given the same one runs on its manifest
    (no parse, no manifest.json written again)."""
    import contextlib
    import io

    from dbt.cli.main import dbtRunner

    if cache_jinja:
        from dbt_common.tests import enable_test_caching

        enable_test_caching()
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed) if capture else contextlib.nullcontext(), \
                contextlib.redirect_stderr(printed) if capture else contextlib.nullcontext():
            manifest = _parsed.get(tuple(parse_argv)) if parse_argv else None
            result = None
            if parse_argv and manifest is None:
                result = dbtRunner().invoke(parse_argv)
                if result.success:
                    manifest = _parsed[tuple(parse_argv)] = result.result
            if not parse_argv or manifest is not None:
                result = dbtRunner(manifest=manifest).invoke(argv)
    finally:
        close_duckdb()
        sys.stdout.flush()
    text = printed.getvalue()
    code = 0 if result.success else 1 if result.exception is None else 2
    if result.exception is not None and str(result.exception) not in text:
        message = f"\nEncountered an error:\n{result.exception}\n"   # an error before dbt's logging started
        text += message
        if not capture:
            print(message, flush=True)
    return code, text


def close_duckdb() -> None:
    """Close the database dbt-duckdb keeps open in this process for its next
    command (its class-level environment: dbt-duckdb 1.11 has no public call
    for this; test_verdict_first.py reads the database between the two builds)."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:   # another adapter: nothing held in-process
        return
    if DuckDBConnectionManager._ENV is not None:
        DuckDBConnectionManager._ENV.close()
    DuckDBConnectionManager.close_all_connections()


class DbtSession:
    """dbt commands in one process of their own, one at a time: `run` takes
    run_dbt's arguments and returns its CompletedProcess (dbt prints to this
    process's stdout). A checkpoint's verdict build and the build after it
    share one dbt start and one parse: the first command of a project, vars
    and target runs `dbt parse` first (which writes target/manifest.json),
    and every command runs on that manifest.

    The process is `python -m recon_runner.dbt` (serve, below), given its
    commands on one pipe and answering on another: a new interpreter that
    imports nothing of the caller's (multiprocessing's spawn would import the
    caller's __main__ again, running a script's unguarded code twice). If it
    dies (killed, out of memory), `run` returns its negative exit code (or
    -9) and the next command starts another process."""

    def __init__(self) -> None:
        self._process: subprocess.Popen | None = None
        self._requests: Any = None
        self._replies: Any = None

    def __enter__(self) -> "DbtSession":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        if self._process is None:
            return
        for pipe in (self._requests, self._replies):
            try:
                pipe.close()
            except OSError:
                pass
        try:
            self._process.wait(timeout=60)   # it ends when its request pipe closes
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def _start(self, project_dir: Path) -> None:
        requests_read, requests_write = os.pipe()
        replies_read, replies_write = os.pipe()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "recon_runner.dbt", str(requests_read), str(replies_write)],
            pass_fds=(requests_read, replies_write), stdin=subprocess.DEVNULL, cwd=project_dir)
        os.close(requests_read)
        os.close(replies_write)
        self._requests = os.fdopen(requests_write, "w", encoding="utf-8")
        self._replies = os.fdopen(replies_read, "r", encoding="utf-8")

    def run(self, command: str, *args: str, database: Path | None = None, dbt_vars: dict | None = None,
            target: str | None = None, artifacts: Path | None = None, project_dir: Path = PROJECT_DIR,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        argv = dbt_argv(command, *args, dbt_vars=dbt_vars, target=target, artifacts=artifacts,
                        project_dir=project_dir)
        parse_argv = dbt_argv("parse", dbt_vars=dbt_vars, target=target, artifacts=artifacts,
                              project_dir=project_dir)[1:]
        keep_parse_of_this_project(artifacts, project_dir)
        if self._process is None:
            self._start(project_dir)
        sys.stdout.flush()
        request = {"argv": argv[1:], "env": dbt_env(database, env), "cwd": str(project_dir), "parse_argv": parse_argv}
        try:
            self._requests.write(json.dumps(request) + "\n")
            self._requests.flush()
            reply = self._replies.readline()
        except OSError:
            reply = ""
        if not reply:   # the process ended without answering
            process, self._process = self._process, None
            code = process.wait()
            return subprocess.CompletedProcess(argv, code if code < 0 else -9)
        return subprocess.CompletedProcess(argv, json.loads(reply)["code"])


def serve(requests_fd: int, replies_fd: int) -> None:
    """A DbtSession's process: one JSON request per line on `requests_fd`
    (argv, env, cwd, parse_argv), one {"code": ...} line back on `replies_fd`
    when it has run; ends when the request pipe closes."""
    with os.fdopen(requests_fd, "r", encoding="utf-8") as requests, \
            os.fdopen(replies_fd, "w", encoding="utf-8") as replies:
        for line in requests:
            request = json.loads(line)
            code, _ = invoke(request["argv"], request["env"], request["cwd"], parse_argv=request["parse_argv"])
            replies.write(json.dumps({"code": code}) + "\n")
            replies.flush()


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]))
