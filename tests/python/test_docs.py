"""The README is a front page (at most about 10 KB) that links to the
reference material, and every relative link in it and in docs/ resolves: to
a file or folder of the repository and, where an anchor is given, to a
heading of that file (GitHub's anchor for it)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import PROJECT_DIR

README = PROJECT_DIR / "README.md"
PAGES = [README, *sorted((PROJECT_DIR / "docs").rglob("*.md"))]
LINK = re.compile(r"(?<!!)\[(?:[^\]\[]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`|\*\*|__", "", heading.strip().lower())
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found: set[str] = set()
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, re.M):
        base, count = slug(heading), 0
        name = base
        while name in found:
            count += 1
            name = f"{base}-{count}"
        found.add(name)
    found.update(re.findall(r"<a\s+(?:name|id)=\"([^\"]+)\"", text))
    return found


def links(page: Path) -> list[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    text = re.sub(r"`[^`\n]*`", "", text)   # inline code is not a link
    return [target for target in LINK.findall(text)
            if not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I)]   # http:, https:, mailto: are not checked


def test_readme_is_a_front_page() -> None:
    size = len(README.read_bytes())
    assert size <= 10 * 1024, f"README.md is {size} bytes; move reference material to docs/"
    text = README.read_text(encoding="utf-8")
    for needed in ("make checkpoint", "make test", "## Outcomes and exit codes", "| `clean` | 0 |",
                   "| `failed` | 3 |", "| busy | 4 |", "| usage | 64 |", "Outcome: variances_found (exit 1)"):
        assert needed in text, needed
    targets = set(links(README))
    for doc in ("docs/bi.md", "docs/ci.md", "docs/marts.md", "docs/report.md", "docs/semantic-layer.md",
                "docs/spec/", "BENCHMARKS.md", "DECISIONLOG.md", "docs/running.md", "docs/inputs.md",
                "docs/settings.md", "docs/models.md", "docs/guarantees.md", "docs/testing.md", "docs/warehouses.md"):
        assert doc in targets, f"README does not link {doc}"


@pytest.mark.parametrize("page", PAGES, ids=[str(page.relative_to(PROJECT_DIR)) for page in PAGES])
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for target in links(page):
        path_part, _, anchor = target.partition("#")
        destination = (page.parent / path_part).resolve() if path_part else page
        if not destination.exists():
            broken.append(f"{target}: no such file")
            continue
        if anchor and destination.suffix == ".md" and anchor not in anchors(destination):
            broken.append(f"{target}: no heading #{anchor} in {destination.name}")
    assert not broken, broken


def test_the_link_checker_catches_a_broken_link_and_anchor(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    (tmp_path / "other.md").write_text("# Title\n\n## Outcomes and exit codes (v2)\n\n```\n## not a heading\n```\n")
    page.write_text("[ok](other.md#outcomes-and-exit-codes-v2) [bad](other.md#not-a-heading) "
                    "[gone](missing.md) `[code](nowhere.md)` [web](https://example.com/x.md)\n")
    assert links(page) == ["other.md#outcomes-and-exit-codes-v2", "other.md#not-a-heading", "missing.md"]
    assert anchors(tmp_path / "other.md") == {"title", "outcomes-and-exit-codes-v2"}
    assert slug("Publishing for BI (issue 14)") == "publishing-for-bi-issue-14"
