"""The labelled generator as a package (scripts/recon_generator/): the shim
`scripts/generate_sample_data.py` and `python -m recon_generator` write the
same files, the seed still draws the bundled sample, and each module imports
only the modules below it, with no files written and no Parquet library
loaded. No dbt: a few small scenarios."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import GENERATOR, PROJECT_DIR, SAMPLE_DIR

PACKAGE = PROJECT_DIR / "scripts" / "recon_generator"
ENV = {**os.environ, "PYTHONPATH": str(PROJECT_DIR / "scripts")}
# The package's modules that each module may import (directly or not): the
# cases and the vendor shapes never load the scenario or the writers.
MAY_IMPORT = {
    "vocabulary": set(),
    "clock": set(),
    "shapes": {"clock"},
    "faults": {"vocabulary"},
    "traps": {"vocabulary"},
    "id_faults": {"vocabulary"},
    "rejections": {"vocabulary"},
    "scenario": {"clock", "vocabulary", "faults", "traps", "id_faults", "rejections"},
    "writers": {"clock", "vocabulary", "faults", "traps", "id_faults", "rejections", "scenario", "shapes"},
    "cli": {"clock", "vocabulary", "faults", "traps", "id_faults", "rejections", "scenario", "shapes", "writers"},
}
SCENARIOS = {
    "generic_id_faults": ["--refunds", "150", "--seed", "3", "--id-fault-rate", "0.2", "--bad-rows", "7"],
    "every_shape": ["--refunds", "150", "--seed", "4", "--business-timezone", "Europe/Berlin", "--processor-shapes",
                    "stripe", "adyen", "paypal", "generic", "--storefront-shape", "shopify", "--erp-shape", "netsuite"],
}


def files(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=cwd, env=ENV, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_shim_and_package_write_the_same_files(tmp_path: Path, name: str) -> None:
    shim = run([sys.executable, str(GENERATOR), "--out", str(tmp_path / "shim"), *SCENARIOS[name]], tmp_path)
    package = run([sys.executable, "-m", "recon_generator", "--out", str(tmp_path / "package"), *SCENARIOS[name]],
                  tmp_path)
    written = files(tmp_path / "shim")
    assert "scenario.json" in written and len(written) >= 5
    assert files(tmp_path / "package") == written
    assert package.stderr == shim.stderr


def test_the_seed_still_draws_the_bundled_sample(tmp_path: Path) -> None:
    """`make sample-data`'s command reproduces data/sample byte for byte:
    the case lists keep the order the seed draws from. (The bundled
    scenario.json predates its dbt_vars: every key it has must match.)"""
    run([sys.executable, str(GENERATOR), "--out", str(tmp_path), "--refunds", "400", "--seed", "7"], tmp_path)
    bundled, written = files(SAMPLE_DIR), files(tmp_path)
    assert sorted(written) == sorted(bundled)
    for name in sorted(bundled):
        if name == "scenario.json":
            settings, generated = json.loads(bundled[name]), json.loads(written[name])
            assert {key: generated.get(key) for key in settings} == settings
        else:
            assert written[name] == bundled[name], f"{name} differs from data/sample/{name}"


def test_each_module_imports_only_the_modules_below_it(tmp_path: Path) -> None:
    on_disk = {path.stem for path in PACKAGE.glob("*.py")} - {"__init__", "__main__"}
    assert on_disk == set(MAY_IMPORT), "name each module of recon_generator in MAY_IMPORT"
    probe = ("import importlib, json, sys; importlib.import_module('recon_generator.' + sys.argv[1]); "
             "print(json.dumps([sorted(m.split('.')[1] for m in sys.modules if m.startswith('recon_generator.')),"
             " 'pyarrow' in sys.modules]))")
    for module, allowed in sorted(MAY_IMPORT.items()):
        result = run([sys.executable, "-c", probe, module], tmp_path)
        loaded, has_pyarrow = json.loads(result.stdout)
        assert set(loaded) - {module} <= allowed, f"recon_generator.{module} loads {sorted(set(loaded) - allowed - {module})}"
        assert not has_pyarrow, f"recon_generator.{module} loads pyarrow (only --format parquet needs it)"
        assert result.stderr == ""
    assert list(tmp_path.iterdir()) == [], "importing a module wrote files"
