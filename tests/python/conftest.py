"""Shared helpers: generate a labelled scenario and build the project on it once."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]
GENERATOR = PROJECT_DIR / "scripts" / "generate_sample_data.py"
sys.path.insert(0, str(PROJECT_DIR / "scripts"))

from generate_sample_data import ERP_COLUMNS, PROCESSOR_COLUMNS, STOREFRONT_COLUMNS  # noqa: E402
from recon_runner.dbt import run_dbt  # noqa: E402

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


def dbt_build(work: Path, data_dir: Path, settings: dict, *extra: str, command: str = "build") -> Build:
    """One dbt invocation in its own DuckDB file, target and log folders."""
    database = work / "recon.duckdb"
    dbt_vars = {
        "data_dir": str(data_dir),
        "as_of": settings["as_of"],
        "confirmation_sla_minutes": settings["confirmation_sla_minutes"],
        "amount_tolerance": settings.get("amount_tolerance", 0),
        "business_timezone": settings["business_timezone"],
        **{key: settings[key] for key in ("input_encoding", "source_freshness_hours") if key in settings},
        **settings.get("dbt_vars", {}),
    }
    result = run_dbt(command, *extra, database=database, dbt_vars=dbt_vars, artifacts=work, capture=True)
    return Build(data_dir, database, result.returncode, result.stdout + result.stderr, dbt_vars)


@pytest.fixture(scope="session")
def labelled_build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    """A CSV scenario with every fault kind, traps and bad rows, in a non-UTC business timezone."""
    work = tmp_path_factory.mktemp("labelled")
    settings = generate(work / "data", "--refunds", "2500", "--seed", "11", "--fault-rate", "0.4",
                        "--trap-rate", "0.35", "--bad-rows", "18", "--business-timezone", "America/New_York")
    build = dbt_build(work, work / "data", settings)
    assert build.returncode == 0, build.output[-4000:]
    return build


@pytest.fixture(scope="session")
def parquet_build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    """The same kind of scenario as Parquet files, UTC; unit tests already ran in the first build."""
    work = tmp_path_factory.mktemp("parquet")
    settings = generate(work / "data", "--refunds", "1200", "--seed", "5", "--format", "parquet",
                        "--fault-rate", "0.35", "--trap-rate", "0.3")
    build = dbt_build(work, work / "data", settings, "--exclude-resource-type", "unit_test")
    assert build.returncode == 0, build.output[-4000:]
    return build


# The longest test files first (seconds of work in the CI run of 2026-11-30),
# so that with `pytest -n 2 --dist loadfile --no-loadscope-reorder` (make
# test) each worker starts on a long file and the short ones fill the gaps at
# the end: the suite takes about the longest file, not the sum of the long
# files one after another.
LONGEST_FIRST = [
    "test_checkpoint_state_machine.py",  # 633 s
    "test_checkpoint_sequences.py",  # about 480 s
    "test_spark.py",  # about 290 s
    "test_settings_injection.py",  # about 300 s
    "test_guarantees.py",  # about 260 s
    "test_checkpoint_runner.py",
    "test_change_checks.py",
    "test_mapping_contracts.py",  # about 230 s
    "test_money_limits.py",  # about 120 s
    "test_connector_fixtures.py",
]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {name: place for place, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONGEST_FIRST)))  # stable: file order kept otherwise
