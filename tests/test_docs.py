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


# docs/decoding.md's worked examples: (dev row, the model's response, the answer returned).
REPAIR_EXAMPLES = (
    (4, "The answer is surveillance camera (2).", "2"),
    (4, "5", "0"),
    (64, "1, 4, 4, 4, 4", "1, 4, 2, 3, 5"),
    (64, "Product 4 is the most relevant.", "4, 1, 2, 3, 5"),
    (8, "6, 9", "6, 9, 1"),
    (8, "5, 6, 6, 99", "5, 6, 1"),
    (12, "", "tablette asus"),
    (12, "The product type in the query is 'tablette'.", "tablette"),
    (12, "The product type of this query is a tablette made by Asus.", "tablette, asus"),
    (0, "A toggle switch is used in cars, homes, cars, homes, cars, homes, cars, homes.",
     "A toggle switch is used in cars, homes."),
    (89, "Corsair HS60 PRO Surround Gaming Headset 7.1, 7.1, 7.1, 7.1, 7.1", "Corsair HS60 PRO Surround Gaming Headset 7.1"),
    (0, "A toggle switch is a switch. It is moved up and down by a small lever on its front. It is used in cars and "
        "homes. It is cheap.", "A toggle switch is a switch. It is moved up and down by a small lever on its front."),
    (87, "The German title is 'Fimo Soft Starter-Set 12 x 57 g Mehrfarbige Blöcke'.",
     "Fimo Soft Starter-Set 12 x 57 g Mehrfarbige Blöcke"),
    (87, "Fimo Soft Starter Pack 12 x 57 g, 12 x 57 g, 12 x 57 g, 12 x 57 g",
     "Steadtler Fimo Soft Starter Pack 12 x 57 g Multicolour Blocks"),
    (90, "Output: Actesso Tutore Polso Traspirante", "Actesso Tutore Polso Traspirante"),
    (28, "The keyphrase is 'fits well'.", "The keyphrase is 'fits well'."),
)


def _spaced(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.mark.parametrize("row, response, answer", REPAIR_EXAMPLES)
def test_decoding_page_repairs_are_what_repair_does(dev_records, row, response, answer):
    from decoding.profiles import repair
    from routing.classifier import classify

    question = dev_records[row]
    route = classify(question["input_field"], question["is_multiple_choice"])
    assert repair(route, question["input_field"], response).text == answer
    page = _spaced((DOCS / "decoding.md").read_text(encoding="utf-8"))
    shown = f"`{response}` -> `{answer}`" if response else f"an empty answer -> `{answer}`"
    assert f"row {row}" in page.lower() and _spaced(shown) in page


def test_decoding_page_constraints_are_what_profiles_build(dev_records, qwen_tokenizer, qwen_vocabulary):
    from shopbench.decoding_config import DEFAULT
    from decoding.profiles import constraint_for, text_constraint_for
    from routing.classifier import classify

    def built(row):
        question = dev_records[row]["input_field"]
        route = classify(question, dev_records[row]["is_multiple_choice"])
        return route, constraint_for(route, question, qwen_tokenizer, qwen_vocabulary, DEFAULT, 1024)

    page = _spaced((DOCS / "decoding.md").read_text(encoding="utf-8"))
    route, mc = built(4)
    assert mc.max_new_tokens == 1 and len(mc.allowed_token_ids) == 6
    assert sorted(qwen_tokenizer.decode([i]) for i in mc.allowed_token_ids) == [
        "0", "1", "2", "3", "<|endoftext|>", "<|im_end|>"]
    assert text_constraint_for(route).choices == ("0", "1", "2", "3") and f"Qwen2's {len(qwen_tokenizer):,})" in page
    route, ranking = built(64)
    assert ranking.max_new_tokens == 10 and f"`{text_constraint_for(route).pattern}`" in page
    assert built(8)[1].max_new_tokens == 9
    ner = built(12)[1]
    assert ner.allowed_token_ids is None and f"a bias of {len(ner.logit_bias)} entries" in page
    assert sorted(qwen_tokenizer.decode([i]) for i, v in ner.logit_bias.items() if v < 0) == sorted(
        [" None", "None", "none", " none", "\tNone"])
    assert built(0)[1].max_new_tokens == 50 and built(87)[1].max_new_tokens == 100
