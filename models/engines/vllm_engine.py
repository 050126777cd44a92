"""The submission engine: vLLM, with tensor parallelism and AWQ on the 4x T4 target.

vLLM >= 0.6.3 (0.32 included) takes constraints as `allowed_token_ids` and `logit_bias`
in `SamplingParams`; its GPU runner refuses more than 1024 entries, so the engine states
that cap (constraints are built within it) and checks it. vLLM 0.5.x, the stack proven on T4, only takes per-request logits processors: the
same constraint then goes in as one additive row, built once per request.
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from models.engines import Generated, Request, trim_at_stop
from models.settings import VLLM_ARGS_ENV, VllmSettings
from shopbench import jsonsafe

TOKEN_LIST_CAP = 1024  # Model Runner V2's limit on allowed_token_ids and logit_bias entries
_SET_BY_THE_ENGINE = ("model", "tokenizer", "trust_remote_code")

_FIRST_VERSION_WITH_TOKEN_LISTS = (0, 6, 3)


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split(".")[:3]:
        digits = "".join(c for c in piece if c.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def llm_argument_names(vllm) -> set[str]:
    """What vllm.LLM accepts: its own parameters and the engine arguments it passes on."""
    import dataclasses
    import inspect

    return set(inspect.signature(vllm.LLM.__init__).parameters) | {f.name for f in dataclasses.fields(vllm.EngineArgs)}


def kv_cache_bytes(config: dict, dtype: str, tokens: int) -> int:
    """Bytes of a KV cache holding `tokens` tokens of a model with this config.json: keys
    and values of every layer's key-value heads, in the weights' dtype."""
    heads = config.get("num_key_value_heads") or config["num_attention_heads"]
    head_dim = config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]
    width = 4 if dtype == "float32" else 2
    return 2 * config["num_hidden_layers"] * heads * head_dim * width * tokens


def uses_token_lists(vllm_version: str) -> bool:
    return _version(vllm_version) >= _FIRST_VERSION_WITH_TOKEN_LISTS


def sampling_params(request: Request, token_lists: bool, seed: int):
    """SamplingParams for one request: greedy, the constraint in the form the version takes."""
    from vllm import SamplingParams

    constraint = request.constraint
    for name, entries in (("allowed_token_ids", constraint.allowed_token_ids), ("logit_bias", constraint.logit_bias)):
        if entries is not None and len(entries) > TOKEN_LIST_CAP:
            raise ValueError(f"{name} has {len(entries)} entries; vLLM accepts at most {TOKEN_LIST_CAP}")
    common = dict(
        temperature=0.0,  # greedy: see shopbench/decoding_config.py
        max_tokens=constraint.max_new_tokens,
        repetition_penalty=constraint.repetition_penalty,
        # The request's stop ids are the only stops, as in the transformers engine; they
        # hold the tokenizer's eos whenever a request should end there.
        ignore_eos=True,
        stop_token_ids=list(request.stop_token_ids),
        seed=seed,
    )
    if token_lists:
        return SamplingParams(
            **common,
            allowed_token_ids=list(constraint.allowed_token_ids) if constraint.allowed_token_ids is not None else None,
            logit_bias=dict(constraint.logit_bias) or None,
        )
    from models.engines.logits import RequestConstraintProcessor

    return SamplingParams(**common, logits_processors=[RequestConstraintProcessor(constraint)])


class VllmEngine:
    name = "vllm"
    token_list_cap = TOKEN_LIST_CAP

    def __init__(self, model_dir: str, settings: VllmSettings, overrides: dict | None = None):
        import vllm

        arguments = {**asdict(settings), **(overrides or {})}
        sequences = arguments.pop("kv_cache_sequences")
        unknown = sorted(set(overrides or {}) - llm_argument_names(vllm))
        if unknown:  # before any weights load
            raise ValueError(f"{VLLM_ARGS_ENV}: {', '.join(map(repr, unknown))} is not a vllm.LLM argument")
        fixed = sorted(set(overrides or {}) & set(_SET_BY_THE_ENGINE))
        if fixed:
            raise ValueError(f"{VLLM_ARGS_ENV}: {', '.join(map(repr, fixed))} is set by the engine "
                             "(the model folder is SHOPBENCH_MODEL_DIR)")
        if not isinstance(arguments["max_model_len"], int) or arguments["max_model_len"] < 1:
            raise ValueError(f"{VLLM_ARGS_ENV}: max_model_len must be a whole number of tokens (routing fits prompts to it)")
        if sequences and "kv_cache_memory_bytes" not in arguments:
            config = jsonsafe.load_file(Path(model_dir) / "config.json")
            arguments["kv_cache_memory_bytes"] = kv_cache_bytes(config, arguments["dtype"],
                                                                sequences * arguments["max_model_len"])
        self.settings = settings
        self.seed = arguments["seed"]
        self.token_lists = uses_token_lists(vllm.__version__)
        self.llm = vllm.LLM(model=model_dir, tokenizer=model_dir, trust_remote_code=False, **arguments)
        self.tokenizer = self.llm.get_tokenizer()
        self.max_model_len = arguments["max_model_len"]
        self.dtype = arguments["dtype"]

    def generate(self, requests: list[Request]) -> list[Generated]:
        params = [sampling_params(r, self.token_lists, self.seed) for r in requests]
        prompts = [{"prompt_token_ids": r.prompt_token_ids} for r in requests]
        outputs = self.llm.generate(prompts, params, use_tqdm=False)
        results = []
        for request, output in zip(requests, outputs):
            new = trim_at_stop(output.outputs[0].token_ids, set(request.stop_token_ids), request.constraint.max_new_tokens)
            results.append(Generated(new, self.tokenizer.decode(new, skip_special_tokens=True)))
        return results
