"""The test tiers cannot drift (docs/testing.md, "Tiers"): every test file on
disk is in docs/testing.md's tier table with the tier conftest.py gives it
(FAST_FILES: fast; any other file: full), and the table names no other file.
`make test` runs every file whatever the table says; `make test-fast` runs the
files marked fast."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import FAST_FILES, PROJECT_DIR

HERE = Path(__file__).resolve().parent
ROW = re.compile(r"^\| `(test_[a-z0-9_]+\.py)` \| (fast|full) \|", re.MULTILINE)


def documented_tiers() -> dict[str, str]:
    text = (PROJECT_DIR / "docs" / "testing.md").read_text(encoding="utf-8")
    rows = ROW.findall(text)
    assert len(rows) == len(dict(rows)), "docs/testing.md lists a test file twice"
    return dict(rows)


def test_every_test_file_is_in_the_tier_table_with_its_tier() -> None:
    on_disk = {path.name: "fast" if path.name in FAST_FILES else "full" for path in HERE.glob("test_*.py")}
    documented = documented_tiers()
    assert sorted(on_disk.keys() - documented.keys()) == [], "add these files to docs/testing.md's tier table"
    assert sorted(documented.keys() - on_disk.keys()) == [], "docs/testing.md lists files that are gone"
    assert {name: tier for name, tier in documented.items() if on_disk[name] != tier} == {}, \
        "docs/testing.md's tier differs from FAST_FILES in conftest.py"


def test_fast_marker_is_what_make_test_fast_selects(request: pytest.FixtureRequest) -> None:
    # This file is in FAST_FILES, so conftest marked this very test.
    assert request.node.get_closest_marker("fast") is not None
    makefile = (PROJECT_DIR / "Makefile").read_text(encoding="utf-8")
    fast_recipe = re.search(r"^test-fast:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert fast_recipe and "$(PYTEST) -m fast" in fast_recipe.group(1)
    full_recipe = re.search(r"^test:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    # $(PYTEST) alone: a command of its own (the line, or a shell statement ending in ';')
    assert full_recipe and re.search(r"(^\t|\s)\$\(PYTEST\)(;|$)", full_recipe.group(1), re.MULTILINE), \
        "make test runs every file: no -m, -k or path selection"
