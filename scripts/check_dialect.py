#!/usr/bin/env python3
"""Fail when DuckDB-only SQL appears outside a dispatched macro.

Models, tests, macros and analyses must run on every warehouse: DuckDB-only functions
and syntax belong in a dialect's implementation macro (`duckdb__...`, picked
by adapter.dispatch) or a macro whose name starts with `duckdb_` (called only
on DuckDB). Exit 1 and
list each place otherwise.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

DUCKDB_ONLY = [
    "regexp_full_match", "regexp_matches", "try_cast", "strftime", "strptime", "string_split", "str_split",
    "list_value", "struct_pack", "epoch_ms", "date_diff", "date_sub", "timezone", "read_csv", "read_parquet",
    "read_blob", "glob", "list_aggregate", "array_agg_distinct", "regexp_extract", "printf", "hash",
]
SYNTAX = [
    (re.compile(r"::\s*[a-z]"), "::"),
    (re.compile(r"\bgroup\s+by\s+all\b", re.I), "group by all"),
    (re.compile(r"\border\s+by\s+all\b", re.I), "order by all"),
    (re.compile(r"\bqualify\b", re.I), "qualify"),
    (re.compile(r"\bexclude\s*\(", re.I), "exclude ("),
]
# Not preceded by a dot: `dbt.hash(` and Python's `.strftime(` in Jinja are not SQL.
FUNCTION = re.compile(r"(?<![.\w])(" + "|".join(DUCKDB_ONLY) + r")\s*\(", re.I)
DISPATCHED = re.compile(r"^(?!default__)[a-z]+__")
MACRO = re.compile(r"{%-?\s*macro\s+([A-Za-z0-9_]+)")
END_MACRO = re.compile(r"{%-?\s*endmacro")
COMMENT = re.compile(r"{#.*?#}", re.S)


def problems_in(path: Path, root: Path) -> list[str]:
    text = COMMENT.sub(lambda match: "\n" * match.group(0).count("\n"), path.read_text(encoding="utf-8"))
    found = []
    macro: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        opened = MACRO.search(line)
        if opened:
            macro = opened.group(1)
        code = re.sub(r"--.*$", "", line)
        # A dialect's own implementation behind adapter.dispatch (duckdb__x,
        # postgres__x, ...) or a DuckDB-only helper (duckdb_x) may use its dialect.
        allowed = macro is not None and (bool(DISPATCHED.match(macro)) or macro.startswith("duckdb_"))
        if not allowed:
            hits = [match.group(1).lower() for match in FUNCTION.finditer(code)]
            hits += [name for pattern, name in SYNTAX if pattern.search(code)]
            where = f" (in macro {macro})" if macro else ""
            found += [f"{path.relative_to(root)}:{number}: {hit}{where}" for hit in hits]
        if END_MACRO.search(line):
            macro = None
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent,
                        help="project folder (default: this project)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    files = sorted(p for folder in ("models", "tests", "macros", "analyses") for p in (root / folder).rglob("*.sql"))
    problems = [problem for path in files for problem in problems_in(path, root)]
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} DuckDB-only constructs outside a dispatched macro: move each into a "
              "duckdb__ implementation behind adapter.dispatch.")
        return 1
    print(f"dialect check: {len(files)} files, no DuckDB-only SQL outside dispatched macros")
    return 0


if __name__ == "__main__":
    sys.exit(main())
