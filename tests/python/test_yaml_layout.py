"""Tests are found where they are looked for (style.md 3): every dbt unit test sits in the
YAML file named after its model, beside the model's SQL (one file per model), and no YAML file
of the project is over 40 KB. Reads the YAML files themselves: no dbt, no database.

Run: .venv/bin/pytest -q tests/python/test_yaml_layout.py
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from conftest import PROJECT_DIR

MAX_YAML_BYTES = 40 * 1024
# Not the project's own files: installed packages, dbt's output, caches (.gitignore).
NOT_PROJECT = {".git", ".venv", ".venv-spark", "target", "logs", "dbt_packages", "reports", "bi", "tmp",
               "__pycache__", ".pytest_cache", ".hypothesis", ".mypy_cache", ".ruff_cache", "node_modules"}


def project_yaml_files(root: Path = PROJECT_DIR) -> list[Path]:
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in NOT_PROJECT and not d.endswith(".egg-info")
                   and not (Path(folder) / d).is_symlink()]
        found += [Path(folder) / f for f in files if f.endswith((".yml", ".yaml"))]
    return sorted(found)


def model_sql_files(root: Path = PROJECT_DIR) -> dict[str, list[Path]]:
    project = yaml.safe_load((root / "dbt_project.yml").read_text(encoding="utf-8"))
    models: dict[str, list[Path]] = {}
    for model_path in project.get("model-paths", ["models"]):
        for sql in (root / model_path).rglob("*"):
            if sql.suffix in (".sql", ".py"):
                models.setdefault(sql.stem, []).append(sql)
    return models


def unparsable(files: list[Path]) -> list[str]:
    wrong = []
    for path in files:
        try:
            yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            wrong.append(f"{path.relative_to(PROJECT_DIR)}{where}: {getattr(error, 'problem', None) or error}")
    return wrong


def unit_tests(files: list[Path]) -> list[tuple[Path, str, str]]:
    """(file, unit test, model) for every unit test in the given YAML files that parse."""
    found = []
    for path in files:
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError:
            continue   # test_every_project_yaml_parses names it
        if isinstance(document, dict):
            found += [(path, test.get("name"), test.get("model")) for test in document.get("unit_tests") or []]
    return found


def misplaced_unit_tests(root: Path = PROJECT_DIR) -> list[str]:
    models = model_sql_files(root)
    wrong = []
    for path, name, model in unit_tests(project_yaml_files(root)):
        sql = models.get(model, [])
        where = path.relative_to(root)
        if len(sql) != 1:
            wrong.append(f"{where}: unit test {name}: model {model!r} has {len(sql)} SQL files")
        elif path != sql[0].with_suffix(".yml"):
            wrong.append(f"{where}: unit test {name} belongs in {sql[0].with_suffix('.yml').relative_to(root)}")
    return wrong


def test_unit_tests_are_found_on_the_project() -> None:
    found = unit_tests(project_yaml_files())
    assert len(found) >= 30, f"only {len(found)} unit tests found: is the walk of the project broken?"
    assert {model for _, _, model in found} >= {"int_refund_variances_detected", "fct_refund_variances"}


def test_every_unit_test_sits_beside_its_model() -> None:
    wrong = misplaced_unit_tests()
    assert not wrong, "dbt unit tests go in <model>.yml beside the model's SQL (style.md 3):\n" + "\n".join(wrong)


def test_every_project_yaml_parses() -> None:
    """A YAML file that does not parse hides what it holds (a workflow GitHub rejects, tests dbt
    never reads) from every check here."""
    wrong = unparsable(project_yaml_files())
    assert not wrong, "\n".join(wrong)


def test_no_yaml_file_over_40_kb() -> None:
    files = project_yaml_files()
    assert PROJECT_DIR / "dbt_project.yml" in files
    big = [f"{path.relative_to(PROJECT_DIR)}: {path.stat().st_size:,} bytes" for path in files
           if path.stat().st_size > MAX_YAML_BYTES]
    assert not big, f"YAML files over {MAX_YAML_BYTES // 1024} KB (style.md 3; split them):\n" + "\n".join(big)


def test_a_unit_test_away_from_its_model_is_found(tmp_path: Path) -> None:
    (tmp_path / "models" / "marts").mkdir(parents=True)
    (tmp_path / "dbt_project.yml").write_text("name: p\nmodel-paths: [models]\n")
    for model in ("fct_a", "fct_b"):
        (tmp_path / "models" / "marts" / f"{model}.sql").write_text("select 1 as id\n")
    test = "unit_tests:\n  - name: {name}\n    model: {model}\n    given: []\n    expect: {{rows: []}}\n"
    (tmp_path / "models" / "marts" / "fct_a.yml").write_text(test.format(name="beside", model="fct_a"))
    assert misplaced_unit_tests(tmp_path) == []
    (tmp_path / "models" / "marts" / "_marts__models.yml").write_text(test.format(name="away", model="fct_b"))
    (tmp_path / "models" / "marts" / "fct_b_tests.yml").write_text(test.format(name="renamed", model="fct_b"))
    (tmp_path / "models" / "marts" / "fct_a.yml").write_text(test.format(name="other", model="fct_b"))
    assert misplaced_unit_tests(tmp_path) == [
        "models/marts/_marts__models.yml: unit test away belongs in models/marts/fct_b.yml",
        "models/marts/fct_a.yml: unit test other belongs in models/marts/fct_b.yml",
        "models/marts/fct_b_tests.yml: unit test renamed belongs in models/marts/fct_b.yml",
    ]
