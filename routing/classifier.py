"""Which task a prompt is, read from its structure rather than from known sentences.

`task_type` is the official type, whose parser will read the answer; `profile` is how to
decode it. They differ for extractive generation ("extract the keyphrase from the
review"): scored as generation, decoded by copying from the prompt like NER.

The rules, in order:
1. The evaluator's `is_multiple_choice` flag is true only for multiple-choice batches, so
   true means multiple choice. With the flag false (or unknown) a prompt is still multiple
   choice when it ends in an "Answer:" slot, which only ShopBench's multiple-choice
   prompts do; that keeps mixed batches right.
2. An instruction about entities or entity types is NER.
3. An instruction to extract a phrase, keyphrase or span is extractive generation.
4. With a numbered candidate list: a requested count smaller than the list is retrieval;
   otherwise ranking words (rank, permutation, order, sort) make a ranking; otherwise an
   instruction to write text that never asks for numbers is generation (a list of
   features to describe); otherwise a list longer than five is retrieval (the ranking
   parser reads at most 5 items) and a list of five or fewer is a ranking.
5. Everything else is generation.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from routing import anatomy
from shopbench import spec

_ENTITY = re.compile(
    r"\bentit(?:y|ies)\b|named[- ]entity|\bner\b|entität|entité|entidad|entità|エンティティ|固有表現|实体"
)
_EXTRACT = re.compile(r"\bextract|\bcopy\b|\bquote\b|extrahier|extrai|extrae|estrai|抽出|抽取|提取")
_PHRASE = re.compile(
    r"key ?phrases?|\bphrases?\b|\bspans?\b|\bwords?\b|\bterms?\b|schlüssel|frase|phrase|キーフレーズ|フレーズ|关键"
)
_RANK = re.compile(
    r"\brank|\bre-?rank|permutation|\bre-?order|\border (?:them|the|these|all)|\bsort|"
    r"most relevant to (?:the )?least|rangier|ordne|sortier|classe[rz]|ordena|clasifica|ordina|並べ|順位|排序|排列"
)
_WRITE = re.compile(
    r"\b(?:write|generate|describe|summari[sz]e|explain|translate|compose|draft|rewrite|paraphrase)\b"
)
_NUMBERS_WANTED = re.compile(
    r"\bnumbers?\b|\bindi(?:ces|ce)\b|\bindex|\bids?\b|comma|\bselect|\bchoose|\bpick|\bwhich\b"
)
_ANSWER_SLOT = re.compile(r"^(?:answer|antwort|respuesta|réponse|risposta|回答|答案)\s*[:：]?$", re.IGNORECASE)
_MAX_RANKING_ITEMS = 5  # the official ranking parser keeps values up to 5
_DEFAULT_RETRIEVAL_COUNT = 3  # hit rate@3 reads the first three numbers


@dataclass(frozen=True)
class Route:
    task_type: str  # the official type: which parser reads the answer
    profile: str  # the decoding profile, one of the task types
    candidates: tuple[int, ...] = ()  # numbers of the prompt's candidate list
    answer_count: int = 1  # how many numbers a retrieval answer holds
    choices: tuple[int, ...] = ()  # multiple choice: the digits that are valid answers


def _multiple_choice(prompt: str, candidates: anatomy.CandidateList | None) -> Route:
    if candidates is not None:
        choices = candidates.numbers
    else:
        scale = anatomy.rating_range(prompt.lower())
        choices = tuple(range(scale[0], scale[1] + 1)) if scale else tuple(range(10))
    return Route(spec.MULTIPLE_CHOICE, spec.MULTIPLE_CHOICE, candidates.numbers if candidates else (), 1, choices)


def classify(prompt: str, is_multiple_choice: bool | None = None) -> Route:
    candidates = anatomy.candidate_list(prompt)
    if is_multiple_choice or _ANSWER_SLOT.match(anatomy.last_line(prompt)):
        return _multiple_choice(prompt, candidates)
    text = anatomy.instruction(prompt, candidates)
    if _ENTITY.search(text):
        return Route(spec.NER, spec.NER)
    if candidates is None:
        if _EXTRACT.search(text) and _PHRASE.search(text):
            return Route(spec.GENERATION, spec.NER)
        return Route(spec.GENERATION, spec.GENERATION)
    numbers = candidates.numbers
    count = anatomy.requested_count(text)
    if count is not None and count < len(numbers):
        return Route(spec.RETRIEVAL, spec.RETRIEVAL, numbers, count)
    if not _RANK.search(text) and _WRITE.search(text) and not _NUMBERS_WANTED.search(text):
        return Route(spec.GENERATION, spec.GENERATION)
    if _RANK.search(text) or len(numbers) <= _MAX_RANKING_ITEMS:
        return Route(spec.RANKING, spec.RANKING, numbers, len(numbers))
    return Route(spec.RETRIEVAL, spec.RETRIEVAL, numbers, _DEFAULT_RETRIEVAL_COUNT)
