"""Reading the structure of a ShopBench prompt: numbered candidate lists, labelled fields,
and what the output instruction asks for.

Pure string work, shared by the classifier, the constraints and the answer repair.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from routing import lexicon
from routing.once import once
from shopbench.text import NUMBER_WORDS, is_cjk, split_sentences, straight_quotations, without_data_quotations

# How a candidate is numbered, numbers of one or two digits: at a line's start "1. x", "1.x",
# "1) x", "1: x", "1 - x", "(1) x", "[1] x", "| 1 | x |" (a table row), "Listing 1 — x",
# "#1 x", "option (1) x", "no. 1 x", "A/1 - x", "\"1\": x" and {"id": 1, ...} (JSON); inside a
# JSON array, "\"1. x\"" several to a line. Each way has one group for the number, the last
# to close in its branch: a match's `lastindex` names it. A word before the number ("Listing
# 1") is read whole (`{1,12}+`, no backtracking): what follows it is never a letter, so fewer
# letters could not match either, and a line of prose fails at once.
_NUMBERED_LINE = re.compile(
    r"^\s*(?:[-*•]\s*)?(?:\((\d{1,2})\)|\[(\d{1,2})\]|(\d{1,2})(?:\s*[.):]|\s+[-–—])(?!\d)|\|\s*(\d{1,2})\s*\||"
    r"[^\W\d_]{1,12}+\s*#?(\d{1,2})\s*[:.)—–-]\s|\"(\d{1,2})\"\s*:|"
    rf"\{{?\s*\"(?:{lexicon.alternatives(lexicon.NUMBER_KEYS)})\"\s*:\s*\"?(\d{{1,2}})\b|"
    rf"(?:#|n[or]\.|n°|[A-Za-z]/|(?:{lexicon.alternatives(lexicon.NUMBERED_NOUNS)})\s*[#(\[]?)\s*(\d{{1,2}})[)\]]?"
    r"(?:\s*[.:)—–-])?\s)",
    re.IGNORECASE,
)
_IN_JSON_ARRAY = re.compile(r"\"(\d{1,2})[.:)]\s")
_ANSWER_SLOTS = frozenset(lexicon.ANSWER_SLOTS)
# "Label: value" lines such as "Query: tablette asus", in any script; "**Label**:" too.
_FIELD = re.compile(r"^(?:\*\*)?([^\W\d_][^:：\n]{0,40}?)(?:\*\*)?\s*[:：]\s*(.*)$")
# A JSON or YAML-in-quotes pair: "task": "Return the ids of ...".
_JSON_PAIR = re.compile(r'"([^"\n]{1,40})"\s*:\s*"((?:[^"\\\n]|\\.)*)"')
# A blank to fill in a form: "Brand: ____", "Size: ...", JSON "brand": null.
_BLANK = re.compile(r"^(?:_{2,}|\.{3,}|…|\?+|\[\s*\]|\(\s*\)|null)(?:\s|$)", re.IGNORECASE)
_JSON_NULL = re.compile(r'"([^"\n]{1,40})"\s*:\s*null\b')
# A Markdown heading names the block under it: "### Query".
_HEADING = re.compile(r"^#{1,6}\s*([^\W\d_][^:：\n]{0,40}?)\s*[:：]?\s*$")
# "从标题中提取品牌：<title>": a label that gives an order is the instruction, not a field.
_INSTRUCTING_LABEL = lexicon.presence(lexicon.COPY_VERBS, lexicon.WRITE_VERBS, lexicon.RANK_WORDS, lexicon.SELECT_WORDS)
# A question someone else asked is the data of a question-answering task, not the instruction.
_ASKED_BY_SOMEONE = lexicon.pattern(lexicon.ASKERS)
# A line that gives an order rather than data ends a data block: it starts like an order,
# or (CJK, where the verb comes last) holds a polite request form.
_STARTS_INSTRUCTION = lexicon.pattern(lexicon.ORDER_OPENERS, at_start=True, flags=re.IGNORECASE)
_CJK_REQUEST = lexicon.pattern(lexicon.POLITE_REQUESTS)
_ASCII_REQUESTS = any(form.isascii() for form in lexicon.POLITE_REQUESTS)  # none today


def _gives_order(line: str) -> bool:
    if _STARTS_INSTRUCTION.match(line):
        return True
    # while every polite request form is CJK, an ASCII line is spared the search
    return (_ASCII_REQUESTS or not line.isascii()) and _CJK_REQUEST.search(line) is not None


_COUNT = r"(\d{1,2}|" + "|".join(NUMBER_WORDS) + r")"
_CJK_NUMBERS = "".join(word for word in NUMBER_WORDS if is_cjk(word))  # "3つ" and "三つ" alike
_PICK = lexicon.alternatives(lexicon.COUNT_VERBS)
_PICK_WORD = lexicon.presence(lexicon.COUNT_VERBS, lexicon.COUNT_ANSWER_WORDS)
_COUNT_PATTERNS = (
    re.compile(rf"(?<!\w)(?:{_PICK})\s+(?:(?:{lexicon.alternatives(lexicon.COUNT_FILLERS)})\s+)*{_COUNT}(?!\w)"),
    re.compile(rf"(?<!\w){_COUNT}\s+(?:[\w-]+\s+){{0,2}}(?:{lexicon.alternatives(lexicon.ITEM_NOUNS)})(?!\w)"),
    re.compile(rf"top(?<!\w...)[\s-]?{_COUNT}(?!\w)"),  # "top" first (the boundary tested after it): searched as a literal
    re.compile(rf"(\d|[{_CJK_NUMBERS}])\s*(?:{lexicon.alternatives(lexicon.CJK_COUNTERS)})"),
)


@dataclass(frozen=True)
class CandidateList:
    numbers: tuple[int, ...]  # as numbered in the prompt: 0.. or 1.., consecutive
    first_line: int
    last_line: int


@dataclass(frozen=True, eq=False)
class Anatomy:
    """One prompt, read once: every part routing, constraints, truncation and repair use.

    Each part is computed the first time it is asked for and kept (a multiple-choice prompt
    routed by its flag never needs its instruction read). Build it with `read`, which keeps
    the anatomies of recent prompts, so the classifier, the constraint and the repair of one
    question share one reading."""

    prompt: str

    @once
    def lines(self) -> tuple[str, ...]:
        return tuple(self.prompt.splitlines())

    @once
    def _fields(self) -> tuple[tuple[str, str] | None, ...]:
        """Each line's (label, value), None for a line that is no field."""
        return tuple(_field_label(line.strip()) for line in self.lines)

    @once
    def candidates(self) -> CandidateList | None:
        """The prompt's list of numbered candidates: the last run of two or more items numbered
        consecutively from 0 or 1. Unnumbered lines inside a run continue the previous item."""
        return _candidate_list(self.lines)

    @once
    def candidate_texts(self) -> dict[int, str]:
        """The text of each candidate of the list, by its number (unnumbered lines inside it
        continue the previous item); {} when there is no list or its layout puts several
        candidates on one line (a JSON array), where items cannot be told apart by line."""
        return _candidate_texts(self.lines, self.candidates)

    @once
    def last_line(self) -> str:
        return next((line.strip() for line in reversed(self.lines) if line.strip()), "")

    @once
    def answer_label(self) -> str:
        """The label of an empty field that ends the prompt ("brand" for "Brand:"), lowercased;
        "" when the prompt ends otherwise. It names what the answer is."""
        label = _field_label(self.last_line)
        return label[0] if label is not None and not label[1] else ""

    def is_answer_slot(self, label: str) -> bool:
        """Whether `label` names where the answer goes: the prompt's own ending label, or a
        generic one ("Output", "Answer", "Antwort", ...)."""
        name = _label_name(label)
        return name in _ANSWER_SLOTS or (bool(name) and name == self.answer_label)

    @once
    def fields(self) -> tuple[tuple[str, str], ...]:
        """("query", "tablette asus")-style fields with a value, in order; answer slots
        ("Output:", "Answer:") and empty values are left out."""
        return tuple(f for f in self._fields if f is not None and f[1] and f[0] not in _ANSWER_SLOTS)

    @once
    def blanks(self) -> tuple[str, ...]:
        """The labels of a form's blanks: "brand" for "Brand: ____" or JSON "brand": null."""
        names = []
        for line, label in zip(self.lines, self._fields):
            if label is not None and _BLANK.match(label[1]):
                names.append(label[0])
            names.extend(_label_name(key) for key in _JSON_NULL.findall(line))
        return tuple(names)

    @once
    def instruction(self) -> str:
        """The prompt's instruction alone, lowercased: candidate lines, the values of labelled
        data fields ("Review: ...", and the block of lines under an empty data label or a data
        heading) and long quoted spans are removed, so that words inside a review or a title
        ("rank", "entity", "translate") cannot steer routing. Instructions given as JSON values
        ("task": "...") are kept, and the label of an empty answer slot ends the text."""
        return _instruction(self.lines, self.candidates, self.answer_label)

    @once
    def requested_count(self) -> int | None:
        """How many items the instruction asks for (`requested_count`)."""
        return requested_count(self.instruction)

    @once
    def rating_range(self) -> tuple[int, int] | None:
        """The single-digit scale the whole prompt names (`rating_range`)."""
        return rating_range(self.prompt.lower())

    @once
    def subject_text(self) -> str:
        """The text the question is about: the last labelled field's value (the query, the
        aspect, the title), else the last quoted phrase, else the last line that is not an
        answer slot. Used to aim copy-from-prompt decoding and as the fallback answer."""
        if self.fields:
            return self.fields[-1][1]
        quoted = straight_quotations(self.prompt)
        if quoted:
            return quoted[-1]
        lines = [line.strip() for line in self.lines if line.strip() and not _is_slot_line(line)]
        return lines[-1] if lines else ""

    @once
    def data_text(self) -> str:
        """The values of every labelled field, one per line (the data an answer may copy from),
        else the subject text."""
        return "\n".join(value for _, value in self.fields) if self.fields else self.subject_text


_SCALE = re.compile(rf"\b(?:{lexicon.alternatives(lexicon.SCALE_WORDS)})\b[^\d\n]{{0,20}}\b(\d)\s*"
                    rf"(?:{lexicon.alternatives(lexicon.RANGE_WORDS)}|-|–)\s*(\d)\b")
_READ_CACHE = 4096  # prompts whose anatomy is kept: read by routing, then by the constraint and the repair


@functools.lru_cache(maxsize=_READ_CACHE)
def read(prompt: str) -> Anatomy:
    """The anatomy of `prompt`, read once and shared while recent."""
    return Anatomy(prompt)


def _markers(lines):
    """(number, line) for every candidate number, in reading order."""
    for line_number, line in enumerate(lines):
        match = _NUMBERED_LINE.match(line)
        if match:
            yield int(match.group(match.lastindex)), line_number
        elif '"' in line:
            for inline in _IN_JSON_ARRAY.finditer(line):
                yield int(inline.group(1)), line_number


def _candidate_list(lines) -> CandidateList | None:
    runs: list[CandidateList] = []
    current: list[tuple[int, int]] = []  # (number, line)
    for number, line_number in _markers(lines):
        if current and number == current[-1][0] + 1:
            current.append((number, line_number))
            continue
        if len(current) >= 2:
            runs.append(CandidateList(tuple(n for n, _ in current), current[0][1], current[-1][1]))
        current = [(number, line_number)] if number in (0, 1) else []
    if len(current) >= 2:
        runs.append(CandidateList(tuple(n for n, _ in current), current[0][1], current[-1][1]))
    return runs[-1] if runs else None


def _candidate_texts(lines, candidates: CandidateList | None) -> dict[int, str]:
    if candidates is None:
        return {}
    texts: dict[int, str] = {}
    number = None
    for line in lines[candidates.first_line: candidates.last_line + 1]:
        match = _NUMBERED_LINE.match(line)
        if match:
            number = int(match.group(match.lastindex))
            texts[number] = line[match.end():].strip()
        elif number is not None:
            texts[number] = f"{texts[number]} {line.strip()}".strip()
    return texts if tuple(texts) == candidates.numbers else {}


def _instruction(lines, candidates: CandidateList | None, ending: str) -> str:
    lines = list(lines)
    if candidates is not None:
        lines[candidates.first_line: candidates.last_line + 1] = [""] * (candidates.last_line + 1 - candidates.first_line)
    kept: list[str] = []
    in_data_block = False
    for line in lines:
        if '"' in line:  # a JSON pair needs one
            kept.extend(value for key, value in _JSON_PAIR.findall(line) if _label_name(key) in lexicon.INSTRUCTION_LABELS)
        stripped = without_data_quotations(line).strip()
        label = _field_label(stripped)
        if label is not None:
            in_data_block = False
            name, value = label
            has_data = bool(value) or (stripped != line.strip() and _field_label(line.strip()) not in (None, (name, "")))
            instructs = name in lexicon.INSTRUCTION_LABELS and not _ASKED_BY_SOMEONE.search(name)
            if instructs or _gives_order(value):
                kept.append(value)
            elif not has_data and name not in _ANSWER_SLOTS:
                in_data_block = True
            else:
                # 'Customer query: "...". Order the items above': an order after the data.
                kept.extend(part for part in split_sentences(value)[1:] if _gives_order(part))
            continue
        if in_data_block and (not stripped or _gives_order(stripped.lower())):  # a data block ends
            in_data_block = False
        if not in_data_block:
            kept.append(stripped)
    return "\n".join(kept + [ending]).lower()


def _field_label(line: str) -> tuple[str, str] | None:
    """("review", "great fit") for "Review: great fit", ("query", "") for "### Query";
    None for a line that is no field."""
    # Most lines have neither the colon _FIELD needs nor the "#" that opens a _HEADING.
    return _read_field(line) if ":" in line or "：" in line or line[:1] == "#" else None


@functools.lru_cache(maxsize=4096)  # a line is read for its prompt's instruction and its fields
def _read_field(line: str) -> tuple[str, str] | None:
    match = _FIELD.match(line) or _HEADING.match(line)
    if not match or len(match.group(1).split()) > 4 or _STARTS_INSTRUCTION.match(match.group(1)):
        return None
    if _INSTRUCTING_LABEL(match.group(1).lower()):
        return None
    return _label_name(match.group(1)), match.group(2).strip() if match.re is _FIELD else ""


def _label_name(label: str) -> str:
    """"answer_format" and "Answer format" name the same label."""
    return " ".join(label.replace("_", " ").lower().split())


def _is_slot_line(line: str) -> bool:
    """An "Answer:"-style line: a generic answer slot's label alone."""
    return line.strip().rstrip(":：").strip().lower() in _ANSWER_SLOTS


def field_of(line: str) -> tuple[str, str] | None:
    """(label, value) of a "Label: value" line or a "### Label" heading (value ""), the
    label lowercased; None for a line that is no field."""
    return _field_label(line.strip())


def without_answer_slots(text: str) -> str:
    """Instruction text less its "Answer:"-style lines; "" when that is all it has."""
    return "\n".join(line for line in text.splitlines() if line.strip() and not _is_slot_line(line))


def requested_count(text: str) -> int | None:
    """How many items the instruction asks for: "select 3", "three numbers", "top-3",
    "wähle 3", "3つ選んで". "N products" counts only in a sentence that asks to pick ("you
    will see one search query" does not)."""
    for pattern in _COUNT_PATTERNS:
        for sentence in split_sentences(text) if pattern is _COUNT_PATTERNS[1] else [text]:
            if pattern is _COUNT_PATTERNS[1] and not _PICK_WORD(sentence):
                continue
            match = pattern.search(sentence)
            if match:
                word = match.group(1)
                return int(word) if word.isdigit() else NUMBER_WORDS[word]
    return None


def rating_range(text: str) -> tuple[int, int] | None:
    """A single-digit scale the answer must fall in: "on a scale of 1 to 5", "from 0-9"."""
    match = _SCALE.search(text)
    if match and int(match.group(1)) < int(match.group(2)):
        return int(match.group(1)), int(match.group(2))
    return None
