import random

import pytest
import torch

from models.engines import Request
from models.engines.logits import BatchConstraintProcessor, RequestConstraintProcessor, additive_row
from models.engines.vllm_engine import sampling_params, uses_token_lists
from routing.classifier import classify
from decoding.constraints import Constraint
from shopbench import spec
from tests.conftest import tiny_shop_model


def dev_requests(model, records, step=2):
    return [
        (model.build_request(r["input_field"], classify(r["input_field"], r["is_multiple_choice"])), r)
        for r in records[::step]
    ]


@pytest.mark.engine
def test_transformers_and_vllm_agree_token_for_token(transformers_engine, vllm_engine, dev_records):
    model = tiny_shop_model(transformers_engine)
    requests = [request for request, _ in dev_requests(model, dev_records)]
    ours, theirs = transformers_engine.generate(requests), vllm_engine.generate(requests)
    assert [g.token_ids for g in ours] == [g.token_ids for g in theirs]
    assert any(len(g.token_ids) > 5 for g in ours)  # generation ran for real, not just stops


@pytest.mark.engine
@pytest.mark.parametrize("engine_name", ["transformers_engine", "vllm_engine"])
def test_constrained_outputs_use_only_allowed_ids(engine_name, request, dev_records):
    engine = request.getfixturevalue(engine_name)
    model = tiny_shop_model(engine)
    pairs = [(q, r) for q, r in dev_requests(model, dev_records, step=1) if q.constraint.allowed_token_ids]
    assert {r["task_type"] for _, r in pairs} == {spec.MULTIPLE_CHOICE, spec.RANKING, spec.RETRIEVAL}
    for generated, (req, _) in zip(engine.generate([q for q, _ in pairs]), pairs):
        assert set(generated.token_ids) <= set(req.constraint.allowed_token_ids)
        assert len(generated.token_ids) <= req.constraint.max_new_tokens


@pytest.mark.engine
@pytest.mark.parametrize("engine_name", ["transformers_engine", "vllm_engine"])
def test_ner_bias_pulls_generation_into_the_question(engine_name, request, dev_records):
    engine = request.getfixturevalue(engine_name)
    ner = [r["input_field"] for r in dev_records if r["task_type"] == spec.NER]
    route = classify(ner[0], False)

    def generated(**decoding):
        model = tiny_shop_model(engine, **decoding)
        requests = [model.build_request(q, route) for q in ner]
        return requests, engine.generate(requests)

    requests, strong = generated(prompt_token_bias=100.0)
    for req, out in zip(requests, strong):
        assert set(out.token_ids) <= {i for i, b in req.constraint.logit_bias.items() if b > 0}
    assert any(out.token_ids for out in strong)
    _, unbiased = generated(prompt_token_bias=0.0, none_penalty=0.0)
    inside = lambda outs: sum(set(o.token_ids) <= set(r.prompt_token_ids) for o, r in zip(outs, requests))
    assert inside(strong) > inside(unbiased)


def random_constraints(count: int, width: int, seed: int = 0) -> list[Constraint]:
    """Masks, biases, both and neither, over random ids of a row `width` wide."""
    rng = random.Random(seed)
    made = []
    for index in range(count):
        allowed = tuple(rng.sample(range(width), rng.randint(1, 40))) if index % 2 else None
        bias = {rng.randrange(width): rng.uniform(-100, 100) for _ in range(rng.randint(0, 60))} if index % 3 else {}
        made.append(Constraint(rng.randint(1, 50), allowed, bias))
    return made


@pytest.mark.engine
def test_vllm_05_processor_applies_the_same_row_as_the_batch_processor(transformers_engine, dev_records):
    model = tiny_shop_model(transformers_engine)
    width = 152064  # Qwen2's logits row is wider than its tokenizer
    constraints = [req.constraint for req, _ in dev_requests(model, dev_records, step=3)] + random_constraints(12, width)
    torch.manual_seed(0)
    logits = torch.randn(len(constraints), width)
    batch = BatchConstraintProcessor(constraints, width)(None, logits)
    for row, constraint in enumerate(constraints):
        single = RequestConstraintProcessor(constraint)([], logits[row])
        assert torch.equal(single, batch[row])
        # the modern vLLM semantics, spelled out: -inf outside allowed_token_ids, bias added
        expected = logits[row].clone()
        if constraint.allowed_token_ids is not None:
            keep = torch.zeros(width, dtype=torch.bool)
            keep[list(constraint.allowed_token_ids)] = True
            expected[~keep] = float("-inf")
        for token_id, bias in constraint.logit_bias.items():
            expected[token_id] += bias
        assert torch.equal(single, expected)


def test_05_processor_applies_the_same_row_at_every_step():
    processor = RequestConstraintProcessor(Constraint(3, (1, 2), {2: 1.5}))
    expected = torch.tensor([float("-inf"), 0.0, 1.5, float("-inf"), float("-inf")])
    assert torch.equal(processor([], torch.zeros(5)), expected)
    assert torch.equal(processor([7, 1], torch.zeros(5)), expected)  # later steps: same constraint
    assert torch.equal(processor([7], torch.ones(5)), expected + 1)
    assert additive_row(Constraint(3), 5) is None


def test_vllm_version_decides_the_constraint_form():
    assert not uses_token_lists("0.5.0.post1")
    assert not uses_token_lists("0.6.2")
    assert uses_token_lists("0.6.3") and uses_token_lists("0.32.0") and uses_token_lists("0.33.0rc1")


@pytest.mark.slow  # imports vLLM: over 5 s on its own
def test_vllm_sampling_params_carry_the_constraint_and_its_cap():
    request = Request([1, 2], Constraint(4, (11, 15), {}, repetition_penalty=1.25), (151645,))
    params = sampling_params(request, token_lists=True, seed=1)
    assert (params.max_tokens, params.temperature, params.repetition_penalty) == (4, 0.0, 1.25)
    assert set(params.allowed_token_ids) == {11, 15} and params.stop_token_ids == [151645] and params.ignore_eos
    too_many = Request([1], Constraint(4, None, {i: 1.0 for i in range(1025)}), (2,))
    with pytest.raises(ValueError, match="at most 1024"):
        sampling_params(too_many, token_lists=True, seed=1)


@pytest.mark.engine
@pytest.mark.parametrize("engine_name", ["transformers_engine", "vllm_engine"])
def test_the_configured_repetition_penalty_reaches_the_engine(engine_name, request, dev_records):
    engine = request.getfixturevalue(engine_name)
    generation = [r for r in dev_records if r["task_type"] == spec.GENERATION][:4]
    outputs = {}
    for penalty in (1.0, 0.3):  # below 1 favours tokens already seen, so greedy output must change
        model = tiny_shop_model(engine, repetition_penalty=penalty)
        requests = [req for req, _ in dev_requests(model, generation, step=1)]
        assert {r.constraint.repetition_penalty for r in requests} == {penalty}
        outputs[penalty] = [g.token_ids for g in engine.generate(requests)]
    assert outputs[1.0] != outputs[0.3]
