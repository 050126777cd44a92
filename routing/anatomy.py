"""Reading the structure of a ShopBench prompt: numbered candidate lists, labelled fields,
and what the output instruction asks for.

Pure string work, shared by the classifier, the constraints and the answer repair.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

# "1. x", "1.x", "1) x", "1: x", "(1) x", "[1] x"; numbers of one or two digits.
_NUMBERED_LINE = re.compile(r"^\s*(?:\((\d{1,2})\)|\[(\d{1,2})\]|(\d{1,2})\s*[.):](?!\d))\s*(.*)$")
# "Label: value" lines such as "Query: tablette asus" or "Aspect: comfort".
_LABELLED_LINE = re.compile(r"^\s*([A-Za-z][A-Za-z ]{0,40}?)\s*:\s*(.*)$")
_ANSWER_SLOTS = {"output", "answer", "response", "result", "results"}

NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
}
_COUNT = r"(\d{1,2}|" + "|".join(NUMBER_WORDS) + r")"


@dataclass(frozen=True)
class CandidateList:
    numbers: tuple[int, ...]  # as numbered in the prompt: 0.. or 1.., consecutive
    first_line: int
    last_line: int


def _number(match: re.Match) -> int:
    return int(next(g for g in match.groups()[:3] if g is not None))


def candidate_list(prompt: str) -> CandidateList | None:
    """The prompt's list of numbered candidates: the last run of two or more lines numbered
    consecutively from 0 or 1. Unnumbered lines inside a run continue the previous item."""
    runs: list[CandidateList] = []
    current: list[tuple[int, int]] = []  # (number, line)
    for line_number, line in enumerate(prompt.splitlines()):
        match = _NUMBERED_LINE.match(line)
        if not match:
            continue
        number = _number(match)
        if current and number == current[-1][0] + 1:
            current.append((number, line_number))
            continue
        if len(current) >= 2:
            runs.append(CandidateList(tuple(n for n, _ in current), current[0][1], current[-1][1]))
        current = [(number, line_number)] if number in (0, 1) else []
    if len(current) >= 2:
        runs.append(CandidateList(tuple(n for n, _ in current), current[0][1], current[-1][1]))
    return runs[-1] if runs else None


def instruction(prompt: str, candidates: CandidateList | None) -> str:
    """The prompt without its candidate lines, lowercased: where the task is described."""
    lines = prompt.splitlines()
    if candidates is not None:
        lines = lines[: candidates.first_line] + lines[candidates.last_line + 1 :]
    return "\n".join(lines).lower()


def last_line(prompt: str) -> str:
    lines = [line.strip() for line in prompt.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def labelled_fields(prompt: str) -> list[tuple[str, str]]:
    """("Query", "tablette asus")-style fields with a value, in order; answer slots
    ("Output:", "Answer:") and empty values are left out."""
    fields = []
    for line in prompt.splitlines():
        match = _LABELLED_LINE.match(line)
        if match and match.group(2).strip() and match.group(1).strip().lower() not in _ANSWER_SLOTS:
            fields.append((match.group(1).strip(), match.group(2).strip()))
    return fields


def subject_text(prompt: str) -> str:
    """The text the question is about: the last labelled field's value (the query, the
    aspect, the title), else the last quoted phrase, else the last line that is not an
    answer slot. Used to aim copy-from-prompt decoding and as the fallback answer."""
    fields = labelled_fields(prompt)
    if fields:
        return fields[-1][1]
    quoted = re.findall(r"'([^'\n]{1,200})'|\"([^\"\n]{1,200})\"", prompt)
    if quoted:
        return next(part for part in quoted[-1] if part)
    lines = [
        line.strip()
        for line in prompt.splitlines()
        if line.strip() and line.strip().rstrip(":").strip().lower() not in _ANSWER_SLOTS
    ]
    return lines[-1] if lines else ""


def requested_count(text: str) -> int | None:
    """How many items the instruction asks for: "select 3", "three numbers", "top-3"."""
    patterns = (
        rf"\b(?:select|choose|pick|identify|retrieve|find|recommend|output|return|give|list)\s+(?:only\s+|exactly\s+|the\s+|top\s+)*{_COUNT}\b",
        rf"\b{_COUNT}\s+(?:numbers|indices|indexes|ids|items|products|candidates|options|answers|snippets|aspects|queries|reviews|results)\b",
        rf"\btop[\s-]?{_COUNT}\b",
    )
    for pattern in patterns:
        match = re.search(pattern, text)
        if match:
            word = match.group(1)
            return int(word) if word.isdigit() else NUMBER_WORDS[word]
    return None


def rating_range(text: str) -> tuple[int, int] | None:
    """A single-digit scale the answer must fall in: "on a scale of 1 to 5", "from 0-9"."""
    match = re.search(
        r"\b(?:scale|rating|rate|score|from|between)\b[^\d\n]{0,20}\b(\d)\s*(?:to|-|–|and)\s*(\d)\b", text
    )
    if match and int(match.group(1)) < int(match.group(2)):
        return int(match.group(1)), int(match.group(2))
    return None
