"""The checkpoint id and clock to the microsecond (issue 24, observation 14):
two checkpoints whose as_of differ by less than a second never share an id
(the report folder, the history key). The id is made in Python
(Settings.checkpoint_id) and in SQL (macros/settings/checkpoint_history.sql,
one per adapter): whole seconds keep today's id (cp_20260301T000000Z), a
fraction adds six digits of microseconds, the same text everywhere.

The SQL macros are rendered here from their files and run on DuckDB (always),
PostgreSQL (when a server is configured, as test_postgres.py) and Spark (when
pyspark and Java are there, as test_spark.py): no dbt build.
"""

from __future__ import annotations

import os
import re
from datetime import datetime

import duckdb
import jinja2
import pytest

from conftest import PROJECT_DIR
from recon_runner.cli import parse_args

MOMENTS = ["2026-03-01 00:00:00", "2026-03-01 00:00:00.5", "2026-03-01 00:00:00.000001",
           "2026-12-31 23:59:59.999999", "2026-03-01 00:00:00.123450"]
IDS = ["cp_20260301T000000Z", "cp_20260301T000000.500000Z", "cp_20260301T000000.000001Z",
       "cp_20261231T235959.999999Z", "cp_20260301T000000.123450Z"]


def macros() -> jinja2.runtime.TemplateModule:
    """macros/settings/*.sql as a jinja module, with what dbt would pass them."""
    source = "".join((PROJECT_DIR / "macros" / "settings" / name).read_text() for name in
                     ("settings.sql", "checkpoint_history.sql"))

    def fail(message: str) -> None:
        raise ValueError(message)

    env = jinja2.Environment(extensions=["jinja2.ext.do"])
    return env.from_string(source).make_module({
        "modules": type("Modules", (), {"re": re}), "refund_recon_fail": fail,
        "dbt": type("Dbt", (), {"type_timestamp": staticmethod(lambda: "timestamp")})})


def ids_in_sql(adapter: str, moments: list[str]) -> str:
    module = macros()
    render = getattr(module, f"{adapter}__format_checkpoint_id")
    return " union all ".join(f"select {index} as n, {render(f'cast({literal!r} as timestamp)')} as id"
                              for index, literal in enumerate(moments))


def expected(moments: list[str]) -> list[str]:
    """The runner's ids (Settings.checkpoint_id) of these moments."""
    return [parse_args(["run", "--as-of", moment.replace(" ", "T") + "Z"]).checkpoint_id for moment in moments]


def test_python_keeps_whole_seconds_and_adds_the_fraction() -> None:
    assert expected(MOMENTS) == IDS
    settings = parse_args(["run", "--as-of", "2026-03-01T00:00:00.5Z"])
    assert settings.as_of == "2026-03-01T00:00:00.500000Z" and settings.checkpoint_id == "cp_20260301T000000.500000Z"
    assert parse_args(["run", "--as-of", "2026-03-01T00:00:00Z"]).checkpoint_id == "cp_20260301T000000Z"
    assert parse_args(["run", "--as-of", "2026-03-01"]).as_of == "2026-03-01T00:00:00Z"
    # The default clock is now, to the microsecond: two runs a few microseconds apart differ.
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?Z", parse_args(["run"]).as_of)
    with pytest.raises(SystemExit) as refused:
        parse_args(["run", "--as-of", "2026-03-01T00:00:00.1234567Z"])   # would be cut silently
    assert refused.value.code == 64


def test_as_of_literal_keeps_the_microseconds() -> None:
    # Rendered with the var set, as dbt renders it.
    source = (PROJECT_DIR / "macros" / "settings" / "settings.sql").read_text()
    env = jinja2.Environment(extensions=["jinja2.ext.do"])
    started = datetime(2026, 3, 1, 0, 0, 0, 500000)   # a plain dbt build's clock: when it started
    for given, literal in (("2026-03-01T00:00:00.5Z", "2026-03-01 00:00:00.5"),
                           ("2026-03-01T00:00:00.500000Z", "2026-03-01 00:00:00.500000"),
                           ("2026-03-01T00:00:00Z", "2026-03-01 00:00:00"), ("", "2026-03-01 00:00:00.500000")):
        template = env.from_string(source + "{{ as_of_literal() }}")
        out = template.render(var=lambda name, default=None, given=given: given if name == "as_of" else default,
                              run_started_at=started, execute=True, env_var=lambda name, default=None: default,
                              modules=type("Modules", (), {"re": re}),
                              dbt=type("Dbt", (), {"type_timestamp": staticmethod(lambda: "timestamp")}))
        assert out.strip().endswith(f"cast('{literal}' as timestamp)"), out
    # The runner's way: var as_of unset, env REFUND_RECON_AS_OF read while executing, never while parsing.
    template = env.from_string(source + "{{ as_of_literal() }}")
    for executing, literal in ((True, "2026-03-01 00:00:00.250000"), (False, "2026-03-01 00:00:00.500000")):
        out = template.render(var=lambda name, default=None: default, run_started_at=started, execute=executing,
                              env_var=lambda name, default=None: "2026-03-01T00:00:00.250000Z"
                              if name == "REFUND_RECON_AS_OF" else default,
                              modules=type("Modules", (), {"re": re}),
                              dbt=type("Dbt", (), {"type_timestamp": staticmethod(lambda: "timestamp")}))
        assert out.strip().endswith(f"cast('{literal}' as timestamp)"), (executing, out)


def test_duckdb_macro_makes_the_same_ids() -> None:
    with duckdb.connect() as con:
        assert [row[1] for row in con.execute(ids_in_sql("duckdb", MOMENTS) + " order by n").fetchall()] == IDS


@pytest.mark.skipif(not all(os.environ.get(name) for name in ("REFUND_RECON_PG_USER", "REFUND_RECON_PG_PASSWORD")),
                    reason="no PostgreSQL server configured (REFUND_RECON_PG_USER, _PASSWORD: see test_postgres.py)")
def test_postgres_macro_makes_the_same_ids() -> None:
    from test_postgres import connect

    with connect() as con, con.cursor() as cursor:
        cursor.execute(ids_in_sql("default", MOMENTS) + " order by n")
        assert [row[1] for row in cursor.fetchall()] == IDS


def test_spark_macro_makes_the_same_ids(tmp_path) -> None:
    from test_spark import _missing

    if _missing():
        pytest.skip(_missing())
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master("local[1]").appName("refund_recon_checkpoint_id")
             .config("spark.sql.session.timeZone", "UTC").config("spark.ui.enabled", "false")
             .config("spark.sql.warehouse.dir", str(tmp_path / "warehouse")).getOrCreate())
    try:
        rows = spark.sql(ids_in_sql("spark", MOMENTS) + " order by n").collect()
    finally:
        spark.stop()
    assert [row["id"] for row in rows] == IDS
