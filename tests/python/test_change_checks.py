"""Checks before a change ships: the writeback dry run catches a candidate's
faults field by field (and passes a correct one); the CI recipe of docs/ci.md
runs on a fresh clone and mapping-impact lists exactly the refunds a seed
change adds, removes, reclassifies and changes, with their money per currency
and a Markdown summary, and leaves the working tree as it found it."""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from decimal import Decimal
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


def ci_recipe(project: Path) -> str:
    """The CI recipe's commands, as docs/ci.md gives them."""
    text = (project / "docs" / "ci.md").read_text(encoding="utf-8")
    block = text[text.index("<!-- ci-recipe:start"):text.index("<!-- ci-recipe:end -->")]
    return block[block.index("```sh") + len("```sh"):block.rindex("```")]


def test_ci_recipe_on_a_fresh_clone_reports_what_a_mapping_change_moves(tmp_path: Path) -> None:
    """docs/ci.md's recipe, run as written on a `git clone` of the project (a
    fresh CI checkout: no database, no target/): the base revision's manifest,
    `dbt build --select @state:modified`, then mapping-impact with --markdown.

    The change remaps Adyen's 'refunded' (documented as a settled refund)
    from succeeded to pending: the recipe's build fails on the mapping
    contract and nothing else (every model the selection needs builds on the
    fresh database). mapping-impact, run as a reviewer would, names every
    such refund as taken out of the confirmation check with its amount (and
    --fail-on-unchecked exits 1); every such refund that has an ERP booking
    becomes a status_mismatch (added, or changed where it already was one
    for another reason), and nothing else moves but findings that depended
    on the succeeded state."""
    project = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(PROJECT_DIR), str(project)], check=True)
    (project / ".venv").symlink_to(Path(sys.executable).parents[1])   # `make setup`, already done
    seed = project / "seeds" / "refund_status_map.csv"
    assert "processor,adyen,refunded,succeeded,true" in seed.read_text()
    seed.write_text(seed.read_text().replace("processor,adyen,refunded,succeeded,true",
                                             "processor,adyen,refunded,pending,false"))
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DBT_PROFILES_DIR": str(project),
           "BASE": "HEAD", "AS_OF": AS_OF}
    env.pop("REFUND_RECON_DUCKDB", None)
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", ci_recipe(project)], cwd=project, env=env,
                            capture_output=True, text=True, timeout=900)
    output = result.stdout[-4000:] + result.stderr[-2000:]
    assert result.returncode != 0, output
    assert (project / "prod-artifacts" / "manifest.json").exists()
    # The build stops on the contract alone: no model failed, only the mapping contract.
    assert re.findall(r"FAIL \d+ (\S+)", result.stdout) == ["assert_settled_statuses_map_to_succeeded"], output
    assert "ERROR creating" not in result.stdout and "Done. PASS=" in result.stdout, output
    assert not (project / "impact.csv").exists()

    # The reviewer's view of the same change: mapping-impact alone builds no tests.
    impact = subprocess.run(
        [sys.executable, "scripts/checkpoint.py", "mapping-impact", "--base", "HEAD", "--as-of", AS_OF,
         "--out", "impact.csv", "--markdown", "impact.md", "--fail-on-unchecked"],
        cwd=project, env=env, capture_output=True, text=True, timeout=900)
    assert impact.returncode == 1, impact.stdout[-4000:] + impact.stderr[-2000:]
    assert "Seeds changed since HEAD: refund_status_map.csv" in impact.stdout
    changes = read_rows(project / "impact.csv")
    assert changes, "the remap moves some refunds"

    # Independently: Adyen refunds whose current (latest) status is 'refunded'.
    data = project / "data" / "sample"
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
    truth = read_rows(data / "ground_truth.csv")
    already_mismatched = {row["refund_id"] for row in truth if row["variance_type"] == "status_mismatch"}
    at_base = {row["refund_id"] for row in truth}
    by_refund = {row["refund_id"]: row for row in changes}
    amounts = latest.set_index("processor_refund_id")
    # Every moved refund the ERP booked becomes a status_mismatch: added where it had no variance,
    # reclassified where it had others; its money at stake is the refund's amount (never 0).
    newly = (moved & booked) - already_mismatched
    assert newly and newly <= set(by_refund)
    for refund_id in newly:
        row = by_refund[refund_id]
        assert "status_mismatch" in row["variance_type"].split("+"), row
        assert row["change"] == ("reclassified" if refund_id in at_base else "added"), row
        amount = Decimal(amounts.loc[refund_id, "amount"].strip())
        stake = Decimal(row["amount_at_stake"])   # a refund counts once: its largest variance's money
        assert stake == amount if row["variance_type"] == "status_mismatch" else stake >= amount, row
        assert row["currency"] == amounts.loc[refund_id, "currency"].strip().upper()
    reclassified = [row for row in changes if row["change"] == "reclassified"]
    assert reclassified and "reclassified" in impact.stdout
    for row in reclassified:
        assert row["variance_type"] != row["before_variance_type"] or (
            row["amount_at_stake"] != row["before_amount_at_stake"]), row
    # A refund already in status_mismatch (the ERP booked a partial scope) keeps it; what the
    # processor status requires, and so the detail, changes.
    kept = (moved & booked) & already_mismatched
    assert kept and kept <= set(by_refund)
    for refund_id in kept:
        row = by_refund[refund_id]
        assert row["change"] in ("changed", "reclassified") and "detail" in row["changed_fields"].split(","), row
        assert "status_mismatch" in row["before_variance_type"].split("+"), row
        assert "processor status is pending" in row["detail"]
        assert "processor status is succeeded" in row["before_detail"]
    # Only state-dependent findings move (and, through a partial-refund order
    # that is no longer collapsed, its amount finding): no currency or reason.
    def types(text: str) -> set[str]:
        return set(text.split("+")) - {""}

    gained_or_lost = set().union(*(types(row["variance_type"]) ^ types(row["before_variance_type"])
                                   if row["change"] == "reclassified" else
                                   types(row["variance_type"]) if row["change"] in ("added", "removed") else set()
                                   for row in changes))
    assert gained_or_lost <= {"status_mismatch", "missing_in_erp", "confirmation_lag", "wrong_period",
                              "partial_refund_collapsed", "amount_mismatch"}

    # The Markdown a pull request shows.
    markdown = (project / "impact.md").read_text(encoding="utf-8")
    counts = {change: sum(1 for row in changes if row["change"] == change)
              for change in ("added", "removed", "reclassified", "changed")}
    assert (f"Refunds with variances **added {counts['added']}**, **removed {counts['removed']}**, "
            f"**reclassified {counts['reclassified']}**, **changed {counts['changed']}**.") in markdown
    assert "| variance type | added | removed | reclassified | changed |" in markdown
    section = markdown[markdown.index(f"### Reclassified refunds (other variance types or money) "
                                      f"({counts['reclassified']})"):]
    for row in reclassified[:50]:
        assert f"| {row['refund_id']} | {row['before_variance_type']} → {row['variance_type']} |" in section or (
            f"| {row['refund_id']} | {row['variance_type']} |" in section)
    # Money the change moves, per currency, each at its exponent.
    assert "| change | currency | refunds | at stake before | at stake after |" in markdown
    # Amounts at stake per currency, each at its exponent: the base's are the
    # sample's own variances (checked against the ground truth elsewhere).
    assert "| currency | variances before | at stake before | variances after | at stake after |" in markdown
    assert "| JPY |" in markdown and "| KWD |" in markdown

    # Every moved refund leaves the confirmation check, booked or not, each named with its amount.
    unchecked = read_rows(project / "impact_out_of_check.csv")
    assert {row["refund_id"] for row in unchecked} == moved and moved - booked
    amounts = latest.set_index("processor_refund_id")
    for row in unchecked:
        assert (row["before_status"], row["status"], row["before_requirement"], row["requirement"]) == (
            "succeeded", "pending", "required", "optional")
        assert Decimal(row["amount"]) == Decimal(amounts.loc[row["refund_id"], "amount"].strip())
        assert row["currency"] == amounts.loc[row["refund_id"], "currency"].strip().upper()
    assert f"Refunds taken out of the confirmation check: {len(moved)}" in impact.stdout
    assert f"### ⚠ Refunds taken out of the confirmation check ({len(moved)})" in markdown
    for row in unchecked[:50]:
        assert (f"| {row['refund_id']} | succeeded → pending | required → optional | "
                f"{money_text(row['amount'], row['currency'])} |") in markdown


def money_text(amount: str, currency: str) -> str:
    from recon_runner.change_checks import minor_units, money

    return money(amount, currency, minor_units())


def write_variances(path: Path, rows: list[tuple]) -> None:
    """A hand-made fct_refund_variances; amount_at_stake as the mart defines it for the types
    used here (macros/money/amount_at_stake.sql): |amount_delta| for amount_mismatch, else the
    refund's own amount."""
    import duckdb

    with duckdb.connect(str(path)) as con:
        con.execute("""create table fct_refund_variances (variance_id varchar, refund_id varchar, variance_type varchar,
            discrepancy_system varchar, storefront_amount decimal(38, 4), processor_amount decimal(38, 4),
            erp_amount decimal(38, 4), amount_delta decimal(38, 4), currency varchar, detail varchar,
            amount_at_stake decimal(38, 4))""")
        con.executemany("insert into fct_refund_variances values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
            (*row, abs(Decimal(row[7])) if row[2] == "amount_mismatch" else Decimal(row[5] or row[4] or row[6]))
            for row in rows])


def test_impact_lists_refunds_added_removed_reclassified_and_changed_with_money(tmp_path: Path) -> None:
    """No dbt: two variance reports side by side, compared refund by refund. A refund that stays
    a variance but changes type, or money at stake, is reclassified; a status change puts the
    refund's own amount at stake (never 0); money is per currency, each at its exponent; the
    Markdown is capped and escaped."""
    from recon_runner.change_checks import compare_variances, impact_markdown, minor_units

    def row(vid: str, refund: str, delta: str | None, *, system: str = "erp", currency: str = "USD",
            detail: str = "d", kind: str = "amount_mismatch", erp: str | None = None,
            processor: str = "10") -> tuple:
        return (vid, refund, kind, system, None, processor, erp, delta, currency, detail)

    base = [row("same", "r1", "-1"), row("gone", "r2", "-5"), row("delta", "r3", "-2"),
            row("system", "r4", "-3", system="storefront"), row("amount", "r5", "0", erp="1"),
            row("yen", "r6", "-37224", currency="JPY", kind="missing_in_erp", processor="37224"),
            row("r7-amount", "r7", "-4"),
            row("r8-lag", "r8", "0", kind="confirmation_lag", processor="66.967", currency="KWD")]
    head = [row("same", "r1", "-1"), row("delta", "r3", "-7"), row("system", "r4", "-3"),
            row("amount", "r5", "0", erp="2"),
            row("yen", "r6", "-37224", currency="JPY", kind="missing_in_erp", processor="37224"),
            # r7: still a variance, now of another type: reclassified, its money the refund's amount.
            row("r7-status", "r7", "0", kind="status_mismatch"),
            # r8: keeps its lag and gains a status mismatch: reclassified, same money.
            row("r8-lag", "r8", "0", kind="confirmation_lag", processor="66.967", currency="KWD"),
            row("r8-status", "r8", "0", kind="status_mismatch", processor="66.967", currency="KWD"),
            *[row(f"new{i:02d}", f"n{i:02d}", "-1", kind="missing_in_erp", processor="1") for i in range(55)],
            row("evil", "<!channel> @here [x](https://e.x) | =1", "-1", detail="a | b\nc <b>")]
    write_variances(tmp_path / "base.duckdb", base)
    write_variances(tmp_path / "head.duckdb", head)
    rows, stakes = compare_variances(tmp_path / "base.duckdb", tmp_path / "head.duckdb")
    by_refund = {r["refund_id"]: r for r in rows}
    assert sorted(by_refund) == sorted(["r2", "r3", "r4", "r5", "r7", "r8", "<!channel> @here [x](https://e.x) | =1",
                                        *[f"n{i:02d}" for i in range(55)]])
    changes = {refund: r["change"] for refund, r in by_refund.items()}
    assert changes["r2"] == "removed" and changes["n00"] == "added"
    assert (changes["r3"], changes["r4"], changes["r5"], changes["r7"], changes["r8"]) == (
        "reclassified", "changed", "changed", "reclassified", "reclassified")
    r3, r7, r8 = by_refund["r3"], by_refund["r7"], by_refund["r8"]
    assert (r3["variance_type"], r3["before_amount_at_stake"], r3["amount_at_stake"], r3["changed_fields"]) == (
        "amount_mismatch", Decimal("2"), Decimal("7"), "amount_at_stake,amount_delta")
    assert (r7["before_variance_type"], r7["variance_type"], r7["before_amount_at_stake"], r7["amount_at_stake"]) == (
        "amount_mismatch", "status_mismatch", Decimal("4"), Decimal("10"))
    assert (r8["before_variance_type"], r8["variance_type"], r8["amount_at_stake"], r8["currency"]) == (
        "confirmation_lag", "confirmation_lag+status_mismatch", Decimal("66.967"), "KWD")
    assert (by_refund["r4"]["changed_fields"], by_refund["r4"]["before_discrepancy_system"]) == (
        "discrepancy_system", "storefront")
    assert by_refund["r5"]["changed_fields"] is None  # only erp_amount moved: in the signature, not a column
    assert by_refund["r2"]["amount_at_stake"] == Decimal("5")
    assert {s["currency"]: (s["count"], s["amount"]) for s in stakes["base"]} == {
        "JPY": (1, Decimal("37224")), "KWD": (1, Decimal("66.967")), "USD": (6, Decimal("15"))}
    assert {s["currency"]: (s["count"], s["amount"]) for s in stakes["head"]} == {
        "JPY": (1, Decimal("37224")), "KWD": (2, Decimal("66.967")), "USD": (61, Decimal("77"))}

    markdown = impact_markdown("origin/main", ["refund_status_map.csv"], rows, stakes, minor_units(), limit=50)
    assert ("Refunds with variances **added 56**, **removed 1**, **reclassified 3**, **changed 2**."
            in markdown)
    assert "| status_mismatch | 0 | 0 | 2 | 0 |" in markdown and "| missing_in_erp | 55 | 0 | 0 | 0 |" in markdown
    assert "| amount_mismatch | 1 | 1 | 2 | 2 |" in markdown
    # Money per currency the change moves: reclassified USD 6.00 -> 17.00 (r3 2 -> 7, r7 4 -> 10).
    assert "| reclassified | USD | 2 | USD 6.00 | USD 17.00 |" in markdown
    assert "| reclassified | KWD | 1 | KWD 66.967 | KWD 66.967 |" in markdown
    assert "| removed | USD | 1 | USD 5.00 | USD 0.00 |" in markdown
    assert "| added | USD | 56 | USD 0.00 | USD 56.00 |" in markdown
    assert "| JPY | 1 | JPY 37,224 | 1 | JPY 37,224 |" in markdown
    assert "| USD | 6 | USD 15.00 | 61 | USD 77.00 |" in markdown
    assert "### Reclassified refunds (other variance types or money) (3)" in markdown
    assert ("| r7 | amount_mismatch → status_mismatch | USD 4.00 → USD 10.00 | "
            "variance_type,amount_at_stake,amount_delta,detail | erp |") in markdown
    assert "| r4 | amount_mismatch | USD 3.00 | discrepancy_system | storefront → erp |" in markdown
    assert "… and 6 more added refunds (all of them in the CSV)." in markdown
    assert markdown.count("| missing_in_erp | USD 1.00 | erp |") + markdown.count(
        "| amount_mismatch | USD 1.00 | erp | amount_mismatch: a") == 50
    # Data cannot become a mention, a link, HTML or a table break.
    assert (r"| &lt;!channel&gt; &#64;here \[x\](https://e.x) \| =1 | amount_mismatch | USD 1.00 | erp | "
            r"amount_mismatch: a \| b c &lt;b&gt; |") in markdown.splitlines()


def test_the_check_csvs_are_spreadsheet_safe(tmp_path: Path) -> None:
    """No dbt: a refund id or detail a spreadsheet would run as a formula is
    neutralised; amounts stay plain numbers (OWASP's CSV injection rule)."""
    from recon_runner.change_checks import IMPACT_COLUMNS, write_csv

    out = tmp_path / "impact.csv"
    write_csv(out, [
        {"refund_id": '=HYPERLINK("https://e.x","x")', "detail": "@SUM(1+1)", "amount_delta": Decimal("-37224"),
         "currency": "JPY"},
        {"refund_id": "+1", "detail": "-2", "amount_delta": Decimal("-12.50"), "currency": "USD"},
    ], IMPACT_COLUMNS, at_currency_exponent=False)
    rows = read_rows(out)
    assert [(r["refund_id"], r["detail"], r["amount_delta"]) for r in rows] == [
        ("'=HYPERLINK(\"https://e.x\",\"x\")", "'@SUM(1+1)", "-37224"), ("'+1", "'-2", "-12.50")]


def test_refunds_out_of_the_check_are_named_with_their_amounts(tmp_path: Path) -> None:
    """No dbt: two builds side by side. A required posting turned optional or none, an unknown
    state turned into one that needs no posting, and a posting on an unmapped GL account that the
    change counts as the booking are named; a refund still checked, or newly checked, is not."""
    import duckdb

    from recon_runner.change_checks import refunds_out_of_check

    def write(path: Path, expected: list[tuple], variances: list[tuple]) -> None:
        with duckdb.connect(str(path)) as con:
            con.execute("""create table fct_expected_erp_postings (processor_refund_id varchar,
                processor_status varchar, posting_requirement varchar, amount decimal(38, 4), currency varchar)""")
            con.executemany("insert into fct_expected_erp_postings values (?, ?, ?, ?, ?)", expected)
            write_variances_into(con, variances)

    def write_variances_into(con, rows: list[tuple]) -> None:
        con.execute("""create table fct_refund_variances (refund_id varchar, variance_type varchar,
            discrepancy_system varchar)""")
        con.executemany("insert into fct_refund_variances values (?, ?, ?)", rows)

    base = [("re_pending", "succeeded", "required", "12.50", "USD"), ("re_failed", "succeeded", "required", "500", "JPY"),
            ("re_unknown", None, "unknown", "1.234", "KWD"), ("re_kept", "succeeded", "required", "3", "USD"),
            ("re_gl", "succeeded", "required", "7", "USD"), ("re_now_checked", "pending", "optional", "9", "USD"),
            ("re_gl_wrong", "succeeded", "required", "8", "USD")]
    head = [("re_pending", "pending", "optional", "12.50", "USD"), ("re_failed", "failed", "none", "500", "JPY"),
            ("re_unknown", "canceled", "none", "1.234", "KWD"), ("re_kept", "succeeded", "required", "3", "USD"),
            ("re_gl", "succeeded", "required", "7", "USD"), ("re_now_checked", "succeeded", "required", "9", "USD"),
            ("re_gl_wrong", "succeeded", "required", "8", "USD")]
    write(tmp_path / "base.duckdb", base, [("re_kept", "missing_in_erp", "erp"), ("re_gl", "unmapped_status", "erp"),
                                           ("re_gl_wrong", "unmapped_status", "erp"),
                                           ("re_unknown", "unmapped_status", "processor")])
    write(tmp_path / "head.duckdb", head, [("re_kept", "missing_in_erp", "erp"),
                                           ("re_gl_wrong", "status_mismatch", "erp")])
    found = {row["refund_id"]: (row["before_status"], row["status"], row["before_requirement"], row["requirement"],
                                str(row["amount"]), row["currency"])
             for row in refunds_out_of_check(tmp_path / "base.duckdb", tmp_path / "head.duckdb")}
    assert found == {
        "re_pending": ("succeeded", "pending", "required", "optional", "12.5000", "USD"),
        "re_failed": ("succeeded", "failed", "required", "none", "500.0000", "JPY"),
        "re_unknown": (None, "canceled", "unknown", "none", "1.2340", "KWD"),
        "re_gl": ("succeeded", "succeeded", "required, ERP account unmapped", "required, booked", "7.0000", "USD"),
    }


def test_mapping_impact_leaves_the_working_tree_as_it_found_it(tmp_path: Path) -> None:
    """On a clone: after a success, a failed build and a SIGTERM mid-build (a CI job cancelled),
    `git status --porcelain` (ignored files included) is what it was, nothing is left in the
    temporary folder, and the only files written are the outputs asked for."""
    import signal
    import time

    project = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(PROJECT_DIR), str(project)], check=True)
    (project / ".venv").symlink_to(Path(sys.executable).parents[1])
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DBT_PROFILES_DIR": str(project),
           "TMPDIR": str(temp)}
    env.pop("REFUND_RECON_DUCKDB", None)
    command = [sys.executable, "scripts/checkpoint.py", "mapping-impact", "--base", "HEAD", "--as-of", AS_OF]

    def status() -> str:
        return subprocess.run(["git", "status", "--porcelain", "--ignored"], cwd=project, capture_output=True,
                              text=True, check=True).stdout

    seed = project / "seeds" / "refund_status_map.csv"
    seed.write_text(seed.read_text().replace("processor,adyen,refunded,succeeded,true",
                                             "processor,adyen,refunded,pending,false"))
    before = status()
    outputs = tmp_path / "out"
    ok = subprocess.run([*command, "--out", str(outputs / "impact.csv"), "--markdown", str(outputs / "impact.md")],
                        cwd=project, env=env, capture_output=True, text=True, timeout=900)
    assert ok.returncode == 0 and "reclassified" in ok.stdout, ok.stdout[-3000:] + ok.stderr[-2000:]
    assert status() == before
    assert list(temp.iterdir()) == []
    assert sorted(path.name for path in outputs.iterdir()) == ["impact.csv", "impact.md", "impact_acknowledged.csv",
                                                                  "impact_out_of_check.csv"]

    # A seed dbt cannot load: the head build fails.
    currencies = project / "seeds" / "currencies.csv"
    currencies.write_text(currencies.read_text() + 'garbage,"unterminated\n')
    before = status()
    failed = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=900)
    assert failed.returncode == 3 and "the head build failed" in failed.stdout, failed.stdout[-3000:]
    assert status() == before
    assert list(temp.iterdir()) == []

    # SIGTERM while dbt builds.
    subprocess.run(["git", "checkout", "--", "seeds/currencies.csv"], cwd=project, check=True)
    before = status()
    process = subprocess.Popen(command, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    assert process.stdout is not None
    for line in process.stdout:
        if "Building the variance report with the base seeds" in line:
            break
    time.sleep(3)
    assert process.poll() is None
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=120)
    assert process.returncode != 0
    assert status() == before
    assert list(temp.iterdir()) == []


def test_impact_reads_the_marts_amount_at_stake_where_it_has_one(tmp_path: Path) -> None:
    """No dbt: the variance mart's amount_at_stake is read as it is (the money is defined once,
    in the mart; change_checks has no rule of its own), and a mart without it is refused."""
    import duckdb

    from recon_runner.change_checks import compare_variances

    for name, stake in (("base", "4"), ("head", "6")):
        with duckdb.connect(str(tmp_path / f"{name}.duckdb")) as con:
            con.execute("""create table fct_refund_variances (variance_id varchar, refund_id varchar,
                variance_type varchar, discrepancy_system varchar, storefront_amount decimal(38, 4),
                processor_amount decimal(38, 4), erp_amount decimal(38, 4), amount_delta decimal(38, 4),
                currency varchar, detail varchar, amount_at_stake decimal(38, 4))""")
            con.execute("insert into fct_refund_variances values ('v', 'r1', 'status_mismatch', 'erp', null, 10, 10, 0, "
                        f"'USD', 'd', {stake})")
    rows, stakes = compare_variances(tmp_path / "base.duckdb", tmp_path / "head.duckdb")
    assert [(row["change"], row["before_amount_at_stake"], row["amount_at_stake"]) for row in rows] == [
        ("reclassified", Decimal("4"), Decimal("6"))]
    assert [(s["currency"], s["amount"]) for s in stakes["head"]] == [("USD", Decimal("6"))]
    with duckdb.connect(str(tmp_path / "head.duckdb")) as con:
        con.execute("alter table fct_refund_variances drop column amount_at_stake")
    with pytest.raises(ValueError, match="no amount_at_stake"):
        compare_variances(tmp_path / "base.duckdb", tmp_path / "head.duckdb")


# A dbt schema written into Python: main.fct_x, main_intermediate.int_x, main_mappings.currencies,
# "{label}.main.fct_x". dbt names its relations (target/manifest.json); Python asks it.
SCHEMA_IN_PYTHON = re.compile(r'(?<![\w"])main(_[a-z]+)?\.[a-z_]+')


def test_no_python_names_a_dbt_schema() -> None:
    """No dbt: the runner and the scripts resolve relation names from dbt's manifest
    (recon_runner.dbt.relation), never from a schema written in a string."""
    found = [f"{path.relative_to(PROJECT_DIR)}:{number}: {line.strip()}"
             for folder in ("scripts", "benchmarks") for path in sorted((PROJECT_DIR / folder).rglob("*.py"))
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
             if SCHEMA_IN_PYTHON.search(line)]
    assert not found, "\n".join(found)


def test_the_runner_imports_no_script_beside_it() -> None:
    """No dbt: every module recon_runner imports from this repository is inside the package
    (relative imports); a top-level module of scripts/ (as change_checks was) is not."""
    import ast

    scripts = {path.stem for path in (PROJECT_DIR / "scripts").glob("*.py")}
    found = []
    for path in sorted((PROJECT_DIR / "scripts" / "recon_runner").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            found += [f"{path.name}:{node.lineno}: {name}" for name in names if name.split(".")[0] in scripts]
    assert not found, found


def test_the_writeback_rules_are_a_dbt_analysis() -> None:
    """No dbt: what counts as a writeback difference is SQL dbt compiles (refs, macros), not a
    string in Python; the command runs that analysis."""
    from recon_runner import change_checks

    analysis = PROJECT_DIR / "analyses" / f"{change_checks.DIFFERENCES_ANALYSIS}.sql"
    assert "ref('fct_expected_erp_postings')" in analysis.read_text(encoding="utf-8")
    source = Path(change_checks.__file__).read_text(encoding="utf-8")
    assert "posting_role = 'duplicate'" in analysis.read_text(encoding="utf-8")
    assert "posting_role = 'duplicate'" not in source
