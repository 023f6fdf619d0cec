"""The checkpoint database (the finance history) and how a checkpoint changes it.

A checkpoint never builds in the file readers use. It copies the database to
<file>.building beside it, builds there, and only when the verdict's build
and every data test of it passed renames the copy over the original (an
atomic rename on one filesystem), after the build that follows the verdict. A BI tool that has the old file open keeps reading the
old, complete state; the next connection sees the new one (a tool that opens
it read-write blocks the next checkpoint: BI tools read the copies publish.py
makes in bi/current/ instead). A failed build
leaves the original byte for byte as it was: its marts, its history, its
checkpoint runs. The failure is recorded in checkpoint_attempts, a table
only the runner writes, so it is never the "previous checkpoint".
"""

from __future__ import annotations

import fcntl
import os
import shutil
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

ATTEMPTS_TABLE = "checkpoint_attempts"
ATTEMPT_COLUMNS = {
    "attempt_id": "varchar",
    "checkpoint_id": "varchar",
    "as_of": "timestamp",
    "started_at": "timestamp",
    "finished_at": "timestamp",
    "outcome": "varchar",
    "exit_code": "integer",
    "reason": "varchar",
    "data_dir": "varchar",
}


class Busy(Exception):
    """Another checkpoint, or a process writing the database, holds it."""


class CheckpointError(Exception):
    """A checkpoint cannot go on; the message is one line naming what and where."""


def now_utc() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


@contextmanager
def exclusive(database: Path) -> Iterator[None]:
    """One checkpoint at a time per database file: a lock file beside it."""
    lock_path = database.with_name(database.name + ".lock")
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(lock_path, "a+", encoding="utf-8")
    except OSError as error:
        raise CheckpointError(f"cannot open the lock file {lock_path}: {error.strerror or error}") from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            raise Busy(f"another checkpoint is running on {database} ({handle.read().strip() or 'unknown holder'})") \
                from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {now_utc():%Y-%m-%dT%H:%M:%SZ}")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()


def _connect(database: Path, read_only: bool = False) -> Any:
    import duckdb

    try:
        return duckdb.connect(str(database), read_only=read_only)
    except duckdb.IOException as error:
        text = str(error).splitlines()[0]
        if "lock" in text.lower():
            raise Busy(f"another process holds {database} for writing ({text})") from None
        raise CheckpointError(f"cannot open {database}: {text}") from None


def settle(database: Path) -> None:
    """The database is one complete file, not held by a writer: a write-ahead
    log left by another process is merged into it first (so a copy of the
    file is the whole database). Raises Busy when a writer holds it."""
    if not database.exists():
        return
    wal = database.with_name(database.name + ".wal")
    if wal.exists():
        with _connect(database) as con:
            con.execute("checkpoint")
    else:
        _connect(database, read_only=True).close()


def work_copy(database: Path) -> Path:
    """A copy of the database beside it (a fresh file on the first checkpoint)."""
    work = database.with_name(database.name + ".building")
    discard(work)
    try:
        if database.exists():
            shutil.copyfile(database, work)
    except OSError as error:
        discard(work)
        raise CheckpointError(f"cannot copy {database} to {work}: {error.strerror or error}") from None
    return work


def discard(work: Path) -> None:
    for path in (work, work.with_name(work.name + ".wal")):
        path.unlink(missing_ok=True)


def publish(work: Path, database: Path) -> None:
    """The built copy becomes the database, in one rename (its write-ahead
    log, if dbt left one, merged into it first)."""
    if work.with_name(work.name + ".wal").exists():
        with _connect(work) as con:
            con.execute("checkpoint")
    if work.with_name(work.name + ".wal").exists():
        raise CheckpointError(f"{work} still has a write-ahead log after the build; not published")
    try:
        os.replace(work, database)
    except OSError as error:
        raise CheckpointError(f"cannot rename {work} to {database}: {error.strerror or error}") from None


def record_attempt(database: Path, attempt: dict[str, Any]) -> None:
    """Add one row to checkpoint_attempts (created on first use)."""
    columns = ", ".join(f"{name} {kind}" for name, kind in ATTEMPT_COLUMNS.items())
    with _connect(database) as con:
        con.execute(f"create table if not exists {ATTEMPTS_TABLE} ({columns})")
        con.execute(f"insert into {ATTEMPTS_TABLE} ({', '.join(ATTEMPT_COLUMNS)}) values "
                    f"({', '.join('?' for _ in ATTEMPT_COLUMNS)})", [attempt.get(name) for name in ATTEMPT_COLUMNS])


def read(database: Path, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    with _connect(database, read_only=True) as con:
        cursor = con.execute(sql, params or [])
        names = [item[0] for item in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]

