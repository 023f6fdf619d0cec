"""Shared helpers: generate a labelled scenario and build the project on it once.

Shared builds (labelled_build, parquet_build, sample_build) are built once per
pytest run, even with several pytest-xdist workers: the first worker that needs
one builds it under a file lock, the others wait and read the same files. A
test that only reads a build uses them directly (Build.query opens the
database read-only); a test that writes (dbt, the runner) copies what it needs
first, since a DuckDB file open for writing locks out every other reader.
A new scenario that several test files read: add it here with shared_build.

Tiers (docs/testing.md): `make test` runs every file; `make test-fast` runs
the files in FAST_FILES (marked `fast` here) after one `dbt build` of the
sample, whose database sample_build then reads instead of building again.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Callable

import duckdb
import pandas as pd
import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]
GENERATOR = PROJECT_DIR / "scripts" / "generate_sample_data.py"

from recon_generator.vocabulary import ERP_COLUMNS, PROCESSOR_COLUMNS, STOREFRONT_COLUMNS
from dbt_in_process import run_dbt_in_process

INPUT_COLUMNS = {"storefront_refunds": STOREFRONT_COLUMNS, "processor_refunds": PROCESSOR_COLUMNS,
                 "erp_refund_postings": ERP_COLUMNS}
DBT = Path(sys.executable).with_name("dbt")


@dataclass
class Build:
    data_dir: Path
    database: Path
    returncode: int
    output: str
    settings: dict

    def query(self, sql: str, params: list | None = None) -> pd.DataFrame:
        with duckdb.connect(str(self.database), read_only=True) as con:
            return con.execute(sql, params or []).df()


def normalized(rows: list[tuple]) -> list[tuple]:
    """Rows of two engines made comparable: sorted, and each decimal at its
    value (1.5000 and 1.5 are equal; scales differ from engine to engine)."""
    def value(item: object) -> object:
        if isinstance(item, Decimal):
            return item.normalize() if item == item.to_integral() else item.quantize(Decimal("0.0001"))
        return item
    return sorted((tuple(value(item) for item in row) for row in rows), key=repr)


def generate(out: Path, *args: str) -> dict:
    subprocess.run([sys.executable, str(GENERATOR), "--out", str(out), *args], check=True, capture_output=True)
    return json.loads((out / "scenario.json").read_text())


def dbt_build(work: Path, data_dir: Path, settings: dict, *extra: str, command: str = "build",
              project_dir: Path = PROJECT_DIR) -> Build:
    """One dbt invocation in its own DuckDB file and target folder (of the project in
    `project_dir`: a copy with edited seeds, say). Its output is in Build.output; no
    dbt.log is written (a debug log nobody reads: about 0.45 CPU-second a build)."""
    database = work / "recon.duckdb"
    dbt_vars = dbt_build_vars(data_dir, settings)
    result = run_dbt_in_process(command, "--log-level-file", "none", *extra, database=database, dbt_vars=dbt_vars,
                                artifacts=work, project_dir=project_dir)
    return Build(data_dir, database, result.returncode, result.stdout + result.stderr, dbt_vars)


def dbt_build_vars(data_dir: Path, settings: dict) -> dict:
    """The --vars of a build of the scenario in `data_dir` with its scenario.json `settings`."""
    return {
        "data_dir": str(data_dir),
        "as_of": settings["as_of"],
        "confirmation_sla_minutes": settings["confirmation_sla_minutes"],
        "amount_tolerance": settings.get("amount_tolerance", 0),
        "business_timezone": settings["business_timezone"],
        **{key: settings[key] for key in ("input_encoding", "source_freshness_hours") if key in settings},
        **settings.get("dbt_vars", {}),
    }


def shared_build(tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[Path], Build]) -> Build:
    """`make(work)` once per pytest run, across xdist workers (a lock in the run's
    shared temp folder); a failed build is recorded too, so it is not retried."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # pytest-of-<user>/pytest-<n>: one folder per run, shared by its workers
    work, record = root / f"shared-{name}", root / f"shared-{name}.json"
    with open(root / f"shared-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not record.exists():
            work.mkdir(exist_ok=True)
            build = make(work)
            record.write_text(json.dumps({"data_dir": str(build.data_dir), "database": str(build.database),
                                          "returncode": build.returncode, "output": build.output,
                                          "settings": build.settings}))
    saved = json.loads(record.read_text())
    return Build(Path(saved["data_dir"]), Path(saved["database"]), saved["returncode"], saved["output"],
                 saved["settings"])


@pytest.fixture
def world_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder for a checkpoint_world.World: the same for every test of a pytest worker, emptied
    but for dbt's saved parses (checkpoint_world.world_folder)."""
    from checkpoint_world import world_folder

    return world_folder(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="session")
def labelled_build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    """A CSV scenario with every fault kind, traps and bad rows, in a non-UTC business timezone."""
    def make(work: Path) -> Build:
        settings = generate(work / "data", "--refunds", "2500", "--seed", "11", "--fault-rate", "0.4",
                            "--trap-rate", "0.35", "--bad-rows", "18", "--business-timezone", "America/New_York")
        return dbt_build(work, work / "data", settings)
    build = shared_build(tmp_path_factory, "labelled", make)
    assert build.returncode == 0, build.output[-4000:]
    return build


@pytest.fixture(scope="session")
def parquet_build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    """The same kind of scenario as Parquet files, UTC; unit tests already ran in the first build."""
    def make(work: Path) -> Build:
        settings = generate(work / "data", "--refunds", "1200", "--seed", "5", "--format", "parquet",
                            "--fault-rate", "0.35", "--trap-rate", "0.3")
        return dbt_build(work, work / "data", settings, "--exclude-resource-type", "unit_test")
    build = shared_build(tmp_path_factory, "parquet", make)
    assert build.returncode == 0, build.output[-4000:]
    return build


SAMPLE_DIR = PROJECT_DIR / "data" / "sample"


def utc_naive(value: object) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    return stamp.tz_convert(None) if stamp.tzinfo else stamp


@pytest.fixture(scope="session")
def sample_build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    """The bundled sample (USD, EUR, GBP, KWD and JPY refunds), as `make build` builds it.
    `make test` and `make test-fast` have just built it there and name that
    database in env REFUND_RECON_SAMPLE_DB: it is read, not built again."""
    settings = json.loads((SAMPLE_DIR / "scenario.json").read_text())
    built = os.environ.get("REFUND_RECON_SAMPLE_DB")
    if built:
        import yaml

        database = Path(built)
        assert database.is_file(), f"REFUND_RECON_SAMPLE_DB={built}: no such database (make sample-db builds it)"
        # make sample-db passes only as_of: the sample's other settings must be dbt's defaults.
        defaults = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())["vars"]
        for key in ("confirmation_sla_minutes", "business_timezone", "amount_tolerance"):
            assert settings[key] == defaults[key], f"data/sample/scenario.json {key} is not dbt's default"
        reused = Build(SAMPLE_DIR, database, 0, f"built by make sample-db into {built}",
                       dbt_build_vars(SAMPLE_DIR, settings))
        # One checkpoint, at the sample's as_of: not a database with an older history.
        as_of = [utc_naive(value) for value in reused.query("select as_of from fct_checkpoint_runs")["as_of"]]
        assert as_of == [utc_naive(settings["as_of"])], (as_of, settings["as_of"])
        return reused
    build = shared_build(tmp_path_factory, "sample", lambda work: dbt_build(
        work, SAMPLE_DIR, settings, "--exclude-resource-type", "unit_test"))
    assert build.returncode == 0, build.output[-4000:]
    return build


# The fast tier (`make test-fast`, `pytest -m fast`): files that build no
# generated scenario (hand-written inputs, the sample database make has built,
# or at most one dbt parse or sample build of their own) and use under about
# 20 CPU-seconds each. Every other file runs only in `make test`, so a new file
# is in the full suite without anyone listing it; docs/testing.md lists each
# file's tier, and test_tiers.py keeps that list, this one and the files on
# disk in step.
FAST_FILES = {
    "test_dag_rules.py",
    "test_docs.py",
    "test_docs_match_code.py",
    "test_documented_codes.py",
    "test_generator_package.py",
    "test_message.py",
    "test_profile_models.py",
    "test_report_render.py",
    "test_runner_errors.py",
    "test_semantic_layer.py",
    "test_tiers.py",
    "test_yaml_layout.py",
}

# The longest test files first (wall seconds of their tests in `.ci/run` on a fresh clone,
# 2026-12-07, 959 s), so that with `pytest -n 2 --dist loadfile --no-loadscope-reorder` (make
# test) each worker starts on a long file and the short ones fill the gaps at
# the end: the suite takes about the longest file, not the sum of the long
# files one after another.
LONGEST_FIRST = [
    "test_checkpoint_sequences.py",  # 366 s (273 CPU-s)
    "test_deliveries.py",  # 198 s (163 CPU-s)
    "test_spark.py",  # 174 s (23 CPU-s in Python; the JVM's, about 200, not counted)
    "test_change_checks.py",  # 98 s
    "test_checkpoint_runner.py",  # 73 s
    "test_mapping_contracts.py",  # 68 s
    "test_erp_corrections.py",  # 63 s
    "test_acknowledgements.py",  # 58 s
    "test_outputs_bi.py",  # 56 s
    "test_connector_fixtures.py",  # 54 s
    "test_guarantees.py",  # 51 s
    "test_checkpoint_state_machine.py",  # 50 s
    "test_report_browser.py",  # 47 s
    "test_postgres.py",  # 46 s
    "test_verdict_first.py",  # 41 s
    "test_settings_injection.py",  # 27 s
]


def pytest_configure(config: pytest.Config) -> None:
    here = Path(__file__).parent
    lost = sorted(name for name in [*FAST_FILES, *LONGEST_FIRST] if not (here / name).is_file())
    if lost:
        raise pytest.UsageError(f"conftest.py names test files that are not in {here}: {', '.join(lost)}")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in FAST_FILES:
            item.add_marker(pytest.mark.fast)
    rank = {name: place for place, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONGEST_FIRST)))  # stable: file order kept otherwise


# Measuring (docs/testing.md): REFUND_RECON_TEST_CPU=<folder> writes, per pytest
# process, the CPU seconds each test file used, its dbt and other child
# processes included: a figure the machine's other load does not inflate.
_cpu_by_file: dict[str, float] = {}


def _cpu_seconds() -> float:
    import resource

    import dbt_in_process   # its dbt process lives on between tests: not in RUSAGE_CHILDREN until it ends

    return dbt_in_process.cpu_seconds + sum(usage.ru_utime + usage.ru_stime for usage in (
        resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    started = _cpu_seconds()
    yield
    _cpu_by_file[item.path.name] = _cpu_by_file.get(item.path.name, 0.0) + _cpu_seconds() - started
    folder = os.environ.get("REFUND_RECON_TEST_CPU")
    if folder:  # after every test, so that an interrupted run still has its figures
        Path(folder).mkdir(parents=True, exist_ok=True)
        name = os.environ.get("PYTEST_XDIST_WORKER", "main")
        (Path(folder) / f"{name}.json").write_text(json.dumps(_cpu_by_file, indent=1, sort_keys=True))


ACKNOWLEDGED = ("active", "superseded", "expired", "unknown_variance")


def acknowledgements_seed(data: Path) -> str:
    """variance_acknowledgements.csv acknowledging variances of the generated scenario in `data`
    (the engine comparisons, test_postgres and test_spark),
    one per state of ACKNOWLEDGED. A variance's id is the md5 of type|system|key system|refund
    key (int_refund_variances_detected); the labels give those of processor-keyed refunds."""
    import csv
    import hashlib

    with open(data / "ground_truth.csv", encoding="utf-8") as handle:
        labelled = [row for row in csv.DictReader(handle)
                    if row["variance_type"] in ("missing_in_erp", "amount_mismatch", "status_mismatch")
                    and row["discrepancy_system"] == "erp" and row["amount_delta"]]
    rows = []
    for state, row in zip(ACKNOWLEDGED, labelled):
        variance_id = hashlib.md5(
            f"{row['variance_type']}|erp|processor|{row['refund_id']}".encode()).hexdigest()
        delta = row["amount_delta"]
        expires = ""
        if state == "superseded":
            delta = str(Decimal(delta) + 1)
        elif state == "expired":
            expires = "2020-01-31"
        elif state == "unknown_variance":
            variance_id = "0" * 32
        rows.append([variance_id, row["variance_type"], delta, row["currency"], "ci", "2020-01-01",
                     f"postgres comparison: {state}", "", expires])
    assert len(rows) == len(ACKNOWLEDGED), "the scenario has too few labelled ERP variances"
    header = "variance_id,variance_type,amount_delta,currency,acknowledged_by,acknowledged_at,reason,ticket,expires_on"
    return "\n".join([header, *(",".join(row) for row in rows)]) + "\n"
