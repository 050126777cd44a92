"""A real browser for the tests that read a rendered page: Debian's headless Chromium, whose
`--dump-dom` prints the document after its scripts ran; and a reader of that DOM."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

MISSING = ("the browser tests need Chromium (Debian: apt-get install chromium; .ci/run installs it); "
           "python -m pytest -m 'not browser' leaves them out")


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        raise AssertionError(MISSING)
    return found


def dump_dom(page: Path, fragment: str = "") -> str:
    """The page's DOM once loaded (its script has run), opened at `page#fragment`."""
    with tempfile.TemporaryDirectory() as profile:
        # --no-sandbox: Chromium's sandbox refuses to start as root (as CI runs)
        done = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
                               "--dump-dom", page.resolve().as_uri() + (f"#{fragment}" if fragment else "")],
                              capture_output=True, text=True, timeout=180)
    assert done.returncode == 0 and "</html>" in done.stdout, done.stderr[-2000:]
    return done.stdout


@dataclass
class Row:
    attributes: dict
    cells: dict = field(default_factory=dict)  # a cell's class -> its text

    @property
    def hidden(self) -> bool:
        return "hidden" in self.attributes


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Dom(HTMLParser):
    """What the tests read of a dumped page: its title, every element's tag and attributes,
    the text of each element with an id, and the question rows (`tr.question`) with their
    cells' text by class."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.elements, self.rows, self.by_id, self.texts = [], [], {}, []
        self._open: list[tuple[str, str | None]] = []  # (tag, id) of the elements the text is in
        self._row, self._cell = None, None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.elements.append((tag, attributes))
        if tag in VOID:
            return
        # the document's title is the first <title> (the chart's bars have their own)
        first_title = tag == "title" and "title" not in self.by_id
        self._open.append((tag, attributes.get("id") or ("title" if first_title else None)))
        if self._open[-1][1]:
            self.by_id[self._open[-1][1]] = ""
        if tag == "tr" and "question" in (attributes.get("class") or "").split():
            self._row = Row(attributes)
            self.rows.append(self._row)
        elif tag == "td" and self._row is not None:
            self._cell = attributes.get("class") or ""
            self._row.cells[self._cell] = ""

    def handle_endtag(self, tag):
        while self._open:  # the dump is well formed; this also closes what a parser left open
            closed, _ = self._open.pop()
            if closed == tag:
                break
        if tag == "td":
            self._cell = None
        elif tag == "tr":
            self._row = None

    def handle_data(self, data):
        self.texts.append(data)
        for _, element_id in self._open:
            if element_id:
                self.by_id[element_id] += data
        if self._row is not None and self._cell is not None:
            self._row.cells[self._cell] += data

    @property
    def title(self) -> str:
        return self.by_id.get("title", "")

    def tags(self, name: str) -> list[dict]:
        return [attributes for tag, attributes in self.elements if tag == name]

    def visible(self) -> list[Row]:
        return [row for row in self.rows if not row.hidden]
