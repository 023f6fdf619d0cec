"""Compare two checkpoint databases model by model: does a database after a
sequence of checkpoints hold what a fresh full build of the same files at the
same as_of holds?

    python scripts/compare_builds.py SEQUENCE.duckdb FRESH.duckdb
    python scripts/compare_builds.py --with-history AFTER.duckdb BEFORE.duckdb

Every table of FRESH is compared (views read the same files) as a multiset of
rows (every column), except what is history by design: fct_variance_history,
fct_checkpoint_runs, fct_checkpoint_sources and fct_checkpoint_totals record each checkpoint, and fct_refund_variances
carries when a variance was first seen (first_detected_at,
days_since_first_detected and the sentence that states them). Exit 1 and a
list of the models that differ.

--with-history compares those too: two single builds of the same files at the
same as_of (a change to the project before and after) hold the same history.
"""

from __future__ import annotations

import sys

import duckdb

# Different by design between N daily checkpoints and one full build.
HISTORY_MODELS = {"fct_variance_history", "fct_checkpoint_runs", "fct_checkpoint_sources", "fct_checkpoint_totals",
                  "checkpoint_attempts"}
HISTORY_COLUMNS = {"fct_refund_variances": {"first_detected_at", "days_since_first_detected", "detail"}}


def differences(incremental: str, full: str, with_history: bool = False) -> dict[str, tuple[int, int, int]]:
    """{schema.model: (rows in full, rows only in incremental, rows only in full)} for every compared model;
    `with_history`: the history models and columns too."""
    found: dict[str, tuple[int, int, int]] = {}
    with duckdb.connect() as con:
        con.execute(f"attach '{incremental}' as incremental_build (read_only)")
        con.execute(f"attach '{full}' as full_build (read_only)")
        models = con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = 'full_build' "
            "order by 1, 2").fetchall()
        for schema, model in models:
            if model in HISTORY_MODELS and not with_history:
                continue
            columns = [name for (name,) in con.execute(
                "select column_name from duckdb_columns() where database_name = 'full_build' "
                "and schema_name = ? and table_name = ? order by column_index", [schema, model]).fetchall()
                if with_history or name not in HISTORY_COLUMNS.get(model, set())]
            select = ", ".join(f'"{name}"' for name in columns)
            one = f'select {select} from incremental_build."{schema}"."{model}"'
            other = f'select {select} from full_build."{schema}"."{model}"'
            only_incremental = con.execute(f"select count(*) from ({one} except all {other})").fetchone()[0]
            only_full = con.execute(f"select count(*) from ({other} except all {one})").fetchone()[0]
            rows = con.execute(f"select count(*) from ({other})").fetchone()[0]
            found[f"{schema}.{model}"] = (rows, only_incremental, only_full)
    return found


def main() -> int:
    args = sys.argv[1:]
    with_history = args[:1] == ["--with-history"]
    args = args[1:] if with_history else args
    if len(args) != 2:
        print(__doc__)
        return 2
    found = differences(args[0], args[1], with_history)
    differ = {name: figures for name, figures in found.items() if figures[1] or figures[2]}
    for name, (rows, only_incremental, only_full) in found.items():
        state = "equal" if name not in differ else f"DIFFERS: {only_incremental} rows only incremental, {only_full} only full"
        print(f"{name}: {rows:,} rows, {state}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
