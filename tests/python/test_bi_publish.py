"""Publishing for BI: after each completed checkpoint every mart is copied to
bi/<published>-<checkpoint>/ (a DuckDB file of plain tables and one Parquet
file per mart) and `bi/current` is switched to it in one rename.

One scenario, three dbt builds (the days of test_checkpoint_runner.py):

  day 1  completed (variances_found)                      -> published, current = P1
         a BI process opens bi/current/refund_recon_bi.duckdb READ-WRITE and keeps it open
  day 3  failed (the ERP input is missing)                -> nothing published, current = P1
  day 3  completed while the BI process holds P1          -> exit 1, current = P2; the process still reads P1
  day 4  completed, --bi-dir unusable                     -> exit 1 (not failed), a warning in message and summary
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from conftest import PROJECT_DIR
from test_checkpoint_runner import as_of, write_day

RUNNER = PROJECT_DIR / "scripts" / "checkpoint.py"

from recon_runner import publish
from recon_runner.cli import parse_args

# Every model under models/marts/, from the files (independently of the
# manifest the runner reads): a new mart is published without a list to edit.
MARTS = sorted(path.stem for path in (PROJECT_DIR / "models" / "marts").rglob("*.sql"))

READER = textwrap.dedent("""
    import json, sys, duckdb
    con = duckdb.connect(sys.argv[1])          # read-write: DuckDB's default, as a BI tool opens it
    def state():
        return {"runs": con.execute("select count(*) from fct_checkpoint_runs").fetchone()[0],
                "history": con.execute("select count(*) from fct_variance_history").fetchone()[0]}
    print(json.dumps(state()), flush=True)
    sys.stdin.readline()                       # hold the file open until told
    print(json.dumps(state()), flush=True)
""")


def run(work: Path, data: Path, day: int, *extra: str) -> subprocess.CompletedProcess:
    env = {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
           "HOME": str(work)}
    return subprocess.run(
        [sys.executable, str(RUNNER), "run", "--data-dir", str(data), "--as-of", as_of(day),
         "--database", str(work / "recon.duckdb"), "--reports-dir", str(work / "reports"),
         "--bi-dir", str(work / "bi"), *extra],
        cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=600,
    )


def target(work: Path) -> str:
    return os.readlink(work / "bi" / "current")


def summary(work: Path, day: int) -> dict:
    return json.loads((work / "reports" / f"cp_202603{day:02d}T060000Z" / "summary.json").read_text())


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("bi")
    write_day(work / "day1", 1, None)
    write_day(work / "day3", 3, work / "day1")
    write_day(work / "day4", 4, work / "day3")
    shutil.copytree(work / "day3", work / "day3_no_erp")
    (work / "day3_no_erp" / "erp_refund_postings.csv").unlink()
    facts: dict = {"work": work, "results": {}}
    facts["results"]["day1"] = run(work, work / "day1", 1)
    facts["current1"] = target(work)
    facts["folders1"] = sorted(path.name for path in (work / "bi").iterdir())
    reader = subprocess.Popen([sys.executable, "-c", READER, str(work / "bi" / "current" / publish.BI_DATABASE)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        facts["reader_before"] = json.loads(reader.stdout.readline())
        facts["results"]["failed"] = run(work, work / "day3_no_erp", 3)
        facts["current_after_failure"] = target(work)
        facts["folders_after_failure"] = sorted(path.name for path in (work / "bi").iterdir())
        facts["results"]["day3"] = run(work, work / "day3", 3)
        facts["current2"] = target(work)
        shutil.copyfile(work / "recon.duckdb", work / "prod_day3.duckdb")   # what day 3 published from
        reader.stdin.write("\n")
        reader.stdin.flush()
        facts["reader_after"] = json.loads(reader.stdout.readline())
    finally:
        reader.stdin.close()
        reader.wait(timeout=60)
    (work / "not_a_folder").write_text("a file where the BI folder should be")
    facts["results"]["day4"] = run(work, work / "day4", 4, "--bi-dir", str(work / "not_a_folder" / "bi"))
    return facts


def test_a_bi_tool_holding_the_published_file_does_not_block_the_next_checkpoint(world: dict) -> None:
    results = world["results"]
    assert results["day1"].returncode == 1, results["day1"].stdout[-3000:]
    # Day 3 ran while another process held bi/current/refund_recon_bi.duckdb open read-write.
    assert results["day3"].returncode == 1, results["day3"].stdout[-3000:] + results["day3"].stderr[-2000:]
    assert world["current1"].endswith("-cp_20260301T060000Z")
    assert world["current2"].endswith("-cp_20260303T060000Z") and world["current2"] != world["current1"]
    with duckdb.connect(str(world["work"] / "bi" / "current" / publish.BI_DATABASE), read_only=True) as con:
        assert con.execute("select count(*) from fct_checkpoint_runs").fetchone()[0] == 2
    # The reader that opened the first publication still reads it, whole.
    assert world["reader_before"] == {"runs": 1, "history": 1}
    assert world["reader_after"] == world["reader_before"]
    bi_summary = summary(world["work"], 3)["bi"]
    assert bi_summary["published"] is True
    assert bi_summary["folder"] == str(world["work"] / "bi" / world["current2"])
    assert bi_summary["duckdb"] == str(world["work"] / "bi" / "current" / publish.BI_DATABASE)
    assert "marts published to" in results["day3"].stdout


def test_a_failed_checkpoint_leaves_current_unchanged(world: dict) -> None:
    assert world["results"]["failed"].returncode == 3
    assert world["current_after_failure"] == world["current1"]
    assert world["folders_after_failure"] == world["folders1"] == sorted(
        [publish.LEDGER, world["current1"], "current", publish.CURRENT_FILE])
    failed = json.loads((world["work"] / "reports" / "cp_20260303T060000Z-failed" / "summary.json").read_text())
    assert "bi" not in failed


def test_every_mart_is_published_with_the_databases_rows(world: dict) -> None:
    folder = world["work"] / "bi" / "current"
    assert len(MARTS) >= 6 and "fct_refund_variances" in MARTS and "fct_variance_history" in MARTS
    with duckdb.connect(str(folder / publish.BI_DATABASE), read_only=True) as con:
        con.execute(f"attach '{world['work'] / 'prod_day3.duckdb'}' as prod (read_only)")
        objects = con.execute("select table_name, table_type from information_schema.tables "
                              "where table_catalog = 'refund_recon_bi'").fetchall()
        # Only the marts, as plain tables: no view pointing back at the checkpoint database.
        assert sorted(objects) == [(mart, "BASE TABLE") for mart in MARTS]
        for mart in MARTS:
            prod_rows = con.execute(f"select count(*) from prod.main.{mart}").fetchone()[0]
            assert con.execute(f"select count(*) from main.{mart}").fetchone()[0] == prod_rows, mart
            parquet = folder / f"{mart}.parquet"
            assert con.execute(f"select count(*) from read_parquet('{parquet}')").fetchone()[0] == prod_rows, mart
            # The same rows, not only as many.
            assert con.execute(f"select count(*) from (select * from main.{mart} except all "
                               f"select * from prod.main.{mart})").fetchone()[0] == 0, mart
        assert con.execute("select count(*) from fct_checkpoint_runs").fetchone()[0] == 2
        variances = con.execute("select refund_id, amount_delta from read_parquet(?) order by 1",
                                [str(folder / "fct_refund_variances.parquet")]).fetchall()
        assert variances == con.execute("select refund_id, amount_delta from prod.main.fct_refund_variances "
                                        "order by 1").fetchall()
        assert [row[0] for row in variances] == ["re_A", "re_B"]
    publication = json.loads((folder / publish.PUBLICATION).read_text())
    assert publication["checkpoint_id"] == "cp_20260303T060000Z"
    assert publication["tables"]["fct_checkpoint_runs"] == 2 and sorted(publication["tables"]) == MARTS


def test_a_failed_publication_is_a_warning_not_a_failed_checkpoint(world: dict) -> None:
    result = world["results"]["day4"]
    assert result.returncode == 1, result.stdout[-3000:]
    assert "Outcome: variances_found (exit 1)" in result.stdout
    day4 = summary(world["work"], 4)
    assert day4["outcome"] == "variances_found" and day4["bi"]["published"] is False
    assert "could not be published for BI" in day4["bi"]["warning"] and day4["warnings"] == [day4["bi"]["warning"]]
    assert "Warning: the marts could not be published for BI" in day4["message"]
    # The checkpoint itself is recorded: the data verdict stands.
    with duckdb.connect(str(world["work"] / "recon.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from fct_checkpoint_runs").fetchone()[0] == 3
    # And the default BI folder was not touched.
    assert target(world["work"]) == world["current2"]


def ledger_of(bi_dir: Path, names: list[str]) -> None:
    """A ledger listing `names` as published (as publish() writes it)."""
    publish.write_ledger(bi_dir, {"database": "/db/recon.duckdb", "folders": {
        name: {"checkpoint_id": name.split("-", 1)[1], "as_of": "2026-03-01T00:00:00Z", "state": "published"}
        for name in names}})


def test_prune_keeps_the_newest_and_never_the_current(tmp_path: Path) -> None:
    names = [f"2026030{day}T000000Z-cp_2026030{day}T000000Z" for day in range(1, 6)]
    for name in names:
        (tmp_path / name).mkdir()
        (tmp_path / name / publish.BI_DATABASE).write_text("x")
    ledger_of(tmp_path, names)
    ledger = publish.read_ledger(tmp_path)
    ledger["folders"]["20260306T000000Z-cp_x"] = {"checkpoint_id": "cp_x", "as_of": "2026-03-06T00:00:00Z",
                                                   "state": "building"}
    publish.write_ledger(tmp_path, ledger)
    (tmp_path / ".building-20260306T000000Z-cp_x").mkdir()   # left by a killed run
    (tmp_path / ".current-99999").symlink_to(names[4])       # likewise
    publish.switch_current(tmp_path, names[0])                # a reader's current is the oldest
    removed = publish.prune(tmp_path, keep=2)
    assert removed == names[1:3]
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        [publish.LEDGER, names[0], *names[3:], "current", publish.CURRENT_FILE])
    publish.switch_current(tmp_path, names[4])
    assert publish.current_target(tmp_path) == names[4]
    assert (tmp_path / "current" / publish.BI_DATABASE).read_text() == "x"
    assert publish.prune(tmp_path, keep=2) == [names[0]]
    assert sorted(publish.read_ledger(tmp_path)["folders"]) == names[3:]


def test_publishing_removes_only_folders_it_created(tmp_path: Path) -> None:
    """Issue 24 obs. 10: --bi-dir may hold other folders (a BI tool's own, a
    hand-made copy, even one named like a publication or a half-written one):
    pruning removes only the folders its ledger lists."""
    ours = [f"2026030{day}T000000Z-cp_2026030{day}T000000Z" for day in range(1, 4)]
    foreign = ["dashboards", "20260201T000000Z-cp_20260201T000000Z", ".building-mine", "aaa"]
    for name in ours + foreign:
        (tmp_path / name).mkdir()
        (tmp_path / name / "keep.txt").write_text("someone's")
    ledger_of(tmp_path, ours)
    publish.switch_current(tmp_path, ours[2])
    assert publish.prune(tmp_path, keep=1) == ours[:2]
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        [publish.LEDGER, ours[2], "current", publish.CURRENT_FILE, *foreign])


def small_database(path: Path) -> Path:
    with duckdb.connect(str(path)) as con:
        con.execute("create table fct_checkpoint_runs as select 1 as n")
    return path


def test_current_only_moves_forward_in_as_of(tmp_path: Path) -> None:
    """Issue 24 obs. 15: re-running an older checkpoint publishes it under its own
    folder and leaves bi/current on the later as_of (fractions of a second
    compared as times, not as text); a re-run of the same or a later as_of moves it."""
    database = small_database(tmp_path / "recon.duckdb")
    bi_dir = tmp_path / "bi"
    later = publish.publish(database, bi_dir, "cp_20260303T000000.500000Z", "2026-03-03T00:00:00.500000Z")
    assert publish.current_target(bi_dir) == Path(later["folder"]).name
    for older_id, older_as_of in (("cp_20260301T000000Z", "2026-03-01T00:00:00Z"),
                                  ("cp_20260303T000000Z", "2026-03-03T00:00:00Z")):
        older = publish.publish(database, bi_dir, older_id, older_as_of)
        assert publish.current_target(bi_dir) == Path(later["folder"]).name, older_id
        assert not older["current_moved"] and Path(older["folder"]).is_dir()
    again = publish.publish(database, bi_dir, "cp_20260303T000000.500000Z", "2026-03-03T00:00:00.500000Z")
    assert again["current_moved"] and publish.current_target(bi_dir) == Path(again["folder"]).name
    newest = publish.publish(database, bi_dir, "cp_20260304T000000Z", "2026-03-04T00:00:00Z")
    assert newest["current_moved"] and publish.current_target(bi_dir) == Path(newest["folder"]).name
    assert later["current_moved"]


def test_a_bi_folder_belongs_to_one_database(tmp_path: Path) -> None:
    """Issue 24 obs. 8: a checkpoint on another database (a test one) never
    republishes production's BI folder, even when pointed at it."""
    production = small_database(tmp_path / "refund_recon.duckdb")
    other = small_database(tmp_path / "other.duckdb")
    bi_dir = tmp_path / "bi"
    first = publish.publish(production, bi_dir, "cp_20260301T000000Z", "2026-03-01T00:00:00Z")
    with pytest.raises(RuntimeError, match="holds the publications of the checkpoint database"):
        publish.publish(other, bi_dir, "cp_20260302T000000Z", "2026-03-02T00:00:00Z")
    assert publish.current_target(bi_dir) == Path(first["folder"]).name
    assert sorted(path.name for path in bi_dir.iterdir()) == sorted([publish.LEDGER, "current", publish.CURRENT_FILE,
                                                                    Path(first["folder"]).name])


def test_bi_folder_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REFUND_RECON_BI_DIR", raising=False)
    base = ["run", "--database", str(tmp_path / "db" / "refund_recon.duckdb")]
    assert parse_args(base).bi_dir == tmp_path / "db" / "bi"
    assert parse_args([*base, "--bi-dir", str(tmp_path / "x")]).bi_dir == tmp_path / "x"
    assert parse_args([*base, "--no-bi"]).bi_dir is None
    monkeypatch.setenv("REFUND_RECON_BI_DIR", str(tmp_path / "env"))
    settings = parse_args(base)
    assert settings.bi_dir == tmp_path / "env" and settings.bi_keep == 3
    assert parse_args([*base, "--bi-keep", "5"]).bi_keep == 5
    with pytest.raises(SystemExit) as refused:
        parse_args([*base, "--bi-keep", "0"])
    assert refused.value.code == 64
