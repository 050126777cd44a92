"""ESCI shopping queries (Reddy et al., 2022) -> ranking, multiple-choice and retrieval
questions about queries and products (paper Table 7, rows 5, 8, 23, 26, 27, 29-35).

Input: the folder of the official release with its two parquet files. Examples carry
`query_id, query, product_id, product_locale, esci_label`; products carry
`product_id, product_locale, product_title, product_brand, product_bullet_point`. A product
is the pair (product_id, product_locale), as in the release.

A query that did not judge a product is taken as irrelevant to it when the queries of a
product are ranked (row 30): the release judges each product for few queries, and an
unjudged query of the same locale is almost always unrelated.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from shopbench import spec
from shopbench.data import DataError
from training import readers
from training.records import (
    Built, Source, Task, bulleted, candidate_block, count_phrase, distinct_draws, distinct_text_draws, html_text,
    interleaved, multiple_choice, numbered, one_line, ranking_instruction, retrieval_list, shorten, shuffled,
)

EXAMPLES_FILE = "shopping_queries_dataset_examples.parquet"
PRODUCTS_FILE = "shopping_queries_dataset_products.parquet"
EXAMPLE_COLUMNS = ("query_id", "query", "product_id", "product_locale", "esci_label")
PRODUCT_COLUMNS = ("product_id", "product_locale", "product_title", "product_brand", "product_bullet_point")
DESCRIPTION_COLUMN = "product_description"  # optional: questions that show it skip products without one

# The relevance weights of ShopBench's query-product ranking task (dev task 12).
RELEVANCE = {"E": 1.0, "S": 0.1, "C": 0.01, "I": 0.0}
# What each label means, from the dataset paper; the relation task offers these as options.
RELATIONS = {
    "E": "exact: the product is relevant to the query and satisfies all of its specifications",
    "S": "substitute: the product fails some aspects of the query but can serve as a functional substitute",
    "C": "complement: the product does not fulfil the query but could be used together with a product that does",
    "I": "irrelevant: the product has nothing to do with the query or fails a central aspect of it",
}
RANKED_PRODUCTS = 5
RANKED_QUERIES = 5
RANKED_PAIRS = 5
MAX_RETRIEVAL_CANDIDATES = 10
MAX_EXACT_ANSWERS = 3
BULLETS_ANSWERED = 3
BULLETS_LISTED = 10
MAX_BULLET_CHARS = 200
MAX_DESCRIPTION_CHARS = 600
BULLETS_SHOWN = 5  # the features a question shows of a product


@dataclass(eq=False)  # compared by identity
class Product:
    key: tuple[str, str]  # (product_id, product_locale)
    title: str
    brand: str
    bullets: tuple[str, ...]  # the listing's bullet points, one line each, cut to MAX_BULLET_CHARS
    description: str = ""  # plain text on one line, cut to MAX_DESCRIPTION_CHARS; "" when the release has none


@dataclass(eq=False)
class Query:
    query_id: object
    text: str
    locale: str
    judged: list[tuple[Product, str]] = field(default_factory=list)  # products with a title, and their labels

    def labelled(self, *labels: str) -> list[Product]:
        return [product for product, label in self.judged if label in labels]


@dataclass
class EsciData:
    queries: list[Query]
    products: list[Product]  # with a title
    queries_by_locale: dict[str, list[Query]]
    judgements: dict[tuple[str, str], list[tuple[Query, str]]]  # product key -> the queries that judged it, and labels
    unusable: dict[str, int]  # examples that could not be used, by reason

    def exact_query_ids(self, product: Product) -> set:
        return {query.query_id for query, label in self.judgements.get(product.key, ()) if label == "E"}


def load(folder) -> EsciData:
    folder = readers.existing(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: expected the folder that holds {EXAMPLES_FILE} and {PRODUCTS_FILE}")
    products_columns = readers.parquet_columns(Path(folder) / PRODUCTS_FILE, PRODUCT_COLUMNS, (DESCRIPTION_COLUMN,),
                                               text=(*PRODUCT_COLUMNS, DESCRIPTION_COLUMN))
    examples = readers.parquet_columns(Path(folder) / EXAMPLES_FILE, EXAMPLE_COLUMNS,
                                       text=tuple(c for c in EXAMPLE_COLUMNS if c != "query_id"))

    products: dict[tuple[str, str], Product] = {}
    columns = (*PRODUCT_COLUMNS, DESCRIPTION_COLUMN)
    for product_id, locale, title, brand, bullets, description in zip(*(products_columns[c] for c in columns)):
        title = one_line(title)
        if title:
            # Kept as they are shown, cut: the column is read whole first (the peak), but only the
            # cut lines stay for the build.
            lines = (shorten(one_line(line), MAX_BULLET_CHARS) for line in (bullets or "").splitlines())
            products[(product_id, locale)] = Product((product_id, locale), title, one_line(brand),
                                                     tuple(line for line in lines if line),
                                                     shorten(html_text(description), MAX_DESCRIPTION_CHARS))

    queries: dict[tuple, Query] = {}
    judgements: dict[tuple[str, str], list[tuple[Query, str]]] = {}
    unusable: dict[str, int] = {}
    rows = zip(*(examples[c] for c in EXAMPLE_COLUMNS))
    for row, (query_id, text, product_id, locale, label) in enumerate(rows, start=1):
        if label not in RELEVANCE:
            raise DataError(
                f"{Path(folder) / EXAMPLES_FILE}:row {row}: field 'esci_label': expected one of E, S, C, I, got {label!r}"
            )
        text = one_line(text)
        product = products.get((product_id, locale))
        if not text or product is None:
            reason = "example without a query" if not text else "example whose product has no title"
            unusable[reason] = unusable.get(reason, 0) + 1
            continue
        # A query is its id in its locale: an id met again in another locale is another query.
        query = queries.setdefault((query_id, locale), Query(query_id, text, locale))
        query.judged.append((product, label))
        judgements.setdefault(product.key, []).append((query, label))

    by_locale: dict[str, list[Query]] = {}
    for query in queries.values():
        by_locale.setdefault(query.locale, []).append(query)
    return EsciData(list(queries.values()), list(products.values()), by_locale, judgements, unusable)


def rank_products(data: EsciData, rng: random.Random):
    for query in shuffled(data.queries, rng):
        if len(query.judged) < RANKED_PRODUCTS:
            yield f"query with fewer than {RANKED_PRODUCTS} judged products"
            continue
        chosen = rng.sample(query.judged, RANKED_PRODUCTS)
        # Five products of one label teach nothing about order: swap one for another label.
        others = [pair for pair in query.judged if pair[1] != chosen[0][1]]
        if len({label for _, label in chosen}) == 1 and others:
            chosen[rng.randrange(RANKED_PRODUCTS)] = rng.choice(others)
        weights = [RELEVANCE[label] for _, label in chosen]
        if max(weights) == 0:
            yield "query whose judged products are all irrelevant"
            continue
        prompt = (
            f"A user has made a query with keyword '{query.text}'. Given the following numbered list of "
            f"{RANKED_PRODUCTS} products, please rank the products according to their relevance with the query.\n"
            f"Product List:\n{numbered([p.title for p, _ in chosen], 1)}\n"
            f"You should output a permutation of 1 to {RANKED_PRODUCTS}. There should be a comma separating two "
            "numbers. Each product and its number should appear only once in the output. Only respond with the "
            "ranking results. Do not say any word or explanations.\nOutput: "
        )
        yield Built(prompt, weights)


def _other_queries(data: EsciData, locale: str, excluded_ids: set, texts: set, count: int, rng) -> list[Query]:
    """`count` queries of the locale outside `excluded_ids`, their texts distinct from each
    other and from `texts` (casefolded); fewer when the locale has too few."""
    return distinct_text_draws(rng, data.queries_by_locale[locale], count, lambda query: query.text,
                               lambda query: query.query_id in excluded_ids, texts)


def _exact_and_others(query: Query) -> tuple[list[Product], list[Product]]:
    exact = query.labelled("E")
    titles = {p.title.casefold() for p in exact}
    others = [p for p in query.labelled("S", "C", "I") if p.title.casefold() not in titles]
    return exact, others


def product_for_query(data: EsciData, rng: random.Random):
    for query in shuffled(data.queries, rng):
        exact, others = _exact_and_others(query)
        if not exact or len(others) < 3:
            yield "query without an exact match and three other judged products"
            continue
        question = (
            f"A user searches an online shopping website with the query '{query.text}'. "
            "Which of the following products exactly matches the query?"
        )
        yield multiple_choice(rng, question, rng.choice(exact).title, [p.title for p in rng.sample(others, 3)])


# What a question shows of a product: its title (row 23), its description (rows 21, 24) or its
# features, the bullet points (rows 22, 25); "" when the product has none of it.
def _title_view(product: Product) -> str:
    return f"The product '{product.title}' is sold on an online shopping website."


def _description_view(product: Product) -> str:
    if not product.description:
        return ""
    return f"A product is sold on an online shopping website with this description:\n{product.description}"


def _features_view(product: Product) -> str:
    if not product.bullets:
        return ""
    return ("A product is sold on an online shopping website with these features:\n"
            + bulleted(product.bullets[:BULLETS_SHOWN]))


def _asking(shown: str, question: str) -> str:
    """A view and the question after it: on the same line after a sentence, on the next line
    after data lines (a description, bullet points)."""
    return f"{shown}\n{question}" if "\n" in shown else f"{shown} {question}"


def _query_for(view, missing: str):
    """Rows 21-23: the query that a product shown by `view` exactly matches; the other options
    are queries of the same locale for which it is not an exact match."""

    def build(data: EsciData, rng: random.Random):
        for query in shuffled(data.queries, rng):
            shown = [product for product in query.labelled("E") if view(product)]
            if not shown:
                yield "query without an exact match" + missing
                continue
            product = rng.choice(shown)
            distractors = _other_queries(data, query.locale, data.exact_query_ids(product), {query.text.casefold()}, 3,
                                         rng)
            if len(distractors) < 3:
                yield "too few other queries in the locale"
                continue
            question = _asking(view(product), "For which of the following search queries is this product an exact match?")
            yield multiple_choice(rng, question, query.text, [q.text for q in distractors])

    return build


def _title_for(view, missing: str):
    """Rows 24 and 25: the title of a product shown by `view`; the other options are the titles
    of products the same query judged a substitute, complement or irrelevant, as the winners
    drew them (paper section 3)."""

    def build(data: EsciData, rng: random.Random):
        for query in shuffled(data.queries, rng):
            exact, others = _exact_and_others(query)
            shown = [product for product in exact if view(product)]
            if not shown or len(others) < 3:
                yield f"query without an exact match{missing} and three other judged products"
                continue
            product = rng.choice(shown)
            question = _asking(view(product), "Which of the following is the title of this product?")
            yield multiple_choice(rng, question, product.title, [p.title for p in rng.sample(others, 3)])

    return build


query_for_product = _query_for(_title_view, "")
query_for_description = _query_for(_description_view, " with a description")
query_for_features = _query_for(_features_view, " with bullet points")
title_for_description = _title_for(_description_view, " with a description")
title_for_features = _title_for(_features_view, " with bullet points")


def exact_matches(data: EsciData, rng: random.Random):
    for query in shuffled(data.queries, rng):
        exact, others = _exact_and_others(query)
        if not exact or len(others) < 3:
            yield "query without an exact match and three other judged products"
            continue
        count = min(MAX_EXACT_ANSWERS, len(exact))
        positives = rng.sample(exact, count)
        negatives = rng.sample(others, min(len(others), MAX_RETRIEVAL_CANDIDATES - count))
        candidates, truth = retrieval_list(rng, positives, negatives)
        prompt = (
            f"A user has searched an online shopping website with the query '{query.text}'. The following "
            f"numbered list contains {len(candidates)} products. Select {count_phrase(count, 'product')} that exactly "
            f"match{'' if count > 1 else 'es'} the query; the others are substitutes, complements or irrelevant.\n"
            + candidate_block("Product", [p.title for p in candidates], count)
        )
        yield Built(prompt, truth)


def relation(data: EsciData, rng: random.Random):
    by_label: dict[str, list] = {}
    for query in data.queries:
        for product, label in query.judged:
            by_label.setdefault(label, []).append((query, product, label))
    for query, product, label in interleaved(by_label, rng):
        question = (
            f"A user searched an online shopping website for '{query.text}' and was shown the product "
            f"'{product.title}'. Which of the following best describes the relation between the query and the product?"
        )
        others = [RELATIONS[other] for other in shuffled(RELATIONS, rng) if other != label]
        yield multiple_choice(rng, question, RELATIONS[label], others)


def brand(data: EsciData, rng: random.Random):
    brands_by_locale: dict[str, list[str]] = {}
    seen: set[tuple[str, str]] = set()
    for product in data.products:
        locale = product.key[1]
        if product.brand and (locale, product.brand.casefold()) not in seen:
            seen.add((locale, product.brand.casefold()))
            brands_by_locale.setdefault(locale, []).append(product.brand)
    for product in shuffled(data.products, rng):
        if not product.brand:
            yield "product without a brand"
            continue
        title = product.title.casefold()
        taken = {product.brand.casefold()}

        def other_brand(candidate: str) -> bool:
            folded = candidate.casefold()
            if folded in taken or folded in title:
                return False
            taken.add(folded)
            return True

        distractors = distinct_draws(rng, brands_by_locale[product.key[1]], 3, other_brand)
        if len(distractors) < 3:
            yield "too few other brands in the locale"
            continue
        question = (
            f"The product '{product.title}' is sold on an online shopping website. Which of the following is "
            "the brand of the product?"
        )
        yield multiple_choice(rng, question, product.brand, distractors)


def bullet_points(data: EsciData, rng: random.Random):
    bullets_by_locale: dict[str, list[str]] = {}
    for product in data.products:
        bullets_by_locale.setdefault(product.key[1], []).extend(product.bullets)
    for product in shuffled(data.products, rng):
        own = {bullet.casefold() for bullet in product.bullets}
        if len(own) < BULLETS_ANSWERED:
            yield f"product with fewer than {BULLETS_ANSWERED} distinct bullet points"
            continue
        taken = set(own)

        def other_product(bullet: str) -> bool:
            if bullet.casefold() in taken:
                return False
            taken.add(bullet.casefold())
            return True

        wanted = BULLETS_LISTED - BULLETS_ANSWERED
        negatives = distinct_draws(rng, bullets_by_locale[product.key[1]], wanted, other_product)
        if len(negatives) < wanted:
            yield "too few other bullet points in the locale"
            continue
        distinct = list({bullet.casefold(): bullet for bullet in product.bullets}.values())
        candidates, truth = retrieval_list(rng, rng.sample(distinct, BULLETS_ANSWERED), negatives)
        prompt = (
            f"The product '{product.title}' is sold on an online shopping website. The following numbered list "
            f"contains {len(candidates)} bullet points from product listings. Select "
            f"{count_phrase(BULLETS_ANSWERED, 'bullet point')} that belong to this product's listing.\n"
            + candidate_block("Bullet Point", candidates, BULLETS_ANSWERED)
        )
        yield Built(prompt, truth)


def rank_queries(data: EsciData, rng: random.Random):
    for product in shuffled(data.products, rng):
        # One judgement per query text: the same words judged twice would need two places.
        judgements = data.judgements.get(product.key, [])
        judged = list({query.text.casefold(): (query, label) for query, label in judgements}.values())
        relevant = [pair for pair in judged if RELEVANCE[pair[1]]]
        if not relevant:
            yield "product that no query judged more than irrelevant"
            continue
        first = rng.choice(relevant)
        rest = [pair for pair in judged if pair is not first]
        # At most four judged queries, so that every list has an unjudged one to rank last.
        chosen = [first] + rng.sample(rest, min(len(rest), RANKED_QUERIES - 2))
        judged_by = data.judgements[product.key]
        unjudged = _other_queries(data, product.key[1], {query.query_id for query, _ in judged_by},
                                  {query.text.casefold() for query, _ in judged_by}, RANKED_QUERIES - len(chosen), rng)
        if len(chosen) + len(unjudged) < RANKED_QUERIES:
            yield "too few other queries in the locale"
            continue
        ranked = shuffled(chosen + [(query, "I") for query in unjudged], rng)
        prompt = (
            f"The product '{product.title}' is sold on an online shopping website. Given the following numbered "
            f"list of {RANKED_QUERIES} search queries, please rank the queries according to how relevant the "
            "product is to each of them, from the most relevant query to the least relevant.\n"
            f"Query List:\n{numbered([query.text for query, _ in ranked], 1)}\n{ranking_instruction(RANKED_QUERIES)}"
        )
        yield Built(prompt, [RELEVANCE[label] for _, label in ranked])


def rank_pairs(data: EsciData, rng: random.Random):
    by_label: dict[str, list] = {}
    for query in data.queries:
        for product, label in query.judged:
            by_label.setdefault(label, []).append((query, product, label))
    pairs = [pair for label in sorted(by_label) for pair in by_label[label]]
    # Each pair leads one list, labels in turn; the rest of its list holds one pair of every
    # other label and one of any, so that every list has grades to order.
    for anchor in interleaved(by_label, rng):
        chosen = [anchor] + [rng.choice(by_label[label]) for label in sorted(by_label) if label != anchor[2]]
        chosen += distinct_draws(rng, pairs, RANKED_PAIRS - len(chosen), lambda pair: pair not in chosen)
        if len(chosen) < RANKED_PAIRS:
            yield f"fewer than {RANKED_PAIRS} judged pairs to rank"
            continue
        if len({label for _, _, label in chosen}) == 1:
            yield "pairs of a single label only"
            continue
        chosen = shuffled(chosen[:RANKED_PAIRS], rng)
        listed = [f"query '{query.text}' and product '{product.title}'" for query, product, _ in chosen]
        prompt = (
            f"Users searched an online shopping website and were shown products. Given the following numbered list "
            f"of {RANKED_PAIRS} pairs of a search query and a product, please rank the pairs from the most related "
            "to the least related, by how well the product serves the query.\n"
            f"Pair List:\n{numbered(listed, 1)}\n{ranking_instruction(RANKED_PAIRS)}"
        )
        yield Built(prompt, [RELEVANCE[label] for _, _, label in chosen])


SOURCE = Source(
    name="esci",
    input_help=f"folder with {EXAMPLES_FILE} and {PRODUCTS_FILE}",
    load=load,
    tasks=(
        Task("esci-rank-products", spec.RANKING, spec.NDCG,
             "rank 5 products for a query (weights E 1, S 0.1, C 0.01, I 0)", rank_products),
        Task("esci-product-for-query", spec.MULTIPLE_CHOICE, spec.ACCURACY,
             "pick the product that exactly matches a query", product_for_query),
        Task("esci-query-for-product", spec.MULTIPLE_CHOICE, spec.ACCURACY,
             "pick the query a product exactly matches", query_for_product),
        Task("esci-exact-matches", spec.RETRIEVAL, spec.HIT_RATE_3,
             "select the exact matches of a query among its judged products", exact_matches),
        Task("esci-relation", spec.MULTIPLE_CHOICE, spec.ACCURACY,
             "exact, substitute, complement or irrelevant, for a query and a product", relation),
        Task("esci-brand", spec.MULTIPLE_CHOICE, spec.ACCURACY, "pick a product's brand from its title", brand),
        Task("esci-bullet-points", spec.RETRIEVAL, spec.HIT_RATE_3,
             "pick the 3 bullet points of a product's listing among 10", bullet_points),
        Task("esci-rank-queries", spec.RANKING, spec.NDCG,
             "rank 5 queries for a product (its judged queries' weights; unjudged queries 0)", rank_queries),
        Task("esci-rank-pairs", spec.RANKING, spec.NDCG,
             "rank 5 query-product pairs from the most to the least related (E 1, S 0.1, C 0.01, I 0)", rank_pairs),
        Task("esci-query-for-description", spec.MULTIPLE_CHOICE, spec.ACCURACY,
             "pick the query a product exactly matches, shown its description", query_for_description),
        Task("esci-query-for-features", spec.MULTIPLE_CHOICE, spec.ACCURACY,
             "pick the query a product exactly matches, shown its bullet points", query_for_features),
        Task("esci-title-for-description", spec.MULTIPLE_CHOICE, spec.ACCURACY,
             "pick a product's title from its description (other options: the query's S, C and I products)",
             title_for_description),
        Task("esci-title-for-features", spec.MULTIPLE_CHOICE, spec.ACCURACY,
             "pick a product's title from its bullet points (other options: the query's S, C and I products)",
             title_for_features),
    ),
)
