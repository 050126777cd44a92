"""The facts of ShopBench that every module shares: task types, metrics, tracks and limits.

Values follow the official KDD Cup 2024 starter kit and leaderboard; nothing else in the
repository spells these strings out.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# The repository root; paths the code names are relative to it.
ROOT = Path(__file__).resolve().parent.parent
# The 96 public development questions (JSON Lines), shipped in the repository.
DEV_DATA_NAME = "data/development.json"
DEV_DATA = ROOT / DEV_DATA_NAME

MULTIPLE_CHOICE = "multiple-choice"
RANKING = "ranking"
RETRIEVAL = "retrieval"
NER = "named_entity_recognition"
GENERATION = "generation"
TASK_TYPES = (MULTIPLE_CHOICE, RANKING, RETRIEVAL, NER, GENERATION)

ACCURACY = "accuracy"
HIT_RATE_3 = "hit rate@3"
NDCG = "ndcg"
MICRO_F1 = "micro f1"
ROUGE_L = "rougel"
BLEU = "bleu"
JP_BLEU = "jp-bleu"
SENT_TRANSFORMER = "sent-transformer"
MULTILINGUAL_SENT_TRANSFORMER = "multilingual-sent-transformer"
# Each metric's record (its gold, parsers, scorers, aggregation and needs) is in
# shopbench/metric_registry.py.

# The Hugging Face names of the sentence-embedding models the official scorer uses.
SENTENCE_MODEL = "all-MiniLM-L6-v2"  # sent-transformer's
MULTILINGUAL_SENTENCE_MODEL = "paraphrase-multilingual-MiniLM-L12-v2"  # multilingual-sent-transformer's

# The official parser reads only this many characters of a response.
MAX_RESPONSE_CHARS = 5000
# The ranking parser keeps the values up to this one, then the first this many of them.
RANKING_LIMIT = 5
# hit rate@3: the retrieval parser keeps the first this many numbers.
RETRIEVAL_READS = 3
# Phase 2 hardware: 4x NVIDIA T4, over which the served model is split (tensor parallel).
SUBMISSION_GPUS = 4
# Phase 2 time rule: at most 10 s per question, enforced per batch.
SECONDS_PER_QUESTION = 10.0
MAX_BATCH_SIZE = 16
# The evaluator passes its run seed to the model through this environment variable.
SEED_ENV = "AICROWD_RUN_SEED"
DEFAULT_SEED = 3142


# The most questions an option may ask for (--limit, --show): more than any data set here,
# small enough that a typo cannot ask for unbounded memory.
MAX_QUESTIONS = 10_000_000
# "on": local_evaluation.py and run.py predict exit 0 even when some question got no model
# answer (an engine failure), as --allow-failures does; "off" (default): they exit
# FAILED_QUESTIONS_EXIT after writing their outputs.
ALLOW_FAILURES_ENV = "SHOPBENCH_ALLOW_FAILURES"
FAILED_QUESTIONS_EXIT = 3


@dataclass(frozen=True)
class Track:
    number: int
    challenge_id: str  # also aicrowd.json's challenge_id
    title: str
    questions: int  # in the hidden Phase 2 set
    minutes: int  # Phase 2 time limit for the whole track
    recipe: str  # how its served model is built (paper Table 6), relative to the repository
    weights_dir: str  # where that model lives in the repository (git-lfs)


# The one table of tracks: leaderboard facts and the model each submission serves.
TRACKS = (
    Track(1, "amazon-kdd-cup-24-understanding-shopping-concepts", "Shopping concept understanding", 6102, 70,
          "weights/recipes/track1.toml", "weights/track1-qwen2-72b-awq"),
    Track(2, "amazon-kdd-cup-24-shopping-knowledge-reasoning", "Shopping knowledge reasoning", 1896, 20,
          "weights/recipes/track2.toml", "weights/track2-qwen2-72b-awq"),
    Track(3, "amazon-kdd-cup-24-user-behavior-alignment", "User behavior alignment", 2373, 30,
          "weights/recipes/track3.toml", "weights/track3-qwen2-72b-awq"),
    Track(4, "amazon-kdd-cup-24-multi-lingual-abilities", "Multi-lingual abilities", 1349, 20,
          "weights/recipes/track4.toml", "weights/track4-qwen2-72b-awq"),
    Track(5, "amazon-kdd-cup-24-all-around", "All-around", 11720, 140,
          "weights/recipes/track5.toml", "weights/track5-qwen2-72b-awq"),
)
ALL_AROUND = TRACKS[4]
# The leaderboard's T5 score is the mean of these four tracks' scores.
COMPONENT_TRACKS = TRACKS[:4]
TRACK_BY_ID = {track.challenge_id: track for track in TRACKS}
TRACK_BY_NUMBER = {track.number: track for track in TRACKS}


def track_label(challenge_id: str | None) -> str:
    """Short name for tables: "T1".."T5" for official tracks, the id itself otherwise."""
    if challenge_id in TRACK_BY_ID:
        return f"T{TRACK_BY_ID[challenge_id].number}"
    return challenge_id or "-"


# How responses are parsed and scored: the KDD Cup starter kit's rules (the competition's),
# or the Shopping MMLU release's own evaluation code (its leaderboard's); each is a record of
# metric_registry.RULE_SETS.
KDD_RULES = "kdd"
MMLU_RULES = "shopping-mmlu"


@dataclass(frozen=True)
class Skill:
    """One of Shopping MMLU's four skills: the same questions as one KDD track."""

    number: int  # the N of the release's skills/skillN_*.json
    title: str  # the leaderboard's column
    track: str  # the challenge id of the KDD track with the same questions


SKILLS = tuple(
    Skill(track.number, title, track.challenge_id)
    for track, title in zip(COMPONENT_TRACKS, ("Shopping Concept Understanding", "Shopping Knowledge Reasoning",
                                               "User Behavior Alignment", "Multi-lingual Abilities"))
)
SKILL_BY_TRACK = {skill.track: skill for skill in SKILLS}
_SKILL_FILE = re.compile(r"skill([1-4])(_.*)?")


def skill_of_file(stem: str) -> Skill | None:
    """The skill of a release skill file named `stem`.json (skill1_concept -> skill 1), None
    for a name the release does not use."""
    match = _SKILL_FILE.fullmatch(stem)
    return SKILLS[int(match.group(1)) - 1] if match else None


def skill_label(track: str | None) -> str:
    """Short name for tables: "skill1".."skill4" for the four tracks, "-" otherwise."""
    skill = SKILL_BY_TRACK.get(track)
    return f"skill{skill.number}" if skill else "-"


@dataclass(frozen=True)
class PublishedRow:
    """A leaderboard row as published: the four skills and the overall, x100."""

    model: str
    skills: tuple[float, float, float, float]  # skill 1 to 4
    overall: float | None  # None where the source gives no overall


# The release's README shows its leaderboard only as an image (README.md at commits bda14b9
# and 00579e3 of KL4805/ShoppingMMLU), so the one row this project's facts sheet quotes from
# it is all that is stored, without the overall, which the quote leaves out.
LEADERBOARD_SOURCE = ("the Shopping MMLU leaderboard of KL4805/ShoppingMMLU (published with arXiv 2410.20745, "
                      "October 2024), as quoted, undated, in this project's facts sheet")
LEADERBOARD = (PublishedRow("Claude 3 Sonnet", (80.75, 71.63, 70.17, 67.76), None),)

# Paired bootstrap of `run.py compare` and the ablation; with fewer replicates only a handful
# lie beyond the 2.5th and 97.5th percentiles, and an interval's ends would be noise.
BOOTSTRAP_REPLICATES = 2000
MIN_BOOTSTRAP_REPLICATES = 100
# Memory grows with replicates (about 0.8 GB per million on the development set's tasks).
MAX_BOOTSTRAP_REPLICATES = 1_000_000
