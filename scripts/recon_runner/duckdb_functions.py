"""SQL functions the project adds to DuckDB: a dbt-duckdb plugin (profiles.yml,
`plugins`), registered on every connection a DuckDB target opens.

refund_recon_file_md5(path): the md5 of a file's bytes (hex), read in 1 MiB
pieces. The on-run-start hook knows each input file by its content
(macros/inputs/register_refund_inputs.sql); DuckDB's own md5(content) over
read_blob holds the whole file in memory at once, so a file larger than
DuckDB's memory_limit (a 2.6 GB processor export at 10M refunds, against the
default 3GB) failed the build before any model ran.
"""

from __future__ import annotations

import hashlib
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin

CHUNK_BYTES = 1 << 20


def file_md5(path: str | None) -> str | None:
    """The md5 of the file at `path` (hex), or None for None."""
    if path is None:
        return None
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for piece in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(piece)
    return digest.hexdigest()


def register(connection: Any) -> None:
    """Add the project's functions to a DuckDB connection."""
    connection.create_function("refund_recon_file_md5", file_md5, ["VARCHAR"], "VARCHAR")


class Plugin(BasePlugin):
    def configure_connection(self, conn: Any) -> None:
        register(conn)
