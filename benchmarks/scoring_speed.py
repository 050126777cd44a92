"""Scoring speed: the starter kit's way against ours, on one synthetic 20,000-question run.

The mix follows ShopBench's proportions (45% multiple choice, 25% generation split over
rougel / bleu / sent-transformer, 15% retrieval, 10% NER, 5% ranking) with product-like
texts of realistic length and a spread of right, wrong and malformed answers. Both ways
include loading the embedding model; the scores are checked equal before times print.

    python benchmarks/scoring_speed.py [--questions 20000] [--seed 0]
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

if __spec__ is None:  # run as a script (python benchmarks/NAME.py): its packages are one folder up
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shopbench import cli, embeddings, metric_registry, options, spec  # noqa: E402

# Synthetic questions and responses are held in memory; this bounds them (about 1 GB).
MAX_SCORED = 1_000_000
from shopbench.data import Question  # noqa: E402
from shopbench.scoring import Scorer, score_one_at_a_time  # noqa: E402

WORDS = (
    "wireless bluetooth headphones noise cancelling over ear stainless steel water bottle insulated "
    "kids running shoes lightweight breathable mesh kitchen blender speed glass jar cotton bed sheets "
    "queen size deep pocket phone case shockproof clear leather wallet men slim rfid blocking organic "
    "green tea bags vitamin gummies adults dog chew toys durable rubber led desk lamp dimmable usb "
    "charging port gaming mouse ergonomic rgb yoga mat thick non slip camping tent waterproof family "
    "comfortable fits perfectly great quality value money fast shipping sturdy easy install battery "
    "life sound soft warm color true size recommend returned broke after week cheap material"
).split()
MIX = [  # (share, task type, metric)
    (0.45, spec.MULTIPLE_CHOICE, spec.ACCURACY),
    (0.25 / 3, spec.GENERATION, spec.ROUGE_L),
    (0.25 / 3, spec.GENERATION, spec.BLEU),
    (0.25 / 3, spec.GENERATION, spec.SENT_TRANSFORMER),
    (0.15, spec.RETRIEVAL, spec.HIT_RATE_3),
    (0.10, spec.NER, spec.MICRO_F1),
    (0.05, spec.RANKING, spec.NDCG),
]


def phrase(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high)))


def truth_and_response(rng: random.Random, task_type: str, metric: str):
    kind = rng.random()  # < 0.5 right-ish, < 0.85 wrong, else malformed
    if task_type == spec.MULTIPLE_CHOICE:
        truth = rng.randint(0, 3)
        answer = str(truth) if kind < 0.5 else str(rng.randint(0, 3)) if kind < 0.85 else "The answer is B"
        return truth, answer
    if task_type == spec.RETRIEVAL:
        truth = rng.sample(range(1, 16), rng.randint(1, 3))
        picks = truth + rng.sample(range(1, 16), 3) if kind < 0.5 else rng.sample(range(1, 16), 3)
        return truth, ", ".join(map(str, picks[:3])) if kind < 0.85 else "I would pick 4 and 7"
    if task_type == spec.RANKING:
        truth = [rng.choice([1, 0.1, 0.01, 0]) for _ in range(5)]
        order = rng.sample(range(1, 6), 5)
        return truth, ", ".join(map(str, order)) if kind < 0.85 else "1, 2, 2, 3, 4"
    if task_type == spec.NER:
        truth = [phrase(rng, 1, 3) for _ in range(rng.randint(1, 3))]
        guess = truth[: rng.randint(1, len(truth))] if kind < 0.5 else [phrase(rng, 1, 3)]
        return truth, str(guess) if kind < 0.7 else ", ".join(guess)
    truth = phrase(rng, 8, 30)
    if kind < 0.5:
        words = truth.split()
        rng.shuffle(words)
        return truth, " ".join(words[: rng.randint(4, len(words))])
    return truth, phrase(rng, 5, 40) + ("\n" + phrase(rng, 5, 20) if kind > 0.85 else "")


def synthetic_run(count: int, seed: int):
    rng = random.Random(seed)
    questions, responses = [], []
    tracks = [t.challenge_id for t in spec.COMPONENT_TRACKS]
    for share, task_type, metric in MIX:
        for i in range(round(share * count)):
            truth, response = truth_and_response(rng, task_type, metric)
            name = f"{metric}-{i % 3}"
            questions.append(Question(len(questions), phrase(rng, 40, 200), truth, name, task_type, metric,
                                      tracks[len(questions) % 4], task_type == spec.MULTIPLE_CHOICE))
            responses.append(response)
    return questions, responses


def timed(work):
    began = time.perf_counter()
    result = work()
    return result, time.perf_counter() - began


def compare(questions, responses, model_path):
    """(kit seconds, our seconds, kit report, our report), model loading included in both."""
    def models():
        needed = any(q.metric == spec.SENT_TRANSFORMER for q in questions)
        return {spec.SENT_TRANSFORMER: embeddings.load_model(model_path)} if needed else {}

    ours, ours_seconds = timed(lambda: Scorer(models()).score(questions, responses))
    kit, kit_seconds = timed(lambda: score_one_at_a_time(questions, responses, models()))
    return kit_seconds, ours_seconds, kit, ours


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=options.int_in(1, MAX_SCORED), default=20000,
                        help=f"synthetic questions scored (1 to {MAX_SCORED})")
    options.add_seed(parser, "seed of the synthetic questions")
    args = options.parse_args(parser, None)
    questions, responses = synthetic_run(args.questions, args.seed)
    path = embeddings.packaged_minilm_path()
    _, import_seconds = timed(lambda: __import__("sentence_transformers"))
    print(f"importing sentence-transformers (paid once by either way, not in the table): {import_seconds:.2f} s")
    embedded = [i for i, q in enumerate(questions) if metric_registry.get(q.metric).model]
    others = [i for i, q in enumerate(questions) if not metric_registry.get(q.metric).model]
    counts = {}
    for q in questions:
        counts[q.metric] = counts.get(q.metric, 0) + 1
    print(f"questions: {len(questions)} ({', '.join(f'{m} {n}' for m, n in counts.items())})")
    print(f"{'part':<34}{'questions':>10}{'kit way s':>11}{'ours s':>9}{'ratio':>8}")
    totals = [0.0, 0.0]
    worst, exact = 0.0, True
    for name, part in (("sentence embeddings (+ model load)", embedded), ("all other metrics", others)):
        kit_seconds, ours_seconds, kit, ours = compare(
            [questions[i] for i in part], [responses[i] for i in part], path
        )
        totals[0] += kit_seconds
        totals[1] += ours_seconds
        for a, b in zip(ours.samples, kit.samples):
            worst = max(worst, abs(a.score - b.score))
            exact &= bool(metric_registry.get(a.metric).model) or a.score == b.score
        print(f"{name:<34}{len(part):>10}{kit_seconds:>11.2f}{ours_seconds:>9.2f}{kit_seconds / ours_seconds:>7.1f}x")
    print(f"{'whole run':<34}{len(questions):>10}{totals[0]:>11.2f}{totals[1]:>9.2f}{totals[0] / totals[1]:>7.1f}x")
    print(f"non-embedding scores identical: {exact}; largest sample difference: {worst:.2e}")
    if not exact or worst > 1e-5:
        sys.exit("the two ways disagree")


if __name__ == "__main__":
    sys.exit(cli.main_guard(main)())
