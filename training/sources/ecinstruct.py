"""NingLab/ECInstruct (Peng et al., 2024, the eCeLLM paper) -> ShopBench questions (paper
Table 7, rows 11-19 and 28).

Input: the release as published on Hugging Face, JSON files (`train.json`, `validation.json`,
`test.json`; earlier `test_IND.json`, `test_OOD.json`) whose records carry `task, setting,
split, instruction, input, options, output`, or the eCeLLM repository's tree
`ECInstruct/TASK/SETTING/SPLIT.json`, whose records take their task and setting from the
path. --input is one such file or a folder searched for `.json` and `.jsonl` files;
`label.json`, the ESCI labels of the ranking task's test records, holds no records and is
passed over.

Only the setting IND_Diverse_Instruction is read: it is the one eCeLLM trains on, with every
task's train, validation and in-domain test records; the other settings repeat those records
under other instructions, or are out-of-domain tests. The release's instructions are not
kept: each task is asked in ShopBench's words, its data laid out the way ShopBench lays out
data (`python -m training rewrite` varies the wording). How each task is converted:

- Attribute_Value_Extraction (input: the product's texts as JSON; output: JSON
  `[{attribute, value, source}]`, value "None" when absent) -> NER, micro f1: one question per
  attribute with a value, its values as the gold spans; each must occur in the text shown.
- Multiclass_Product_Classification, Product_Relation_Predicition, Sentiment_Analysis
  (options "A: text", output "A" or "A: text") -> multiple choice among the same options,
  shuffled and numbered from 0; labels are drawn in turn.
- Sequential_Recommendation (20 options) -> multiple choice between the answer and three of
  the other 19: the multiple-choice parser reads a single digit.
- Answerability_Prediction, Product_Matching, Product_Substitue_Identification (output yes
  or no) -> multiple choice between yes and no, labels drawn in turn.
- Query_Product_Ranking (output: the product letters from the most to the least relevant,
  2-4 products whose ESCI labels all differ) -> retrieval, hit rate@3, as in Table 7: the k
  most relevant products, k drawn from 1 to n-1 (the order is known, the labels are not).
- Sentiment_Analysis again (row 28): five reviews, one of each sentiment, ranked from the
  most positive to the most negative (ndcg, weights 1, 0.75, 0.5, 0.25, 0).

Answer_Generation, which Table 7 does not use, is passed over and counted. The release
spells two task names "Predicition" and "Substitue"; the right spellings are read too.
"""
from __future__ import annotations

import ast
import functools
import math
import random
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from shopbench import jsonsafe, spec
from shopbench.data import DataError
from training import readers
from training.records import (
    Built, Source, Task, bulleted, candidate_block, count_phrase, distinct_draws, interleaved, multiple_choice,
    next_item_question, numbered, one_line, ranking_instruction, retrieval_list, shorten, shuffled,
)

SETTING = "IND_Diverse_Instruction"
AVE = "Attribute_Value_Extraction"
MPC = "Multiclass_Product_Classification"
PRP = "Product_Relation_Predicition"
QPR = "Query_Product_Ranking"
SR = "Sequential_Recommendation"
AP = "Answerability_Prediction"
PM = "Product_Matching"
PSI = "Product_Substitue_Identification"
SA = "Sentiment_Analysis"
AG = "Answer_Generation"
KNOWN_TASKS = (AVE, MPC, PRP, QPR, SR, AP, PM, PSI, SA, AG)  # as the release spells them
_SPELLINGS = {name.casefold(): name for name in KNOWN_TASKS} | {
    "product_relation_prediction": PRP, "product_substitute_identification": PSI,
}
NOT_BUILT = {AG: "free-text answers, which Table 7 does not use"}
RECORD_FILES = re.compile(r"\.jsonl?(?:\.gz)?$")
LABELS_FILE = "label.json"

# The release's sentiments, from the most positive; the ranking's weights are evenly spaced.
SENTIMENTS = ("very positive", "positive", "neutral", "negative", "very negative")
SENTIMENT_WEIGHTS = {s: round(1 - position / (len(SENTIMENTS) - 1), 4) for position, s in enumerate(SENTIMENTS)}
SR_OPTIONS = 4  # ShopBench's usual four: the release's 20 would need two digits
RANKED_REVIEWS = 5
MAX_TEXT_CHARS = 1500  # a description or a review, cut at a word boundary
MAX_LISTED_CHARS = 400  # a review inside a ranked list
_OPTION = re.compile(r"^\s*([A-Z])\s*[:.)]\s*(.*?)\s*$", re.DOTALL)
_ANSWER_LETTER = re.compile(r"^\s*([A-Z])(?![A-Za-z])")
_ORDINAL = re.compile(r"^\s*\d+(?:st|nd|rd|th)\s*:\s*")
_NONE = {"", "none", "nan", "null"}


@dataclass(frozen=True)
class Choice:
    """A multiple-choice record: the question (options not included), the options without
    their letters in the release's order, and the right one."""

    question: str
    options: tuple[str, ...]
    answer: int
    label: str  # what answers are balanced over ("" for no labels: any answer is its own)


@dataclass(frozen=True)
class Sentiment(Choice):
    review: str  # the review alone, for the ranking of reviews


@dataclass(frozen=True)
class YesNo:
    question: str
    yes: bool


@dataclass(frozen=True)
class Extraction:
    texts: tuple[tuple[str, str], ...]  # ("product title", "..."), in the input's order
    values: tuple[tuple[str, tuple[str, ...]], ...]  # attribute -> the values stated (none: empty)


@dataclass(frozen=True)
class Ranked:
    query: str
    products: tuple[str, ...]  # titles, the most relevant first


@dataclass
class EcInstructData:
    records: dict[str, list]  # release task -> its parsed records
    unusable: dict[str, int]


def _error(at: str, field: str, message: str) -> DataError:
    return DataError(f"{at}: field '{field}': {message}")


def _json_object(at: str, value) -> dict:
    """The record's input as a dict with casefolded keys ("Product 1:" is "product 1")."""
    try:  # too deep: jsonsafe's own line, naming the field
        parsed = jsonsafe.loads(value, f"{at}: field 'input'", finite=False) if isinstance(value, str) else value
    except jsonsafe.NotJSON:
        parsed = None
    if not isinstance(parsed, dict):
        raise _error(at, "input", f"expected a JSON object, got {str(value)[:60]!r}")
    return {str(key).casefold().rstrip(": "): item for key, item in parsed.items()}


def _value(at: str, data: dict, *names: str):
    for name in names:
        if name in data:
            return data[name]
    raise _error(at, "input", f"no key '{names[0]}' (the input has: {', '.join(data) or 'nothing'})")


def _text(value) -> str:
    """One line of text; "" for a missing value (the release writes NaN and "nan" for them)."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or str(value).strip().casefold() in _NONE:
        return ""
    return one_line(value)


def _string_list(at: str, field: str, value) -> list[str]:
    """A list of strings, given as a list, as JSON or as a Python literal (the release writes
    the recommendation task's lists with Python's str())."""
    items = value
    if isinstance(value, str):
        try:  # too deep: jsonsafe's own line, naming the field
            items = jsonsafe.loads(value, f"{at}: field '{field}'", finite=False)
        except jsonsafe.NotJSON:
            try:
                items = ast.literal_eval(value.strip())
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                items = None
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise _error(at, field, f"expected a list of strings, got {str(value)[:60]!r}")
    return items


def _options(at: str, record: dict) -> tuple[str, ...]:
    if "options" not in record:
        raise _error(at, "options", "missing")
    options = []
    for position, option in enumerate(_string_list(at, "options", record["options"])):
        match = _OPTION.match(option)
        if not match or match.group(1) != chr(ord("A") + position) or not match.group(2):
            raise _error(at, "options", f"expected options written 'A: text', 'B: text', ..., got {option[:60]!r}")
        options.append(one_line(match.group(2)))
    if len(options) < 2:
        raise _error(at, "options", f"expected at least two options, got {len(options)}")
    return tuple(options)


def _answer(at: str, output, options: tuple[str, ...]) -> int:
    match = _ANSWER_LETTER.match(str(output))
    letters = "".join(chr(ord("A") + position) for position in range(len(options)))
    if not match or match.group(1) not in letters:
        raise _error(at, "output", f"expected one of the option letters {letters}, got {str(output)[:60]!r}")
    return letters.index(match.group(1))


def _yes(at: str, output) -> bool:
    answer = str(output).strip().casefold()
    if answer not in ("yes", "no"):
        raise _error(at, "output", f"expected yes or no, got {str(output)[:60]!r}")
    return answer == "yes"


def _choice(at: str, record: dict, question: str, balanced: bool = True) -> Choice:
    options = _options(at, record)
    answer = _answer(at, record["output"], options)
    return Choice(question, options, answer, options[answer].casefold() if balanced else "")


def _search(query: str, title: str) -> str:
    return f"A user searched an online shopping website for '{query}' and was shown the product '{title}'."


def parse_extraction(at: str, record: dict) -> Extraction:
    data = _json_object(at, record["input"])
    texts = tuple((key, _text(value)) for key, value in data.items() if key != "target attributes" and _text(value))
    if not texts:
        raise _error(at, "input", "expected the product's texts (product title, description, ...)")
    try:
        stated = (jsonsafe.loads(record["output"], f"{at}: field 'output'", finite=False)
                  if isinstance(record["output"], str) else record["output"])
    except jsonsafe.NotJSON:
        stated = None
    if not isinstance(stated, list) or not all(isinstance(s, dict) and {"attribute", "value"} <= set(s) for s in stated):
        raise _error(at, "output", f"expected a JSON list of {{attribute, value, source}}, "
                                   f"got {str(record['output'])[:60]!r}")
    values: dict[str, list[str]] = {}
    for item in stated:
        found = values.setdefault(_text(item["attribute"]), [])
        value = _text(item["value"])
        if value and value.casefold() not in (v.casefold() for v in found):
            found.append(value)
    return Extraction(texts, tuple((attribute, tuple(found)) for attribute, found in values.items() if attribute))


def parse_classification(at: str, record: dict) -> Choice:
    data = _json_object(at, record["input"])
    query, title = _text(_value(at, data, "query")), _text(_value(at, data, "product title", "product"))
    return _choice(at, record, f"{_search(query, title)} What is the relevance between the query and the product?")


def parse_relation(at: str, record: dict) -> Choice:
    data = _json_object(at, record["input"])
    question = (
        "Two products are sold on an online shopping website.\n"
        f"Product 1: {_text(_value(at, data, 'product 1'))}\nProduct 2: {_text(_value(at, data, 'product 2'))}\n"
        "Which of the following describes how the two products are related?"
    )
    return _choice(at, record, question)


def parse_recommendation(at: str, record: dict) -> Choice:
    history = [one_line(_ORDINAL.sub("", item)) for item in _string_list(at, "input", record["input"])]
    if not any(history):
        raise _error(at, "input", "expected the products the user bought, in order")
    return _choice(at, record, next_item_question("bought", "buy", [h for h in history if h]), balanced=False)


def parse_sentiment(at: str, record: dict) -> Sentiment:
    review = one_line(shorten(str(record["input"] or ""), MAX_TEXT_CHARS))
    if not review:
        raise _error(at, "input", "expected the review's text")
    question = (
        f"A user wrote the following review on an online shopping website.\nReview: {review}\n"
        "Which of the following best describes the sentiment the user expresses?"
    )
    choice = _choice(at, record, question)
    return Sentiment(choice.question, choice.options, choice.answer, choice.label, review)


def parse_answerability(at: str, record: dict) -> YesNo:
    data = _json_object(at, record["input"])
    document = _value(at, data, "document")
    snippets = [_text(s) for s in (document if isinstance(document, list) else [document])]
    question = (
        "A customer asked a question about a product on an online shopping website.\n"
        f"Question: {_text(_value(at, data, 'question'))}\nThe product's reviews say:\n"
        f"{bulleted([shorten(s, MAX_LISTED_CHARS) for s in snippets if s])}\n"
        "Can the customer's question be answered from what the reviews say?"
    )
    return YesNo(question, _yes(at, record["output"]))


def _listing(at: str, product) -> str:
    if not isinstance(product, dict):
        raise _error(at, "input", f"expected each product as a JSON object, got {str(product)[:60]!r}")
    fields = {str(key).casefold(): _text(value) for key, value in product.items()}
    parts = [fields.pop("title", "")]
    parts += [f"{key}: {shorten(value, MAX_LISTED_CHARS)}" for key, value in fields.items() if value]
    return " | ".join(part for part in parts if part)


def parse_matching(at: str, record: dict) -> YesNo:
    data = _json_object(at, record["input"])
    question = (
        "Two product listings come from two online shopping websites.\n"
        f"Product 1: {_listing(at, _value(at, data, 'product 1'))}\n"
        f"Product 2: {_listing(at, _value(at, data, 'product 2'))}\n"
        "Do the two listings describe the same product?"
    )
    return YesNo(question, _yes(at, record["output"]))


def parse_substitute(at: str, record: dict) -> YesNo:
    data = _json_object(at, record["input"])
    query, title = _text(_value(at, data, "query")), _text(_value(at, data, "product", "product title"))
    question = (
        f"{_search(query, title)} Is the product a substitute for what the user searched for: somewhat relevant, "
        "failing some aspects of the query, but usable in its place?"
    )
    return YesNo(question, _yes(at, record["output"]))


def parse_ranking(at: str, record: dict) -> Ranked:
    data = _json_object(at, record["input"])
    listed = _string_list(at, "input", _value(at, data, "product list"))
    products = {}
    for item in listed:
        match = _OPTION.match(item)
        if not match:
            raise _error(at, "input", f"expected products written 'A: title', got {item[:60]!r}")
        products[match.group(1)] = one_line(match.group(2))
    order = [letter.strip() for letter in str(record["output"]).split(",")]
    if sorted(order) != sorted(products):
        raise _error(at, "output", f"expected the letters {', '.join(sorted(products))} in ranked order, "
                                   f"got {str(record['output'])[:60]!r}")
    return Ranked(_text(_value(at, data, "query")), tuple(products[letter] for letter in order))


PARSERS = {
    AVE: parse_extraction, MPC: parse_classification, PRP: parse_relation, QPR: parse_ranking,
    SR: parse_recommendation, AP: parse_answerability, PM: parse_matching, PSI: parse_substitute, SA: parse_sentiment,
}


def _path_names(root: Path, file: Path) -> tuple[str | None, str | None]:
    """(task, setting) named by the folders between --input and the file: a folder named
    after a task, and the folder inside it."""
    parts = file.relative_to(root).parts[:-1] if root.is_dir() else ()
    for position, part in enumerate(parts):
        if part.casefold() in _SPELLINGS:
            return _SPELLINGS[part.casefold()], parts[position + 1] if position + 1 < len(parts) else None
    return None, None


def load(path) -> EcInstructData:
    path = readers.existing(path)
    if path.is_dir():
        files = sorted(
            f for f in path.rglob("*") if f.is_file() and RECORD_FILES.search(f.name) and f.name != LABELS_FILE
        )
        if not files:
            raise DataError(f"{path}: no .json or .jsonl files")
    else:
        files = [path]
    records: dict[str, list] = {task: [] for task in PARSERS}
    unusable: Counter = Counter()
    for file in files:
        path_task, path_setting = _path_names(path, file)
        for where, record in readers.json_records(file, ()):
            at = f"{file}:{where}"
            named = record.get("task") or path_task
            if not named:
                raise _error(at, "task", "missing (and no folder of the path is named after a task)")
            task = _SPELLINGS.get(str(named).casefold())
            setting = record.get("setting") or path_setting
            if task is None:
                unusable[f"task {str(named)[:60]!r}, not one of ECInstruct's ({', '.join(KNOWN_TASKS)})"] += 1
            elif task in NOT_BUILT:
                unusable[f"{task}: {NOT_BUILT[task]}"] += 1
            elif setting and setting != SETTING:
                unusable[f"setting {setting}, not {SETTING}"] += 1
            else:
                readers.require(file, where, record, ("input", "output"))
                records[task].append(PARSERS[task](at, record))
    return EcInstructData(records, dict(unusable))


def attribute_values(data: EcInstructData, rng: random.Random):
    for record in shuffled(data.records[AVE], rng):
        shown = "\n".join(f"{label.capitalize()}: {shorten(text, MAX_TEXT_CHARS)}" for label, text in record.texts)
        for attribute, values in record.values:
            if not values:
                yield "attribute without a value in the product's texts"
                continue
            if not all(value.casefold() in shown.casefold() for value in values):
                yield "attribute value not found in the product text shown"
                continue
            prompt = (
                "You are a helpful online shop assistant. Please extract phrases from the product information "
                f"below that correspond to the entity type '{attribute}'.\n"
                "Please directly output the entity without repeating the entity type. If there are multiple such "
                "entities, separate them with comma. Do not give explanations.\n"
                f"{shown}\nOutput: "
            )
            yield Built(prompt, [value.lower() for value in values])


def choices(task: str, data: EcInstructData, rng: random.Random, most: int | None = None):
    by_label: dict[str, list[Choice]] = {}
    for record in data.records[task]:
        by_label.setdefault(record.label, []).append(record)
    for record in interleaved(by_label, rng):
        others = [option for position, option in enumerate(record.options) if position != record.answer]
        others = rng.sample(others, min(len(others), most - 1)) if most else shuffled(others, rng)
        yield multiple_choice(rng, record.question, record.options[record.answer], others)


def yes_no(task: str, data: EcInstructData, rng: random.Random):
    by_label: dict[bool, list[YesNo]] = {}
    for record in data.records[task]:
        by_label.setdefault(record.yes, []).append(record)
    for record in interleaved(by_label, rng):
        yield multiple_choice(rng, record.question, "yes" if record.yes else "no", ["no" if record.yes else "yes"])


def most_relevant(data: EcInstructData, rng: random.Random):
    for record in shuffled(data.records[QPR], rng):
        if len(set(map(str.casefold, record.products))) < len(record.products) or len(record.products) < 2:
            yield "fewer than two products of different titles"
            continue
        count = rng.randint(1, len(record.products) - 1)
        candidates, truth = retrieval_list(rng, record.products[:count], record.products[count:])
        prompt = (
            f"A user has searched an online shopping website with the query '{record.query}'. The following "
            f"numbered list contains {len(candidates)} products. Select {count_phrase(count, 'product')} most "
            "relevant to the query.\n"
            + candidate_block("Product", candidates, count)
        )
        yield Built(prompt, truth)


def rank_reviews(data: EcInstructData, rng: random.Random):
    by_sentiment: dict[str, list[Sentiment]] = {}
    for record in data.records[SA]:
        by_sentiment.setdefault(record.label, []).append(record)
    for anchor in shuffled(data.records[SA], rng):
        if anchor.label not in SENTIMENT_WEIGHTS:
            yield f"sentiment other than {', '.join(SENTIMENTS)}"
            continue
        others = [sentiment for sentiment in SENTIMENTS if sentiment != anchor.label]
        if not all(by_sentiment.get(sentiment) for sentiment in others):
            yield "no review of every other sentiment"
            continue
        texts = {anchor.review.casefold()}
        chosen = [anchor]
        for sentiment in others:
            found = distinct_draws(rng, by_sentiment[sentiment], 1, lambda r: r.review.casefold() not in texts)
            if found:
                texts.add(found[0].review.casefold())
                chosen += found
        if len(chosen) < RANKED_REVIEWS:
            yield "no review of every other sentiment with another text"
            continue
        chosen = shuffled(chosen, rng)
        prompt = (
            f"The following numbered list contains {RANKED_REVIEWS} reviews written on an online shopping website. "
            "Please rank the reviews by the sentiment they express, from the most positive to the most negative.\n"
            f"Review List:\n{numbered([shorten(r.review, MAX_LISTED_CHARS) for r in chosen], 1)}\n"
            f"{ranking_instruction(RANKED_REVIEWS)}"
        )
        yield Built(prompt, [SENTIMENT_WEIGHTS[r.label] for r in chosen])


SOURCE = Source(
    name="ecinstruct",
    input_help=f"NingLab/ECInstruct's JSON files (records with task, setting, input, options, output), or a folder "
               f"of them or of ECInstruct/TASK/SETTING/*.json; setting {SETTING} is read",
    load=load,
    tasks=(
        Task("ecinstruct-attribute-values", spec.NER, spec.MICRO_F1,
             "a product's values of one attribute, copied from its texts", attribute_values),
        Task("ecinstruct-query-relevance", spec.MULTIPLE_CHOICE, spec.ACCURACY,
             "how relevant a product is to a query (multiclass product classification)",
             functools.partial(choices, MPC)),
        Task("ecinstruct-product-relation", spec.MULTIPLE_CHOICE, spec.ACCURACY,
             "bought together, viewed together or similar, for two products", functools.partial(choices, PRP)),
        Task("ecinstruct-most-relevant", spec.RETRIEVAL, spec.HIT_RATE_3,
             "the k most relevant of 2-4 products for a query (query-product ranking)", most_relevant),
        Task("ecinstruct-next-purchase", spec.MULTIPLE_CHOICE, spec.ACCURACY,
             "the product a user buys next, among 4 (sequential recommendation)",
             functools.partial(choices, SR, most=SR_OPTIONS)),
        Task("ecinstruct-answerability", spec.MULTIPLE_CHOICE, spec.ACCURACY,
             "whether reviews answer a customer's question (yes or no)", functools.partial(yes_no, AP)),
        Task("ecinstruct-product-matching", spec.MULTIPLE_CHOICE, spec.ACCURACY,
             "whether two listings are the same product (yes or no)", functools.partial(yes_no, PM)),
        Task("ecinstruct-substitute", spec.MULTIPLE_CHOICE, spec.ACCURACY,
             "whether a product is a substitute for a query (yes or no)", functools.partial(yes_no, PSI)),
        Task("ecinstruct-sentiment", spec.MULTIPLE_CHOICE, spec.ACCURACY,
             "a review's sentiment among the release's five", functools.partial(choices, SA)),
        Task("ecinstruct-rank-reviews", spec.RANKING, spec.NDCG,
             "rank 5 reviews from the most positive to the most negative (weights 1 to 0)", rank_reviews),
    ),
)
