"""The portable engine: transformers on CPU or GPU, greedy, batched with left padding.

It runs the embedded default model and is the reference the vLLM engine is checked
against: same prompts, same constraints (as one additive logits row per request), same
greedy tokens.
"""
from __future__ import annotations

import torch

from models.engines import Generated, Request, trim_at_stop
from models.engines.logits import BatchConstraintProcessor


class TransformersEngine:
    name = "transformers"
    token_list_cap = None  # the logits processor takes any number of entries

    def __init__(self, model_dir: str, max_model_len: int, dtype: str = "float32", device: str | None = None):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
        self.model = AutoModelForCausalLM.from_pretrained(
            model_dir, dtype=getattr(torch, dtype), local_files_only=True
        ).to(self.device)
        self.model.eval()
        self.max_model_len = min(max_model_len, self.model.config.max_position_embeddings)
        self.pad_token_id = self.tokenizer.pad_token_id
        if self.pad_token_id is None:
            self.pad_token_id = self.tokenizer.eos_token_id

    @torch.inference_mode()
    def generate(self, requests: list[Request]) -> list[Generated]:
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
