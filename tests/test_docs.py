"""The docs as a reader finds them: README.md a short signpost, every page of docs/ in its
index, every relative link landing on a file (and heading) that exists, and no page telling the
story of how the code changed (that is git's job)."""
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

README_MAX_LINES = 200
DOCS = ROOT / "docs"
INDEX = DOCS / "README.md"
# Phrases that narrate history rather than say what is true.
HISTORY_PHRASES = ("this round", "last round", "previous round", "a round ago", "rounds ago", "previously",
                   "used to be", "no longer", "until now", "formerly", "anymore", "before this change")

_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.MULTILINE)


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md")), ROOT / "weights" / "README.md"]


def prose(text: str) -> str:
    """The text without code blocks and inline code, where brackets are not links."""
    return _INLINE_CODE.sub("", _FENCE.sub("", text))


def links(path: Path) -> list[str]:
    return _LINK.findall(prose(path.read_text(encoding="utf-8")))


def relative(link: str) -> bool:
    return not re.match(r"^[a-z][a-z0-9+.-]*:", link, re.IGNORECASE)


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lowercased, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {anchor(h) for h in _HEADING.findall(_FENCE.sub("", path.read_text(encoding="utf-8")))}


def broken_links(path: Path) -> list[str]:
    broken = []
    for link in filter(relative, links(path)):
        target, _, fragment = link.partition("#")
        file = (path.parent / target).resolve() if target else path
        if not file.exists():
            broken.append(f"{link}: no file {file}")
        elif fragment and file.suffix == ".md" and fragment not in anchors(file):
            broken.append(f"{link}: no heading #{fragment} in {file}")
    return broken


def test_readme_is_a_short_signpost():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES
    assert "docs/README.md" in links(ROOT / "README.md")


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_lands(page):
    assert broken_links(page) == []


def test_the_index_links_every_page_of_docs():
    indexed = {(DOCS / link.partition("#")[0]).resolve() for link in links(INDEX) if relative(link)}
    missing = [p.name for p in sorted(DOCS.glob("*.md")) if p != INDEX and p.resolve() not in indexed]
    assert missing == []


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_page_narrates_history(page):
    text = page.read_text(encoding="utf-8").lower()
    assert [phrase for phrase in HISTORY_PHRASES if phrase in text] == []


def test_the_checks_catch_what_they_look_for(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# A page\n\n## Two words\n\n[ok](page.md#two-words) [gone](nothing.md) "
                    "[bad anchor](page.md#three) [web](https://example.com) `[code](x.md)`\n"
                    "```\n[fenced](y.md)\n```\n", encoding="utf-8")
    assert anchors(page) == {"a-page", "two-words"}
    assert [b.split(":")[0] for b in broken_links(page)] == ["nothing.md", "page.md#three"]
    assert anchor("Build the served model (`python -m weights`)") == "build-the-served-model-python--m-weights"
