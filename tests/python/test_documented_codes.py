"""The default seeds map every status and reason code each system documents
(issue 16). The documented lists, each row with its source and the reason for
its canonical value, are tests/fixtures/connectors/documented_codes/*.csv;
they are the justification of the seed rows this test compares.

No dbt needed: the seed CSVs are compared with the lists as files.
Run: nice -n 19 .venv/bin/pytest -q tests/python/test_documented_codes.py
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

PROJECT = Path(__file__).resolve().parents[2]
CODES = PROJECT / "tests" / "fixtures" / "connectors" / "documented_codes"

# Documented lists the seeds do not cover yet, each with the reason.
NOT_YET_IN_SEEDS = {
    "netsuite": "ERP states come from gl_account_map, not refund_status_map; NetSuite's status V (voided) is a filter "
                "in the NetSuite base model (issue 16 step 4)",
}


def read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def seed_statuses() -> dict[tuple[str, str, str], tuple[str, str]]:
    seed = read_csv(PROJECT / "seeds" / "refund_status_map.csv")
    return {(r.source_system.strip().lower(), r.system_name.strip().lower(), r.raw_status.strip().lower()):
            (r.canonical_status, r.is_final.strip().lower()) for r in seed.itertuples()}


def seed_reasons() -> dict[tuple[str, str, str], tuple[str, str]]:
    seed = read_csv(PROJECT / "seeds" / "refund_reason_map.csv")
    return {(r.source_system.strip().lower(), r.system_name.strip().lower(), r.raw_reason.strip().lower()):
            (r.canonical_reason, r.gl_reason_code) for r in seed.itertuples()}


def adyen_status_key(row) -> str:
    """The status the Adyen base model emits: EVENTCODE:success[:modification.action]."""
    key = f"{row.event_code}:{row.success}"
    return f"{key}:{row.modification_action}" if row.modification_action else key


# (documented list, seed source_system, seed system_name, system filter, how a row becomes the raw status)
STATUS_LISTS = [
    ("stripe_statuses.csv", "processor", "stripe", "stripe", lambda row: row.code),
    ("adyen_statuses.csv", "processor", "adyen", "adyen", adyen_status_key),
    ("paypal_statuses.csv", "processor", "paypal", "paypal_v2", lambda row: row.code),
    # Transaction Search letters (S, P, D, V, F) are mapped under the same processor name.
    ("paypal_statuses.csv", "processor", "paypal", "paypal_transaction_search", lambda row: row.code),
    ("shopify_statuses.csv", "storefront", "shopify", "shopify", lambda row: row.code),
    ("square_statuses.csv", "processor", "square", "square", lambda row: row.code),
]


@pytest.mark.parametrize("file_name,source_system,system_name,system,raw_status", STATUS_LISTS,
                         ids=[entry[0] for entry in STATUS_LISTS])
def test_every_documented_status_is_mapped_as_documented(file_name, source_system, system_name, system,
                                                          raw_status) -> None:
    documented = read_csv(CODES / file_name)
    documented = documented[(documented["system"] == system) & (documented["canonical_status"] != "not_refund")]
    assert len(documented) >= 4, file_name + " " + system
    seed = seed_statuses()
    problems = []
    for row in documented.itertuples():
        key = (source_system, system_name, raw_status(row).strip().lower())
        want = (row.canonical_status, row.is_final.strip().lower())
        if seed.get(key) != want:
            problems.append(f"{key}: seed {seed.get(key)}, documented {want} ({row.source})")
    assert not problems, "\n".join(problems)


def test_adyen_refund_family_is_read_and_payment_events_are_not() -> None:
    """The Adyen base model reads every event code containing REFUND: each documented
    refund-family code does, no documented payment event (not_refund) does."""
    documented = read_csv(CODES / "adyen_statuses.csv")
    family = set(documented.loc[documented["canonical_status"] != "not_refund", "event_code"])
    others = set(documented.loc[documented["canonical_status"] == "not_refund", "event_code"])
    assert family == {"REFUND", "REFUND_FAILED", "REFUNDED_REVERSED", "CANCEL_OR_REFUND", "REFUND_WITH_DATA",
                      "POSTPONED_REFUND", "VOID_PENDING_REFUND"}
    assert all("REFUND" in code for code in family)
    assert not any("REFUND" in code for code in others)


REASON_LISTS = [
    ("stripe_reasons.csv", "processor", "stripe"),
    ("shopify_reasons.csv", "storefront", "shopify"),
]


@pytest.mark.parametrize("file_name,source_system,system_name", REASON_LISTS, ids=[entry[0] for entry in REASON_LISTS])
def test_every_documented_reason_is_mapped_as_documented(file_name, source_system, system_name) -> None:
    documented = read_csv(CODES / file_name)
    seed = seed_reasons()
    problems = []
    for row in documented.itertuples():
        key = (source_system, system_name, row.code.strip().lower())
        want = (row.canonical_reason, row.gl_reason_code)
        if seed.get(key) != want:
            problems.append(f"{key}: seed {seed.get(key)}, documented {want}")
    assert not problems, "\n".join(problems)


def test_lists_without_seed_rows_are_named() -> None:
    """Every documented system is compared above or named in NOT_YET_IN_SEEDS with its reason."""
    compared = {entry[3] for entry in STATUS_LISTS}
    systems = set()
    for path in CODES.glob("*_statuses.csv"):
        systems |= set(read_csv(path)["system"])
    assert systems - compared == set(NOT_YET_IN_SEEDS), systems - compared


def test_every_settlement_refund_record_type_is_mapped() -> None:
    """Adyen Settlement details record types that are refund events map as documented; the
    base model reads exactly those types (var adyen_settlement_refund_types' default)."""
    documented = read_csv(CODES / "adyen_settlement_record_types.csv")
    refunds = documented[(documented["is_refund"] == "true") & (documented["record_type"] != "SentForRefund")]
    # SentForRefund is a Payments accounting report status, not a Settlement details record type:
    # that report is not read.
    seed = seed_statuses()
    problems = [f"{row.record_type}: seed {seed.get(('processor', 'adyen', row.record_type.lower()))}, "
                f"documented {row.canonical_status}"
                for row in refunds.itertuples()
                if seed.get(("processor", "adyen", row.record_type.lower())) != (row.canonical_status, "true")]
    assert not problems, "\n".join(problems)
    macro = (PROJECT / "macros" / "shapes" / "adyen.sql").read_text()
    for record_type in refunds["record_type"]:
        assert f"'{record_type}'" in macro, record_type
