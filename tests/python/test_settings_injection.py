"""Settings that become SQL: no var the project reads can run SQL of its own.

Every var is found in the code (a new one is covered without touching this
file), with each place that reads it, and set to each SQL payload below. A
case is settled one of two ways:

- Refused by a check. The on-run-start hook checks the var (dbt renders the
  hook while it parses, so its error stops every command before any SQL
  runs), or every place that reads it goes through a check: a checking
  wrapper (name_var, identifier_var, ...: macros/settings/settings.sql), or
  a macro that reads that one var and checks it (amount_tolerance, ...);
  and that check refuses the payload with a `refund_recon:` error naming the
  var, so the value never reaches SQL. Each check fails with what its pure
  form (<check>_error) returns, and one `dbt run-operation` runs every check
  on every payload at once. For one var of each check, dbt itself is shown
  stopping with that error (`dbt parse` for the hook's checks).
- Run for real: a var also read without a check (a raw var(), as in the
  sources YAML; list_var) or a payload no check refuses. Every such var is
  set to the payload at once, in one DuckDB file per payload (the
  on-run-start hook, the seeds, every shape model, source freshness): a var
  whose payload stops parsing or the build with a `refund_recon:` error
  naming it is settled, and the rest run again without it. The payload must
  not run, and the run must succeed or stop with a `refund_recon:` error
  naming a var it holds.
"""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import os
import re
import shutil
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import duckdb
import pytest

from conftest import PROJECT_DIR, generate
from recon_runner.dbt import close_duckdb

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

# The wrappers that check the value they read (macros/settings/settings.sql, macros/shapes/netsuite.sql),
# each failing with what its pure check <wrapper>_error returns. list_var and
# var are not checks: a var read through them is a check only inside a macro
# that reads that one var and checks it (amount_tolerance, ...: the macros
# refund_recon_setting_errors knows), else it is run for real.
CHECKING_WRAPPERS = {"name_var", "identifier_var", "sql_expression_var", "flag_var", "whole_number_var",
                     "netsuite_name_list_var"}
MACRO = re.compile(r"{%-?\s*macro\s+(\w+)\(|{%-?\s*endmacro\b")


def read_vars() -> tuple[dict[str, set[tuple[str, str | None]]], set[str]]:
    """Each var name the code reads, with each reader: (the function read through, the macro it is in or None);
    and the expressions that build a var name at run time."""
    readers: dict[str, set[tuple[str, str | None]]] = defaultdict(set)
    expressions = set()
    for path in SCANNED:
        text = path.read_text(encoding="utf-8")
        macros = [(found.start(), found.group(1)) for found in MACRO.finditer(text)]
        for call in VAR_CALL.finditer(text):
            function, _, name, expression = call.groups()
            if function == "env_var":
                continue
            macro = ([None] + [macro for start, macro in macros if start < call.start()])[-1]
            names = [name] if name else DYNAMIC_NAMES.get(expression.strip(), [])
            if not name:
                expressions.add(expression.strip())
            for each in names:
                readers[each].add((function, macro))
    return readers, expressions


def reader_check(function: str, macro: str | None) -> str | None:
    """The check a reader goes through, if it may be one: a checking wrapper, else the macro the read is in."""
    return function if function in CHECKING_WRAPPERS else macro


READERS = read_vars()[0]
VARS = sorted(READERS)
# One per kind of place a value can land in SQL. {pwned} is a file of the
# var's own: an executed `copy ... to` writes it, even in a transaction that
# is rolled back.
PAYLOADS = [
    # a bare name (`create schema if not exists <schema>`) or a 'literal': in a
    # literal the quote ends it and `--` hides the rest; in a bare name the
    # /* ... */ is a comment and the second copy runs.
    "x/*'; copy (select 1) to '{pwned}'; --*/; copy (select 1) to '{pwned}'; --",
    # a "quoted"."name" in parentheses, such as dbt-duckdb's `(describe <source>)`:
    # the first statement must run for the second to, so it describes a view
    # the hook made in the payload's DuckDB file (catalog recon).
    'recon"."refund_inputs"."storefront_refunds"); copy (select 1) to \'{pwned}\'; --',
    # an expression, such as source freshness' `select max(<loaded_at_field>) ...`
    "1); copy (select 1) to '{pwned}'; select max(1",
]
# Every shape on, so that every shape's vars reach its sources and models.
SHAPES = {"storefront_shapes": ["generic", "shopify"], "processor_shapes": ["generic", "stripe", "adyen", "paypal"],
          "erp_shapes": ["generic", "netsuite"]}


def rejected(name: str) -> re.Pattern[str]:
    """A `refund_recon:` error naming var `name` ("refund_recon: var <name> must be ...",
    "refund_recon: data_dir may ...")."""
    return re.compile(rf"refund_recon: (?:var )?{name}\b")


def test_every_var_name_is_found() -> None:
    readers, expressions = read_vars()
    assert expressions - DYNAMIC_NAMES.keys() == set(), "a var name built at run time: expand it in DYNAMIC_NAMES"
    assert KNOWN_VARS - readers.keys() == set(), "the enumeration lost vars the project reads"
    # The classification below rests on the scan seeing which function (in which macro) reads each var.
    assert READERS["stripe_order_id_metadata_key"] == {("name_var", None)}
    assert READERS["netsuite_order_id_field"] == {("name_var", None), ("var", None)}
    assert READERS["amount_tolerance"] == {("var", "amount_tolerance")}
    assert READERS["processor_shapes"] >= {("list_var", "refund_shapes"), ("var", None)}


def payload(work: Path, name: str, number: int) -> str:
    return PAYLOADS[number].format(pwned=work / f"payload-{number}" / f"{name}.csv")


def base_vars(work: Path) -> dict:
    return json.loads((work / "base_vars.json").read_text())


def invoke(folder: Path, dbt_vars: dict, *command: str) -> tuple[str | None, str, set[str]]:
    """A dbt command in a worker process that keeps dbt loaded, in the folder's own DuckDB file and target folder.

    Its error (None when it succeeded), what it printed, and the statuses of its results. A parse writes the
    partial-parse state a build and source freshness with the same vars then reuse.
    """
    from dbt.cli.main import dbtRunner
    from dbt_common.tests import enable_test_caching

    # dbt's own cache for test runs: Jinja parsed once per source text, not again in every invocation (most
    # of a parse is parsing the macros of dbt and its adapter). What is rendered and run is unchanged.
    enable_test_caching()
    os.environ.update({"REFUND_RECON_DUCKDB": str(folder / "recon.duckdb"), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"})
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        result = dbtRunner().invoke(["--quiet", "--no-use-colors", *command, "--project-dir", str(PROJECT_DIR),
                                     "--profiles-dir", str(PROJECT_DIR), "--target-path", str(folder / "target"),
                                     "--log-path", str(folder / "logs"), "--vars", json.dumps(dbt_vars)])
    # dbt-duckdb keeps its database open in the process for the next invocation: close it, so that this
    # test can look into the file.
    close_duckdb()
    results = getattr(result.result, "results", None) or []
    errors = [str(result.exception)] if result.exception else []
    errors += [f"{getattr(item, 'unique_id', None) or item.node.unique_id}: {item.status}: {item.message}"
               for item in results if str(item.status) not in ("success", "pass", "warn")]
    if not result.success and command[0] == "run-operation":
        # An operation's error is only logged.
        errors.append((folder / "logs" / "dbt.log").read_text(encoding="utf-8"))
    return (None if result.success else "\n".join(errors) or "failed"), printed.getvalue(), \
        {str(item.status) for item in results}


def pwned_tables(database: Path) -> int:
    if not database.exists():
        return 0
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute("select count(*) from duckdb_tables() where table_name = 'pwned'").fetchone()[0]


def assert_not_run(work: Path, number: int, names: list[str]) -> None:
    folder = work / f"payload-{number}"
    for name in names:
        assert not (folder / f"{name}.csv").exists(), f"{name} = {payload(work, name, number)!r} ran its SQL"
    assert pwned_tables(folder / "recon.duckdb") == 0, f"one of {names} set to payload {number} created table pwned"


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny scenario with the generic files and every shape's tables."""
    work = tmp_path_factory.mktemp("settings_injection")
    generate(work / "data", "--refunds", "20", "--seed", "1")
    shaped = generate(work / "shaped", "--refunds", "20", "--seed", "1", "--processor-shapes", "stripe", "adyen",
                      "paypal", "--storefront-shape", "shopify", "--erp-shape", "netsuite")
    for shape in ("stripe", "adyen", "paypal", "shopify", "netsuite"):
        shutil.copytree(work / "shaped" / shape, work / "data" / shape)
    (work / "base_vars.json").write_text(json.dumps({
        "data_dir": str(work / "data"), "as_of": "2026-03-01T00:00:00Z", **SHAPES,
        **{key: value for key, value in shaped["dbt_vars"].items() if key.endswith("_field")}}))
    for number in range(len(PAYLOADS)):
        (work / f"payload-{number}").mkdir()
    return work


@pytest.fixture(scope="module")
def pool() -> ProcessPoolExecutor:
    """One worker process that keeps dbt loaded, for every dbt command of the module."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield pool


@pytest.fixture(scope="module")
def checks(work: Path, pool: ProcessPoolExecutor) -> dict:
    """Every check that guards a var, run on each of its payloads in one `dbt run-operation`.

    {"errors": {(check, var, payload number): refund_recon error or ''}, "hook": {var: check}}.
    """
    folder = work / "checks"
    folder.mkdir()
    cases = [[check, name, payload(work, name, number)] for name in VARS for number in range(len(PAYLOADS))
             for check in sorted({reader_check(*reader) for reader in READERS[name]} - {None})]
    # The hook's checks are not known before the operation prints them: check every var with each kind of hook check.
    hook_kinds = ["identifier_var", "sql_expression_var", "flag_var", "refund_data_dir", "input_encoding"]
    cases += [[check, name, payload(work, name, number)] for name in VARS for number in range(len(PAYLOADS))
              for check in hook_kinds]
    error, output, _ = pool.submit(invoke, folder, base_vars(work), "run-operation", "refund_recon_setting_errors",
                                "--args", json.dumps({"cases": cases})).result()
    assert error is None, error
    printed = json.loads(output.split("refund_recon_setting_errors: ", 1)[1].splitlines()[0])
    numbers = {payload(work, name, number): number for name in VARS for number in range(len(PAYLOADS))}
    return {"errors": {(check, name, numbers[value]): error for check, name, value, error in printed["errors"]},
            "hook": dict(printed["hook"])}


def refusal(checks: dict, name: str, number: int) -> tuple[str, str] | None:
    """(check, its error) when the hook's check, or the check every read of var `name` goes through, refuses
    payload `number` with an error naming the var; else None. (A macro's check names its own var: another var
    read raw in that macro is not refused by it, and runs for real.)"""
    errors = checks["errors"]
    hook = checks["hook"].get(name)
    if hook and rejected(name).search(errors[hook, name, number]):
        return hook, errors[hook, name, number]
    readers = sorted({reader_check(*reader) or "" for reader in READERS[name]})
    if all(rejected(name).search(errors.get((check, name, number)) or "") for check in readers):
        return readers[0], errors[readers[0], name, number]
    return None


def test_each_check_names_the_var_it_reads(checks: dict) -> None:
    """A check that refuses a payload names the var it was given: another var read raw inside a macro that checks
    its own var is an error here (the build below runs the base models only, not the macro's every caller)."""
    assert set(checks["hook"]) <= set(VARS), "the hook checks a var nothing reads (the list went stale)"
    for name in VARS:
        for check in ({reader_check(*reader) for reader in READERS[name]} | {checks["hook"].get(name)}) - {None}:
            for number in range(len(PAYLOADS)):
                error = checks["errors"][check, name, number]
                assert not error or rejected(name).search(error), f"{name} read in {check}: {error}"


def test_dbt_stops_with_each_check(work: Path, checks: dict, pool: ProcessPoolExecutor) -> None:
    """End to end, for one var of each check: dbt stops with the check's error.

    A check in the on-run-start hook: `dbt parse` stops. Any other: `dbt run-operation` of the wrapper (or macro)
    that reads the var, as the project calls it, fails with that error (or its parse already does).
    """
    samples = {}
    for name in VARS:
        for number in range(len(PAYLOADS)):
            found = refusal(checks, name, number)
            if found:
                samples.setdefault((found[0], name in checks["hook"]), (name, number, found[1]))
    assert {check for check, _ in samples} >= {"identifier_var", "sql_expression_var", "flag_var", "name_var",
                                               "whole_number_var", "refund_data_dir", "input_encoding"}
    for (check, in_hook), (name, number, error) in sorted(samples.items()):
        folder = work / f"sample-{check}-{name}"
        folder.mkdir()
        command = ["parse"] if in_hook else ["run-operation", check] + (
            ["--args", json.dumps({"name": name, "default": 0, "unit": "units"} if check == "whole_number_var"
                                  else {"name": name})] if check in CHECKING_WRAPPERS else [])
        found, _, _ = pool.submit(invoke, folder, {**base_vars(work), name: payload(work, name, number)},
                                  *command).result()
        # The operation runs whole_number_var_error with the unit 'units': the rest of the message is the same.
        message = re.escape(error).replace(r"of\ units,", r"of\ \w+,")
        assert found is not None and re.search(message, found), f"{name} = payload {number} ({command}): {found}"


def test_a_var_cannot_run_sql(work: Path, checks: dict, pool: ProcessPoolExecutor) -> None:
    """The cases no check refuses, run for real, every payload's vars at once."""
    for number in range(len(PAYLOADS)):
        folder = work / f"payload-{number}"
        names = [name for name in VARS if refusal(checks, name, number) is None]
        assert names, "nothing to run for real: the scan lost the raw reads (as_of, the sources YAML's)"
        running, settled = list(names), {}
        while running:
            dbt_vars = {**base_vars(work), **{name: payload(work, name, number) for name in running}}
            outcome, _, _ = pool.submit(invoke, folder, dbt_vars, "parse").result()
            if outcome is None:
                outcome, _, _ = pool.submit(invoke, folder, dbt_vars, "build", "--resource-type", "seed",
                                            "--resource-type", "model", "--select", "path:seeds",
                                            "path:models/staging/base").result()
            assert_not_run(work, number, running)
            if outcome is None:
                break
            named = [name for name in running if rejected(name).search(outcome)]
            assert named, f"payload {number} in {running}: not a refund_recon error naming one:\n{outcome[-3000:]}"
            settled.update(dict.fromkeys(named, outcome))
            running = [name for name in running if name not in named]
        if running:
            error, _, _ = pool.submit(invoke, folder, dbt_vars, "source", "freshness").result()
            assert_not_run(work, number, running)
            # Stale sources are an outcome (exit code 1). (sources.json leaves out the sources whose query
            # failed: in this scenario adyen.notification and shopify.order_refunds, whatever the vars.)
            sources = folder / "target" / "sources.json"
            statuses = {result["status"] for result in json.loads(sources.read_text())["results"]} \
                if sources.exists() else {"not run"}
            assert (error and any(rejected(name).search(error) for name in running)) or \
                statuses <= {"pass", "warn", "error"}, f"payload {number} in {running}:\n{error}"
        print(f"payload {number}: {len(settled)} refused while running ({sorted(settled)}), ran {running}")
