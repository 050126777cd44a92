"""The submission's model: route each prompt, generate under its constraint, repair, answer.

For every batch: classify each prompt (task type and decoding profile), render it with the
system prompt that names the task, shorten it if it would not fit the context, decode it
under its profile's constraint (prompts whose system prompt names one task together,
shortest first, so a batch pads little), and repair what comes back so the official parser reads a valid
answer. The engine (vLLM, transformers or an OpenAI-compatible server) is behind `models.engines.Engine`.
"""
from __future__ import annotations

import logging
from dataclasses import replace

import prompts
from shopbench.protocol import Answer, GuardAction
from models import engines
from models.engines import ChatRequest, Engine, Request
from models.engine_model import EngineModel
from models.settings import ModelSettings
from models.time_guard import TimeGuard
from prompts import truncation
from routing.classifier import Route, classify
from decoding.constraints import Vocabulary
from decoding.profiles import constraint_for, profile_of, repair, text_constraint_for

log = logging.getLogger("shopbench.model")
_LAST_RESORT = "1"  # all five official parsers read it without failing


def server_facts(engine) -> dict:
    """What a run's results record about a chat engine's server: which answer constraints it
    applied, and in which form ({} for the other engines)."""
    return {"server_constraints": dict(engine.constraints)} if engine.tokenizer is None else {}


class ShopModel(EngineModel):
    FALLBACK = Answer(_LAST_RESORT, repaired=True, generated_tokens=0, failed=True)

    def __init__(self, settings: ModelSettings | None = None, engine: Engine | None = None):
        super().__init__(settings, engine)
        longest = self.settings.decoding.longest_answer()
        if self.engine.max_model_len is not None and longest >= self.engine.max_model_len:
            raise ValueError(f"SHOPBENCH_DECODING: {longest} new tokens leave no room for a prompt in the "
                             f"model's context of {self.engine.max_model_len} tokens")
        self.guard = TimeGuard(self.settings.seconds_per_question, self.settings.deadline,
                               enabled=self.settings.time_guard)
        self.vocabulary = Vocabulary.scan(self.tokenizer) if self.tokenizer is not None else None

    @property
    def time_guard_on(self) -> bool:
        return self.guard.enabled

    @property
    def run_settings(self) -> dict:
        return {"model": self.description, "precision": engines.precision(self.engine),
                "decoding": self.settings.decoding.to_json(), **server_facts(self.engine)}

    def answers(self, questions: list, is_multiple_choice: bool) -> list[Answer]:
        questions = [prompts.tokenizable(q) if isinstance(q, str) else "" for q in questions]
        routes = [classify(q, is_multiple_choice) for q in questions]
        profiles = [profile_of(route, self.settings.decoding) for route in routes]
        began = self.guard.clock()
        budget = self.guard.batch_budget(len(questions))
        requests = [self._request_or_none(q, route) for q, route in zip(questions, routes)]
        outputs, guarded = self._generate(requests, [profile.system_prompt for profile in profiles], began, budget)
        self.guard.answered += len(questions)
        answers = []
        for question, route, profile, output, guard in zip(questions, routes, profiles, outputs, guarded):
            # a token cut inside a multi-byte character decodes to U+FFFD: never end on one
            text = output.text.rstrip("\ufffd") if output else ""
            fixed = repair(route, question, text, self.settings.decoding)
            tokens = output.new_tokens if output else 0
            # No output and no guard decision: the engine failed, or gave fewer outputs than asked
            failed = output is None and guard is not GuardAction.FALLBACK
            answers.append(Answer(fixed.text, route.task_type, profile.name, fixed.repaired, tokens, guard, failed,
                                  output.usage if output else None))
        return answers

    def _request_or_none(self, question: str, route: Route) -> Request | None:
        """None when the question cannot be made into a request: it gets a repaired fallback."""
        try:
            return self.build_request(question, route)
        except Exception as exc:  # noqa: BLE001 - one odd prompt must not cost its batch
            log.error("cannot build a request for a %s prompt: %r", route.profile, exc)
            return None

    def build_request(self, question: str, route: Route) -> Request | ChatRequest:
        """The engine request for a routed question: rendered, tokenized, fitted to the context;
        for a chat engine, the same turns as text (the server templates them; without a tokenizer
        nothing is shortened here)."""
        decoding = self.settings.decoding
        task = profile_of(route, decoding).system_prompt
        if self.tokenizer is None:
            messages = prompts.server_messages(question, task, task_named=decoding.task_system_prompt,
                                               chat_template=decoding.chat_template)
            return ChatRequest(messages, text_constraint_for(route, decoding))
        constraint = constraint_for(route, question, self.tokenizer, self.vocabulary, decoding,
                                    self.engine.token_list_cap)
        budget = self.engine.max_model_len - constraint.max_new_tokens

        def token_ids(text: str) -> list[int]:
            rendered = prompts.render(text, task, self.tokenizer, task_named=decoding.task_system_prompt,
                                      chat_template=decoding.chat_template)
            return prompts.token_ids(rendered, self.tokenizer)

        ids = token_ids(question)
        if len(ids) > budget:
            ids = token_ids(truncation.fit(question, budget, lambda text: len(token_ids(text))))
        # Only a chat template longer than the context itself still overflows: keep its end,
        # where the generation prompt is.
        return Request(ids[-budget:], constraint, self.vocabulary.stops)

    def _generate(self, requests: list[Request | None], tasks: list[str], began: float, budget: float):
        """Engine outputs in request order, and what the time guard did to each (a
        GuardAction or None). The requests of each task their system prompt names (`tasks`:
        a title's with generation's: decoded apart, some bfloat16 answers change) decode as
        one batch, cheapest first, shortest prompt first. A failing engine call is logged and
        its answers repaired from nothing (and marked failed), so one bad batch cannot stop a
        whole run."""
        outputs: list = [None] * len(requests)
        guarded: list = [None] * len(requests)
        groups: dict[str, list[int]] = {}
        for position, task in enumerate(tasks):
            if requests[position] is not None:
                groups.setdefault(task, []).append(position)
        longest = {profile: max(requests[p].constraint.max_new_tokens for p in ps) for profile, ps in groups.items()}
        for profile in sorted(groups, key=longest.get):
            positions = sorted(groups[profile], key=lambda p: requests[p].length)
            fit = self.guard.new_tokens_that_fit(budget - (self.guard.clock() - began), longest[profile])
            if fit == 0:
                for p in positions:
                    guarded[p] = GuardAction.FALLBACK
                continue
            batch = []
            for p in positions:
                constraint = requests[p].constraint
                if constraint.max_new_tokens > fit:
                    guarded[p] = GuardAction.SHORTENED
                    constraint = replace(constraint, max_new_tokens=fit)
                batch.append(replace(requests[p], constraint=constraint))
            started = self.guard.clock()
            try:
                generated = self.engine.generate(batch)
            except Exception as exc:  # noqa: BLE001 - the run must go on; the error is reported
                log.error("engine failed on %d %s prompts: %s", len(positions), profile, exc)
                continue
            self.guard.record(self.guard.clock() - started, fit)
            if len(generated) != len(positions):
                log.error("engine returned %d outputs for %d %s prompts", len(generated), len(positions), profile)
            for p, output in zip(positions, generated):
                outputs[p] = output
        return outputs, guarded
