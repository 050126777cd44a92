"""What a builder makes, and the small text and sampling helpers every builder shares.

A builder is a generator over one task: it yields a `Built` question for each unit of the
source it can use and, for each unit it cannot, a short reason string, which the driver
counts. All randomness comes from the `random.Random` it is given, so a build is fixed by
its seed.

A labelling (`python -m training label`) is the same over the units a language model labels:
it yields an `Ask` for each unit and a reason string for each unit it does not ask about; its
`read` turns the model's reply into the label or raises `Dropped` with the reason. The tasks
of a labelled source then build questions from a `Labelled`: the data and the kept labels.
"""
from __future__ import annotations

import html
import random
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

from shopbench import spec
from shopbench.text import number_word, single_spaced


@dataclass(frozen=True)
class Built:
    """One generated ShopBench question (the driver adds the task's name and type)."""

    input_field: str
    output_field: Any
    metric: str | None = None  # when one task mixes metrics (titles: bleu, or jp-bleu for Japanese)


Builder = Callable[[Any, random.Random], Iterator["Built | str"]]


@dataclass(frozen=True)
class Task:
    name: str  # the task_name written to every question
    task_type: str
    metric: str
    summary: str  # one line for --help and reports
    build: Builder


@dataclass(frozen=True)
class Ask:
    """One unit put to a language model."""

    key: str  # the unit, unique within its labelling and the same in every run on the same data
    messages: tuple[dict, ...]  # the chat: system and user turns
    max_new_tokens: int
    context: Any = None  # what `read` needs to judge the reply


class Dropped(Exception):
    """A reply that fails its labelling's checks; the message is the reason, counted in the report."""


@dataclass(frozen=True)
class Labelling:
    name: str  # "product-type": the key of its labels in `Labelled.labels`
    summary: str  # one line for --help and reports
    # (data, the kept labels of the labellings before it, rng) -> an Ask per unit, a reason per unit not asked
    asks: Callable[[Any, dict, random.Random], Iterator["Ask | str"]]
    read: Callable[[str, Any], Any]  # (reply, the ask's context) -> the label (JSON); raises Dropped


@dataclass(frozen=True)
class Labelled:
    """What a labelled source's tasks build from."""

    data: Any  # the source's loaded data
    labels: dict[str, dict[str, Any]]  # labelling name -> unit key -> kept label


@dataclass(frozen=True)
class Source:
    name: str  # the SOURCE argument of `python -m training build` (or `label`)
    input_help: str  # what --input must point at
    load: Callable[..., Any]  # --input path (and `load_options`) -> the loaded data; raises DataError
    tasks: tuple[Task, ...]  # with `labellings`, they build from a `Labelled`
    labellings: tuple[Labelling, ...] = ()  # made in this order, each seeing the labels before it
    load_options: tuple[str, ...] = ()  # options of `label` that `load` takes, as keywords


def system_and_user(system: str, user: str) -> tuple[dict, ...]:
    return ({"role": "system", "content": system}, {"role": "user", "content": user})


_LIST_MARK = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
_LABEL_PREFIX = re.compile(r"^\s*(?:answer|category|the category is|reply)\s*:\s*", re.IGNORECASE)
NONE_REPLIES = {"none", "none of them", "none of these", "n/a"}


def first_line(reply: str) -> str:
    """A reply's first non-empty line, without a list mark, a lead-in label or enclosing quotes."""
    line = next((line for line in reply.splitlines() if line.strip()), "")
    line = _LABEL_PREFIX.sub("", _LIST_MARK.sub("", line)).strip()
    while len(line) > 1 and line[0] in "\"'“‘`" and line[-1] in "\"'”’`":
        line = line[1:-1].strip()
    return line


def chosen_from(reply: str, offered, none_reason: str, other_reason: str) -> str:
    """The item of `offered` the reply names (casefolded, a final period aside); Dropped with
    `none_reason` when it says none fits, with `other_reason` when it names something else."""
    answer = first_line(reply).rstrip(".").strip().casefold()
    if answer in NONE_REPLIES:
        raise Dropped(none_reason)
    for item in offered:
        if item.casefold() == answer:
            return item
    raise Dropped(other_reason)


def question_record(task: Task, built: Built) -> dict:
    """The JSON Lines record of a generated question, in the shape of ShopBench's data."""
    return {
        "input_field": built.input_field,
        "output_field": built.output_field,
        "task_name": task.name,
        "task_type": task.task_type,
        "metric": built.metric or task.metric,
        "is_multiple_choice": task.task_type == spec.MULTIPLE_CHOICE,
    }


HTML_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)


def one_line(text) -> str:
    """Text on one line with single spaces; "" for None. Candidates, titles and queries go
    through it, so a numbered list keeps one line per item and BLEU sees one line."""
    if text is None:
        return ""
    return single_spaced(HTML_BREAK.sub(" ", str(text)))


_TAG = re.compile(r"<[^>]*>")


def html_text(text) -> str:
    """Text with HTML markup (ESCI's descriptions: <p>, <b>, &amp;) as plain text on one line."""
    return one_line(html.unescape(_TAG.sub(" ", str(text)))) if text else ""


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word boundary and marked with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + "…"


def numbered(items: Sequence[str], start: int) -> str:
    return "\n".join(f"{number}. {item}" for number, item in enumerate(items, start=start))


def place_answer(rng: random.Random, answer, distractors: Sequence) -> tuple[list, int]:
    """The options with the answer at a random position, and that position."""
    options = list(distractors)
    position = rng.randrange(len(options) + 1)
    options.insert(position, answer)
    return options, position


def choice_prompt(question: str, options: Sequence[str]) -> str:
    """ShopBench's multiple-choice layout: the question, options numbered from 0, "Answer: "."""
    return f"{question}\n{numbered(options, 0)}\nAnswer: "


REPEATED_OPTIONS = "options that read the same"  # the reason a builder skips such a unit


def repeated_option(options: Sequence[str]) -> tuple[int, int] | None:
    """The positions of the first two options that read the same (case and spacing aside),
    or None. A question with such options cannot be answered from its text: the answer's
    twin is as right as the answer (three identical options make a lottery)."""
    seen: dict[str, int] = {}
    for position, option in enumerate(options):
        key = one_line(option).casefold()
        if key in seen:
            return seen[key], position
        seen[key] = position
    return None


def multiple_choice(rng: random.Random, question: str, answer: str, distractors: Sequence[str]) -> Built | str:
    """The question with its options, the answer placed at random; `REPEATED_OPTIONS` (a
    skip reason) when two options read the same."""
    options, position = place_answer(rng, answer, distractors)
    if repeated_option(options):
        return REPEATED_OPTIONS
    return Built(choice_prompt(question, options), position)


def bulleted(items: Sequence[str]) -> str:
    """A history or a document as "- item" lines: unnumbered, so it never reads as options."""
    return "\n".join(f"- {item}" for item in items)


HISTORY_SHOWN = 10  # the latest products of a long history


def next_item_question(did: str, do: str, history: Sequence[str]) -> str:
    """"A user ... viewed the following products ... most likely to view next?": the question
    of a next-product choice, the latest of the history as bullets (`did`/`do`: "viewed"/"view")."""
    return (
        f"A user on an online shopping website {did} the following products, in this order:\n"
        f"{bulleted(history[-HISTORY_SHOWN:])}\n\nWhich product is the user most likely to {do} next?"
    )


def count_phrase(count: int, noun: str) -> str:
    """"the three products", "the one product": the count a retrieval prompt asks for."""
    return f"the {number_word(count)} {noun}{'s' if count > 1 else ''}"


def numbers_instruction(count: int) -> str:
    """The output instruction of a retrieval prompt that asks for `count` numbers."""
    plural = count > 1
    return (
        f"You should output {number_word(count)} number{'s' if plural else ''}"
        f"{', separated with comma' if plural else ''}. Only respond with the number{'s' if plural else ''}. "
        "Do not give explanations.\n"
        "Output: "
    )


def ranking_instruction(count: int) -> str:
    """The output instruction of a ranking prompt over `count` candidates."""
    return (
        f"You should output a permutation of 1 to {count}. There should be a comma separating two numbers. "
        "Only respond with the ranking results. Do not give explanations.\nOutput: "
    )


def candidate_block(label: str, candidates: Sequence[str], count: int) -> str:
    """The end of a retrieval prompt: the labelled numbered list and the output instruction."""
    return f"{label} List:\n{numbered(candidates, 1)}\n{numbers_instruction(count)}"


def retrieval_list(rng: random.Random, positives: Sequence, negatives: Sequence) -> tuple[list, list[int]]:
    """The candidates in random order, and the 1-based numbers of the positives, ascending."""
    candidates = shuffled(list(positives) + list(negatives), rng)
    return candidates, sorted(candidates.index(p) + 1 for p in positives)


def shuffled(items: Sequence, rng: random.Random) -> list:
    items = list(items)
    rng.shuffle(items)
    return items


def interleaved(groups: dict, rng: random.Random) -> Iterator:
    """Items of every group in turn (groups in sorted key order, each shuffled), so the
    first N items are as balanced across groups as the data allows."""
    queues = [shuffled(groups[key], rng) for key in sorted(groups)]
    longest = max((len(queue) for queue in queues), default=0)
    for position in range(longest):
        for queue in queues:
            if position < len(queue):
                yield queue[position]


def distinct_draws(rng: random.Random, pool: Sequence, count: int, accept: Callable[[Any], bool], tries: int = 50) -> list:
    """`count` random items of `pool` that `accept` takes, distinct by identity of value;
    fewer when `tries` draws do not find them (the caller skips the unit)."""
    chosen: list = []
    for _ in range(tries):
        if len(chosen) == count or not pool:
            break
        candidate = pool[rng.randrange(len(pool))]
        if candidate not in chosen and accept(candidate):
            chosen.append(candidate)
    return chosen


def distinct_text_draws(rng: random.Random, pool: Sequence, count: int, text: Callable[[Any], str],
                        excluded: Callable[[Any], bool], texts: set) -> list:
    """`count` random items of `pool` not `excluded`, their texts distinct from each other and
    from `texts` (casefolded); fewer when the pool has too few."""
    taken = set(texts)

    def accept(item) -> bool:
        if excluded(item):
            return False
        folded = text(item).casefold()
        if folded in taken:
            return False
        taken.add(folded)
        return True

    return distinct_draws(rng, pool, count, accept)
