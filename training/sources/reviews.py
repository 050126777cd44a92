"""Amazon Reviews 2023 (Hou et al., 2024) -> review rating, helpfulness ranking, review
aspects and the products a customer likes (paper Table 7, rows 3, 6, 7 and 36).

Input: a folder with review files `CATEGORY.jsonl` and item metadata `meta_CATEGORY.jsonl`
(either may be gzipped), the names of the official release. Reviews carry `rating, title,
text, parent_asin, user_id, helpful_vote`; metadata carries `parent_asin, title,
main_category, categories`. Metadata is optional: without it a product is just "a product",
and the customer ranking, which lists products by title, has nothing to list.

What a customer likes (row 6) comes from the customer's own reviews: the products one
`user_id` reviewed are products the customer bought, liked as much as the rating says.
The metadata's `bought_together` would say it more directly, but it is null for most items.

The aspects a review covers come from a keyword lexicon (below), not from a language
model as in the winners' set: a review covers an aspect when it uses one of its words.

Labelled by a language model (`python -m training label reviews`, rows 2 and 4): from each
review rated 1-2 or 4-5 stars of a product whose type the metadata gives, a short snippet
that says the customer's negative or positive opinion, kept only when it occurs verbatim in
the review; and for each product type of the catalogue (the metadata's categories), the one
of OFFERED_CATEGORIES other catalogue categories that best complements it, kept only when
it is one of those offered. Row 2 asks for the 3 snippets of a product type and sentiment
among 15, the others: snippets of the other sentiment (of the same type first) never said with
this one; row 4 asks for the
complement among 4 of the categories offered.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

from shopbench import spec
from shopbench.data import DataError
from shopbench.jsonsafe import is_number
from shopbench.text import single_spaced
from training import readers
from training.records import (
    HTML_BREAK, Ask, Built, Dropped, Labelled, Labelling, Source, Task, bulleted, candidate_block, chosen_from,
    count_phrase, distinct_draws, distinct_text_draws, first_line, interleaved, multiple_choice, numbered, one_line,
    ranking_instruction, retrieval_list, shorten, shuffled, system_and_user,
)

REVIEW_FIELDS = ("rating", "title", "text", "parent_asin", "user_id", "helpful_vote")
META_FIELDS = ("parent_asin", "title", "main_category", "categories")
RATINGS = (1, 2, 3, 4, 5)
RANKED_REVIEWS = 5
RANKED_PRODUCTS = 5
ASPECTS_LISTED = 10
ASPECTS_ANSWERED = 3
MAX_REVIEW_CHARS = 1500  # longer reviews are cut at a word boundary
MAX_LISTED_REVIEW_CHARS = 400  # a review inside a ranked list of five

# Aspect -> the words that mark a review as covering it.
ASPECT_WORDS = {
    "comfort": r"comfortable|comfy|comfort|uncomfortable",
    "fit": r"fits?|fitting|fitted",
    "size": r"size|sizing|too small|too big|too large|runs small|runs large",
    "quality": r"quality|well made|cheaply made|flimsy|well built",
    "value": r"price|value|worth|money|expensive|affordable|overpriced",
    "durability": r"durable|durability|broke|broken|fell apart|wore out|lasted|lasts|long[- ]lasting",
    "color": r"colou?rs?|shade",
    "appearance": r"looks?|beautiful|pretty|cute|stylish|gorgeous|ugly",
    "material": r"material|fabric|cotton|leather|plastic|metal|wood",
    "smell": r"smells?|scent|fragrance|odou?r",
    "taste": r"tastes?|flavou?rs?|delicious",
    "sound": r"sound|noise|noisy|loud|quiet",
    "battery": r"battery|batteries|charger|charging",
    "ease of use": r"easy to use|easy to install|simple to use|user friendly|easy to set up",
    "instructions": r"instructions|manual|directions",
    "packaging": r"packaging|packaged|package",
    "delivery": r"shipping|delivery|delivered|arrived",
    "customer service": r"customer service|seller|refund|replacement|warranty",
    "weight": r"weight|heavy|lightweight|light weight",
    "performance": r"performance|powerful|performs|works great|works well",
    "support": r"support|supportive",
    "softness": r"soft|softness|silky",
    "warmth": r"warm|warmth",
    "design": r"design|designed",
    "cleaning": r"clean|cleaning|washes|washable|wash",
    "scent strength": r"strong scent|overpowering|subtle scent",
    "skin feel": r"skin|greasy|moisturi[sz]ing|hydrat(?:ing|ed)",
    "storage": r"storage|pockets?|compartments?",
    "stability": r"stable|stability|wobbl(?:y|es)|sturdy",
    "speed": r"fast|slow|speed|quick|quickly",
}
_ASPECT_PATTERNS = {aspect: re.compile(rf"\b(?:{words})\b", re.IGNORECASE) for aspect, words in ASPECT_WORDS.items()}


def covered_aspects(text: str) -> list[str]:
    return [aspect for aspect, pattern in _ASPECT_PATTERNS.items() if pattern.search(text)]


@dataclass(eq=False)
class Review:
    rating: object
    title: str
    text: str
    parent_asin: str
    user_id: str
    helpful_vote: object


@dataclass
class Item:
    title: str
    product_type: str  # "" when unknown


@dataclass
class ReviewsData:
    reviews: list[Review]
    items: dict[str, Item]
    unusable: dict[str, int]

    def product_phrase(self, review: Review) -> str:
        """"a(n) Leotard product", in the words of ShopBench's review tasks; "a product" when
        the metadata does not say."""
        item = self.items.get(review.parent_asin)
        return f"a(n) {item.product_type} product" if item and item.product_type else "a product"


def _files(folder: Path) -> tuple[list[Path], list[Path]]:
    data = sorted(p for p in folder.iterdir() if p.is_file() and re.search(r"\.jsonl(?:\.gz)?$", p.name))
    return [p for p in data if not p.name.startswith("meta_")], [p for p in data if p.name.startswith("meta_")]


def load(folder) -> ReviewsData:
    folder = readers.existing(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: expected a folder of CATEGORY.jsonl review files (and meta_CATEGORY.jsonl)")
    review_files, meta_files = _files(folder)
    if not review_files:
        raise DataError(f"{folder}: no review files (CATEGORY.jsonl or CATEGORY.jsonl.gz, other than meta_*)")
    items: dict[str, Item] = {}
    for path in meta_files:
        for _, record in readers.json_lines(path, META_FIELDS):
            categories = record["categories"] if isinstance(record["categories"], list) else []
            product_type = one_line(categories[-1] if categories else record["main_category"])
            items[str(record["parent_asin"])] = Item(one_line(record["title"]), product_type)
    reviews = []
    for path in review_files:
        for _, record in readers.json_lines(path, REVIEW_FIELDS):
            text = HTML_BREAK.sub("\n", str(record["text"] or "")).strip()
            reviews.append(
                Review(record["rating"], one_line(record["title"]), text, str(record["parent_asin"]),
                       str(record["user_id"]), record["helpful_vote"])
            )
    return ReviewsData(reviews, items, {})


def _whole_rating(value) -> int | None:
    if is_number(value) and value == int(value) and int(value) in RATINGS:  # NaN and Infinity are no rating
        return int(value)
    return None


def rating(data: ReviewsData, rng: random.Random):
    by_rating: dict[int, list[Review]] = {}
    for review in data.reviews:
        stars = _whole_rating(review.rating)
        if stars is None:
            yield "rating not a whole number from 1 to 5"
        elif not review.text:
            yield "review without text"
        else:
            by_rating.setdefault(stars, []).append(review)
    # Ratings in turn, so a sample is as balanced over 1-5 as the data allows.
    for review in interleaved(by_rating, rng):
        # The text on one line: a numbered list inside a review would read as answer options.
        lines = "\n".join(part for part in (review.title, one_line(shorten(review.text, MAX_REVIEW_CHARS))) if part)
        prompt = (
            "Instructions: Evaluate the following product review on a scale of 1 to 5, with 1 being very negative "
            f"and 5 being very positive.\nInput: a review text for {data.product_phrase(review)}\n"
            f"{lines}\nOutput:\nAnswer: "
        )
        yield Built(prompt, _whole_rating(review.rating))


def helpfulness(data: ReviewsData, rng: random.Random):
    by_product: dict[str, list[Review]] = {}
    for review in data.reviews:
        by_product.setdefault(review.parent_asin, []).append(review)
    for parent_asin in shuffled(by_product, rng):
        by_votes: dict[int, list[Review]] = {}
        for review in by_product[parent_asin]:
            votes = review.helpful_vote
            if isinstance(votes, int) and not isinstance(votes, bool) and votes >= 0 and review.text:
                by_votes.setdefault(votes, []).append(review)
        if len(by_votes) < RANKED_REVIEWS:
            yield f"product with fewer than {RANKED_REVIEWS} reviews of different helpful-vote counts"
            continue
        chosen = [rng.choice(by_votes[votes]) for votes in rng.sample(sorted(by_votes), RANKED_REVIEWS)]
        most = max(review.helpful_vote for review in chosen)
        weights = [round(review.helpful_vote / most, 4) for review in chosen]
        item = data.items.get(parent_asin)
        product = f"The product '{item.title}'" if item and item.title else data.product_phrase(chosen[0]).capitalize()
        listed = [shorten(one_line(f"{r.title}: {r.text}" if r.title else r.text), MAX_LISTED_REVIEW_CHARS) for r in chosen]
        prompt = (
            f"{product} has the following {RANKED_REVIEWS} reviews on an online shopping website. Rank the reviews "
            "from the most helpful to the least helpful for other customers.\n"
            f"Review List:\n{numbered(listed, 1)}\n{ranking_instruction(RANKED_REVIEWS)}"
        )
        yield Built(prompt, weights)


def aspects(data: ReviewsData, rng: random.Random):
    for review in shuffled(data.reviews, rng):
        body = shorten(review.text, MAX_REVIEW_CHARS)
        covered = covered_aspects(f"{review.title}\n{body}")
        if len(covered) < ASPECTS_ANSWERED:
            yield f"review covering fewer than {ASPECTS_ANSWERED} lexicon aspects"
            continue
        positives = rng.sample(covered, ASPECTS_ANSWERED)
        negatives = rng.sample([a for a in ASPECT_WORDS if a not in covered], ASPECTS_LISTED - ASPECTS_ANSWERED)
        listed, truth = retrieval_list(rng, positives, negatives)
        prompt = (
            f"You are given a user review of {data.product_phrase(review)} and a numbered list of "
            f"{ASPECTS_LISTED} aspects. Please choose three aspects from the list that are covered by the review.\n"
            "You should ONLY output three numbers, separated by comma. Do not generate explanations or other texts.\n"
            f"Review:\n{one_line(f'{review.title}. {body}' if review.title else body)}\n"
            f"Aspect List:\n{numbered(listed, 1)}\nOutput: "
        )
        yield Built(prompt, truth)


def liked_products(data: ReviewsData, rng: random.Random):
    titled = sorted(asin for asin, item in data.items.items() if item.title)
    ratings_by_customer: dict[str, dict[str, int]] = {}
    for review in data.reviews:
        stars = _whole_rating(review.rating)
        if stars is not None and review.parent_asin in data.items and data.items[review.parent_asin].title:
            ratings_by_customer.setdefault(review.user_id, {})[review.parent_asin] = stars
    for customer in shuffled(ratings_by_customer, rng):
        rated = ratings_by_customer[customer]
        bought, *rest = rng.sample(sorted(rated), len(rated))
        titles = {data.items[bought].title.casefold()}
        others = []  # one product per title: the same title twice would need two places
        for asin in rest:
            if data.items[asin].title.casefold() not in titles:
                titles.add(data.items[asin].title.casefold())
                others.append(asin)
        if not others:
            yield "customer with fewer than two rated products of different titles"
            continue
        others = others[: rng.randint(1, min(len(others), RANKED_PRODUCTS - 1))]

        def unbought(asin: str) -> bool:
            title = data.items[asin].title.casefold()
            if asin in rated or title in titles:
                return False
            titles.add(title)
            return True

        unrated = distinct_draws(rng, titled, RANKED_PRODUCTS - len(others), unbought)
        if len(others) + len(unrated) < RANKED_PRODUCTS:
            yield "too few other products with a title"
            continue
        # A product the customer bought ranks by its rating, above every product the customer did not buy.
        ranked = shuffled([(asin, rated[asin] / 5) for asin in others] + [(asin, 0.0) for asin in unrated], rng)
        prompt = (
            f"A customer on an online shopping website has bought the product '{data.items[bought].title}'. Given "
            f"the following numbered list of {RANKED_PRODUCTS} products, please rank the products by how much this "
            "customer will like them, from the product the customer will like most to the one the customer will "
            "like least.\n"
            f"Product List:\n{numbered([data.items[asin].title for asin, _ in ranked], 1)}\n"
            f"{ranking_instruction(RANKED_PRODUCTS)}"
        )
        yield Built(prompt, [weight for _, weight in ranked])


SOURCE = Source(
    name="reviews",
    input_help="folder with Amazon Reviews 2023 CATEGORY.jsonl review files and meta_CATEGORY.jsonl metadata",
    load=load,
    tasks=(
        Task("reviews-rating", spec.MULTIPLE_CHOICE, spec.ACCURACY,
             "a review's star rating, 1-5, with no listed options", rating),
        Task("reviews-helpfulness", spec.RANKING, spec.NDCG,
             "rank 5 reviews of a product by helpful votes", helpfulness),
        Task("reviews-aspects", spec.RETRIEVAL, spec.HIT_RATE_3,
             "pick the 3 aspects a review covers from a list of 10", aspects),
        Task("reviews-liked-products", spec.RANKING, spec.NDCG,
             "rank 5 products for a customer who bought one (weight: the customer's rating / 5; not bought 0)",
             liked_products),
    ),
)


# Labelled by a language model: rows 2 and 4.
SNIPPETS_LISTED = 15
SNIPPETS_ANSWERED = 3
MAX_SNIPPET_WORDS = 12
OFFERED_CATEGORIES = 15  # catalogue categories offered as complements of a product type
SENTIMENTS = {1: "negative", 2: "negative", 4: "positive", 5: "positive"}
SYSTEM_READ = "You read the reviews and the catalogue of an online shop."


def _type_of(data: ReviewsData, review: Review) -> str:
    item = data.items.get(review.parent_asin)
    return item.product_type if item else ""


def snippet_asks(data: ReviewsData, labels: dict, rng: random.Random):
    for number in shuffled(range(len(data.reviews)), rng):
        review = data.reviews[number]
        stars = _whole_rating(review.rating)
        if stars is None:
            yield "rating not a whole number from 1 to 5"
        elif stars not in SENTIMENTS:
            yield "3-star review, neither positive nor negative"
        elif not review.text:
            yield "review without text"
        elif not _type_of(data, review):
            yield "product whose type the metadata does not give"
        else:
            text = one_line(shorten(review.text, MAX_REVIEW_CHARS))
            request = (
                f"A customer wrote this review of a(n) {_type_of(data, review)} product:\n{text}\n\nCopy from the "
                "review one short snippet, of 2 to 8 words, exactly as the customer wrote it, that says the "
                f"customer's {SENTIMENTS[stars]} opinion of the product. Reply with the snippet only."
            )
            yield Ask(str(number), system_and_user(SYSTEM_READ, request), 32, text)


def read_snippet(reply: str, review_text: str) -> str:
    """The snippet as it occurs in the review (a final period the review does not have there
    aside), of at most MAX_SNIPPET_WORDS words."""
    snippet = single_spaced(first_line(reply))
    if snippet not in review_text and snippet.rstrip(".") in review_text:
        snippet = snippet.rstrip(".")
    if not snippet:
        raise Dropped("empty")
    if snippet not in review_text:
        raise Dropped("not in the review")
    if len(snippet.split()) > MAX_SNIPPET_WORDS:
        raise Dropped(f"longer than {MAX_SNIPPET_WORDS} words")
    return snippet


def catalogue(data: ReviewsData) -> list[str]:
    """The product types of the metadata, each once (the first spelling), sorted."""
    types: dict[str, str] = {}
    for item in data.items.values():
        if item.product_type:
            types.setdefault(item.product_type.casefold(), item.product_type)
    return sorted(types.values())


def complement_asks(data: ReviewsData, labels: dict, rng: random.Random):
    types = catalogue(data)
    for product_type in shuffled(types, rng):
        others = [other for other in types if other != product_type]
        if len(others) < 4:
            yield "fewer than 4 other categories in the catalogue"
            continue
        offered = rng.sample(others, min(OFFERED_CATEGORIES, len(others)))
        request = (
            f"Which one of the following product categories is most often bought and used together with a(n) "
            f"{product_type}, as its complement?\n{bulleted(offered)}\n\nReply with the category exactly as it is "
            f"written in the list, and nothing else. If none of them goes with a(n) {product_type}, reply: none"
        )
        yield Ask(product_type.casefold(), system_and_user(SYSTEM_READ, request), 16, (product_type, offered))


def read_complement(reply: str, context) -> dict:
    product_type, offered = context
    complement = chosen_from(reply, offered, "none goes with it", "not among the catalogue's categories offered")
    return {"type": product_type, "complement": complement, "offered": offered}


def snippets(labelled: Labelled, rng: random.Random):
    data = labelled.data
    groups: dict[tuple[str, str], dict[str, str]] = {}  # (type, sentiment) -> casefolded snippet -> snippet
    for key in sorted(labelled.labels["review-snippet"], key=int):
        review = data.reviews[int(key)]
        group = (_type_of(data, review), SENTIMENTS[_whole_rating(review.rating)])
        snippet = labelled.labels["review-snippet"][key]
        groups.setdefault(group, {}).setdefault(snippet.casefold(), snippet)
    # A snippet said with a sentiment anywhere is never a wrong answer for that sentiment.
    said: dict[str, set[str]] = {}
    for (_, sentiment), found in groups.items():
        said.setdefault(sentiment, set()).update(found)
    for group in shuffled(sorted(groups), rng):
        product_type, sentiment = group
        own = groups[group]
        if len(own) < SNIPPETS_ANSWERED:
            yield f"product type and sentiment with fewer than {SNIPPETS_ANSWERED} snippets"
            continue
        for anchor in shuffled(sorted(own), rng):
            positives = [own[anchor]] + rng.sample([own[k] for k in sorted(own) if k != anchor], SNIPPETS_ANSWERED - 1)
            # The other sentiment's snippets: of the same product type first, then of any.
            same_type = list(groups.get((product_type, _other(sentiment)), {}).values())
            any_type = [s for (_, other), found in sorted(groups.items()) if other != sentiment for s in found.values()]
            wanted = SNIPPETS_LISTED - SNIPPETS_ANSWERED
            negatives = distinct_text_draws(rng, same_type, wanted, str, lambda s: False, said[sentiment])
            negatives += distinct_text_draws(rng, any_type, wanted - len(negatives), str, lambda s: False,
                                             said[sentiment] | {s.casefold() for s in negatives})
            if len(negatives) < wanted:
                yield f"fewer than {wanted} snippets of the other sentiment"
                continue
            candidates, truth = retrieval_list(rng, positives, negatives)
            prompt = (
                f"A customer has bought a(n) {product_type} product and wants to write a review to express a "
                f"{sentiment} sentiment. The following numbered list contains {SNIPPETS_LISTED} potential review "
                f"snippets. Select {count_phrase(SNIPPETS_ANSWERED, 'snippet')} that the customer is most likely to "
                "write in the review.\n" + candidate_block("Review Snippet", candidates, SNIPPETS_ANSWERED)
            )
            yield Built(prompt, truth)


def _other(sentiment: str) -> str:
    return "negative" if sentiment == "positive" else "positive"


def complements(labelled: Labelled, rng: random.Random):
    for key in shuffled(sorted(labelled.labels["complement"]), rng):
        label = labelled.labels["complement"][key]
        others = [c for c in label["offered"] if c != label["complement"]]
        question = f"Which of the following product categories best complements the product type {label['type']}?"
        yield multiple_choice(rng, question, label["complement"], rng.sample(others, 3))


LABELLED = Source(
    name="reviews",
    input_help="folder with Amazon Reviews 2023 CATEGORY.jsonl review files and meta_CATEGORY.jsonl metadata",
    load=load,
    labellings=(
        Labelling("review-snippet", "a snippet of a review that says its sentiment, verbatim", snippet_asks,
                  read_snippet),
        Labelling("complement", f"the complement of a product type among {OFFERED_CATEGORIES} catalogue categories",
                  complement_asks, read_complement),
    ),
    tasks=(
        Task("reviews-snippets", spec.RETRIEVAL, spec.HIT_RATE_3,
             "pick the 3 snippets a customer would write for a product type and sentiment, among 15 (row 2)",
             snippets),
        Task("reviews-complements", spec.MULTIPLE_CHOICE, spec.ACCURACY,
             "pick the category that best complements a product type (row 4)", complements),
    ),
)
