"""The verdict first (issue 28): a checkpoint builds the verdict's models and
data tests, records and announces its outcome, then builds the rest; a
failure after the verdict is its own line and never changes the verdict.

- The two phases (recon_runner.checkpoint.phase_selection) are disjoint and
  together the whole build, with the default shapes and with every shape on;
  a test in the second phase that also reads a verdict model is one of a
  named few (a cross-check of a late mart against the verdict's).
- Three checkpoints on the bundled sample: the first announces its verdict
  (webhook, summary.json) before the second phase has run; on the second, a
  hand-made table referencing fct_expected_erp_postings breaks the build
  after the verdict: the outcome and exit code stay the verdict's, the database
  still records the checkpoint, the broken mart keeps the previous
  checkpoint's rows (its checkpoint_id says so), BI tools keep the previous
  publication, and a second message says what failed; the third, with the
  table gone, completes and every mart is its own again.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from conftest import PROJECT_DIR, SAMPLE_DIR
from dbt_in_process import run_dbt_in_process
from recon_runner import cli
from recon_runner.checkpoint import PHASES, VERDICT_MARTS, phase_selection
from test_checkpoint_runner import Webhook

AS_OF = ["2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z"]
CHECKPOINT = ["cp_20260301T000000Z", "cp_20260302T000000Z", "cp_20260303T000000Z"]
EVERY_SHAPE = {"storefront_shapes": ["generic", "shopify"],
               "processor_shapes": ["generic", "stripe", "adyen", "paypal", "square"],
               "erp_shapes": ["generic", "netsuite"]}

# Data tests that run after the verdict although they read a verdict model (a seed
# such as currencies is read by both phases): each
# checks a late mart against the verdict's, so it cannot run before the late mart.
LATE_CROSS_CHECKS = {
    "relationships_fct_refund_variances_refund_key__refund_key__ref_fct_refund_audit_trail_":
        "every variance's refund has an audit trail",
    "relationships_fct_rejected_rows_rejected_row_id__audit_record_id__ref_fct_refund_audit_trail_":
        "every rejected row is in the audit trail",
    "relationships_fct_suggested_matches_candidate_variance_id__variance_id__ref_fct_refund_variances_":
        "a suggestion's candidate is a variance",
    "relationships_fct_suggested_matches_variance_id__variance_id__ref_fct_refund_variances_":
        "a suggestion is for a variance",
}


def listed(work: Path, dbt_vars: dict, *selection: str) -> set[str]:
    result = run_dbt_in_process("ls", "--quiet", "--exclude-resource-type", "unit_test", "--output", "json",
                                "--output-keys", "unique_id", *selection, dbt_vars=dbt_vars, artifacts=work,
                                database=work / "ls.duckdb")
    assert result.returncode == 0, result.stdout[-3000:]
    return {json.loads(line)["unique_id"] for line in result.stdout.splitlines() if line.startswith("{")}


@pytest.mark.parametrize("shapes", [{}, EVERY_SHAPE], ids=["generic", "every_shape"])
def test_the_phases_split_the_build(tmp_path: Path, shapes: dict) -> None:
    dbt_vars = {"data_dir": str(SAMPLE_DIR), **shapes}
    everything = listed(tmp_path, dbt_vars)
    verdict, after = (listed(tmp_path, dbt_vars, *phase_selection(phase)) for phase in PHASES)
    assert verdict & after == set()
    assert verdict | after == everything
    assert {f"model.refund_recon.{name}" for name in VERDICT_MARTS} <= verdict
    assert "model.refund_recon.fct_refund_audit_trail" in after
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())["nodes"]
    verdict_models = {node for node in verdict if node.startswith("model.")}
    spanning = {manifest[node]["name"] for node in after if node.startswith("test.")
                and set(manifest[node]["depends_on"]["nodes"]) & verdict_models}
    assert spanning == set(LATE_CROSS_CHECKS)


def checkpoint(root: Path, day: int) -> int:
    return cli.main(["run", "--as-of", AS_OF[day], "--data-dir", str(SAMPLE_DIR), "--database",
                     str(root / "recon.duckdb"), "--reports-dir", str(root / "reports"), "--bi-dir", str(root / "bi")])


@pytest.fixture(scope="module")
def three_days(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("verdict_first")
    artifacts = root / "recon.duckdb.dbt" / "target"
    at_verdict: list[dict] = []

    def seen(payload: dict) -> None:
        """What is on disk when a message arrives."""
        # the messages: the first checkpoint's, the second's and its after-verdict one, the third's
        folder = root / "reports" / CHECKPOINT[[0, 1, 1, 2][len(at_verdict)]]
        results = json.loads((artifacts / "run_results.json").read_text())["results"]
        at_verdict.append({"text": payload["text"], "after_verdict": payload.get("after_verdict"),
                           "ran": {row["unique_id"] for row in results},
                           "summary": json.loads((folder / "summary.json").read_text())
                           if (folder / "summary.json").exists() else None})

    hook = Webhook(on_receive=seen)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REFUND_RECON_WEBHOOK_URL", hook.url)
        try:
            codes = [checkpoint(root, 0)]
            with duckdb.connect(str(root / "recon.duckdb")) as con:   # a hand-made table that blocks a late mart
                con.execute("create or replace table fct_expected_erp_postings as "
                            "select * from fct_expected_erp_postings")
                con.execute("alter table fct_expected_erp_postings add primary key (processor_refund_id)")
                con.execute("create table hand_made_links (processor_refund_id varchar "
                            "references fct_expected_erp_postings (processor_refund_id))")
            codes.append(checkpoint(root, 1))
            with duckdb.connect(str(root / "recon.duckdb")) as con:
                marts = mart_checkpoints(con)
                con.execute("drop table hand_made_links")
            codes.append(checkpoint(root, 2))
        finally:
            hook.close()
    summaries = [json.loads((root / "reports" / name / "summary.json").read_text()) for name in CHECKPOINT]
    with duckdb.connect(str(root / "recon.duckdb"), read_only=True) as con:
        marts_after = mart_checkpoints(con)
    return {"root": root, "codes": codes, "messages": at_verdict, "summaries": summaries,
            "marts_after_failure": marts, "marts_after_recovery": marts_after}


MARTS = sorted(path.stem for path in (PROJECT_DIR / "models" / "marts").rglob("*.sql"))


def mart_checkpoints(con: duckdb.DuckDBPyConnection) -> dict[str, set]:
    """Each mart's checkpoint ids (its rows'; a history mart's latest)."""
    found = {}
    for mart in MARTS:
        column = "max(checkpoint_id)" if mart in HISTORY else "checkpoint_id"
        found[mart] = {row[0] for row in con.execute(f"select distinct {column} from {mart}").fetchall()}
    return found


HISTORY = {path.stem for path in (PROJECT_DIR / "models" / "marts" / "history").glob("*.sql")}


def test_the_verdict_is_announced_before_the_late_marts_are_built(three_days: dict) -> None:
    first = three_days["messages"][0]
    assert first["summary"] is not None and first["summary"]["outcome"] == "variances_found"
    assert first["summary"]["after_verdict"]["outcome"] == "running"
    assert first["text"] == three_days["summaries"][0]["message"]
    assert "model.refund_recon.fct_checkpoint_runs" in first["ran"]
    assert "model.refund_recon.fct_refund_audit_trail" not in first["ran"]
    assert three_days["summaries"][0]["after_verdict"] == {"outcome": "completed"}
    assert three_days["codes"][0] == 1


def test_a_failure_after_the_verdict_keeps_the_verdict(three_days: dict) -> None:
    root, summary = three_days["root"], three_days["summaries"][1]
    assert three_days["codes"][1] == 2 and summary["outcome"] == "stale_sources"
    after = summary["after_verdict"]
    assert after["outcome"] == "failed" and "fct_expected_erp_postings" in after["error"]
    assert [node["name"] for node in after["failed_nodes"]] == ["fct_expected_erp_postings"]
    texts = [message["text"] for message in three_days["messages"][1:3]]
    assert three_days["messages"][1]["summary"]["after_verdict"]["outcome"] == "running"
    assert summary["message"] == texts[0] + "\n" + texts[1]
    assert [message["after_verdict"] for message in three_days["messages"]] == ["running", "running", "failed",
                                                                                 "running"]
    assert "After the verdict: FAILED" in texts[1] and "fct_expected_erp_postings" in texts[1]
    assert "(stale_sources)" in texts[1]
    folder = root / "reports" / CHECKPOINT[1]
    assert 'id="after-verdict"' in (folder / "report.html").read_text()
    assert 'id="after-verdict"' in (folder / "audit.html").read_text()
    assert not (folder / "corrections.csv").exists()
    assert summary["bi"]["published"] is False
    with duckdb.connect(str(root / "recon.duckdb"), read_only=True) as con:
        runs = con.execute("select checkpoint_id, outcome from fct_checkpoint_runs order by as_of").fetchall()
        attempts = con.execute("select checkpoint_id, outcome, reason from checkpoint_attempts "
                               "order by as_of").fetchall()
    assert runs == [(CHECKPOINT[0], "variances_found"), (CHECKPOINT[1], "stale_sources"),
                    (CHECKPOINT[2], "stale_sources")]
    assert attempts[1][:2] == (CHECKPOINT[1], "stale_sources") and "after the verdict" in attempts[1][2]
    # the mart the failure blocked, and the one built from it, still hold the first checkpoint's
    # rows and say so; the rest are the second's
    marts = three_days["marts_after_failure"]
    assert marts.pop("fct_expected_erp_postings") == marts.pop("fct_proposed_erp_corrections") == {CHECKPOINT[0]}
    assert all(ids <= {CHECKPOINT[1]} for ids in marts.values()), marts
    assert marts["fct_refund_audit_trail"] == {CHECKPOINT[1]}


def test_the_next_checkpoint_completes_and_every_mart_is_its_own(three_days: dict) -> None:
    root, summary = three_days["root"], three_days["summaries"][2]
    assert three_days["codes"][2] == 2 and summary["after_verdict"] == {"outcome": "completed"}
    assert len(three_days["messages"]) == 4   # one message each, and one after the second's verdict
    assert summary["bi"]["published"] is True
    marts = three_days["marts_after_recovery"]
    assert all(ids <= {CHECKPOINT[2]} for ids in marts.values()), marts
    assert marts["fct_refund_audit_trail"] == marts["fct_checkpoint_runs"] == {CHECKPOINT[2]}


def test_the_report_of_a_completed_checkpoint_has_no_after_verdict_line(three_days: dict) -> None:
    folder = three_days["root"] / "reports" / CHECKPOINT[2]
    assert 'id="after-verdict"' not in (folder / "report.html").read_text()
    assert (folder / "corrections.csv").exists()


CALLER = """\
import sys
from pathlib import Path

Path(sys.argv[1]).open("a").write("ran\\n")   # no `if __name__ == "__main__":` guard, on purpose
from recon_runner.dbt import DbtSession

with DbtSession() as dbt:
    result = dbt.run("ls", "--quiet", "--select", "fct_checkpoint_runs", artifacts=Path(sys.argv[2]),
                     dbt_vars={"data_dir": sys.argv[3]}, database=Path(sys.argv[2]) / "ls.duckdb")
print("exit", result.returncode)
"""


def test_the_dbt_process_runs_nothing_of_its_caller(tmp_path: Path) -> None:
    """The checkpoint's dbt process is a fresh interpreter: a script that runs
    checkpoints without a main guard runs once (multiprocessing's spawn would
    import it again in the dbt process)."""
    script, marks = tmp_path / "caller.py", tmp_path / "marks.txt"
    script.write_text(CALLER)
    done = subprocess.run([sys.executable, str(script), str(marks), str(tmp_path), str(SAMPLE_DIR)],
                          capture_output=True, text=True, timeout=300)
    assert done.stdout.strip().splitlines()[-1] == "exit 0", done.stdout[-2000:] + done.stderr[-2000:]
    assert "fct_checkpoint_runs" in done.stdout
    assert marks.read_text() == "ran\n"
