"""The one way this project starts dbt from Python: a subprocess of the dbt
that sits beside this interpreter, with the project's profiles and a chosen
DuckDB file. A subprocess, not dbtRunner in-process: a finished dbt leaves
no open handle on the database file, so the runner can swap the file in.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

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
    """The command line of `dbt <command>` on the project."""
    argv = [dbt_executable(), "--no-use-colors", command, "--project-dir", str(project_dir),
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


def run_dbt(command: str, *args: str, database: Path | None = None, dbt_vars: dict | None = None,
            target: str | None = None, artifacts: Path | None = None, capture: bool = False,
            project_dir: Path = PROJECT_DIR, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`dbt <command>` on the project, into `database`; `artifacts` is a folder for
    target/ and logs/ (default the project's own). Output goes to the terminal
    unless `capture`."""
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
