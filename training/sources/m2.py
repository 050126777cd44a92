"""Amazon-M2 (Jin et al., 2023; KDD Cup 2023) -> next-product multiple choice,
cross-locale title generation, the same product's description in another language and the
products viewed before a session's last one (paper Table 7, rows 9, 10 and 31).

Input: the folder with the KDD Cup 2023 files `products_train.csv` (`id, locale, title`,
`desc` read when the file has it, ...) and `sessions_train.csv` (`prev_items, next_item,
locale`). `prev_items` is written as a Python-style list of quoted ids, with or without
commas. A product sold in several locales has one row per locale, under one id: its
description in one locale and in another are the same product's (row 10, ShopBench's task
18), the other options descriptions of other products from locales other than the first.

Labelled by a language model (`python -m training label m2`, rows 1 and 20), from the
products file alone: each product's category, chosen from a list offered to the model
(`product_types.txt`, or `--categories`); then, for a few products of each category, an
explanation of the category written from the product's title and description. Row 1 asks
which category may have an attribute, where an attribute is a column of the products file
(color, size, model, material, author) that a product fills: the answer is a category with
a product that fills it, the other options categories seen at least MIN_SEEN times and
never with it. Row 20 asks for the explanation of a category.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

from shopbench import metrics, spec
from shopbench.data import DataError
from shopbench.text import latin_sentence_ends, single_spaced, words as words_of
from training import readers
from training.records import (
    Ask, Built, Dropped, Labelled, Labelling, Source, Task, bulleted, candidate_block, chosen_from, count_phrase,
    distinct_text_draws, first_line, multiple_choice, next_item_question, one_line, retrieval_list, shorten, shuffled,
    system_and_user,
)

PRODUCTS_FILE = "products_train.csv"
SESSIONS_FILE = "sessions_train.csv"
PRODUCT_COLUMNS = ("id", "locale", "title")
SESSION_COLUMNS = ("prev_items", "next_item", "locale")
# The locales of Amazon-M2, as the marketplace's language is named in a ShopBench prompt.
LANGUAGES = {"DE": "German", "JP": "Japanese", "UK": "English", "ES": "Spanish", "FR": "French", "IT": "Italian"}
EARLIER_LISTED = 10
MAX_EARLIER_ANSWERS = 3
MIN_BLEU_TOKENS = 4  # BLEU-4 of a shorter reference is 0 even for an exact copy
MAX_DESCRIPTION_CHARS = 400
_QUOTED_ID = re.compile(r"""['"]([^'"\s]+)['"]""")


@dataclass
class Session:
    line: int
    prev_items: str
    next_item: str
    locale: str


@dataclass
class M2Data:
    titles: dict[tuple[str, str], str]  # (id, locale) -> title
    ids_by_locale: dict[str, list[str]]
    locales_by_id: dict[str, list[str]]
    sessions: list[Session]
    unusable: dict[str, int]
    descriptions: dict[tuple[str, str], str]  # (id, locale) -> description, for products that have one


def _description(row: dict) -> str:
    """A product row's description on one line, cut to MAX_DESCRIPTION_CHARS ("" without one)."""
    return shorten(one_line(row.get("desc")), MAX_DESCRIPTION_CHARS)


def load(folder) -> M2Data:
    folder = readers.existing(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: expected the folder that holds {PRODUCTS_FILE} and {SESSIONS_FILE}")
    titles: dict[tuple[str, str], str] = {}
    ids_by_locale: dict[str, list[str]] = {}
    locales_by_id: dict[str, list[str]] = {}
    unusable: dict[str, int] = {}
    descriptions: dict[tuple[str, str], str] = {}
    for _, row in readers.csv_rows(Path(folder) / PRODUCTS_FILE, PRODUCT_COLUMNS):
        title = one_line(row["title"])
        if not title:
            unusable["product without a title"] = unusable.get("product without a title", 0) + 1
            continue
        key = (row["id"], row["locale"])
        if key not in titles:
            ids_by_locale.setdefault(row["locale"], []).append(row["id"])
            locales_by_id.setdefault(row["id"], []).append(row["locale"])
        titles[key] = title
        description = _description(row)
        if description:
            descriptions[key] = description
    sessions = [
        Session(line, row["prev_items"], row["next_item"], row["locale"])
        for line, row in readers.csv_rows(Path(folder) / SESSIONS_FILE, SESSION_COLUMNS)
    ]
    return M2Data(titles, ids_by_locale, locales_by_id, sessions, unusable, descriptions)


def _session_titles(data: M2Data, session: Session) -> tuple[str | None, list[str], list[str]]:
    """The next product's title (None without one), the ids viewed before it, and the
    titles of those that have one, in order."""
    viewed_ids = _QUOTED_ID.findall(session.prev_items)
    viewed = [data.titles[(i, session.locale)] for i in viewed_ids if (i, session.locale) in data.titles]
    return data.titles.get((session.next_item, session.locale)), viewed_ids, viewed


def _unseen_products(data: M2Data, session: Session, in_session: set, titles: set, count: int, rng) -> list[str]:
    """`count` ids of the locale outside the session, their titles distinct from each other
    and from `titles` (casefolded); fewer when the locale has too few."""
    return distinct_text_draws(rng, data.ids_by_locale.get(session.locale, []), count,
                               lambda product_id: data.titles[(product_id, session.locale)],
                               lambda product_id: product_id in in_session, titles)


def next_product(data: M2Data, rng: random.Random):
    for session in shuffled(data.sessions, rng):
        answer, viewed_ids, viewed = _session_titles(data, session)
        if answer is None:
            yield "next product without a title"
            continue
        if not viewed:
            yield "session without a viewed product that has a title"
            continue
        in_session = set(viewed_ids) | {session.next_item}
        distractors = _unseen_products(data, session, in_session, {answer.casefold()}, 3, rng)
        if len(distractors) < 3:
            yield "too few other products in the locale"
            continue
        question = next_item_question("viewed", "view", viewed)
        yield multiple_choice(rng, question, answer, [data.titles[(i, session.locale)] for i in distractors])


def earlier_views(data: M2Data, rng: random.Random):
    for session in shuffled(data.sessions, rng):
        last, viewed_ids, viewed = _session_titles(data, session)
        if last is None:
            yield "next product without a title"
            continue
        titles = {last.casefold()}
        earlier = []  # one product per title, and none titled like the last one
        for title in viewed:
            if title.casefold() not in titles:
                titles.add(title.casefold())
                earlier.append(title)
        if not earlier:
            yield "session without an earlier product titled otherwise than its last"
            continue
        count = min(MAX_EARLIER_ANSWERS, len(earlier))
        in_session = set(viewed_ids) | {session.next_item}
        others = _unseen_products(data, session, in_session, titles, EARLIER_LISTED - count, rng)
        if len(others) < EARLIER_LISTED - count:
            yield "too few other products in the locale"
            continue
        candidates, truth = retrieval_list(
            rng, rng.sample(earlier, count), [data.titles[(i, session.locale)] for i in others]
        )
        prompt = (
            f"A user on an online shopping website ended a session with the product '{last}'. The following "
            f"numbered list contains {len(candidates)} products. Select {count_phrase(count, 'product')} that the "
            f"user viewed earlier in the same session.\n" + candidate_block("Product", candidates, count)
        )
        yield Built(prompt, truth)


def title_translation(data: M2Data, rng: random.Random):
    token_counters: dict[bool, object] = {}

    def bleu_tokens(text: str, japanese: bool) -> int:
        if japanese not in token_counters:
            token_counters[japanese] = metrics.new_bleu(japanese).tokenizer
        return len(token_counters[japanese](text).split())

    for product_id in shuffled(data.locales_by_id, rng):
        locales = [locale for locale in data.locales_by_id[product_id] if locale in LANGUAGES]
        if len(locales) < 2:
            yield "product sold in fewer than two known locales"
            continue
        source, target = rng.sample(locales, 2)
        title = data.titles[(product_id, target)]
        japanese = target == "JP"
        if bleu_tokens(title, japanese) < MIN_BLEU_TOKENS:
            yield f"target title shorter than {MIN_BLEU_TOKENS} BLEU tokens"
            continue
        prompt = (
            f"A product entitled '{data.titles[(product_id, source)]}' exists on an online shopping website. "
            f"Generate an adequate title for the product when it appears on a(n) {LANGUAGES[target]} online "
            "shopping website.\nOutput: "
        )
        yield Built(prompt, title, spec.JP_BLEU if japanese else spec.BLEU)


def description_other_language(data: M2Data, rng: random.Random):
    described = sorted({product_id for product_id, _ in data.descriptions})
    others = [key for key in sorted(data.descriptions)]
    for product_id in shuffled(described, rng):
        locales = [locale for locale in data.locales_by_id[product_id] if (product_id, locale) in data.descriptions]
        if len(locales) < 2:
            yield "product described in fewer than two locales"
            continue
        source, target = rng.sample(locales, 2)
        shown, answer = data.descriptions[(product_id, source)], data.descriptions[(product_id, target)]
        if shown.casefold() == answer.casefold():
            yield "the same description in both locales"
            continue
        distractors = distinct_text_draws(rng, others, 3, lambda key: data.descriptions[key],
                                          lambda key: key[0] == product_id or key[1] == source,
                                          {shown.casefold(), answer.casefold()})
        if len(distractors) < 3:
            yield "too few other described products outside the locale"
            continue
        question = (
            f"A product with description '{shown}' exists on an online shopping website. Which of the following "
            "descriptions may describe the same product in a different language?"
        )
        yield multiple_choice(rng, question, answer, [data.descriptions[key] for key in distractors])


SOURCE = Source(
    name="m2",
    input_help=f"folder with the Amazon-M2 (KDD Cup 2023) {PRODUCTS_FILE} and {SESSIONS_FILE}",
    load=load,
    tasks=(
        Task("m2-next-product", spec.MULTIPLE_CHOICE, spec.ACCURACY,
             "pick the product a session views next", next_product),
        Task("m2-title-translation", spec.GENERATION, spec.BLEU,
             "a product's title on another locale's site (bleu; jp-bleu for Japanese)", title_translation),
        Task("m2-earlier-views", spec.RETRIEVAL, spec.HIT_RATE_3,
             "pick the products a session viewed before its last one, among 10", earlier_views),
        Task("m2-description-other-language", spec.MULTIPLE_CHOICE, spec.ACCURACY,
             "pick the same product's description in another locale, among descriptions of other products",
             description_other_language),
    ),
)


# Labelled by a language model: rows 1 and 20.
PRODUCT_TYPES = Path(__file__).resolve().parent.parent / "product_types.txt"
ATTRIBUTES = ("color", "size", "model", "material", "author")  # columns that name an attribute of a product
MIN_SEEN = 3  # products labelled with a category before it counts as never having an attribute
EXPLAINED_PER_TYPE = 3  # products asked to explain each category
MIN_EXPLANATION_WORDS, MAX_EXPLANATION_WORDS = 5, 60
SYSTEM_LABEL = "You label the products of an online shop."


@dataclass(eq=False)
class Listing:
    key: str  # "id:locale"
    title: str
    brand: str
    description: str  # one line, cut to MAX_DESCRIPTION_CHARS
    attributes: dict[str, str]  # the ATTRIBUTES columns the product fills -> their values


@dataclass
class M2Products:
    listings: list[Listing]
    categories: tuple[str, ...]  # offered to the model
    unusable: dict[str, int]


def read_categories(path) -> tuple[str, ...]:
    """One category a line; blank lines and lines starting with # skipped; at least four,
    none twice."""
    path = readers.existing(path)
    seen: dict[str, int] = {}
    categories = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        category = one_line(line)
        if not category or category.startswith("#"):
            continue
        if category.casefold() in seen:
            raise DataError(f"{path}:{number}: category {category!r} again (first on line {seen[category.casefold()]})")
        seen[category.casefold()] = number
        categories.append(category)
    if len(categories) < 4:
        raise DataError(f"{path}: {len(categories)} categories; the questions need at least 4")
    return tuple(categories)


def load_products(folder, categories=None) -> M2Products:
    """The products file with the columns a label needs (those the file has), and the
    categories offered (`categories`: a file; default PRODUCT_TYPES)."""
    offered = read_categories(categories or PRODUCT_TYPES)
    folder = readers.existing(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: expected the folder that holds {PRODUCTS_FILE}")
    listings: dict[str, Listing] = {}
    unusable: dict[str, int] = {}
    for _, row in readers.csv_rows(Path(folder) / PRODUCTS_FILE, PRODUCT_COLUMNS):
        title = one_line(row["title"])
        if not title:
            unusable["product without a title"] = unusable.get("product without a title", 0) + 1
            continue
        attributes = {name: one_line(row.get(name)) for name in ATTRIBUTES if one_line(row.get(name))}
        key = f"{row['id']}:{row['locale']}"
        listings[key] = Listing(key, title, one_line(row.get("brand")), _description(row), attributes)
    return M2Products(list(listings.values()), offered, unusable)


def _product_lines(listing: Listing) -> str:
    lines = [f"Title: {listing.title}"]
    lines += [f"Brand: {listing.brand}"] if listing.brand else []
    lines += [f"{name.capitalize()}: {value}" for name, value in listing.attributes.items()]
    lines += [f"Description: {listing.description}"] if listing.description else []
    return "\n".join(lines)


def product_type_asks(data: M2Products, labels: dict, rng: random.Random):
    for listing in shuffled(data.listings, rng):
        request = (
            f"Product:\n{_product_lines(listing)}\n\nWhich one of the following product categories is this product?\n"
            f"{bulleted(data.categories)}\n\nReply with the category exactly as it is written in the list, and "
            "nothing else. If none of them fits, reply: none"
        )
        yield Ask(listing.key, system_and_user(SYSTEM_LABEL, request), 16, data.categories)


def read_product_type(reply: str, offered) -> str:
    return chosen_from(reply, offered, "none fits", "not in the list offered")


def explanation_asks(data: M2Products, labels: dict, rng: random.Random):
    types = labels["product-type"]
    asked: dict[str, int] = {}
    for listing in shuffled(data.listings, rng):
        category = types.get(listing.key)
        if category is None:
            yield "product without a kept category"
            continue
        if asked.get(category, 0) == EXPLAINED_PER_TYPE:
            yield f"category asked about {EXPLAINED_PER_TYPE} times already"
            continue
        asked[category] = asked.get(category, 0) + 1
        description = f"\nDescription: {listing.description}" if listing.description else ""
        request = (
            f"Product:\nTitle: {listing.title}{description}\nProduct type: {category}\n\n"
            f"Explain in one sentence what a {category} is: the product type in general, not this product. Reply "
            "with the sentence only."
        )
        yield Ask(listing.key, system_and_user(SYSTEM_LABEL, request), 96, (category, listing.brand))


def _stem_present(word: str, words: set[str]) -> bool:
    """The word, or a form of it (plural, other ending), among `words`."""
    stem = word[:-1] if len(word) > 4 and word.endswith("s") else word
    return any(other.startswith(stem) or word.startswith(other) and len(other) >= 4 for other in words)


def read_explanation(reply: str, context) -> str:
    """A sentence (or two) of prose that names the category and not the product's brand."""
    category, brand = context
    text = single_spaced(reply.strip().split("\n\n")[0])
    text = re.sub(r"^(?:explanation|answer)\s*:\s*", "", text, flags=re.IGNORECASE)
    if not text:
        raise Dropped("empty")
    words = words_of(text.casefold())
    if first_line(text) != text or text[-1] not in ".!" or len(words) < MIN_EXPLANATION_WORDS:
        raise Dropped("not a sentence")
    if len(words) > MAX_EXPLANATION_WORDS or latin_sentence_ends(text) > 2:
        raise Dropped("longer than a sentence or two")
    if not all(_stem_present(word, set(words)) for word in words_of(category.casefold()) if len(word) > 2):
        raise Dropped("does not name the type")
    brand_words = set(words_of(brand.casefold())) - set(words_of(category.casefold()))
    if (brand_words and brand_words <= set(words)) or "this product" in text.casefold():
        raise Dropped("about the product, not the type")
    return text


def attribute_categories(labelled: Labelled, rng: random.Random):
    listings = {listing.key: listing for listing in labelled.data.listings}
    seen: dict[str, int] = {}
    having: dict[str, set[str]] = {name: set() for name in ATTRIBUTES}
    for key, category in labelled.labels["product-type"].items():
        seen[category] = seen.get(category, 0) + 1
        for name in listings[key].attributes:
            having[name].add(category)
    for attribute, category in shuffled(sorted((a, c) for a, cs in having.items() for c in cs), rng):
        without = sorted(c for c, count in seen.items() if count >= MIN_SEEN and c not in having[attribute])
        if len(without) < 3:
            yield f"fewer than 3 categories seen {MIN_SEEN} times and never with the attribute"
            continue
        question = f"Which of the following product categories may have the attribute {attribute}?"
        yield multiple_choice(rng, question, category, rng.sample(without, 3))


def type_explanations(labelled: Labelled, rng: random.Random):
    types = labelled.labels["product-type"]
    for key in shuffled(sorted(labelled.labels["type-explanation"]), rng):
        yield Built(f"Instructions: Explain the product type\nInput: {types[key]}\nOutput:",
                    labelled.labels["type-explanation"][key])


LABELLED = Source(
    name="m2",
    input_help=f"folder with the Amazon-M2 (KDD Cup 2023) {PRODUCTS_FILE}",
    load=load_products,
    load_options=("categories",),
    labellings=(
        Labelling("product-type", "each product's category, one of the list offered", product_type_asks,
                  read_product_type),
        Labelling("type-explanation",
                  f"a sentence explaining a category, from up to {EXPLAINED_PER_TYPE} of its products each",
                  explanation_asks, read_explanation),
    ),
    tasks=(
        Task("m2-attribute-category", spec.MULTIPLE_CHOICE, spec.ACCURACY,
             "pick the category that may have an attribute (row 1)", attribute_categories),
        Task("m2-explain-type", spec.GENERATION, spec.SENT_TRANSFORMER,
             "explain a product type (row 20)", type_explanations),
    ),
)
