"""scripts/profile_models.py (issue 15) on the bundled sample: one dbt build, then
every model's compiled select profiled. The table lists each built model once,
with real seconds and the rows the model's table holds; the reuse of an existing
build (--database, --target-dir, as for a 10M build) profiles without building.

Run: nice -n 10 .venv/bin/pytest -q tests/python/test_profile_models.py
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from conftest import PROJECT_DIR

SCRIPT = PROJECT_DIR / "scripts" / "profile_models.py"
HEADER = "| model | layer | rows | seconds | dbt seconds | top operators (seconds, rows out) |"


def run(*args: str) -> str:
    result = subprocess.run([sys.executable, str(SCRIPT), *args], check=False, cwd=PROJECT_DIR, capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def model_rows(markdown: str) -> dict[str, list[list[str]]]:
    """The model table's rows by model name (a list, to catch a model listed twice)."""
    lines = markdown.splitlines()
    start = lines.index(HEADER) + 2
    rows: dict[str, list[list[str]]] = {}
    for line in lines[start:]:
        if not line.startswith("| "):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows.setdefault(cells[0], []).append(cells)
    return rows


@pytest.fixture(scope="module")
def profiled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    work = tmp_path_factory.mktemp("profile")
    out = work / "section.md"
    stdout = run("--data-dir", str(PROJECT_DIR / "data" / "sample"), "--as-of", "2026-03-01T00:00:00Z",
                 "--work-dir", str(work), "--memory-limit", "1GB", "--out", str(out))
    assert out.read_text(encoding="utf-8") in stdout
    return work, out.read_text(encoding="utf-8")


def test_every_built_model_once_with_real_figures(profiled: tuple[Path, str]) -> None:
    work, markdown = profiled
    manifest = json.loads((work / "target" / "manifest.json").read_text())
    models = {node["name"]: node for node in manifest["nodes"].values()
              if node["resource_type"] == "model" and node["config"]["enabled"]
              and node["config"]["materialized"] != "ephemeral"}
    assert {name for name, node in models.items() if node["config"]["materialized"] == "table"} >= {
        "stg_processor__refund_events", "int_refunds_matched", "rpt_refund_reconciliation"}
    rows = model_rows(markdown)
    assert set(rows) == set(models)
    assert all(len(listed) == 1 for listed in rows.values()), {name: len(v) for name, v in rows.items() if len(v) > 1}
    for name, [(_, layer, count, seconds, dbt_seconds, _ops)] in rows.items():
        assert float(seconds) >= 0 and float(dbt_seconds) >= 0, name
        assert layer.startswith(models[name]["fqn"][1]), (name, layer)
        assert int(count.replace(",", "")) >= 0, name
    # Rows out equal the built table: a plain select, a materialized CTE, a UNION ALL of three.
    with duckdb.connect(str(work / "recon.duckdb"), read_only=True) as con:
        for name in ("stg_processor__refund_events", "int_refunds_matched", "int_refund_amounts_by_system"):
            expected = con.execute(f"select count(*) from {models[name]['relation_name']}").fetchone()[0]
            assert expected > 0 and int(rows[name][0][2].replace(",", "")) == expected, name
    # Top operators: up to three "NAME [table] seconds s (rows)", slowest first.
    for name, [cells] in rows.items():
        ops = [re.fullmatch(r"([A-Z_]+)( \w+)? (\d+\.\d\d) s \(([\d,]+)\)", op) for op in cells[5].split("; ")]
        assert 1 <= len(ops) <= 3 and all(ops), (name, cells[5])
        assert [float(op[3]) for op in ops] == sorted((float(op[3]) for op in ops), reverse=True), (name, cells[5])


def test_totals_tests_and_notes(profiled: tuple[Path, str]) -> None:
    work, markdown = profiled
    assert "| layer | models | seconds | dbt seconds |" in markdown
    tests = [r for r in json.loads((work / "target" / "run_results.json").read_text())["results"]
             if r["unique_id"].startswith("test.")]
    assert f"Data tests: {len(tests)}, " in markdown
    slowest = max(tests, key=lambda r: r["execution_time"])["unique_id"].split(".")[2]
    assert f"- {slowest} " in markdown
    assert "memory_limit` 1GB" in markdown and "2 models at once" in markdown
    assert "fct_variance_history" in markdown.split("Notes:")[1]  # incremental models are named in the notes


def test_existing_build_is_profiled_without_building(profiled: tuple[Path, str], tmp_path: Path) -> None:
    work, markdown = profiled
    again = run("--database", str(work / "recon.duckdb"), "--target-dir", str(work / "target"),
                "--work-dir", str(tmp_path))
    assert not (tmp_path / "recon.duckdb").exists() and not (tmp_path / "target").exists()
    assert "built earlier" in again
    assert {name: cells[0][2] for name, cells in model_rows(again).items()} == \
        {name: cells[0][2] for name, cells in model_rows(markdown).items()}
