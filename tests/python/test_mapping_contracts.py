"""A refund the processor settled and the ERP never booked is never part of a
CLEAN checkpoint, whatever the mapping seeds say (issue 24, observation 1).

Every edit of a mapping seed that could move such a refund out of the
confirmation check either fails the build's mapping contracts (the checkpoint
says failed and names the test) or leaves the refund a variance. Each
checkpoint below runs the real runner on a copy of the project whose seeds
carry one edit, on inputs where that refund is the only one not booked: on
main each of them said clean.

Run: nice -n 19 .venv/bin/pytest -q tests/python/test_mapping_contracts.py
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from checkpoint_world import project_copy
from conftest import INPUT_COLUMNS, PROJECT_DIR
from dbt_in_process import run_dbt_in_process

AS_OF = "2026-03-01T00:00:00Z"
SEEDS = PROJECT_DIR / "seeds"
CODES = PROJECT_DIR / "tests" / "fixtures" / "connectors" / "documented_codes"
SETTLED_TEST = "assert_settled_statuses_map_to_succeeded"
FINAL_TEST = "refund_status_map_is_final_exactly_for_final_statuses"
EXIT = {"clean": 0, "variances_found": 1, "failed": 3}


def write_inputs(folder: Path, processor: list[dict], storefront: list[dict], erp: list[dict]) -> Path:
    folder.mkdir(parents=True)
    for name, rows in (("processor_refunds", processor), ("storefront_refunds", storefront),
                       ("erp_refund_postings", erp)):
        with open(folder / f"{name}.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=INPUT_COLUMNS[name], extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
    return folder


def event(refund_id: str, status: str, at: str, processor: str = "stripe", amount: str = "50.00") -> dict:
    return {"processor_refund_id": refund_id, "processor": processor, "payment_id": f"ch_{refund_id}",
            "order_id": f"ord_{refund_id}", "amount": amount, "currency": "USD", "status": status,
            "created_at": "2026-02-27T10:00:00Z", "event_at": at}


def storefront(refund_id: str, amount: str = "50.00") -> dict:
    return {"storefront_refund_id": f"sr_{refund_id}", "order_id": f"ord_{refund_id}",
            "processor_refund_id": refund_id, "amount": amount, "currency": "USD", "refund_type": "full",
            "status": "succeeded", "created_at": "2026-02-27T09:59:00Z", "updated_at": "2026-02-27T10:00:00Z",
            "storefront": "generic"}


def booking(refund_id: str, amount: str = "40.00") -> dict:
    return {"erp_document_id": f"CR-{refund_id}", "processor_refund_id": refund_id, "order_id": f"ord_{refund_id}",
            "gl_account": "4900", "amount": amount, "currency": "USD", "refund_type": "full",
            "posted_at": "2026-02-27T10:10:00Z", "received_at": "2026-02-27T10:10:00Z", "posting_period": "2026-02"}


# A refund every scenario holds: confirmed and booked on time, no variance (a generic processor
# status no edit below touches).
BOOKED = ([event("re_booked", "success", "2026-02-27T10:05:00Z", processor="generic", amount="40.00")], [storefront("re_booked", "40.00")],
          [booking("re_booked")])


@dataclass
class Checkpoint:
    returncode: int
    output: str
    database: Path

    def variances(self) -> set[tuple[str, str]]:
        with duckdb.connect(str(self.database), read_only=True) as con:
            return set(con.execute("select refund_id, variance_type from fct_refund_variances").fetchall())


def checkpoint(work: Path, edits: dict[str, tuple[str, str]], processor: list[dict],
               storefront_rows: list[dict] = (), erp: list[dict] = ()) -> Checkpoint:
    """The real runner, on a copy of the project with the seed edits, on inputs holding the
    booked control refund and the given rows."""
    project = project_copy(work / "project", edits)
    data = write_inputs(work / "data", BOOKED[0] + processor, BOOKED[1] + list(storefront_rows),
                        BOOKED[2] + list(erp))
    database = work / "checkpoints.duckdb"
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    result = subprocess.run(
        [sys.executable, str(project / "scripts" / "checkpoint.py"), "run", "--data-dir", str(data), "--as-of", AS_OF,
         "--database", str(database), "--reports-dir", str(work / "reports"), "--no-bi",
         "--freshness-hours", "1000"],
        cwd=project, env=env, capture_output=True, text=True, timeout=600)
    return Checkpoint(result.returncode, result.stdout + result.stderr, database)


# -- Edits a contract refuses: the checkpoint fails and names the contract -------------------

@dataclass
class Refused:
    name: str
    edits: dict[str, tuple[str, str]]
    processor: list[dict]
    contracts: tuple[str, ...]


NEVER_BOOKED = [event("re_settled", "pending", "2026-02-27T10:01:00Z"),
                event("re_settled", "succeeded", "2026-02-27T10:05:00Z")]

REFUSED = [
    # The reproduction: one row added for the status a settled refund is in (Stripe never writes
    # "refunded", so it was unmapped: an unmapped_status variance), mapped to pending.
    Refused("added row maps a settled status to pending",
            {"refund_status_map.csv": ("", "processor,stripe,refunded,pending,false")},
            [event("re_settled", "refunded", "2026-02-27T10:05:00Z")], (SETTLED_TEST,)),
    Refused("documented settled status remapped to pending",
            {"refund_status_map.csv": ("processor,stripe,succeeded,succeeded,true",
                                       "processor,stripe,succeeded,pending,false")},
            NEVER_BOOKED, (SETTLED_TEST,)),
    Refused("settled status mapped to succeeded but not final",
            {"refund_status_map.csv": ("processor,stripe,succeeded,succeeded,true",
                                       "processor,stripe,succeeded,succeeded,false")},
            NEVER_BOOKED, (SETTLED_TEST, FINAL_TEST)),
    Refused("undocumented settled word remapped to failed",
            {"refund_status_map.csv": ("processor,generic,completed,succeeded,true",
                                       "processor,generic,completed,failed,true")},
            [event("pr_settled", "completed", "2026-02-27T10:05:00Z", processor="generic")], (SETTLED_TEST,)),
]


@pytest.mark.parametrize("case", REFUSED, ids=[case.name for case in REFUSED])
def test_an_edit_that_would_make_a_settled_refund_clean_fails_the_checkpoint(case: Refused, tmp_path: Path) -> None:
    result = checkpoint(tmp_path, case.edits, case.processor, [storefront(case.processor[0]["processor_refund_id"])])
    assert result.returncode == EXIT["failed"], result.output[-3000:]
    assert "Outcome: failed" in result.output or "failed" in result.output.lower()
    for contract in case.contracts:
        assert re.search(rf"FAIL \d+ {contract}\b", result.output), (contract, result.output[-3000:])


# -- Edits no contract can judge: the refund stays a variance -------------------------------

def test_a_later_status_mapped_after_the_confirmation_keeps_the_refund_in_the_check(tmp_path: Path) -> None:
    """The refund reached succeeded (final), then the processor wrote a status nobody mapped
    (unmapped_status). One row maps it to pending: on main the refund became pending and the
    checkpoint clean; a final status stands, so it is missing_in_erp."""
    events = [*NEVER_BOOKED, event("re_settled", "on_hold", "2026-02-28T09:00:00Z")]
    result = checkpoint(tmp_path, {"refund_status_map.csv": ("", "processor,stripe,on_hold,pending,false")},
                        events, [storefront("re_settled")])
    assert result.returncode == EXIT["variances_found"], result.output[-3000:]
    assert result.variances() == {("re_settled", "missing_in_erp")}


def test_reason_gl_and_currency_edits_leave_a_never_booked_refund_a_variance(tmp_path: Path) -> None:
    """The other seeds cannot take a refund with no ERP posting out of the check: its reason
    mapped to an 'ignore' code, every GL account remapped, a currency added. (This held on main
    too; the test keeps it so.)"""
    events = [{**row, "reason": "requested_by_customer"} for row in NEVER_BOOKED]
    edits = {
        "refund_reason_map.csv": ("processor,stripe,requested_by_customer,customer_request,RC-CUS",
                                  "processor,stripe,requested_by_customer,ignore,IGNORE"),
        "gl_account_map.csv": ("2150,pending,any,Refunds pending clearing (refund requested or in flight at the "
                               "processor)", "2150,succeeded,any,Anything"),
        "currencies.csv": ("", "XTS,2"),
    }
    result = checkpoint(tmp_path, edits, events, [storefront("re_settled")])
    assert result.returncode == EXIT["variances_found"], result.output[-3000:]
    assert result.variances() == {("re_settled", "missing_in_erp")}


# -- Every contract, on the seeds alone ---------------------------------------------------

SEED_EDITS = [
    ("adyen refunded to pending", "processor,adyen,refunded,succeeded,true", "processor,adyen,refunded,pending,false",
     SETTLED_TEST),
    ("paypal S to failed", "processor,paypal,s,succeeded,true", "processor,paypal,s,failed,true", SETTLED_TEST),
    ("shopify success to pending", "storefront,shopify,success,succeeded,true",
     "storefront,shopify,success,pending,false", SETTLED_TEST),
    ("new system settles to requested", "", "processor,acme,Settled,requested,false", SETTLED_TEST),
    ("pending marked final", "processor,stripe,pending,pending,false", "processor,stripe,pending,pending,true",
     FINAL_TEST),
    ("failed marked not final", "processor,stripe,failed,failed,true", "processor,stripe,failed,failed,false",
     FINAL_TEST),
    # tests/generic/column_values.sql: one test for the seed's key, required columns and value lists
    ("duplicate key after trimming and case", "", "processor, Stripe ,SUCCEEDED ,pending,false",
     "column_values_refund_status_map"),
    ("canonical status in another case", "processor,stripe,succeeded,succeeded,true",
     "processor,stripe,succeeded,Succeeded,true", "column_values_refund_status_map"),
    ("source system unknown", "processor,stripe,pending,pending,false", "ledger,stripe,pending,pending,false",
     "column_values_refund_status_map"),
    ("canonical status empty", "processor,stripe,pending,pending,false", "processor,stripe,pending,,false",
     "column_values_refund_status_map"),
    ("is_final empty", "processor,stripe,pending,pending,false", "processor,stripe,pending,pending,",
     "column_values_refund_status_map"),
    # a key with a null part fails as a null in the key (raw_status is also a required column)
    ("raw status empty", "processor,stripe,pending,pending,false", "processor,stripe,,pending,false",
     "column_values_refund_status_map"),
]


# The failing rows column_values gives for each edit: column, problem, value, rows.
KEY = "lower(trim(source_system)), lower(trim(system_name)), lower(trim(raw_status))"
COLUMN_VALUES_ROWS = {
    "duplicate key after trimming and case": [(KEY, "duplicate key", "processor, stripe, succeeded", 2)],
    "canonical status in another case": [("canonical_status", "not accepted", "Succeeded", 1)],
    "source system unknown": [("source_system", "not accepted", "ledger", 1)],
    "canonical status empty": [("canonical_status", "null", None, 1)],
    "is_final empty": [("is_final", "null", None, 1)],
    "raw status empty": [("raw_status", "null", None, 1), (KEY, "null in key", "processor, stripe, null", 1)],
}


@pytest.fixture(scope="module")
def seed_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One copy of the project for the seed-only builds (dbt's partial parsing then re-reads only
    the edited seed)."""
    return project_copy(tmp_path_factory.mktemp("contracts") / "project", {})


def seed_build(project: Path, *select: str) -> subprocess.CompletedProcess:
    """`dbt build` of the selected seeds and their tests, in the pytest worker's dbt process
    (dbt_in_process: no dbt start-up per edit); the tests read its output (PASS / FAIL lines),
    so no JSON artifact or debug log is written."""
    return run_dbt_in_process(
        "build", "--select", *select, "--indirect-selection", "cautious", "--no-write-json", "--log-level-file", "none",
        database=project.parent / "seeds.duckdb", project_dir=project,
        dbt_vars={"as_of": AS_OF, "data_dir": str(PROJECT_DIR / "data" / "sample")})


def test_the_shipped_seeds_keep_every_contract(seed_project: Path) -> None:
    """The seeds as shipped pass every contract."""
    result = seed_build(seed_project, "refund_status_map", "currencies")
    assert result.returncode == 0, result.stdout[-3000:]
    passed = set(re.findall(r"PASS (\S+)", result.stdout))
    assert {SETTLED_TEST, FINAL_TEST, "currencies_code_is_three_upper_case_letters"} <= passed


@pytest.mark.parametrize("name,old,new,contract", SEED_EDITS, ids=[edit[0] for edit in SEED_EDITS])
def test_each_mapping_contract_fails_the_build(name: str, old: str, new: str, contract: str,
                                               seed_project: Path) -> None:
    seed = seed_project / "seeds" / "refund_status_map.csv"
    shipped = (SEEDS / "refund_status_map.csv").read_text(encoding="utf-8")
    assert not old or old + "\n" in shipped
    seed.write_text(shipped.replace(old + "\n", new + "\n") if old else shipped + new + "\n", encoding="utf-8")
    try:
        result = seed_build(seed_project, "refund_status_map")
    finally:
        seed.write_text(shipped, encoding="utf-8")
    assert result.returncode == 1, result.stdout[-3000:]
    failed = set(re.findall(r"FAIL \d+ (\S+)", result.stdout))
    assert any(test.startswith(contract) for test in failed), (contract, failed)
    if contract.startswith("column_values_"):
        # The failing row names the column, the problem and the value (the build left the edited seed).
        compiled = next((seed_project / "target" / "compiled").rglob(f"{contract}.sql"))
        with duckdb.connect(str(seed_project.parent / "seeds.duckdb"), read_only=True) as database:
            rows = database.execute(compiled.read_text(encoding="utf-8")).fetchall()
        assert sorted(rows, key=repr) == sorted(COLUMN_VALUES_ROWS[name], key=repr), (name, rows)


def test_the_documented_settled_statuses_are_the_documented_codes() -> None:
    """macros/rules/mapping_contracts.sql lists exactly the statuses the documented-code files
    call a settled refund (canonical succeeded), as the seed keys them."""
    macro = (PROJECT_DIR / "macros" / "rules" / "mapping_contracts.sql").read_text(encoding="utf-8")
    body = macro[macro.index("macro documented_settled_statuses"):macro.index("endmacro")]
    listed = set(re.findall(r"\('(\w+)', '(\w+)', '([^']+)'\)", body))

    def read(name: str) -> pd.DataFrame:
        return pd.read_csv(CODES / name, dtype=str, keep_default_na=False)

    documented = set()
    for row in read("stripe_statuses.csv").itertuples():
        if row.canonical_status == "succeeded":
            documented.add(("processor", "stripe", row.code.lower()))
    for row in read("adyen_statuses.csv").itertuples():
        if row.canonical_status == "succeeded":
            key = f"{row.event_code}:{row.success}" + (f":{row.modification_action}" if row.modification_action else "")
            documented.add(("processor", "adyen", key.lower()))
    for row in read("adyen_settlement_record_types.csv").itertuples():
        if row.canonical_status == "succeeded" and row.is_refund == "true":
            documented.add(("processor", "adyen", row.record_type.lower()))
    for row in read("paypal_statuses.csv").itertuples():
        if row.canonical_status == "succeeded":
            documented.add(("processor", "paypal", row.code.lower()))
    for row in read("shopify_statuses.csv").itertuples():
        if row.canonical_status == "succeeded":
            documented.add(("storefront", "shopify", row.code.lower()))
    assert listed == documented
