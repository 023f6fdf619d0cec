"""Settings that become SQL: no var the project reads can run SQL of its own.

Every var is found in the code (a new one is covered without touching this
file) and set, one at a time, to each SQL payload below. Each case is first
parsed (`dbt parse` runs no SQL): a `refund_recon:` error naming the var there
stops every dbt command before any SQL runs. A case that parses is then run
for real in its own DuckDB file (the on-run-start hook, the seeds, every shape
model, source freshness): the payload must not run, and the run must succeed
or stop with a `refund_recon:` error naming the var.

Parsing costs about a second a case, most of it dbt reading its macros: the
cases are parsed in a few worker processes that each keep dbt loaded.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import shutil
import subprocess
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import duckdb
import pytest

from conftest import DBT, PROJECT_DIR, generate

# var('name' ...), and the project's validating wrappers (name_var, list_var,
# identifier_var, ...) whose first argument is a var name; not env_var, and
# not a wrapper's own definition.
VAR_CALL = re.compile(r"(?<!macro )\b(\w*var)\(\s*(?:(['\"])(\w+)\2|([^,)]+))")
SCANNED = [*(path for folder in ("models", "macros", "tests") for suffix in ("*.sql", "*.yml")
             for path in sorted(PROJECT_DIR.joinpath(folder).rglob(suffix))), PROJECT_DIR / "dbt_project.yml"]

# Var names built at run time, by the expression that builds them, expanded by
# hand. `name` is a validating wrapper passing its own argument on (its callers
# name the var, and are found above). A new expression fails
# test_every_var_name_is_found until it is expanded here.
DYNAMIC_NAMES = {
    "role ~ '_shapes'": ["storefront_shapes", "processor_shapes", "erp_shapes"],  # refund_shapes(role)
    # refund_shape_variant(shape, ...): the landing variant a base model is forced to
    "shape ~ '_variant'": ["stripe_variant", "paypal_variant", "shopify_variant"],
    "name": [],
}

# What the project read when this test was written: an enumeration that finds
# fewer (a regex regression) fails test_every_var_name_is_found.
KNOWN_VARS = {
    "as_of", "confirmation_sla_minutes", "amount_tolerance", "business_timezone", "data_dir",
    "source_freshness_hours", "input_encoding", "read_inputs_from_files", "refund_recon_lint",
    "storefront_shapes", "processor_shapes", "erp_shapes",
    "refund_inputs_database", "refund_inputs_schema",
    "storefront_refunds_table", "processor_refunds_table", "erp_refund_postings_table",
    "storefront_loaded_at_field", "processor_loaded_at_field", "erp_loaded_at_field",
    "stripe_database", "stripe_schema", "stripe_refund_table", "stripe_order_id_metadata_key",
    "adyen_database", "adyen_schema", "adyen_notification_table",
    "paypal_database", "paypal_schema", "paypal_refund_table", "paypal_order_id_field",
    "shopify_database", "shopify_schema", "shopify_refund_table", "shopify_transaction_table",
    "shopify_receipt_refund_id_key",
    "netsuite_database", "netsuite_schema", "netsuite_transaction_table",
    "netsuite_transactionaccountingline_table", "netsuite_account_table", "netsuite_accountingperiod_table",
    "netsuite_currency_table", "netsuite_transactionline_table", "netsuite_subsidiary_table",
    "netsuite_refund_id_field", "netsuite_reason_code_field",
    "netsuite_order_id_field", "netsuite_refund_transaction_types",
}


def read_vars() -> tuple[set[str], set[str]]:
    """The var names the code reads, and the expressions that build a name at run time."""
    names, expressions = set(), set()
    for path in SCANNED:
        for function, _, name, expression in VAR_CALL.findall(path.read_text(encoding="utf-8")):
            if function == "env_var":
                continue
            if name:
                names.add(name)
            else:
                expressions.add(expression.strip())
    for expression in expressions & DYNAMIC_NAMES.keys():
        names.update(DYNAMIC_NAMES[expression])
    return names, expressions


VARS = sorted(read_vars()[0])
# One per kind of place a value can land in SQL. {pwned} is a file in the
# case's own folder: an executed `copy ... to` writes it, even in a
# transaction that is rolled back.
PAYLOADS = [
    # a bare name (`create schema if not exists <schema>`) or a 'literal': in a
    # literal the quote ends it and `--` hides the rest; in a bare name the
    # /* ... */ is a comment and the second copy runs.
    "x/*'; copy (select 1) to '{pwned}'; --*/; copy (select 1) to '{pwned}'; --",
    # a "quoted"."name" in parentheses, such as dbt-duckdb's `(describe <source>)`:
    # the first statement must run for the second to, so it describes a view
    # the hook made in the case's DuckDB file (catalog recon).
    'recon"."refund_inputs"."storefront_refunds"); copy (select 1) to \'{pwned}\'; --',
    # an expression, such as source freshness' `select max(<loaded_at_field>) ...`
    "1); copy (select 1) to '{pwned}'; select max(1",
]
# Every shape on, so that every shape's vars reach its sources and models.
SHAPES = {"storefront_shapes": ["generic", "shopify"], "processor_shapes": ["generic", "stripe", "adyen", "paypal"],
          "erp_shapes": ["generic", "netsuite"]}


def test_every_var_name_is_found() -> None:
    names, expressions = read_vars()
    assert expressions - DYNAMIC_NAMES.keys() == set(), "a var name built at run time: expand it in DYNAMIC_NAMES"
    assert KNOWN_VARS - names == set(), "the enumeration lost vars the project reads"


def case_vars(work: Path, name: str, number: int) -> tuple[Path, str, str]:
    """A case's folder, payload and --vars: the base settings with `name` set to payload `number`."""
    case = work / f"{name}-{number}"
    payload = PAYLOADS[number].format(pwned=case / "pwned.csv")
    return case, payload, json.dumps({**json.loads((work / "base_vars.json").read_text()), name: payload})


def parse_error(case: Path, dbt_vars: str) -> str | None:
    """dbt parse, in a worker process: its error, or None when it parsed."""
    from dbt.cli.main import dbtRunner

    os.environ.update({"REFUND_RECON_DUCKDB": str(case / "parse.duckdb"), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"})
    result = dbtRunner().invoke(["--quiet", "--no-use-colors", "parse", "--project-dir", str(PROJECT_DIR),
                                 "--profiles-dir", str(PROJECT_DIR), "--target-path", str(case / "parse"),
                                 "--log-path", str(case / "logs"), "--no-partial-parse", "--no-write-json",
                                 "--vars", dbt_vars])
    return None if result.success else str(result.exception)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny scenario with the generic files and every shape's tables, and every case parsed."""
    work = tmp_path_factory.mktemp("settings_injection")
    generate(work / "data", "--refunds", "20", "--seed", "1")
    shaped = generate(work / "shaped", "--refunds", "20", "--seed", "1", "--processor-shapes", "stripe", "adyen",
                      "paypal", "--storefront-shape", "shopify", "--erp-shape", "netsuite")
    for shape in ("stripe", "adyen", "paypal", "shopify", "netsuite"):
        shutil.copytree(work / "shaped" / shape, work / "data" / shape)
    (work / "base_vars.json").write_text(json.dumps({
        "data_dir": str(work / "data"), "as_of": "2026-03-01T00:00:00Z", **SHAPES,
        **{key: value for key, value in shaped["dbt_vars"].items() if key.endswith("_field")}}))
    cases = [case_vars(work, name, number) for name in VARS for number in range(len(PAYLOADS))]
    for case, _, _ in cases:
        case.mkdir()
    workers = max(1, min(4, os.cpu_count() or 1))
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        errors = pool.map(parse_error, [case for case, _, _ in cases], [dbt_vars for _, _, dbt_vars in cases])
        for (case, _, _), error in zip(cases, errors):
            (case / "parse_error.json").write_text(json.dumps(error))
    return work


def dbt(case: Path, dbt_vars: str, *command: str) -> str:
    """A dbt command in the case's own DuckDB file and target folder: its output, ending with its exit code."""
    env = {**os.environ, "REFUND_RECON_DUCKDB": str(case / "recon.duckdb"), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    run = subprocess.run(
        [str(DBT), "--no-use-colors", *command, "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR),
         "--target-path", str(case / command[0]), "--log-path", str(case / "logs"), "--vars", dbt_vars],
        cwd=PROJECT_DIR, env=env, capture_output=True, text=True)
    return f"{run.stdout}{run.stderr}\nexit code {run.returncode}"


def pwned_tables(database: Path) -> int:
    if not database.exists():
        return 0
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute("select count(*) from duckdb_tables() where table_name = 'pwned'").fetchone()[0]


@pytest.mark.parametrize("name", VARS)
def test_a_var_cannot_run_sql(name: str, work: Path) -> None:
    # "refund_recon: var <name> must be ..." (data_dir: "refund_recon: data_dir may ...")
    rejected = re.compile(rf"refund_recon: (?:var )?{name}\b")
    outcomes = []
    for number in range(len(PAYLOADS)):
        case, payload, dbt_vars = case_vars(work, name, number)
        error = json.loads((case / "parse_error.json").read_text())
        if error is None:
            # Accepted while parsing: run the hook, the seeds and shape models, and source freshness.
            build = dbt(case, dbt_vars, "build", "--resource-type", "seed", "--resource-type", "model",
                        "--select", "path:seeds", "path:models/staging/base")
            freshness = dbt(case, dbt_vars, "source", "freshness")
            outcomes.append((case, payload, build, freshness))
        else:
            assert rejected.search(error), f"{name} = {payload!r}: parse failed, not naming it:\n{error}"
        assert not (case / "pwned.csv").exists(), f"{name} = {payload!r} wrote {case / 'pwned.csv'}"
        for database in (case / "parse.duckdb", case / "recon.duckdb"):
            assert pwned_tables(database) == 0, f"{name} = {payload!r} created table pwned"
    for case, payload, build, freshness in outcomes:
        assert rejected.search(build) or build.endswith("exit code 0"), f"{name} = {payload!r}:\n{build[-3000:]}"
        # Stale sources are an outcome (exit code 1); a runtime error is not.
        sources = case / "source" / "sources.json"
        statuses = {result["status"] for result in json.loads(sources.read_text())["results"]} \
            if sources.exists() else {"not run"}
        assert rejected.search(freshness) or statuses <= {"pass", "warn", "error"}, \
            f"{name} = {payload!r}:\n{freshness[-3000:]}"
