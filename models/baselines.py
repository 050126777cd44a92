"""Zero-shot baselines, run on any model folder through our engines: the yardsticks the
pipeline is measured against.

`KitBaseline` is the KDD Cup starter kit's (models/vanilla_llama3_baseline.py there): its
fixed system text glued before the raw question, no chat template, greedy, 1 new token for a
multiple-choice batch and 100 otherwise, stopping at the tokenizer's end of text, nothing
constrained or repaired. `ReleaseBaseline` is the Shopping MMLU release's zero-shot
inference, whose numbers its leaderboard shows (see the class). The model comes from the same
settings as the UserModel (SHOPBENCH_MODEL_DIR, SHOPBENCH_ENGINE, ...):

    python local_evaluation.py --model models.baselines:KitBaseline
    python local_evaluation.py --model models.baselines:ReleaseBaseline --data data.zip --rules shopping-mmlu
"""
from __future__ import annotations

from dataclasses import dataclass

import prompts
from decoding.constraints import Constraint, TextConstraint
from models import engines
from models.engine_model import EngineModel
from models.engines import ChatRequest, Request
from shopbench.protocol import Answer


@dataclass(frozen=True)
class ZeroShotRecipe:
    name: str
    system_text: str  # put before the question as it is
    multiple_choice_tokens: int
    other_tokens: int


KIT = ZeroShotRecipe(
    "the KDD Cup 2024 starter kit's zero-shot baseline",
    "You are a helpful online shopping assistant. Please answer the following question about online shopping "
    "and follow the given instructions.\n\n",
    multiple_choice_tokens=1,
    other_tokens=100,
)


class ZeroShotBaseline(EngineModel):
    recipe: ZeroShotRecipe
    # a failed batch: empty strings, which every official parser reads (as a wrong answer)
    FALLBACK = Answer("", repaired=False, generated_tokens=0)

    time_guard_on = False  # nothing here depends on speed

    @property
    def run_settings(self) -> dict:
        # no server_constraints: a baseline sends none, whatever the server applies
        return {"model": self.description, "precision": engines.precision(self.engine), "baseline": self.recipe.name}

    def answers(self, questions: list, is_multiple_choice: bool) -> list[Answer]:
        recipe = self.recipe
        new_tokens = recipe.multiple_choice_tokens if is_multiple_choice else recipe.other_tokens
        if self.tokenizer is None:  # a chat engine: the kit's one prompt text as the one user turn
            requests = [ChatRequest(({"role": "user", "content": recipe.system_text + prompts.tokenizable(
                question if isinstance(question, str) else "")},), TextConstraint(new_tokens)) for question in questions]
            return [Answer(g.text, repaired=False, generated_tokens=g.new_tokens, usage=g.usage) if g is not None
                    else Answer("", repaired=False, generated_tokens=0, failed=True)  # refused by the server
                    for g in self.engine.generate(requests)]
        budget = self.engine.max_model_len - new_tokens
        stops = (self.tokenizer.eos_token_id,) if self.tokenizer.eos_token_id is not None else ()
        requests = []
        for question in questions:
            text = prompts.tokenizable(question if isinstance(question, str) else "")
            # add_special_tokens as the kit's string prompt got it from vLLM; a prompt longer
            # than the context keeps its end, where the question's instruction usually is
            ids = self.tokenizer(recipe.system_text + text)["input_ids"]
            requests.append(Request(ids[-budget:], Constraint(new_tokens), stops))
        generated = self.engine.generate(requests)
        return [Answer(g.text, repaired=False, generated_tokens=g.new_tokens, usage=g.usage) for g in generated]


# skill_wise_eval/hf_skill_inference.py of KL4805/ShoppingMMLU (commit ea12a45): the same
# system text as the kit's, 1 new token for a multiple-choice question (--multi_choice_tokens,
# default 1) and 100 for any other.
RELEASE = ZeroShotRecipe(
    "the Shopping MMLU release's zero-shot inference",
    KIT.system_text,
    multiple_choice_tokens=1,
    other_tokens=100,
)


class KitBaseline(ZeroShotBaseline):
    recipe = KIT


class ReleaseBaseline(ZeroShotBaseline):
    """The Shopping MMLU release's skill-wise inference. Like the kit it uses no chat template:
    the system text is glued before the raw question and tokenized as one string with the
    tokenizer's special tokens (a BOS where the model has one), greedy. Its choice of 1 or 100
    tokens follows each question's task type, which is the runner's multiple-choice flag here,
    as batches hold one task type.

    Not reproduced, where the release's script does otherwise: its answer is the whole decoded
    sequence minus as many characters as the prompt has (ours is the new tokens decoded; the two
    can differ by a leading space with SentencePiece tokenizers, which none of its metrics
    counts), one question at a time (batched here), and a few model-specific lines (a phi-2
    multiple-choice suffix; temperature 1e-4, which samples only where a model's generation
    config turns sampling on).
    """

    recipe = RELEASE
