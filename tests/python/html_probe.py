"""Read a rendered page back (the file, or Chromium's --dump-dom after the
inline script ran): element ids, and each table's rows with their attributes
and cell texts. Standard library only."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path


@dataclass
class Row:
    attrs: dict[str, str | None]
    cells: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)

    @property
    def hidden(self) -> bool:
        return "hidden" in self.attrs


class Page(HTMLParser):
    """ids: every element id; tables: id -> rows that hold td cells; text(id): an element's text."""

    VOID = {"br", "meta", "input", "img", "link", "hr", "col", "wbr", "source"}

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.tables: dict[str, list[Row]] = {}
        self.texts: dict[str, list[str]] = {}
        self._table: list[str] = []
        self._row: Row | None = None
        self._has_td = False
        self._cell: list[str] | None = None
        self._open: list[list] = []  # [id, tag, nesting of that tag]
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        ident = values.get("id")
        for entry in self._open:
            if entry[1] == tag and tag not in self.VOID:
                entry[2] += 1
        if ident:
            self.ids.add(ident)
            if tag not in self.VOID:
                self.texts.setdefault(ident, [])
                self._open.append([ident, tag, 1])
        if tag == "table":
            self._table.append(ident or "")
            self.tables.setdefault(ident or "", [])
        elif tag == "tr" and self._table:
            self._row, self._has_td = Row(values), False
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
            self._has_td = self._has_td or tag == "td"
        elif tag == "a" and self._row is not None and values.get("href"):
            self._row.links.append(values["href"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.cells.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._has_td:
                self.tables[self._table[-1]].append(self._row)
            self._row = None
        elif tag == "table" and self._table:
            self._table.pop()
        for entry in self._open:
            if entry[1] == tag:
                entry[2] -= 1
        self._open = [entry for entry in self._open if entry[2] > 0]

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        for entry in self._open:
            self.texts[entry[0]].append(data)

    def text(self, ident: str) -> str:
        return " ".join("".join(self.texts.get(ident, [])).split())


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def browser_flags(profile: Path) -> list[str]:
    return ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-default-apps", "--disable-extensions", "--virtual-time-budget=5000",
            f"--user-data-dir={profile}"]


def dump_dom(browser: str, url: str, profile: Path) -> Page:
    """The DOM after the page's script ran (Chromium --dump-dom)."""
    result = subprocess.run([browser, *browser_flags(profile), "--dump-dom", url], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and "</html>" in result.stdout, result.stderr[-2000:]
    return Page(result.stdout)


def screenshot(browser: str, url: str, out: Path, profile: Path, size: str = "1280,2400") -> None:
    subprocess.run([browser, *browser_flags(profile), f"--screenshot={out}", f"--window-size={size}",
                    "--hide-scrollbars", url], capture_output=True, timeout=120)


MEASURE = """<script>
window.addEventListener("load", function () {
  var root = document.documentElement, outside = [];
  Array.prototype.forEach.call(document.querySelectorAll("body *"), function (element) {
    var right = element.getBoundingClientRect().right;
    // Inside a box that scrolls on its own (.scroll), an element is clipped to the box.
    if (right > window.innerWidth + 0.5 && !element.closest(".scroll") && outside.length < 20) {
      outside.push(element.tagName.toLowerCase() + (element.id ? "#" + element.id : "") +
        (element.className && typeof element.className === "string" ? "." + element.className : "") +
        " right=" + Math.round(right));
    }
  });
  var probe = document.createElement("pre");
  probe.id = "layout-probe";
  probe.textContent = JSON.stringify({scrollWidth: root.scrollWidth, innerWidth: window.innerWidth, outside: outside});
  document.body.appendChild(probe);
});
</script>"""


def layout(browser: str, page: Path, profile: Path, width: int = 1280) -> dict:
    """The page laid out in a `width` px wide window: the document's
    scrollWidth, the window's innerWidth, and the first elements that reach
    past the window's right edge (outside a box that scrolls on its own). Measured in a copy of the page beside it
    (same folder, so relative links resolve) with a measuring script added."""
    import json

    copy = page.with_name(page.stem + ".layout-probe.html")
    text = page.read_text(encoding="utf-8")
    assert text.count("</body>") == 1
    copy.write_text(text.replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    try:
        result = subprocess.run([browser, *browser_flags(profile), f"--window-size={width},900", "--hide-scrollbars",
                                 "--dump-dom", copy.as_uri()], capture_output=True, text=True, timeout=120)
    finally:
        copy.unlink()
    probe = Page(result.stdout).text("layout-probe")
    assert probe, result.stderr[-2000:]
    return json.loads(probe)


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) of a PNG, from its IHDR chunk."""
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", path
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")
