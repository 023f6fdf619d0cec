"""Deliveries have identity, file discovery is literal, a stale day changes no
history (issue 24, observations 2, 3, 4, 7 and 12).

Each test drives the real runner over days (checkpoint_world.World, whose
oracle also checks every mart against a fresh build and the history against
the rules) and asserts what the observation got wrong: a re-sent file is a
repeat whatever its name; a file name is never a pattern; .CSV, .csv.gz are
read and hidden or AppleDouble files ignored and listed; a stale checkpoint
keeps every open variance's state and age; an unreadable link is one line,
exit 3. Beyond the observations, the same class: a file larger than DuckDB's
memory is still known by its md5, and on warehouse tables (no files) a batch
appended again is nothing new.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from checkpoint_world import APPLE_DOUBLE, EXIT_CODES, START, SYSTEMS, World, cp_id, project_copy
from conftest import INPUT_COLUMNS, dbt_build, dbt_build_vars, generate
from dbt_in_process import run_dbt_in_process
from recon_runner.duckdb_functions import register

pytestmark = pytest.mark.slow


def summary(world: World, as_of) -> dict:
    return json.loads((world.reports / cp_id(as_of) / "summary.json").read_text())


def files_by_status(world: World, as_of) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for row in summary(world, as_of)["input_files"]:
        result.setdefault(row["status"], []).append(row["file_name"])
    return result


NO_NEW_ROW = " (no row of content it had not read, no newer record)"


def test_rows_exported_again_in_new_bytes_are_nothing_new(world_root: Path) -> None:
    """The class of a file sent again, by its rows: the ERP's earlier rows exported again in new
    bytes (gzip, other line endings) while the storefront and the processor send refunds not yet
    due in the ERP. New files, no new row: the ERP is stale and the checkpoint is not clean (by
    file content alone it was CLEAN); so is a file with no rows. A re-export that adds one row is new."""
    world = World(world_root)
    world.deliver([world.refund_rows(START + timedelta(hours=1))])
    assert world.checkpoint(START + timedelta(hours=6)).returncode == 0
    later = START + timedelta(hours=18)
    world.deliver([world.refund_rows(later - timedelta(minutes=10))], systems=("storefront", "processor"))
    world.reexport(1, systems=("erp",))
    result = world.checkpoint(later)   # the oracle's judgement, and the runner's exit code
    assert result.returncode == EXIT_CODES["stale_sources"], result.stdout[-3000:]
    with duckdb.connect(str(world.database), read_only=True) as con:
        sources = dict(con.execute("select system_name, stale_reason from fct_checkpoint_sources "
                                   "where checkpoint_as_of = ?", [later]).fetchall())
    assert sources == {"storefront": None, "processor": None,
                       "erp": f"nothing new since {cp_id(START + timedelta(hours=6))}{NO_NEW_ROW}"}
    # an ERP file with no rows (its header only): nothing new either
    empty = later + timedelta(hours=1)
    world.deliver([world.refund_rows(empty - timedelta(minutes=10))], systems=("storefront", "processor"))
    erp = world.data / SYSTEMS["erp"]
    (erp / "delivery_008.csv").write_text((erp / "delivery_001.csv").read_text(encoding="utf-8").splitlines()[0]
                                          + "\r\n", encoding="utf-8")
    assert world.checkpoint(empty).returncode == EXIT_CODES["stale_sources"]
    # the same rows plus one: new
    again = later + timedelta(hours=2)
    rows = world.refund_rows(again - timedelta(hours=1))
    world.deliver([rows], systems=("storefront", "processor"))
    text = (erp / "delivery_001.csv").read_text(encoding="utf-8")
    (erp / "delivery_009.csv").write_text(text + ",".join(rows["erp"][0]) + "\r\n", encoding="utf-8")
    world.checkpoint(again)
    with duckdb.connect(str(world.database), read_only=True) as con:
        assert con.execute("select stale_reason from fct_checkpoint_sources where checkpoint_as_of = ? "
                           "and system_name = 'erp'", [again]).fetchone() == (None,)


def test_a_file_sent_again_after_a_stale_checkpoint_is_a_repeat(world_root: Path) -> None:
    """Observation 2: a stale checkpoint (the ERP sent nothing), then the ERP's
    first file again under another name: nothing new, stale (exit 2), not clean."""
    world = World(world_root)
    world.deliver([world.refund_rows(START + timedelta(hours=1))])
    assert world.checkpoint(START + timedelta(hours=6)).returncode == 0
    world.deliver([world.refund_rows(START + timedelta(hours=7), status="pending")], systems=("storefront", "processor"))
    assert world.checkpoint(START + timedelta(hours=9)).returncode == 2
    world.deliver([world.refund_rows(START + timedelta(hours=10), status="pending")],
                  systems=("storefront", "processor"))
    erp = world.data / SYSTEMS["erp"]
    for name in ("ERP export 2026-03-01.CSV", "delivery_001 (1).csv"):  # the same bytes, two other names
        shutil.copyfile(erp / "delivery_001.csv", erp / name)
    again = world.checkpoint(START + timedelta(hours=12))
    assert again.returncode == 2, again.stdout[-2000:]
    assert "erp nothing new since cp_20260301T090000Z" in again.stdout
    assert summary(world, START + timedelta(hours=12))["rows_read"]["erp"] == 1
    repeats = files_by_status(world, START + timedelta(hours=12))["repeat"]
    # the first in name order is read, the others are repeats of it
    assert sorted(repeats) == ["erp_refund_postings/delivery_001 (1).csv", "erp_refund_postings/delivery_001.csv"]


def test_an_input_file_larger_than_duckdb_memory_is_known_by_its_md5(tmp_path: Path) -> None:
    """DuckDB's md5(content) over read_blob holds a whole file in memory: a
    2.6 GB processor export at 10M refunds stopped the build in its first
    hook at the default 3GB limit. The hook's md5 (the project's
    refund_recon_file_md5) reads the file in pieces: at a 64MB limit, a
    processor file of over 100 MB is registered with the md5 of its bytes
    (`dbt seed`: the hook runs before any command that builds)."""
    data = tmp_path / "data"
    settings = generate(data, "--refunds", "50", "--seed", "3")
    processor = data / "processor_refunds.csv"
    rows = "".join(processor.read_text(encoding="utf-8").splitlines(keepends=True)[1:])
    with processor.open("a", encoding="utf-8") as handle:
        while processor.stat().st_size < 100 * 2**20:
            handle.write(rows * 100)
    with duckdb.connect() as con:
        con.execute("set memory_limit = '64MB'")
        with pytest.raises(duckdb.OutOfMemoryException):
            con.execute("select md5(content) from read_blob(?)", [str(processor)]).fetchall()
        register(con)
        small = data / "storefront_refunds.csv"
        assert con.execute("select refund_recon_file_md5(?), (select md5(content) from read_blob(?))",
                           [str(small), str(small)]).fetchone() == (hashlib.md5(small.read_bytes()).hexdigest(),) * 2
    build = run_dbt_in_process("seed", "--select", "currencies", "--log-level-file", "none",
                               database=tmp_path / "recon.duckdb", dbt_vars=dbt_build_vars(data, settings),
                               artifacts=tmp_path, env={"REFUND_RECON_DUCKDB_MEMORY_LIMIT": "64MB"})
    assert build.returncode == 0, build.stdout[-3000:]
    with duckdb.connect(str(tmp_path / "recon.duckdb"), read_only=True) as con:
        md5, size = con.execute("select content_md5, size_bytes from refund_inputs.refund_input_files "
                                "where input_name = 'processor_refunds'").fetchone()
    assert (md5, size) == (hashlib.md5(processor.read_bytes()).hexdigest(), processor.stat().st_size)


def test_a_duckdb_profile_without_the_projects_functions_is_named(tmp_path: Path) -> None:
    """A DuckDB output of the user's own without the plugins entry: the hook
    says what to add, before it reads any file."""
    project = project_copy(tmp_path / "project", {})
    profiles = (project / "profiles.yml").read_text(encoding="utf-8")
    for line in ('      module_paths: ["scripts"]\n', "      plugins:\n", "        - module: recon_runner.duckdb_functions\n"):
        assert line in profiles
        profiles = profiles.replace(line, "")
    (project / "profiles.yml").write_text(profiles, encoding="utf-8")
    data = tmp_path / "data"
    settings = generate(data, "--refunds", "20", "--seed", "3")
    seed = run_dbt_in_process("seed", "--select", "currencies", "--log-level-file", "none",
                              database=tmp_path / "recon.duckdb", dbt_vars=dbt_build_vars(data, settings),
                              artifacts=tmp_path, project_dir=project)
    assert seed.returncode != 0
    assert "lacks the project's SQL functions: add `plugins: [{module: recon_runner.duckdb_functions}]`" in seed.stdout


def test_a_table_batch_appended_again_is_nothing_new(tmp_path: Path) -> None:
    """Warehouse tables (read_inputs_from_files false) have no files to know a
    delivery by. A batch appended again (a connector's append mode re-sending
    rows) adds rows, not rows of new content: nothing new, stale. The first
    checkpoint after an upgrade reads a history made before distinct_rows_read
    existed: it builds, gains the column and compares rows_read there."""
    data = tmp_path / "data"
    settings = generate(data, "--refunds", "300", "--seed", "5")
    with duckdb.connect(str(tmp_path / "recon.duckdb")) as con:
        con.execute("create schema refund_inputs")
        for table in INPUT_COLUMNS:
            con.execute(f"create table refund_inputs.{table} as select * from read_csv(?, all_varchar = true)",
                        [str(data / f"{table}.csv")])
    first = datetime.fromisoformat(settings["as_of"].replace("Z", "+00:00"))

    def checkpoint(hours: int) -> dict[str, tuple]:
        as_of = first + timedelta(hours=hours)
        build = dbt_build(tmp_path, data, {**settings, "as_of": as_of.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                           "dbt_vars": {"read_inputs_from_files": False}},
                          "--select", "+fct_checkpoint_sources", "--exclude-resource-type", "test",
                          "--exclude-resource-type", "unit_test")
        assert build.returncode == 0, build.output[-3000:]
        with duckdb.connect(str(build.database), read_only=True) as con:
            return {row[0]: row[1:] for row in con.execute(
                "select system_name, rows_read, distinct_rows_read, stale_reason from fct_checkpoint_sources "
                "where checkpoint_as_of = ?", [as_of.replace(tzinfo=None)]).fetchall()}

    def append_again(count: int) -> None:
        with duckdb.connect(str(tmp_path / "recon.duckdb")) as con:
            con.execute("insert into refund_inputs.storefront_refunds "
                        f"select * from refund_inputs.storefront_refunds order by storefront_refund_id limit {count}")

    with duckdb.connect(str(tmp_path / "recon.duckdb"), read_only=True) as con:
        delivered, distinct_delivered = con.execute(
            "select count(*), count(distinct s) from refund_inputs.storefront_refunds as s").fetchone()
    before = checkpoint(0)
    assert before["storefront"] == (delivered, distinct_delivered, None), before
    with duckdb.connect(str(tmp_path / "recon.duckdb")) as con:   # a history recorded before the column
        con.execute("alter table main.fct_checkpoint_sources drop column distinct_rows_read")
    append_again(20)
    upgraded = checkpoint(1)
    rows, distinct, _ = before["storefront"]
    assert upgraded["storefront"] == (rows + 20, distinct, None)   # more rows: new, by the rule it had
    assert upgraded["processor"][2] == upgraded["erp"][2] == f"nothing new since {cp_id(first)}{NO_NEW_ROW}"
    append_again(20)
    again = checkpoint(2)
    assert again["storefront"] == (rows + 40, distinct,
                                   f"nothing new since {cp_id(first + timedelta(hours=1))}{NO_NEW_ROW}")


def test_a_file_repeated_within_one_checkpoint_is_read_once(world_root: Path) -> None:
    """The same content twice in one checkpoint (a copy beside the original):
    read once, listed as a repeat; no double-counted posting."""
    world = World(world_root)
    world.deliver([world.refund_rows(START + timedelta(hours=1))])
    erp = world.data / SYSTEMS["erp"]
    shutil.copyfile(erp / "delivery_001.csv", erp / "delivery_001 copy.csv")
    result = world.checkpoint(START + timedelta(hours=6))
    assert result.returncode == 0, result.stdout[-2000:]
    assert summary(world, START + timedelta(hours=6))["rows_read"] == {"storefront": 1, "processor": 2, "erp": 1}
    assert files_by_status(world, START + timedelta(hours=6))["repeat"] == ["erp_refund_postings/delivery_001.csv"]


@pytest.mark.parametrize("data_name", ["data", "d[a]ta*?"])
def test_file_names_are_never_patterns(world_root: Path, data_name: str) -> None:
    """Observation 3: erp[1].csv beside erp1.csv, batch_?.csv beside batch_1.csv,
    delivery*.csv beside the others, in a data folder whose own name may hold
    * ? [ ]: each file is read once, itself."""
    world = World(world_root, data_name=data_name)
    for hour in range(1, 5):
        world.deliver([world.refund_rows(START + timedelta(hours=hour))])
    names = ["erp[1].csv", "erp1.csv", "batch_?.csv", "batch_1.csv"]
    for system, folder in SYSTEMS.items():
        for number, name in enumerate(names, start=1):
            (world.data / folder / f"delivery_{number:03d}.csv").rename(world.data / folder / name)
    world.deliver([world.refund_rows(START + timedelta(hours=5))], style="wildcards")
    result = world.checkpoint(START + timedelta(hours=6))
    assert result.returncode == 0, result.stdout[-3000:]
    assert summary(world, START + timedelta(hours=6))["rows_read"] == {"storefront": 5, "processor": 10, "erp": 5}
    booked = summary(world, START + timedelta(hours=6))["booked_totals"]
    assert [(row["erp_postings"], row["storefront_refunds"], row["net_variance"]) for row in booked] == [(5, 5, "0.00")]
    assert sorted(files_by_status(world, START + timedelta(hours=6))["read"]) == sorted(
        f"{folder}/{name}" for folder in SYSTEMS.values() for name in names + ["delivery_*005?.csv"])


def test_every_delivery_file_name_is_read_or_listed(world_root: Path) -> None:
    """Observation 7: DAY2.CSV and day3.csv.gz are read, a macOS ._day1.csv
    (AppleDouble) and .DS_Store beside them are ignored and listed in
    summary.json, and the checkpoint is clean."""
    world = World(world_root)
    world.deliver([world.refund_rows(START + timedelta(hours=1))])
    world.deliver([world.refund_rows(START + timedelta(hours=2))], style="upper")
    world.deliver([world.refund_rows(START + timedelta(hours=3))], style="gzip")
    for folder in SYSTEMS.values():
        (world.data / folder / "._delivery_001.csv").write_bytes(APPLE_DOUBLE)
        (world.data / folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
        (world.data / folder / "notes.txt").write_text("sent by the ERP team\n")
    result = world.checkpoint(START + timedelta(hours=6))
    assert result.returncode == 0, result.stdout[-3000:]
    assert summary(world, START + timedelta(hours=6))["rows_read"] == {"storefront": 3, "processor": 6, "erp": 3}
    files = files_by_status(world, START + timedelta(hours=6))
    assert sorted(files["read"]) == sorted(f"{folder}/{name}" for folder in SYSTEMS.values()
                                           for name in ("delivery_001.csv", "DELIVERY_002.CSV", "delivery_003.csv.gz"))
    assert sorted(files["ignored"]) == sorted(f"{folder}/{name}" for folder in SYSTEMS.values()
                                              for name in (".DS_Store", "._DELIVERY_002.CSV", "._delivery_001.csv",
                                                           "notes.txt"))
    assert "ignored: erp_refund_postings/._delivery_001.csv" in result.stdout


def test_a_single_input_file_in_any_extension_case(world_root: Path) -> None:
    """Observation 7, single files: storefront_refunds.CSV, processor_refunds.csv.gz
    and erp_refund_postings.Parquet are the three inputs."""
    world = World(world_root)
    world.deliver([world.refund_rows(START + timedelta(hours=1)), world.refund_rows(START + timedelta(hours=2))])
    for name, single in (("storefront_refunds", "storefront_refunds.CSV"),
                         ("processor_refunds", "processor_refunds.csv.gz"),
                         ("erp_refund_postings", "erp_refund_postings.Parquet")):
        delivered = world.data / name / "delivery_001.csv"
        if single.endswith(".gz"):
            (world.data / single).write_bytes(gzip.compress(delivered.read_bytes()))
        elif single.endswith(".Parquet"):
            with duckdb.connect() as con:
                con.execute(f"copy (select * from read_csv('{delivered}', all_varchar = true)) "
                            f"to '{world.data / single}' (format parquet)")
        else:
            shutil.copyfile(delivered, world.data / single)
        shutil.rmtree(world.data / name)
    result = world.run(START + timedelta(hours=6))
    assert result.returncode == 0, result.stdout[-3000:]
    assert summary(world, START + timedelta(hours=6))["rows_read"] == {"storefront": 2, "processor": 4, "erp": 2}
    assert sorted(files_by_status(world, START + timedelta(hours=6))["read"]) == [
        "erp_refund_postings.Parquet", "processor_refunds.csv.gz", "storefront_refunds.CSV"]


def test_a_stale_checkpoint_changes_no_variance(tmp_path: Path, world_root: Path) -> None:
    """Observation 4: the ERP's export of a day is empty (stale: no rows); the
    open variance is neither resolved that day nor new the day after: it keeps
    its first-detected checkpoint and age."""
    world = World(world_root)
    world.deliver([world.refund_rows(START + timedelta(hours=1), erp_amount="1.00"),
                   world.refund_rows(START + timedelta(hours=2))])
    first = START + timedelta(hours=6)
    assert world.checkpoint(first).returncode == 1
    erp = world.data / SYSTEMS["erp"]
    erp.rename(tmp_path / "erp_day1")
    erp.mkdir()
    world.deliver([world.refund_rows(START + timedelta(hours=20), status="pending")])  # the ERP's part is empty
    stale = world.checkpoint(START + timedelta(hours=22))
    assert stale.returncode == 2 and "erp no rows" in stale.stdout, stale.stdout[-2000:]
    shutil.rmtree(erp)
    (tmp_path / "erp_day1").rename(erp)
    world.deliver([world.refund_rows(START + timedelta(hours=40))])
    last = START + timedelta(hours=42)
    assert world.checkpoint(last).returncode == 1
    with duckdb.connect(str(world.database), read_only=True) as con:
        history = con.execute("select checkpoint_as_of, variance_type, state, first_detected_at "
                              "from fct_variance_history order by 1, 2, 3").fetchall()
        open_now = con.execute("select variance_type, first_detected_at, days_since_first_detected "
                               "from fct_refund_variances").fetchall()
    assert history == [(first, "amount_mismatch", "open", first),
                       (START + timedelta(hours=22), "amount_mismatch", "open", first),
                       (last, "amount_mismatch", "open", first)]
    assert open_now == [("amount_mismatch", first, 1)]


def loop(path: Path) -> None:
    path.symlink_to(path)


@pytest.mark.parametrize("case", ["data folder is a loop", "input folder is a loop", "delivery file is a loop",
                                  "delivery file links to nothing", "input file is a loop"])
def test_an_unreadable_link_is_one_line_and_exit_3(tmp_path: Path, world_root: Path, case: str) -> None:
    """Observation 12: a symlink loop or a dangling link where the runner looks
    for inputs: FAILED in one line naming it, exit 3, no traceback; nothing
    silently skipped."""
    world = World(world_root)
    world.deliver([world.refund_rows(START + timedelta(hours=1))])
    erp = world.data / SYSTEMS["erp"]
    data_dir, culprit = None, erp / "delivery_002.csv"
    if case == "data folder is a loop":
        data_dir = culprit = tmp_path / "looping_data"
        loop(culprit)
    elif case == "input folder is a loop":
        erp.rename(tmp_path / "erp_aside")
        culprit = erp
        loop(culprit)
    elif case == "delivery file is a loop":
        loop(culprit)
    elif case == "delivery file links to nothing":
        culprit.symlink_to(tmp_path / "gone.csv")
    else:
        shutil.rmtree(erp)
        culprit = world.data / "erp_refund_postings.csv"
        loop(culprit)
    result = world.run(START + timedelta(hours=6), data_dir=data_dir)
    output = result.stdout + result.stderr
    assert result.returncode == 3, output[-2000:]
    assert "Traceback" not in output
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAILED:")]
    assert len(failed) == 1 and str(culprit) in failed[0], output[-2000:]
    assert ("symlink loop" if "loop" in case else "link to nothing") in failed[0].lower(), failed


def test_file_names_reach_the_terminal_inert(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A delivery or ignored file named with a newline or an ANSI escape is
    printed escaped: a file name can never forge a line or colour a terminal."""
    from recon_runner.checkpoint import check_inputs
    from recon_runner.cli import parse_args

    data = tmp_path / "data"
    for name in ("storefront_refunds", "processor_refunds"):
        (data / name).mkdir(parents=True)
        (data / name / "day\n[1 of 4] FORGED\x1b[31m.csv").write_text("x\n1\n")
    (data / "erp_refund_postings").mkdir()
    (data / "erp_refund_postings" / "day1.csv").write_text("x\n1\n")
    (data / "erp_refund_postings" / "note\nOutcome: clean (exit 0)\x1b[2J.txt").write_text("hi\n")
    settings = parse_args(["run", "--data-dir", str(data), "--database", str(tmp_path / "t.duckdb"), "--no-bi"])
    check_inputs(settings)
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\\x1b" in out
    assert not any(line.startswith(("[1 of 4] FORGED", "Outcome:")) for line in out.splitlines()), out
