"""The decoding profile registry (decoding/profiles.py): every task type and every route has a
profile, and a profile registered anywhere is what every step uses."""
import ast
import json

import pytest

import prompts
from decoding import profiles
from decoding.constraints import Constraint, TextConstraint
from decoding.profiles import Profile, constraint_for, profile_of, register, repair, text_constraint_for
from decoding.repair import Repaired
from models import shop_model
from models.engines import Generated
from models.settings import ModelSettings
from routing.classifier import TITLE, Route, classify
from shopbench import spec
from shopbench.decoding_config import DEFAULT, DecodingConfig
from tests.conftest import ROOT


@pytest.mark.parametrize("task_type", spec.TASK_TYPES)
def test_every_task_type_has_a_profile_of_its_own_name(task_type):
    profile = profiles.PROFILES[task_type]
    assert (profile.name, profile.task_type, profile.switch) == (task_type, task_type, None)


def test_every_profile_names_a_described_task_and_a_task_type():
    for profile in profiles.PROFILES.values():
        assert profile.system_prompt in prompts.TASK_DESCRIPTIONS and profile.task_type in spec.TASK_TYPES
        assert profile.switch is None or isinstance(getattr(DEFAULT, profile.switch), bool)


def test_every_route_of_the_dev_set_and_the_routing_corpus_has_a_profile():
    rows = [json.loads(line) for path in (spec.DEV_DATA, ROOT / "tests" / "data" / "routing_corpus.jsonl")
            for line in path.read_text(encoding="utf-8").splitlines()]
    used = {classify(r["input_field"], r["is_multiple_choice"]).profile for r in rows}
    assert used <= set(profiles.PROFILES) and TITLE in used


def test_titles_are_a_profile_that_the_titles_switch_turns_into_generation():
    route = Route(spec.GENERATION, TITLE)
    assert profile_of(route).name == TITLE and profile_of(route).system_prompt == spec.GENERATION
    assert profile_of(route, DecodingConfig(titles=False)).name == spec.GENERATION
    assert constraint_for(route, "q", None, None, DecodingConfig(title_max_new_tokens=77)).max_new_tokens == 77
    assert text_constraint_for(route, DecodingConfig(titles=False)).max_new_tokens == 50


def test_an_answer_is_repaired_as_its_task_types_answers_even_when_decoded_as_another():
    # extractive generation decodes as NER but the generation parser reads it: cut to sentences
    said = "The phrase is fits well. It is what the customer liked most about the product overall, clearly."
    extractive = repair(Route(spec.GENERATION, spec.NER), "Extract the phrase.\nReview: fits well", said)
    assert extractive == Repaired("The phrase is fits well. It is what the customer liked most about the product "
                                  "overall, clearly.", False)
    entity = repair(Route(spec.NER, spec.NER), "Extract the brand.\nTitle: Nike shoes", said)
    assert entity.repaired and entity.text != said


def _yes_no(route, prompt, response, config):
    answer = "1" if response.strip().lower().startswith("yes") else "0"
    return Repaired(answer, answer != response)


YES_NO = Profile("yes-no", spec.MULTIPLE_CHOICE, spec.MULTIPLE_CHOICE, _yes_no, lambda config: 3,
                 text_constraint=lambda route, config: TextConstraint(3, choices=("yes", "no")))


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setattr(profiles, "PROFILES", dict(profiles.PROFILES))
    return register(YES_NO)


def test_a_registered_profile_is_used_by_every_pure_step(registered):
    route = Route(spec.MULTIPLE_CHOICE, "yes-no")
    assert profile_of(route) is YES_NO
    assert constraint_for(route, "Is it red?", None, None, DecodingConfig(repetition_penalty=1.2)) == Constraint(
        3, repetition_penalty=1.2)
    assert text_constraint_for(route) == TextConstraint(3, choices=("yes", "no"))
    assert text_constraint_for(route, DecodingConfig(masks=False)).choices is None
    # the response comes in cut as the parser cuts it
    assert repair(route, "Is it red?", "Yes, it is.") == Repaired("1", True)


class FakeEngine:
    """The qwen tokenizer; answers "yes" to everything."""

    name, max_model_len, token_list_cap = "fake", 2048, None

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.seen = []

    def generate(self, requests):
        self.seen += requests
        return [Generated([9693], "yes") for _ in requests]


def test_a_registered_profile_is_used_by_the_user_model(registered, monkeypatch, qwen_tokenizer):
    monkeypatch.setattr(shop_model, "classify", lambda question, flag: Route(spec.MULTIPLE_CHOICE, "yes-no"))
    engine = FakeEngine(qwen_tokenizer)
    model = shop_model.ShopModel(ModelSettings(None, "transformers", "test"), engine=engine)
    [answer] = model.batch_answer({"prompt": ["Is it red?"]}, True)
    assert (answer.text, answer.profile, answer.repaired) == ("1", "yes-no", True)
    [request] = engine.seen
    assert request.constraint == Constraint(3)
    rendered = qwen_tokenizer.decode(request.prompt_token_ids)
    assert rendered == prompts.render("Is it red?", spec.MULTIPLE_CHOICE, qwen_tokenizer)


def test_register_refuses_a_second_profile_of_a_name_and_loose_ends(registered):
    with pytest.raises(ValueError, match="'yes-no' is already registered"):
        register(YES_NO)
    with pytest.raises(ValueError, match="no system prompt names the task 'binary'"):
        register(Profile("binary", spec.MULTIPLE_CHOICE, "binary", _yes_no, lambda config: 1))
    with pytest.raises(ValueError, match="a switch comes with a registered otherwise profile"):
        register(Profile("short", spec.GENERATION, spec.GENERATION, _yes_no, lambda config: 1, switch="titles"))
    with pytest.raises(ValueError, match="a switch comes with a registered otherwise profile"):
        register(Profile("short", spec.GENERATION, spec.GENERATION, _yes_no, lambda config: 1, switch="titles",
                         otherwise="long"))


_DISPATCHERS = ["decoding/profiles.py", "decoding/repair.py", "decoding/constraints/digits.py",
                "decoding/constraints/prompt_tokens.py", "models/shop_model.py", "weights/quantize.py"]


@pytest.mark.parametrize("path", _DISPATCHERS)
def test_no_step_dispatches_on_a_task_type_name(path):
    """Profiles are looked up in the registry, never chosen by comparing names."""
    names = {*(name for name, value in vars(spec).items() if value in spec.TASK_TYPES), "TITLE"}
    compared = []
    for node in ast.walk(ast.parse((ROOT / path).read_text(encoding="utf-8"))):
        if isinstance(node, ast.Compare):
            for operand in [node.left, *node.comparators]:
                for inner in ast.walk(operand):
                    if isinstance(inner, (ast.Attribute, ast.Name)) and getattr(inner, "attr", getattr(inner, "id", "")) in names:
                        compared.append(f"{path}:{node.lineno}")
    assert compared == []


def test_titles_decode_in_one_batch_with_generation_and_are_reported_as_titles(monkeypatch, qwen_tokenizer):
    # decoded apart, some bfloat16 answers change: the batches stay as they were before titles had a profile
    routes = {"Write a title.": Route(spec.GENERATION, TITLE), "Describe it.": Route(spec.GENERATION, spec.GENERATION),
              "Name the brand.": Route(spec.NER, spec.NER)}
    monkeypatch.setattr(shop_model, "classify", lambda question, flag: routes[question])
    engine = FakeEngine(qwen_tokenizer)
    calls = []
    monkeypatch.setattr(engine, "generate", lambda requests: calls.append(len(requests)) or FakeEngine.generate(engine, requests))
    model = shop_model.ShopModel(ModelSettings(None, "transformers", "test"), engine=engine)
    answers = model.batch_answer({"prompt": list(routes)}, False)
    assert [a.profile for a in answers] == [TITLE, spec.GENERATION, spec.NER]
    assert sorted(calls) == [1, 2]
    budgets = sorted(r.constraint.max_new_tokens for r in engine.seen)
    assert budgets == [16, 50, 100]
    off = shop_model.ShopModel(ModelSettings(None, "transformers", "test", decoding=DecodingConfig(titles=False)),
                               engine=engine)
    assert [a.profile for a in off.batch_answer({"prompt": list(routes)}, False)] == [spec.GENERATION] * 2 + [spec.NER]
