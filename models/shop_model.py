"""The submission's model: route each prompt, generate under its constraint, repair, answer.

For every batch: classify each prompt (task type and decoding profile), render it with the
system prompt that names the task, shorten it if it would not fit the context, decode it
under its profile's constraint (prompts of one profile together, shortest first, so a
batch pads little), and repair what comes back so the official parser reads a valid
answer. The engine (vLLM or transformers) is behind `models.engines.Engine`.
"""
from __future__ import annotations

import logging
import sys

import prompts
from models.base_model import ShopBenchBaseModel
from models.engines import Engine, Request
from models.settings import ModelSettings, from_environment
from routing import truncation
from routing.classifier import Route, classify
from routing.constraints import Vocabulary
from routing.decoding import constraint_for
from routing.repair import repair
from shopbench.generation import Answer

log = logging.getLogger("shopbench.model")


def build_engine(settings: ModelSettings) -> tuple[Engine, str]:
    """(engine, the model's name) for the settings."""
    if settings.model_dir is None:
        from models import embedded

        model_dir, name = str(embedded.safetensors_copy()), f"{embedded.MODEL_NAME} (embedded default)"
    else:
        model_dir, name = settings.model_dir, settings.model_dir
    if settings.engine == "vllm":
        from models.engines.vllm_engine import VllmEngine

        return VllmEngine(model_dir, settings.vllm), name
    from models.engines.transformers_engine import TransformersEngine

    return TransformersEngine(model_dir, settings.max_model_len), name


class ShopModel(ShopBenchBaseModel):
    def __init__(self, settings: ModelSettings | None = None, engine: Engine | None = None):
        self.settings = settings or from_environment()
        if engine is None:
            engine, name = build_engine(self.settings)
            print(f"ShopModel: serving {name} with the {engine.name} engine ({self.settings.reason})", file=sys.stderr)
        self.engine = engine
        self.tokenizer = engine.tokenizer
        self.vocabulary = Vocabulary.scan(self.tokenizer)

    def get_batch_size(self) -> int:
        return self.settings.batch_size

    def batch_predict(self, batch: dict, is_multiple_choice: bool) -> list[str]:
        return [answer.text for answer in self.batch_answer(batch, is_multiple_choice)]

    def batch_answer(self, batch: dict, is_multiple_choice: bool) -> list[Answer]:
        questions = [q if isinstance(q, str) else "" for q in batch["prompt"]]
        routes = [classify(q, is_multiple_choice) for q in questions]
        requests = [self._request(q, route) for q, route in zip(questions, routes)]
        outputs = self._generate(requests, routes)
        answers = []
        for question, route, output in zip(questions, routes, outputs):
            fixed = repair(route, question, output.text if output else "", self.settings.decoding)
            tokens = len(output.token_ids) if output else 0
            answers.append(Answer(fixed.text, route.task_type, route.profile, fixed.repaired, tokens))
        return answers

    def _request(self, question: str, route: Route) -> Request:
        constraint = constraint_for(route, question, self.tokenizer, self.vocabulary, self.settings.decoding)
        budget = self.engine.max_model_len - constraint.max_new_tokens

        def token_ids(text: str) -> list[int]:
            rendered = prompts.render(text, route.profile, self.tokenizer)
            return self.tokenizer(rendered, add_special_tokens=False)["input_ids"]

        fitted = truncation.fit(question, budget, lambda text: len(token_ids(text)))
        ids = token_ids(fitted)
        # Only a chat template longer than the context itself gets here: keep its end,
        # where the generation prompt is.
        return Request(ids[-budget:], constraint, self.vocabulary.stops)

    def _generate(self, requests: list[Request], routes: list[Route]):
        """Engine outputs in request order; prompts of one profile decode together,
        shortest first. A failing engine call is logged and its answers repaired from
        nothing, so one bad batch cannot stop a whole run."""
        outputs = [None] * len(requests)
        groups: dict[str, list[int]] = {}
        for position, route in enumerate(routes):
            groups.setdefault(route.profile, []).append(position)
        for profile, positions in groups.items():
            positions.sort(key=lambda p: len(requests[p].prompt_token_ids))
            try:
                generated = self.engine.generate([requests[p] for p in positions])
            except Exception as exc:  # noqa: BLE001 - the run must go on; the error is reported
                log.error("engine failed on %d %s prompts: %s", len(positions), profile, exc)
                continue
            for p, output in zip(positions, generated):
                outputs[p] = output
        return outputs
