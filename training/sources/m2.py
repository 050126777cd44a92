"""Amazon-M2 (Jin et al., 2023; KDD Cup 2023) -> next-product multiple choice,
cross-locale title generation and the products viewed before a session's last one (paper
Table 7, rows 9 and 31; its row 10, ShopBench's task 18, matches a product's description
across languages, which the next-product choice is not).

Input: the folder with the KDD Cup 2023 files `products_train.csv` (`id, locale, title`,
...) and `sessions_train.csv` (`prev_items, next_item, locale`). `prev_items` is written
as a Python-style list of quoted ids, with or without commas.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

from shopbench import metrics, spec
from shopbench.data import DataError
from training import readers
from training.records import (
    Built, Source, Task, candidate_block, count_phrase, distinct_text_draws, multiple_choice, next_item_question,
    one_line, retrieval_list, shuffled,
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


def load(folder) -> M2Data:
    folder = readers.existing(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: expected the folder that holds {PRODUCTS_FILE} and {SESSIONS_FILE}")
    titles: dict[tuple[str, str], str] = {}
    ids_by_locale: dict[str, list[str]] = {}
    locales_by_id: dict[str, list[str]] = {}
    unusable: dict[str, int] = {}
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
    sessions = [
        Session(line, row["prev_items"], row["next_item"], row["locale"])
        for line, row in readers.csv_rows(Path(folder) / SESSIONS_FILE, SESSION_COLUMNS)
    ]
    return M2Data(titles, ids_by_locale, locales_by_id, sessions, unusable)


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
    ),
)
