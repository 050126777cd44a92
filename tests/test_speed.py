"""Speed without changed answers: precision by the CPU, packed prefill and length groups, the vLLM CPU cache,
the floor."""
import itertools
import random
import subprocess
import sys
from dataclasses import replace

import pytest

from models import settings as settings_module
from models.engines.transformers_engine import STEP_COST_IN_TOKENS, length_groups, shared_length
from models.engines.vllm_engine import kv_cache_bytes
from routing.classifier import classify
from shopbench import spec
from tests.conftest import ROOT, tiny_shop_model

from benchmarks import engine_speed  # noqa: E402

SMOLLM2 = {"hidden_size": 576, "intermediate_size": 1536, "num_attention_heads": 9, "num_key_value_heads": 3,
           "head_dim": 64, "num_hidden_layers": 30, "vocab_size": 49152, "tie_word_embeddings": True}
X86 = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse2 avx512f avx512_bf16 avx2\n\nprocessor\t: 1\n"
ARM = "processor\t: 0\nFeatures\t: fp asimd bf16 sve\nCPU implementer\t: 0x41\n"


def test_cpu_flags_are_read_from_cpuinfo_text():
    assert settings_module.cpu_flags(X86) == {"fpu", "sse2", "avx512f", "avx512_bf16", "avx2"}
    assert settings_module.cpu_flags(ARM) == {"fp", "asimd", "bf16", "sve"}
    assert settings_module.cpu_flags("processor : 0\nmodel name : x\n") == frozenset()
    assert settings_module.read_cpu_flags(ROOT / "no-such-cpuinfo") == frozenset()


def test_precision_follows_what_the_cpu_does_natively_unless_set():
    native = settings_module.cpu_flags(X86)
    assert settings_module.cpu_precision(native, bfloat16_when_native=True) == (
        "bfloat16", "bfloat16 (the CPU has avx512_bf16)")
    assert settings_module.cpu_precision(frozenset({"amx_bf16", "amx_tile"}), bfloat16_when_native=True)[0] == "bfloat16"
    dtype, why = settings_module.cpu_precision(native, bfloat16_when_native=False)
    assert dtype == "float32" and "the CPU has avx512_bf16; SHOPBENCH_PRECISION=bfloat16 uses it" in why
    assert settings_module.cpu_precision(native)[0] == "bfloat16"  # the measured decision (docs/speed.md)
    # Arm's "bf16" is not one of the flags bfloat16 is measured on: float32 there
    assert settings_module.cpu_precision(settings_module.cpu_flags(ARM)) == (
        "float32", "float32 (no native bfloat16 on this CPU)")
    assert settings_module.cpu_precision(native, "float32") == ("float32", "float32 (SHOPBENCH_PRECISION=float32)")
    assert settings_module.cpu_precision(frozenset(), "bfloat16")[0] == "bfloat16"


def test_precision_setting_reaches_both_engines_and_is_refused_when_wrong(monkeypatch, tmp_path):
    for name in ("SHOPBENCH_MODEL_DIR", "SHOPBENCH_ENGINE", "SHOPBENCH_PRECISION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(settings_module, "served_track", lambda: replace(spec.TRACKS[0], weights_dir=str(tmp_path / "p")))
    monkeypatch.setattr(settings_module, "gpu_capabilities", lambda: ())
    monkeypatch.setattr(settings_module, "read_cpu_flags", lambda: settings_module.cpu_flags(X86))
    monkeypatch.setattr(settings_module, "AUTO_BFLOAT16_ON_CPU", True)
    auto = settings_module.from_environment()
    assert (auto.transformers_dtype, auto.vllm.dtype) == ("bfloat16", "bfloat16") and "avx512_bf16" in auto.reason
    monkeypatch.setenv("SHOPBENCH_PRECISION", "float32")
    pinned = settings_module.from_environment()
    assert (pinned.transformers_dtype, pinned.vllm.dtype) == ("float32", "float32")
    assert "SHOPBENCH_PRECISION=float32" in pinned.reason
    monkeypatch.setattr(settings_module, "read_cpu_flags", lambda: frozenset())
    monkeypatch.delenv("SHOPBENCH_PRECISION")
    assert settings_module.from_environment().transformers_dtype == "float32"
    monkeypatch.setenv("SHOPBENCH_PRECISION", "fp16")
    with pytest.raises(ValueError, match="SHOPBENCH_PRECISION must be one of auto, float32, bfloat16, got 'fp16'"):
        settings_module.from_environment()
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "config.json").write_text("{}")
    monkeypatch.setenv("SHOPBENCH_PRECISION", "bfloat16")  # the AWQ production weights run in float16
    with pytest.raises(ValueError, match="SHOPBENCH_PRECISION=bfloat16: the production weights"):
        settings_module.from_environment()
    monkeypatch.setenv("SHOPBENCH_PRECISION", "auto")
    assert settings_module.from_environment().vllm == settings_module.VllmSettings()


def brute_force_cost(lengths, new_tokens, step_cost):
    """The cheapest split of the sorted requests into consecutive groups, by trying every one."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    best = float("inf")
    for cuts in itertools.product((False, True), repeat=len(order) - 1):
        groups, current = [], [order[0]]
        for position, cut in zip(order[1:], cuts):
            if cut:
                groups.append(current)
                current = []
            current.append(position)
        groups.append(current)
        best = min(best, sum(len(g) * max(lengths[i] for i in g) + step_cost * max(new_tokens[i] for i in g)
                             for g in groups))
    return best


def test_length_groups_split_mixed_lengths_at_least_cost():
    # equal lengths: one group; a long outlier: a group of its own
    assert length_groups([100] * 5, [8] * 5) == [[0, 1, 2, 3, 4]]
    assert length_groups([120, 2000, 100, 110], [8] * 4) == [[2, 3, 0], [1]]
    # padding cheaper than the decoding steps another group costs: kept together
    assert length_groups([100, 150], [64, 64], step_cost=64) == [[0, 1]]
    rng = random.Random(3)
    for _ in range(60):
        n = rng.randint(1, 8)
        lengths = [rng.randint(1, 1500) for _ in range(n)]
        new_tokens = [rng.choice([1, 8, 16, 100]) for _ in range(n)]
        groups = length_groups(lengths, new_tokens, step_cost=64)
        assert sorted(p for g in groups for p in g) == list(range(n))
        flat = [p for g in groups for p in g]
        assert [lengths[p] for p in flat] == sorted(lengths)  # consecutive in length
        cost = sum(len(g) * max(lengths[i] for i in g) + 64 * max(new_tokens[i] for i in g) for g in groups)
        assert cost == brute_force_cost(lengths, new_tokens, 64)


def test_vllm_cpu_kv_cache_is_sized_to_one_batch():
    # keys and values x 30 layers x 3 heads x 64 dims x 4 bytes = 46,080 bytes a token
    assert kv_cache_bytes(SMOLLM2, "float32", 1) == 46080
    assert kv_cache_bytes(SMOLLM2, "bfloat16", 10) == 230400
    cpu = settings_module.VLLM_ON_CPU
    assert cpu.enforce_eager and cpu.kv_cache_sequences == spec.MAX_BATCH_SIZE
    assert settings_module.VllmSettings().kv_cache_sequences is None  # production: vLLM sizes its own


def test_the_floor_counts_every_parameter_once():
    shapes = engine_speed.Shapes.of(SMOLLM2)
    assert shapes.parameters == 134_479_872  # 30 x 3,538,944 + the tied head's 28,311,552
    assert len(shapes.matrices) == 30 * 7 + 1
    # the figures: 19,517 prompt tokens = 5.25 TFLOP, 29 s at 180 GFLOP/s
    assert engine_speed.floor_seconds(19517, 0, shapes.parameters, 180e9, 0.0) == pytest.approx(29.16, abs=0.01)
    assert engine_speed.floor_seconds(0, 100, shapes.parameters, 1.0, 0.02) == pytest.approx(2.0)


# ---- real (tiny) models


def mixed_length_requests(model, records, task_types=(spec.RETRIEVAL, spec.GENERATION)):
    return [model.build_request(r["input_field"], classify(r["input_field"], r["is_multiple_choice"]))
            for r in records if r["task_type"] in task_types]


def test_shared_length_is_the_common_beginning():
    assert shared_length([[1, 2, 3], [1, 2, 4, 5], [1, 2]]) == 2
    assert shared_length([[1, 2], [1, 2]]) == 2
    assert shared_length([[1, 2], [3, 2]]) == 0
    assert shared_length([[1, 2, 3]]) == 0  # nothing to share with
    assert shared_length([[], [1]]) == 0


@pytest.mark.engine
def test_packed_prefill_and_length_groups_give_the_answers_of_one_padded_batch(transformers_engine, dev_records,
                                                                              monkeypatch):
    model = tiny_shop_model(transformers_engine)
    mixed = mixed_length_requests(model, dev_records)
    groups = length_groups([len(r.prompt_token_ids) for r in mixed], [r.constraint.max_new_tokens for r in mixed])
    assert len(groups) > 2  # the lengths really are mixed enough to split
    one_type = mixed_length_requests(model, dev_records, (spec.GENERATION,))[:8]
    prefixes = [list(r.prompt_token_ids[:-1]) for r in one_type]
    assert shared_length(prefixes) * (len(prefixes) - 1) > STEP_COST_IN_TOKENS  # its system prompt is prefilled once
    assert transformers_engine.batching == "packed"  # the CPU default
    for requests in (mixed, one_type):
        answers = {}
        for batching in ("packed", "length groups", "padded"):
            monkeypatch.setattr(transformers_engine, "batching", batching)
            answers[batching] = [g.token_ids for g in transformers_engine.generate(requests)]
        assert answers["packed"] == answers["padded"] and answers["length groups"] == answers["padded"]
        # answers long enough to tell a wrong cache from a right one
        assert sum(len(t) > 3 for t in answers["padded"]) > len(requests) // 2


@pytest.mark.engine
@pytest.mark.parametrize("task_types", [(spec.RETRIEVAL, spec.GENERATION), (spec.GENERATION,)])
def test_a_packed_prefill_reads_each_prompt_but_its_last_token_once(transformers_engine, dev_records, monkeypatch,
                                                                    task_types):
    """No padding goes through the model: the packed passes hold every prompt but its last
    token, end to end, the beginning all share (when worth a pass) once and first; decoding
    starts from the last tokens (one row each)."""
    from models.engines import cpu_attention

    seen = []
    real = cpu_attention.packed_prefill
    monkeypatch.setattr(cpu_attention, "packed_prefill", lambda q, k, v, starts, scale: seen.append(
        (q.shape[2], k.shape[2] - q.shape[2], starts.tolist())) or real(q, k, v, starts, scale))
    requests = mixed_length_requests(tiny_shop_model(transformers_engine), dev_records, task_types)[:5]
    transformers_engine.generate(requests)
    layers = transformers_engine.model.config.num_hidden_layers
    prefixes = [len(r.prompt_token_ids) - 1 for r in requests]
    shared = shared_length([list(r.prompt_token_ids[:-1]) for r in requests])
    if shared * (len(requests) - 1) <= STEP_COST_IN_TOKENS:
        assert seen == [(sum(prefixes), 0, list(itertools.accumulate(prefixes, initial=0)))] * layers
    else:
        own = [n - shared for n in prefixes]
        assert task_types == (spec.GENERATION,)  # the case this parameter is here for
        assert seen == ([(shared, 0, [0, shared])] * layers
                        + [(sum(own), shared, list(itertools.accumulate(own, initial=0)))] * layers)


@pytest.fixture(scope="module")
def bfloat16_engine(tiny_qwen2):
    from models.engines import registry

    return registry.build("transformers", str(tiny_qwen2), max_model_len=2048, dtype="bfloat16")


@pytest.mark.engine
def test_same_answers_whatever_the_load_and_the_precision_named(bfloat16_engine, dev_records):
    model = tiny_shop_model(bfloat16_engine)
    assert model.run_settings["precision"] == "bfloat16"
    requests = mixed_length_requests(model, dev_records)[::2]
    quiet = [g.token_ids for g in bfloat16_engine.generate(requests)]
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        loaded = [g.token_ids for g in bfloat16_engine.generate(requests)]
    finally:
        for process in busy:
            process.kill()
            process.wait()
    assert loaded == quiet and any(len(t) > 3 for t in quiet)


def test_the_report_names_the_precision():
    from shopbench.report import format_generation

    generation = {"questions": 1, "batches": 1, "seconds": 1.0, "seconds_per_question": 1.0,
                  "worst_batch_seconds_per_question": 1.0, "limit_seconds_per_question": 10,
                  "seconds_per_question_by_task_type": {"generation": 1.0}, "by_profile": {}, "time_guard": False,
                  "settings": {"model": "M with the transformers engine", "precision": "bfloat16"}}
    assert "Model: M with the transformers engine, bfloat16 weights" in format_generation(generation).splitlines()


@pytest.mark.parametrize("dtype_name", ["bfloat16", "float16"])
def test_a_half_precision_decoding_step_is_attention_to_the_unmasked_tokens(dtype_name):
    """cpu_attention.decode_step against attention computed in float64 over the tokens the mask
    keeps (grouped-query heads, left padding of different widths per row): within the
    rounding of the output type, and no further from it than torch's own SDPA kernel."""
    import torch

    from models.engines.cpu_attention import decode_step

    dtype = getattr(torch, dtype_name)
    generator = torch.Generator().manual_seed(0)
    batch, heads, kv_heads, length, dim = 4, 9, 3, 37, 64
    query, key, value = (torch.randn(batch, h, n, dim, generator=generator).to(dtype)
                         for h, n in ((heads, 1), (kv_heads, length), (kv_heads, length)))
    pads = [0, 5, 17, 36]
    mask = torch.ones(batch, 1, 1, length, dtype=torch.bool)
    for row, pad in enumerate(pads):
        mask[row, ..., :pad] = False
    ours = decode_step(query, key, value, mask, dim ** -0.5)
    assert ours.shape == (batch, 1, heads, dim) and ours.dtype == dtype
    for row, pad in enumerate(pads):
        q = query[row].double().view(kv_heads, heads // kv_heads, dim)
        k, v = key[row, :, pad:].double(), value[row, :, pad:].double()
        truth = ((q @ k.transpose(1, 2)) * dim ** -0.5).softmax(-1) @ v  # [kv_heads, group, dim]
        truth = truth.reshape(heads, dim)
        theirs = torch.nn.functional.scaled_dot_product_attention(
            query[row:row + 1], key[row:row + 1], value[row:row + 1], attn_mask=mask[row:row + 1], enable_gqa=True)[0, :, 0]
        error = (ours[row, 0].double() - truth).abs().max().item()
        assert error <= 2 * torch.finfo(dtype).eps  # one rounding of values below 1 in size
        assert error <= (theirs.double() - truth).abs().max().item() + 1e-12


@pytest.mark.parametrize("shared", [0, 6])
@pytest.mark.parametrize("dtype_name", ["float32", "bfloat16"])
def test_packed_prefill_is_each_prompts_causal_attention_to_itself(dtype_name, shared):
    """cpu_attention.packed_prefill against causal attention computed in float64 for each prompt
    alone (grouped-query heads; an empty prompt among them; with and without a shared beginning
    in the keys): within the rounding of the type."""
    import torch

    from models.engines.cpu_attention import packed_prefill

    dtype = getattr(torch, dtype_name)
    generator = torch.Generator().manual_seed(1)
    lengths, heads, kv_heads, dim = [5, 0, 1, 23], 9, 3, 64
    tokens = sum(lengths)
    query, key, value = (torch.randn(1, h, n, dim, generator=generator).to(dtype)
                         for h, n in ((heads, tokens), (kv_heads, shared + tokens), (kv_heads, shared + tokens)))
    starts = torch.tensor([0, *itertools.accumulate(lengths)])
    ours = packed_prefill(query, key, value, starts, dim ** -0.5)
    assert ours.shape == (1, tokens, heads, dim) and ours.dtype == dtype
    for start, end in zip(starts.tolist(), starts.tolist()[1:]):
        n = end - start
        if n == 0:
            continue
        q = query[0, :, start:end].double().view(kv_heads, heads // kv_heads, n, dim)
        own = list(range(shared)) + list(range(shared + start, shared + end))  # the shared beginning, then its own
        k, v = key[0][:, own].double(), value[0][:, own].double()
        scores = (q @ k.unsqueeze(1).transpose(2, 3)) * dim ** -0.5
        scores = scores.masked_fill(~torch.ones(n, shared + n, dtype=torch.bool).tril(shared), float("-inf"))
        truth = (scores.softmax(-1) @ v.unsqueeze(1)).reshape(heads, n, dim).transpose(0, 1)
        assert (ours[0, start:end].double() - truth).abs().max().item() <= 16 * torch.finfo(dtype).eps  # a few roundings


def test_the_cpu_attention_serves_half_precision_steps_and_leaves_the_rest_to_sdpa(monkeypatch):
    import torch

    from models.engines import cpu_attention

    calls = []
    monkeypatch.setattr(cpu_attention, "decode_step", lambda *a: calls.append("step") or a[0].transpose(1, 2))
    import transformers.integrations.sdpa_attention as sdpa

    monkeypatch.setattr(sdpa, "sdpa_attention_forward", lambda *a, **k: calls.append("sdpa") or (None, None))
    monkeypatch.setattr(cpu_attention, "packed_prefill", lambda *a: calls.append("packed"))
    module = torch.nn.Module()
    for dtype, rows, mask, expected in ((torch.bfloat16, 1, torch.ones(1, 1, 1, 5, dtype=torch.bool), "step"),
                                        (torch.bfloat16, 1, None, "step"),
                                        (torch.bfloat16, 3, None, "sdpa"),  # prefill
                                        (torch.float32, 1, None, "sdpa"),  # float32's kernel is fast
                                        (torch.bfloat16, 1, torch.zeros(1, 1, 1, 5), "sdpa")):  # an additive mask
        calls.clear()
        q, kv = torch.zeros(1, 3, rows, 8, dtype=dtype), torch.zeros(1, 3, 5, 8, dtype=dtype)
        cpu_attention.attention(module, q, kv, kv, mask, scaling=None)
        assert calls == [expected], (dtype, rows, mask)
    for dtype in (torch.float32, torch.bfloat16):  # the packed marker, whatever the type
        calls.clear()
        q = torch.zeros(1, 3, 5, 8, dtype=dtype)
        cpu_attention.attention(module, q, q, q, cpu_attention.PACKED_MASK, cu_seq_lens_q=torch.tensor([0, 5]))
        assert calls == ["packed"]


@pytest.mark.engine
def test_the_engine_decodes_with_the_cpu_attention_and_its_steps_are_the_decode_steps(bfloat16_engine, dev_records,
                                                                                      monkeypatch):
    from models.engines import cpu_attention

    assert bfloat16_engine.model.config._attn_implementation == cpu_attention.IMPLEMENTATION
    steps = []
    real = cpu_attention.decode_step
    monkeypatch.setattr(cpu_attention, "decode_step", lambda *a: steps.append(a[0].shape[0]) or real(*a))
    model = tiny_shop_model(bfloat16_engine)
    requests = mixed_length_requests(model, dev_records)[:4]
    generated = bfloat16_engine.generate(requests)
    layers = bfloat16_engine.model.config.num_hidden_layers
    assert steps and len(steps) % layers == 0  # every layer of every step after the prefill
    assert len(steps) // layers >= max(len(g.token_ids) for g in generated) - 1


@pytest.mark.engine
def test_the_benchmark_refuses_to_time_a_run_whose_engine_failed(transformers_engine, tiny_qwen2, monkeypatch):
    from models import embedded
    from models.engines import registry
    from shopbench import environment

    for name in (environment.ENGINE_ENV, environment.PRECISION_ENV):  # main_job exports both; undone after
        monkeypatch.setenv(name, "")
    monkeypatch.setattr(embedded, "safetensors_copy", lambda: tiny_qwen2)
    monkeypatch.setattr(registry, "from_settings", lambda settings: (transformers_engine, "tiny"))

    def broken(requests):
        raise RuntimeError("no memory left")

    monkeypatch.setattr(transformers_engine, "generate", broken)
    with pytest.raises(SystemExit, match=r"transformers float32: the engine failed on 96 of 96 questions"):
        engine_speed.main_job("transformers", "float32")


def test_a_jobs_result_is_its_marked_line_whatever_is_printed_after():
    printed = ("INFO starting\n" + engine_speed.JOB_RESULT + '{"overall": 0.25}\n'
               "(MainProcess pid=1) INFO [shutdown] MPClient: complete\n")
    assert engine_speed.job_result(printed, "the vllm float32 job") == {"overall": 0.25}
    with pytest.raises(SystemExit, match="the vllm float32 job printed no result line"):
        engine_speed.job_result("INFO only logs\n", "the vllm float32 job")
