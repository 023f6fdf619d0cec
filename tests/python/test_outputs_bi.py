"""Issue 27, observations 5, 7 and 8: what a BI analyst meets first.

5. `dbt source freshness` on the bundled sample is measured at the sample's
   own as_of (real PASS results); at a later as_of the same data warns, much
   later it errors (prod target), and a data folder with no as_of is
   measured at the wall clock, as dbt does.
7. A database file named like a source schema or a source (`stripe.duckdb`,
   `erp.duckdb`, `refund_inputs.duckdb`), or with a name DuckDB reserves
   (`main.duckdb`, `temp.duckdb`: catalogs main_db, temp_db), builds and
   reports exactly the labelled variances: the project's relations are
   catalog-qualified, and profiles.yml attaches a reserved name under the
   catalog DuckDB gives it. refund_inputs and main go through the checkpoint
   runner (main twice: a second, later checkpoint reads its history).
8. The BI publication of that run opens in DuckDB 1.4 (the release Evidence
   embeds), read-only, through docs/bi.md's recipes (Python, and Evidence's
   relative `filename` resolved from its source folder), and current.txt
   names the current publication folder.

DuckDB 1.4 is installed into a throwaway virtualenv under the temp folder
(cached between runs), never into the project's; without PyPI the
DuckDB 1.4 checks are skipped, saying why.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from conftest import PROJECT_DIR, Build, generate
from dbt_in_process import run_dbt_in_process
from recon_runner import publish
from test_source_shapes import labelled_rows, variance_rows

RUNNER = PROJECT_DIR / "scripts" / "checkpoint.py"
BI_DOC = PROJECT_DIR / "docs" / "bi.md"
OLD_DUCKDB = "1.4"

# Database file names that are also a source schema (stripe, refund_inputs)
# or a source (erp), or a name DuckDB 2.0 reserves and renames (main.duckdb
# opens as catalog main_db; temp and system alike): dbt builds the first
# three, the runner the last two (main: two checkpoints).
DBT_NAMES = ["stripe", "erp", "temp"]
RUNNER_NAME = "refund_inputs"
RESERVED_NAME = "main"
RUNNER_NAMES = [RUNNER_NAME, RESERVED_NAME]


def catalog_of(name: str) -> str:
    """The catalog DuckDB opens <name>.duckdb as."""
    return f"{name}_db" if name.lower() in ("main", "temp", "system") else name


# -- 5. source freshness ------------------------------------------------------

def freshness(work: Path, name: str, *, dbt_vars: dict | None = None, target: str | None = None,
              data_dir: Path | None = None) -> tuple[int, dict[str, dict], str]:
    """`dbt source freshness` in its own folders, in the pytest worker's dbt process (no dbt
    start-up per run): (exit code, results by source, output). REFUND_RECON_DATA_DIR is empty
    (unset, for the project) unless `data_dir` is given."""
    folder = work / name
    run = run_dbt_in_process("source freshness", database=folder / "recon.duckdb", dbt_vars=dbt_vars,
                             target=target, artifacts=folder,
                             env={"REFUND_RECON_DATA_DIR": str(data_dir) if data_dir is not None else ""})
    sources = folder / "target" / "sources.json"
    results = {result["unique_id"].split(".", 2)[2]: result
               for result in json.loads(sources.read_text())["results"]} if sources.exists() else {}
    return run.returncode, results, run.stdout + run.stderr


def utc(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def freshness_runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("freshness")
    outside = work / "data"                         # the sample, but not as the bundled sample
    outside.mkdir()
    for name in ("storefront_refunds", "processor_refunds", "erp_refund_postings"):
        (outside / f"{name}.csv").write_bytes((PROJECT_DIR / "data" / "sample" / f"{name}.csv").read_bytes())
    return {
        "sample": freshness(work, "sample"),
        "later": freshness(work, "later", dbt_vars={"as_of": "2026-03-02T06:00:00Z"}),
        "much_later": freshness(work, "much_later", dbt_vars={"as_of": "2026-03-05T00:00:00Z"}, target="prod"),
        "wall_clock": freshness(work, "wall_clock", data_dir=outside),
    }


GENERIC_SOURCES = {"storefront.storefront_refunds", "processor.processor_refunds", "erp.erp_refund_postings"}


def test_freshness_of_the_bundled_sample_passes_at_its_own_as_of(freshness_runs: dict) -> None:
    code, results, output = freshness_runs["sample"]
    assert code == 0, output[-3000:]
    assert set(results) == GENERIC_SOURCES, output[-3000:]
    sample_as_of = utc(json.loads((PROJECT_DIR / "data" / "sample" / "scenario.json").read_text())["as_of"])
    for name, result in results.items():
        assert result["status"] == "pass", (name, result)
        # Measured at the sample's as_of, from the data's real newest time (not shifted).
        assert utc(result["snapshotted_at"]) == sample_as_of, (name, result["snapshotted_at"])
        assert utc(result["max_loaded_at"]) < sample_as_of
        assert 0 < result["max_loaded_at_time_ago_in_s"] < 24 * 3600
    assert utc(results["storefront.storefront_refunds"]["max_loaded_at"]) == utc("2026-02-28T23:57:09Z")


def test_freshness_warns_and_errors_on_data_older_than_its_thresholds(freshness_runs: dict) -> None:
    code, results, output = freshness_runs["later"]            # 30 to 42 h after the newest rows
    assert code == 0 and set(results) == GENERIC_SOURCES, output[-3000:]
    assert {name: result["status"] for name, result in results.items()} == dict.fromkeys(GENERIC_SOURCES, "warn")
    assert {utc(result["snapshotted_at"]) for result in results.values()} == {utc("2026-03-02T06:00:00Z")}
    code, results, output = freshness_runs["much_later"]       # prod target, 4 days after
    assert code != 0 and set(results) == GENERIC_SOURCES, output[-3000:]
    assert {name: result["status"] for name, result in results.items()} == dict.fromkeys(GENERIC_SOURCES, "error")
    # Without as_of, a data folder that is not the bundled sample is measured
    # at the wall clock, as dbt does: the sample's February rows are stale now.
    code, results, output = freshness_runs["wall_clock"]
    assert set(results) == GENERIC_SOURCES, output[-3000:]
    now = datetime.now(timezone.utc)
    assert code != 0
    for name, result in results.items():
        assert abs((utc(result["snapshotted_at"]) - now).total_seconds()) < 600, (name, result["snapshotted_at"])
        # The sample's rows are from February 2026: days older than error_after (72 h) by now.
        assert (now - utc(result["max_loaded_at"])).total_seconds() > 72 * 3600
        assert result["status"] == "error", (name, result)


# -- 7. a database file of any name -------------------------------------------

@pytest.fixture(scope="module")
def named_builds(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("named_databases")
    data = work / "data"
    settings = generate(data, "--refunds", "80", "--seed", "27", "--fault-rate", "0.4", "--processor-shapes",
                        "stripe")
    builds: dict = {}
    for name in DBT_NAMES:
        folder = work / name
        folder.mkdir()
        database = folder / f"{name}.duckdb"
        # In the pytest worker's dbt process, as conftest's builds; the checks read the
        # database and dbt's output, not its JSON artifacts or debug log: none is written.
        dbt_vars = {"data_dir": str(data), "as_of": settings["as_of"], **settings["dbt_vars"]}
        result = run_dbt_in_process("build", "--exclude-resource-type", "unit_test", "--no-write-json",
                                    "--log-level-file", "none", database=database, dbt_vars=dbt_vars,
                                    artifacts=folder)
        builds[name] = Build(data, database, result.returncode, result.stdout + result.stderr, settings)
    # The same through the checkpoint runner (it builds a copy, reads the marts
    # and its input-file list, publishes for BI); main.duckdb a day later
    # again: nothing new was delivered, so a stale checkpoint that carries the
    # history forward.
    env = {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
           "HOME": str(work)}
    later = (utc(settings["as_of"]) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for name in RUNNER_NAMES:
        folder = work / name
        output = ""
        for as_of in [settings["as_of"], later] if name == RESERVED_NAME else [settings["as_of"]]:
            run = subprocess.run(
                [sys.executable, str(RUNNER), "run", "--data-dir", str(data), "--as-of", as_of,
                 "--database", str(folder / f"{name}.duckdb"), "--reports-dir", str(folder / "reports"),
                 "--bi-dir", str(folder / "bi"), "--processor-shapes", "stripe"],
                cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL)
            output += f"== {as_of}: exit {run.returncode}\n" + run.stdout + run.stderr
            if as_of == settings["as_of"]:
                first = run.returncode
        builds[name] = Build(data, folder / f"{name}.duckdb", first, output,
                             {**settings, "last_returncode": run.returncode})
    return builds


@pytest.mark.parametrize("name", [*DBT_NAMES, *RUNNER_NAMES])
def test_a_database_file_named_like_a_source_or_reserved_builds(name: str, named_builds: dict) -> None:
    build: Build = named_builds[name]
    if name in RUNNER_NAMES:
        assert build.returncode in (0, 1), build.output[-4000:]      # clean or variances_found
    else:
        assert build.returncode == 0, build.output[-4000:]
    assert "Ambiguous reference" not in build.output
    got, want = variance_rows(build), labelled_rows(build)
    assert want and got == want
    with duckdb.connect(str(build.database), read_only=True) as con:
        assert con.execute("select current_database()").fetchone()[0] == catalog_of(name)
        views = {(schema, table) for schema, table in con.execute(
            "select schema_name, view_name from duckdb_views() where database_name = current_database() "
            "and not internal").fetchall()}
        assert {("stripe", "refund"), ("refund_inputs", "storefront_refunds"),
                ("refund_inputs", "erp_refund_postings")} <= views
        files = con.execute(f'select count(*) from "{catalog_of(name)}".refund_inputs.refund_input_files '
                            "where status = 'read'").fetchone()[0]
        assert files == 3


def test_a_database_file_duckdb_reserves_keeps_its_history_across_checkpoints(named_builds: dict) -> None:
    """main.duckdb through the runner twice: the second, later checkpoint (stale: nothing new was
    delivered) read the first one's history from the same catalog and carried it forward."""
    build: Build = named_builds[RESERVED_NAME]
    assert build.returncode == 1 and build.settings["last_returncode"] == 2, build.output[-4000:]
    with duckdb.connect(str(build.database), read_only=True) as con:
        runs = con.execute("select outcome from fct_checkpoint_runs order by as_of").fetchall()
        assert runs == [("variances_found",), ("stale_sources",)]
        open_per_checkpoint = con.execute("""
            select count(*) filter (where state = 'open'), count(*) filter (where state = 'resolved')
            from fct_variance_history group by checkpoint_as_of order by checkpoint_as_of""").fetchall()
        variances = con.execute("select count(*) from fct_refund_variances").fetchone()[0]
        assert open_per_checkpoint == [(variances, 0), (variances, 0)]
        # Every relation in the one catalog the file opens as; none under a name no reader finds.
        assert {row[0] for row in con.execute("select database_name from duckdb_tables()").fetchall()} == {"main_db"}


def test_the_runner_lists_the_input_files_of_a_database_named_like_their_schema(named_builds: dict) -> None:
    build: Build = named_builds[RUNNER_NAME]
    summaries = list((build.database.parent / "reports").glob("*/summary.json"))
    assert len(summaries) == 1, build.output[-3000:]
    files = json.loads(summaries[0].read_text())["input_files"]
    assert sorted(row["file_name"] for row in files) == [
        "erp_refund_postings.csv", "storefront_refunds.csv", "stripe/refund.csv"]


# -- 8. BI clients that exist --------------------------------------------------

def old_duckdb_python() -> Path:
    """A Python with duckdb==1.4.* in a virtualenv of its own under the temp
    folder, never the project's (cached; made under a temporary name and
    renamed when complete, so a half-made one is never used)."""
    version = f"py{sys.version_info[0]}{sys.version_info[1]}"
    home = Path(tempfile.gettempdir()) / f"refund_recon-duckdb-{OLD_DUCKDB}-{version}"
    python = home / "bin" / "python"
    if python.exists():
        check = subprocess.run([str(python), "-c", "import duckdb; print(duckdb.__version__)"],
                               capture_output=True, text=True)
        if check.returncode == 0 and check.stdout.startswith(OLD_DUCKDB + "."):
            return python
        shutil.rmtree(home, ignore_errors=True)
    building = Path(tempfile.mkdtemp(prefix=home.name + ".building-", dir=home.parent))
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(building)], check=True, capture_output=True)
    install = subprocess.run([str(building / "bin" / "python"), "-m", "pip", "install", "--quiet",
                              "--disable-pip-version-check", f"duckdb=={OLD_DUCKDB}.*"],
                             capture_output=True, text=True, timeout=600)
    if install.returncode != 0:
        shutil.rmtree(building, ignore_errors=True)
        pytest.skip(f"DuckDB {OLD_DUCKDB} checks skipped: could not install duckdb=={OLD_DUCKDB}.* from PyPI "
                    f"(offline?): {install.stderr.strip()[-500:]}")
    try:
        os.rename(building, home)          # the venv's python is a link, so the folder may move
    except OSError:                        # another run made it meanwhile
        shutil.rmtree(building, ignore_errors=True)
    return python


def run_old(python: Path, code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), "-c", code, *args], capture_output=True, text=True, timeout=300)


def doc_block(marker: str) -> str:
    """The fenced block that follows `<!-- tested: marker -->` in docs/bi.md."""
    found = re.search(rf"<!-- tested: {re.escape(marker)} -->\s*```[a-z]*\n(.*?)```", BI_DOC.read_text(), re.S)
    assert found, f"docs/bi.md: no block after <!-- tested: {marker} -->"
    return found.group(1)


DOC_BI_DIR = "/srv/refund_recon/bi"


@pytest.fixture(scope="module")
def published(named_builds: dict) -> dict:
    build: Build = named_builds[RUNNER_NAME]
    bi = build.database.parent / "bi"
    assert (bi / publish.CURRENT).is_symlink(), build.output[-3000:]
    return {"bi": bi, "build": build}


def test_the_pointer_file_names_the_current_publication(published: dict, tmp_path: Path) -> None:
    bi: Path = published["bi"]
    name = (bi / "current.txt").read_text(encoding="utf-8")
    assert name.endswith("\n") and name.strip() == os.readlink(bi / "current")
    assert (bi / name.strip() / publish.BI_DATABASE).is_file()
    # Moves with `current`, in one rename (no temporary file left).
    database = published["build"].database
    again = publish.publish(database, bi, "cp_later", "2026-03-02T00:00:00Z")
    assert (bi / "current.txt").read_text(encoding="utf-8").strip() == os.readlink(bi / "current") \
        == Path(again["folder"]).name
    assert not list(bi.glob(".current*"))


def test_the_published_file_opens_in_duckdb_1_4_read_only(published: dict) -> None:
    python = old_duckdb_python()
    bi: Path = published["bi"]
    folder = bi / os.readlink(bi / "current")
    counts = json.loads((folder / publish.PUBLICATION).read_text())["tables"]
    opened = run_old(python, textwrap.dedent("""
        import json, sys, duckdb
        con = duckdb.connect(sys.argv[1], read_only=True)
        tables = [row[0] for row in con.execute("select table_name from duckdb_tables() order by 1").fetchall()]
        money = con.execute("select typeof(amount_delta) from fct_refund_variances limit 1").fetchone()
        print(json.dumps({"version": duckdb.__version__, "money": money[0] if money else None,
                          "tables": {t: con.execute(f'select count(*) from "{t}"').fetchone()[0] for t in tables}}))
    """), str(folder / publish.BI_DATABASE))
    assert opened.returncode == 0, opened.stderr[-2000:]
    seen = json.loads(opened.stdout)
    assert seen["version"].startswith(OLD_DUCKDB + ".")
    assert seen["tables"] == counts and len(counts) >= 8
    assert seen["money"].startswith("DECIMAL")


def test_the_python_recipe_of_docs_bi_reads_one_publication(published: dict) -> None:
    python = old_duckdb_python()
    bi: Path = published["bi"]
    recipe = doc_block("python")
    assert "read_only=True" in recipe and "current.txt" in recipe
    check = recipe.replace(DOC_BI_DIR, str(bi)) + textwrap.dedent("""
        import json
        print(json.dumps({"folder": str(folder), "variances": len(variances), "audit": len(audit.fetchall())}))
    """)
    run = run_old(python, check)
    assert run.returncode == 0, run.stderr[-2000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    folder = bi / (bi / "current.txt").read_text(encoding="utf-8").strip()
    counts = json.loads((folder / publish.PUBLICATION).read_text())["tables"]
    assert seen == {"folder": str(folder), "variances": counts["fct_refund_variances"],
                    "audit": counts["fct_refund_audit_trail"]}


def test_the_evidence_recipe_of_docs_bi_opens_through_a_relative_path(published: dict, tmp_path: Path) -> None:
    """Evidence's DuckDB connector opens path.join(<source folder>, filename)
    READ_ONLY (evidence-dev/evidence packages/datasources/duckdb/index.cjs):
    the recipe's link and connection.yaml, resolved the same way, opened by
    DuckDB 1.4, with the recipe's query file."""
    python = old_duckdb_python()
    bi: Path = published["bi"]
    project = tmp_path / "evidence"
    source = project / "sources" / "refund_recon"
    source.mkdir(parents=True)
    link = doc_block("evidence-link").replace(DOC_BI_DIR, str(bi))
    script = "\n".join(line for line in link.splitlines() if not line.strip().startswith("npm "))
    subprocess.run(["sh", "-ec", script], cwd=project, check=True)
    connection = doc_block("evidence-connection")
    filename = re.search(r"filename:\s*(\S+)", connection).group(1)
    assert not filename.startswith("/"), "Evidence prefixes the source folder: the filename must be relative"
    query = doc_block("evidence-query")
    run = run_old(python, textwrap.dedent("""
        import sys, duckdb
        con = duckdb.connect(sys.argv[1], read_only=True)
        print(len(con.execute(sys.argv[2]).fetchall()))
    """), os.path.join(str(source), filename), query)
    assert run.returncode == 0, run.stderr[-2000:]
    folder = bi / (bi / "current.txt").read_text(encoding="utf-8").strip()
    counts = json.loads((folder / publish.PUBLICATION).read_text())["tables"]
    assert int(run.stdout.strip()) == counts["fct_refund_variances"]
    # The link names the publication folder itself, not `current`: resolved once.
    assert os.path.realpath(source / filename) == os.path.realpath(folder / publish.BI_DATABASE)
    assert "current" not in os.readlink(source / Path(filename).parts[0])
