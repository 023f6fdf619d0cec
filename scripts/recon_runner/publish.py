"""Publish the marts of a completed checkpoint where BI tools read them.

The checkpoint database is the finance history: one writer (the runner),
and DuckDB lets a file be open for writing by one process only. A BI tool
that opens it read-write (DuckDB's default) would block the next checkpoint.
So after every completed checkpoint the marts (every model under
models/marts/, found from dbt's manifest) are copied out, as plain tables,
into a folder of their own:

    <bi dir>/<published>-<checkpoint_id>/refund_recon_bi.duckdb
    <bi dir>/<published>-<checkpoint_id>/<mart>.parquet      (one per mart)
    <bi dir>/<published>-<checkpoint_id>/publication.json   (what, when, row counts)
    <bi dir>/current -> <published>-<checkpoint_id>
    <bi dir>/current.txt   (a text file: "<published>-<checkpoint_id>\n")

The folder is written under a hidden name, renamed when complete, and then
`current` is switched to it in one rename of a symlink, and `current.txt`
rewritten in one rename: a reader opening bi/current/... sees one whole
checkpoint, never a mix; a reader that opens several files reads
current.txt once and opens them all under the folder it names (a symlink
followed file by file could move between two of them). The DuckDB file is
written in storage version STORAGE_VERSION, which the DuckDB releases BI
tools embed (1.2 and later) can open, not in the writer's newest format. `current` only moves
forward in as_of: a re-run of an older checkpoint is published under its
own folder and `current` stays on the newer one. Nothing is ever written
into a folder once published, so a reader holding a file open (even
read-write) neither blocks the next checkpoint nor sees it change.

The folder's ledger, <bi dir>/.publications.json, names the checkpoint
database it belongs to and every folder publishing created: a BI folder of
another database is refused, and pruning removes only folders in the
ledger (anything else in the folder is left alone). The last `keep` are
kept; older ones are deleted unless `current` points there (a reader
holding a deleted file keeps reading it: POSIX unlink).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

BI_DATABASE = "refund_recon_bi.duckdb"
CURRENT = "current"
CURRENT_FILE = "current.txt"   # not CURRENT: macOS and Windows names ignore case
# The oldest storage format the BI file is written in: DuckDB 1.2 and later
# read it (Evidence, Metabase's and Superset's drivers embed 1.x releases).
STORAGE_VERSION = "v1.2.0"
PUBLICATION = "publication.json"
LEDGER = ".publications.json"
RUNNER_TABLES = ("checkpoint_attempts",)


@dataclass(frozen=True)
class Mart:
    name: str      # the table name readers see (the model's alias)
    schema: str    # its schema in the checkpoint database


def marts_from_manifest(manifest: Path) -> list[Mart]:
    """Every enabled model whose file is under models/marts/, from dbt's manifest."""
    nodes = json.loads(manifest.read_text(encoding="utf-8"))["nodes"].values()
    found = {Mart(node.get("alias") or node["name"], node["schema"]) for node in nodes
             if node.get("resource_type") == "model"
             and node.get("original_file_path", "").replace("\\", "/").startswith("models/marts/")}
    return sorted(found, key=lambda mart: mart.name)


def marts_in(con: Any, manifest: Path | None) -> list[Mart]:
    """The marts to publish: the manifest's, those present in the database
    (attached as `prod`); without a manifest, every table of schema main but
    the runner's own log."""
    tables = {(schema, name) for schema, name in con.execute(
        "select schema_name, table_name from duckdb_tables() where database_name = 'prod'").fetchall()}
    if manifest is not None and manifest.exists():
        marts = marts_from_manifest(manifest)
        missing = [mart.name for mart in marts if (mart.schema, mart.name) not in tables]
        if missing:
            raise RuntimeError(f"marts missing from the checkpoint database: {', '.join(missing)}")
        return marts
    return sorted((Mart(name, schema) for schema, name in tables if schema == "main" and name not in RUNNER_TABLES),
                  key=lambda mart: mart.name)


def folder_name(checkpoint_id: str, published: datetime, bi_dir: Path) -> str:
    """<published>-<checkpoint_id>: names sort in publishing order (a backfill
    published later sorts later), and never reuse a folder."""
    base = f"{published:%Y%m%dT%H%M%SZ}-{checkpoint_id}"
    name, counter = base, 1
    while (bi_dir / name).exists() or (bi_dir / f".building-{name}").exists():
        counter += 1
        name = f"{base}-{counter}"
    return name


def parquet_select(con: Any, mart: Mart) -> str:
    """The mart's columns for Parquet: HUGEINT (no Parquet type; DuckDB would
    write a double) as decimal(38, 0), so integers stay exact."""
    columns = con.execute(
        "select column_name, data_type from duckdb_columns() where database_name = 'bi' and schema_name = 'main' "
        "and table_name = ? order by column_index", [mart.name]).fetchall()
    parts = [f'cast("{name}" as decimal(38, 0)) as "{name}"' if kind in ("HUGEINT", "UHUGEINT") else f'"{name}"'
             for name, kind in columns]
    return f"select {', '.join(parts)} from bi.main.\"{mart.name}\""


def literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def write_folder(database: Path, folder: Path, manifest: Path | None) -> dict[str, int]:
    """The BI database and one Parquet file per mart, in `folder`; returns the row counts."""
    import duckdb

    folder.mkdir(parents=True)
    target = folder / BI_DATABASE
    counts: dict[str, int] = {}
    with duckdb.connect() as con:
        con.execute(f"attach {literal(database)} as prod (read_only)")
        con.execute(f"attach {literal(target)} as bi (storage_version '{STORAGE_VERSION}')")
        for mart in marts_in(con, manifest):
            con.execute(f'create table bi.main."{mart.name}" as select * from prod."{mart.schema}"."{mart.name}"')
            counts[mart.name] = con.execute(f'select count(*) from bi.main."{mart.name}"').fetchone()[0]
            source = con.execute(f'select count(*) from prod."{mart.schema}"."{mart.name}"').fetchone()[0]
            if counts[mart.name] != source:
                raise RuntimeError(f"{mart.name}: {counts[mart.name]} rows copied, {source} in the database")
            con.execute(f"copy ({parquet_select(con, mart)}) to {literal(folder / (mart.name + '.parquet'))} "
                        "(format parquet)")
        con.execute("checkpoint bi")
        con.execute("detach bi")
        con.execute("detach prod")
    if target.with_name(target.name + ".wal").exists():
        raise RuntimeError(f"{target} kept a write-ahead log")
    return counts


def switch_current(bi_dir: Path, name: str) -> None:
    """`current` -> name and current.txt = name, each in one rename (a
    temporary symlink or file replaces it)."""
    temporary = bi_dir / f".{CURRENT}-{os.getpid()}"
    temporary.unlink(missing_ok=True)
    os.symlink(name, temporary)
    os.replace(temporary, bi_dir / CURRENT)
    pointer = bi_dir / f".{CURRENT_FILE}-{os.getpid()}"
    with open(pointer, "w", encoding="utf-8") as handle:
        handle.write(name + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(pointer, bi_dir / CURRENT_FILE)


def current_target(bi_dir: Path) -> str | None:
    link = bi_dir / CURRENT
    return os.readlink(link) if link.is_symlink() else None


def as_of_time(as_of: str) -> datetime:
    return datetime.fromisoformat(as_of.replace("Z", "+00:00")).replace(tzinfo=None)


def read_ledger(bi_dir: Path) -> dict[str, Any]:
    """{"database": path, "folders": {name: {"checkpoint_id", "as_of", "state"}}}; empty when new."""
    path = bi_dir / LEDGER
    if not path.exists():
        return {"database": None, "folders": {}}
    ledger = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(ledger, dict) or not isinstance(ledger.get("folders"), dict):
        raise RuntimeError(f"{path} is not a publication ledger")
    return ledger


def write_ledger(bi_dir: Path, ledger: dict[str, Any]) -> None:
    temporary = bi_dir / f"{LEDGER}.{os.getpid()}"
    temporary.write_text(json.dumps(ledger, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, bi_dir / LEDGER)


def prune(bi_dir: Path, keep: int) -> list[str]:
    """Delete the published folders in the ledger beyond the newest `keep`,
    never the one `current` points to, and any half-written folder a killed
    run left (the caller holds the checkpoint lock: no publish is under way).
    A folder the ledger does not list was not made here: it is left alone."""
    ledger = read_ledger(bi_dir)
    current = current_target(bi_dir)
    removed = []
    for path in bi_dir.glob(f".{CURRENT}-*"):   # a temporary link a killed run left
        if path.is_symlink():
            path.unlink(missing_ok=True)
    for path in bi_dir.glob(f".{CURRENT_FILE}-*"):   # a temporary pointer a killed run left
        if path.is_file() and not path.is_symlink():
            path.unlink(missing_ok=True)
    for name, entry in list(ledger["folders"].items()):
        if entry.get("state") != "published":
            shutil.rmtree(bi_dir / f".building-{name}", ignore_errors=True)
            del ledger["folders"][name]
    published = sorted(name for name in ledger["folders"] if (bi_dir / name).is_dir())
    for name in [name for name in ledger["folders"] if name not in published]:
        del ledger["folders"][name]            # removed by hand: forget it
    for name in published[:max(len(published) - keep, 0)]:
        if name != current:
            shutil.rmtree(bi_dir / name)
            del ledger["folders"][name]
            removed.append(name)
    write_ledger(bi_dir, ledger)
    return removed


def current_as_of(bi_dir: Path, ledger: dict[str, Any]) -> datetime | None:
    """The as_of of the publication `current` points to (ledger, else its publication.json)."""
    name = current_target(bi_dir)
    if name is None:
        return None
    entry = ledger["folders"].get(name)
    if entry is None:
        try:
            entry = json.loads((bi_dir / name / PUBLICATION).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
    return as_of_time(entry["as_of"]) if entry.get("as_of") else None


def publish(database: Path, bi_dir: Path, checkpoint_id: str, as_of: str, keep: int = 3,
            manifest: Path | None = None) -> dict[str, Any]:
    """Publish the marts of `database` (a completed checkpoint) into bi_dir and
    switch `current` to them unless `current` holds a later as_of. Raises on
    any failure (a BI folder of another database included); `current` then
    still points to the previous publication, whole."""
    published = datetime.now(timezone.utc).replace(microsecond=0)
    bi_dir.mkdir(parents=True, exist_ok=True)
    ledger = read_ledger(bi_dir)
    if ledger["database"] not in (None, str(database)):
        raise RuntimeError(f"{bi_dir} holds the publications of the checkpoint database {ledger['database']}, not "
                           f"of {database}: give this database its own --bi-dir")
    ledger["database"] = str(database)
    name = folder_name(checkpoint_id, published, bi_dir)
    building = bi_dir / f".building-{name}"
    ledger["folders"][name] = {"checkpoint_id": checkpoint_id, "as_of": as_of, "state": "building"}
    write_ledger(bi_dir, ledger)
    try:
        counts = write_folder(database, building, manifest)
        record = {"checkpoint_id": checkpoint_id, "as_of": as_of,
                  "published_at": published.strftime("%Y-%m-%dT%H:%M:%SZ"), "database": BI_DATABASE,
                  "tables": counts, "parquet": {table: f"{table}.parquet" for table in counts}}
        (building / PUBLICATION).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        os.rename(building, bi_dir / name)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        del ledger["folders"][name]
        write_ledger(bi_dir, ledger)
        raise
    ledger["folders"][name]["state"] = "published"
    write_ledger(bi_dir, ledger)
    newer = current_as_of(bi_dir, ledger)
    moved = newer is None or as_of_time(as_of) >= newer
    if moved:
        switch_current(bi_dir, name)
    removed = prune(bi_dir, keep)
    return {"published": True, "folder": str(bi_dir / name), "current": str(bi_dir / CURRENT),
            "current_moved": moved, "current_target": current_target(bi_dir),
            "duckdb": str(bi_dir / CURRENT / BI_DATABASE), "pointer": str(bi_dir / CURRENT_FILE),
            "tables": counts, "removed": removed}
