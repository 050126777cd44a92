"""The portable engine: transformers on CPU or GPU, greedy, batched with left padding.

It runs the embedded default model and is the reference the vLLM engine is checked
against: same prompts, same constraints (as one additive logits row per request), same
greedy tokens.

A batch of mixed lengths is never padded to its longest prompt where it can be helped:
- on CPU (`batching == "packed"`) the prompts are prefilled as one packed sequence without
  padding (`generate_packed`, with `cpu_attention.packed_prefill`), then decoded together;
- elsewhere (`"length groups"`) the batch is split into groups of similar length
  (`length_groups`), each decoded as its own padded batch.
A row's tokens do not depend on its neighbours (padding is masked, positions come from the
mask or restart per packed prompt), so the answers are those of one padded batch
(`"padded"`); the tests hold the three equal.
"""
from __future__ import annotations

import torch

from models.engines import Generated, Request, cpu_attention, padded_cache, trim_at_stop
from models.engines.logits import BatchConstraintProcessor

# What one decoding step costs, in prompt tokens of prefill: a step reads every weight once
# (memory bound) while a prompt token costs 2 x parameters FLOPs (compute bound). An estimate
# for the embedded model on a CPU (a step some tens of milliseconds, a prompt token 0.3 ms in
# bfloat16 and 1.5 ms in float32 at issue 25's rates); it moves only the speed, never an answer,
# and benchmarks/engine_speed.py measures both rates on the spot.
STEP_COST_IN_TOKENS = 64


def length_groups(lengths: list[int], new_tokens: list[int], step_cost: int = STEP_COST_IN_TOKENS) -> list[list[int]]:
    """Positions of the requests, split into groups of consecutive lengths (shortest first)
    that minimize the work: per group, its rows x its longest prompt (the padded prefill)
    plus `step_cost` x its most new tokens (the decoding steps). One group when padding
    costs less than the steps another group would add. Pure; O(n^2) for n requests."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    best = [0.0] + [float("inf")] * len(order)  # best[j]: cheapest split of order[:j]
    cut = [0] * (len(order) + 1)
    for end in range(1, len(order) + 1):
        steps = 0
        for start in range(end - 1, -1, -1):
            steps = max(steps, new_tokens[order[start]])
            cost = best[start] + (end - start) * lengths[order[end - 1]] + step_cost * steps
            if cost < best[end]:
                best[end], cut[end] = cost, start
    groups, end = [], len(order)
    while end:
        groups.append(order[cut[end]:end])
        end = cut[end]
    return groups[::-1]


def shared_length(sequences: list[list[int]]) -> int:
    """How many first tokens all of `sequences` have in common (0 for fewer than two). Pure."""
    if len(sequences) < 2:
        return 0
    shortest = min(len(s) for s in sequences)
    for position in range(shortest):
        token = sequences[0][position]
        if any(s[position] != token for s in sequences):
            return position
    return shortest


class TransformersEngine:
    name = "transformers"
    token_list_cap = None  # the logits processor takes any number of entries

    def __init__(self, model_dir: str, max_model_len: int, dtype: str = "float32", device: str | None = None):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.dtype = dtype

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
        # on CPU, SDPA except where its kernel is slow (models/engines/cpu_attention.py)
        attention = cpu_attention.register() if self.device == "cpu" else None
        self.model = AutoModelForCausalLM.from_pretrained(
            model_dir, dtype=getattr(torch, dtype), local_files_only=True, attn_implementation=attention
        ).to(self.device)
        self.model.eval()
        # How a batch of mixed lengths is prefilled (module docstring): packed where our CPU
        # attention reads the bounds of packed prompts (and no layer has a sliding window, which
        # the packed cache does not keep), else in length groups; "padded" (one padded batch)
        # is the reference the tests hold the other two to.
        layer_types = getattr(self.model.config, "layer_types", None) or ["full_attention"]
        full_attention = set(layer_types) == {"full_attention"}
        self.batching = "packed" if attention and full_attention else "length groups"
        self.max_model_len = min(max_model_len, self.model.config.max_position_embeddings)
        self.pad_token_id = self.tokenizer.pad_token_id
        if self.pad_token_id is None:
            self.pad_token_id = self.tokenizer.eos_token_id

    def generate(self, requests: list[Request]) -> list[Generated]:
        if self.batching == "packed":
            return self.generate_packed(requests)
        if self.batching == "padded":
            return self.generate_padded(requests)
        lengths = [len(r.prompt_token_ids) for r in requests]
        results: list = [None] * len(requests)
        for group in length_groups(lengths, [r.constraint.max_new_tokens for r in requests]):
            for position, generated in zip(group, self.generate_padded([requests[p] for p in group])):
                results[position] = generated
        return results

    @torch.inference_mode()
    def generate_packed(self, requests: list[Request]) -> list[Generated]:
        """Every prompt but its last token prefilled as one packed sequence (no padding; each
        prompt attends to itself alone, `cpu_attention.packed_prefill`), the beginning every
        prompt shares (the system prompt) once, before the rest, when that saves more than a
        forward pass costs. Their keys and values are then laid out left-padded as the cache of
        one padded batch (`padded_cache.lay_out`), which `generate_padded` decodes from each
        prompt's last token on. Positions count from 0 in every prompt, so a row's cache holds
        what its own prefill would have made."""
        from transformers import DynamicCache

        prefixes = [r.prompt_token_ids[:-1] for r in requests]
        lengths = [len(p) for p in prefixes]
        if max(lengths) == 0:
            return self.generate_padded(requests)
        shared = shared_length(prefixes)
        if shared * (len(prefixes) - 1) <= STEP_COST_IN_TOKENS:  # fewer tokens saved than a pass costs
            shared = 0
        packed = DynamicCache(config=self.model.config)
        if shared:
            self._prefill([prefixes[0][:shared]], 0, packed)
        self._prefill([p[shared:] for p in prefixes], shared, packed)
        # room for each prompt's last token and every new token (padded_cache.py)
        room = 1 + max(r.constraint.max_new_tokens for r in requests)
        return self.generate_padded(requests, padded_cache.lay_out(packed, lengths, shared, room, self.model.config))

    def _prefill(self, pieces: list[list[int]], first_position: int, cache) -> None:
        """One forward pass of `pieces` end to end, each at positions from `first_position`,
        each attending causally to itself and to what `cache` already holds."""
        starts = torch.tensor([0] + [len(p) for p in pieces]).cumsum(0)
        self.model.get_decoder()(
            input_ids=torch.tensor([[t for p in pieces for t in p]], dtype=torch.long, device=self.device),
            position_ids=torch.cat([torch.arange(first_position, first_position + len(p)) for p in pieces])
            .unsqueeze(0).to(self.device),
            attention_mask=cpu_attention.PACKED_MASK,
            past_key_values=cache, use_cache=True,
            cu_seq_lens_q=starts,  # the bounds cpu_attention.packed_prefill reads
        )

    @torch.inference_mode()
    def generate_padded(self, requests: list[Request], cache=None) -> list[Generated]:
        """One forward batch, every prompt left-padded to the longest; `cache`, when given,
        already holds all but the last column of the padded prompts."""
        from transformers import GenerationConfig, LogitsProcessorList

        longest = max(len(r.prompt_token_ids) for r in requests)
        input_ids = torch.full((len(requests), longest), self.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((len(requests), longest), dtype=torch.long)
        for row, request in enumerate(requests):
            ids = request.prompt_token_ids
            input_ids[row, longest - len(ids):] = torch.tensor(ids, dtype=torch.long)
            attention_mask[row, longest - len(ids):] = 1
        width = self.model.get_output_embeddings().weight.shape[0]
        processor = BatchConstraintProcessor([r.constraint for r in requests], width, self.device)
        stops = sorted({s for r in requests for s in r.stop_token_ids})
        penalties = {r.constraint.repetition_penalty for r in requests}
        if len(penalties) > 1:
            raise ValueError(f"one repetition penalty per batch, got {sorted(penalties)}")
        config = GenerationConfig(
            max_new_tokens=max(r.constraint.max_new_tokens for r in requests),
            do_sample=False,
            repetition_penalty=penalties.pop(),
            eos_token_id=stops,
            pad_token_id=self.pad_token_id,
        )
        output = self.model.generate(
            input_ids=input_ids.to(self.device),
            attention_mask=attention_mask.to(self.device),
            generation_config=config,
            logits_processor=LogitsProcessorList([processor]),
            past_key_values=cache,
        )
        results = []
        for row, request in enumerate(requests):
            new = trim_at_stop(output[row, longest:].tolist(), set(request.stop_token_ids), request.constraint.max_new_tokens)
            results.append(Generated(new, self.tokenizer.decode(new, skip_special_tokens=True)))
        return results
