"""Checks before a change ships: the writeback dry run catches a candidate's
faults field by field (and passes a correct one), and the mapping-impact
command lists exactly the refunds a seed change moves."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from conftest import PROJECT_DIR, generate

RUNNER = PROJECT_DIR / "scripts" / "checkpoint.py"
AS_OF = "2026-03-01T00:00:00Z"


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def write_rows(path: Path, rows: list[dict[str, str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def run(*args: str, cwd: Path = PROJECT_DIR, runner: Path = RUNNER) -> subprocess.CompletedProcess:
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    return subprocess.run([sys.executable, str(runner), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean batch: the generator's ERP file is exactly what the ERP should hold."""
    folder = tmp_path_factory.mktemp("writeback") / "batch"
    generate(folder, "--refunds", "120", "--seed", "41", "--fault-rate", "0", "--trap-rate", "0", "--bad-rows", "0")
    return folder


def test_correct_candidate_matches(batch: Path, tmp_path: Path) -> None:
    result = run("validate-writeback", "--batch", str(batch), "--candidate", str(batch / "erp_refund_postings.csv"),
                 "--as-of", AS_OF, "--out", str(tmp_path / "differences.csv"))
    assert result.returncode == 0, result.stdout[-3000:]
    assert "MATCH" in result.stdout
    assert read_rows(tmp_path / "differences.csv") == []


def test_each_fault_is_caught_field_by_field(batch: Path, tmp_path: Path) -> None:
    rows = read_rows(batch / "erp_refund_postings.csv")
    full = [row for row in rows if row["gl_account"] == "4900"]
    with_code = [row for row in full if row["reason_code"]]
    victims = iter([row for row in full if row not in with_code[:1]])
    expected: set[tuple[str, str, str]] = set()

    reason = with_code[0]
    reason["reason_code"] = "RC-XXX"
    expected.add((reason["processor_refund_id"], reason["erp_document_id"], "reason code"))

    missing = next(victims)
    rows.remove(missing)
    expected.add((missing["processor_refund_id"], "", "missing"))

    account = next(victims)
    account["gl_account"] = "4910"
    expected.add((account["processor_refund_id"], account["erp_document_id"], "wrong GL account"))

    amount = next(victims)
    amount["amount"] = str(round(float(amount["amount"]) + 1, 2)) if amount["currency"] not in ("JPY", "KWD") else amount["amount"] + "1"
    expected.add((amount["processor_refund_id"], amount["erp_document_id"], "amount"))

    currency = next(victims)
    currency["currency"] = {"USD": "EUR", "EUR": "GBP", "GBP": "USD", "JPY": "KRW", "KWD": "BHD"}[currency["currency"]]
    expected.add((currency["processor_refund_id"], currency["erp_document_id"], "currency"))

    period = next(victims)
    period["posting_period"] = "2025-12"
    expected.add((period["processor_refund_id"], period["erp_document_id"], "period"))

    duplicate = dict(next(victims), erp_document_id="CR-DUPLICATE", posted_at="2026-02-28T23:00:00Z",
                     received_at="2026-02-28T23:00:00Z")
    rows.append(duplicate)
    expected.add((duplicate["processor_refund_id"], "CR-DUPLICATE", "duplicate key"))

    extra = dict(rows[0], erp_document_id="CR-EXTRA", processor_refund_id="re_not_in_batch")
    rows.append(extra)
    expected.add(("re_not_in_batch", "CR-EXTRA", "extra"))

    candidate = tmp_path / "candidate.csv"
    write_rows(candidate, rows)
    result = run("validate-writeback", "--batch", str(batch), "--candidate", str(candidate), "--as-of", AS_OF,
                 "--out", str(tmp_path / "differences.csv"))
    assert result.returncode == 1, result.stdout[-3000:]
    found = {(row["processor_refund_id"], row["erp_document_id"], row["problem"])
             for row in read_rows(tmp_path / "differences.csv")}
    assert found == expected
    assert "8 differences" in result.stdout


def test_mapping_change_shows_exactly_the_refunds_it_moves(tmp_path: Path) -> None:
    """Remap Adyen's 'refunded' from succeeded to pending: every such refund
    that has an ERP booking becomes a status_mismatch, and nothing else moves."""
    project = tmp_path / "project"
    shutil.copytree(PROJECT_DIR, project, ignore=shutil.ignore_patterns(
        ".venv", ".git", "target", "logs", "reports", "*.duckdb*", "__pycache__", ".pytest_cache"))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], cwd=project, check=True)
    subprocess.run([*git, "add", "-A"], cwd=project, check=True)
    subprocess.run([*git, "commit", "-qm", "base"], cwd=project, check=True)
    seed = project / "seeds" / "refund_status_map.csv"
    seed.write_text(seed.read_text().replace("processor,adyen,refunded,succeeded,true",
                                             "processor,adyen,refunded,pending,false"))

    data = project / "data" / "sample"
    result = run("mapping-impact", "--base", "HEAD", "--data-dir", str(data), "--as-of", AS_OF,
                 "--out", str(tmp_path / "impact.csv"), cwd=project, runner=project / "scripts" / "checkpoint.py")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "Seeds changed since HEAD: refund_status_map.csv" in result.stdout
    changes = read_rows(tmp_path / "impact.csv")
    assert changes, "the remap moves some refunds"

    # Independently: Adyen refunds whose current (latest) status is 'refunded'.
    events = pd.read_csv(data / "processor_refunds.csv", dtype=str, keep_default_na=False)
    events = events[events["processor"].str.strip().str.lower() == "adyen"]
    events["at"] = pd.to_datetime(events["event_at"], utc=True, format="ISO8601")
    events["row"] = range(len(events))
    latest = events.sort_values(["at", "row"]).groupby("processor_refund_id").tail(1)
    moved = set(latest[latest["status"].str.strip().str.lower() == "refunded"]["processor_refund_id"])
    booked = {row["processor_refund_id"] for row in read_rows(data / "erp_refund_postings.csv")
              if row["gl_account"].strip() in ("4900", "4910")}

    # A moved refund can also move the refunds of its order (partial refunds
    # are judged per order), and nothing else.
    moved_orders = set(latest[latest["processor_refund_id"].isin(moved)]["order_id"])
    all_events = pd.read_csv(data / "processor_refunds.csv", dtype=str, keep_default_na=False)
    order_mates = set(all_events[all_events["order_id"].isin(moved_orders)]["processor_refund_id"])
    assert {row["refund_id"] for row in changes} <= moved | order_mates
    added_mismatch = {row["refund_id"] for row in changes
                      if row["change"] == "added" and row["variance_type"] == "status_mismatch"}
    already_mismatched = {row["refund_id"] for row in read_rows(data / "ground_truth.csv")
                          if row["variance_type"] == "status_mismatch"}
    assert added_mismatch == (moved & booked) - already_mismatched
    # Only state-dependent findings move (and, through a partial-refund order
    # that is no longer collapsed, its amount finding): no currency or reason.
    assert {row["variance_type"] for row in changes} <= {
        "status_mismatch", "missing_in_erp", "confirmation_lag", "wrong_period", "partial_refund_collapsed",
        "amount_mismatch"}
