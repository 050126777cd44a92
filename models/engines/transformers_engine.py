"""The portable engine: transformers on CPU or GPU, greedy, batched with left padding.

It runs the embedded default model and is the reference the vLLM engine is checked
against: same prompts, same constraints (as one additive logits row per request), same
greedy tokens.

A batch of mixed lengths is split into groups of similar length (`length_groups`), each
decoded as its own padded batch, so a short prompt is not padded to the longest one. A
row's tokens do not depend on its neighbours (left padding is masked and positions come
from the mask), so the answers are those of one padded batch; the tests hold the two equal.
"""
from __future__ import annotations

import torch

from models.engines import Generated, Request, cpu_attention, trim_at_stop
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


class TransformersEngine:
    name = "transformers"
    token_list_cap = None  # the logits processor takes any number of entries

    def __init__(self, model_dir: str, max_model_len: int, dtype: str = "float32", device: str | None = None,
                 group_by_length: bool = True):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.dtype = dtype
        self.group_by_length = group_by_length

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
        # on CPU, SDPA except where its kernel is slow (models/engines/cpu_attention.py)
        attention = cpu_attention.register() if self.device == "cpu" else None
        self.model = AutoModelForCausalLM.from_pretrained(
            model_dir, dtype=getattr(torch, dtype), local_files_only=True, attn_implementation=attention
        ).to(self.device)
        self.model.eval()
        self.max_model_len = min(max_model_len, self.model.config.max_position_embeddings)
        self.pad_token_id = self.tokenizer.pad_token_id
        if self.pad_token_id is None:
            self.pad_token_id = self.tokenizer.eos_token_id

    def generate(self, requests: list[Request]) -> list[Generated]:
        if not self.group_by_length:
            return self.generate_padded(requests)
        lengths = [len(r.prompt_token_ids) for r in requests]
        results: list = [None] * len(requests)
        for group in length_groups(lengths, [r.constraint.max_new_tokens for r in requests]):
            for position, generated in zip(group, self.generate_padded([requests[p] for p in group])):
                results[position] = generated
        return results

    @torch.inference_mode()
    def generate_padded(self, requests: list[Request]) -> list[Generated]:
        """One forward batch, every prompt left-padded to the longest."""
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
        )
        results = []
        for row, request in enumerate(requests):
            new = trim_at_stop(output[row, longest:].tolist(), set(request.stop_token_ids), request.constraint.max_new_tokens)
            results.append(Generated(new, self.tokenizer.decode(new, skip_special_tokens=True)))
        return results
