"""Attention for the transformers engine on CPU: torch's SDPA, except one decoding step in
half precision, and packed prefill.

torch's CPU flash-attention kernel is several times slower for a single query row in
bfloat16 than for the same work in float32 (measured: 3.2 ms against 0.5 ms for 8 rows of
300 cached tokens, one thread), and a decoding step is exactly that, in every layer. So a
step in bfloat16 or float16 is computed here as three small matrix products in float32 (the
kernel also accumulates in float32, and rounds the output to the input's type, as this does),
grouped by key-value head so that grouped-query attention copies nothing. Padded prefill
(more than one query row) and float32 steps stay with SDPA, whose kernels are fast there.

Packed prefill (`transformers_engine` on CPU): the prompts of a batch are one sequence of
their tokens end to end, without padding, and `cu_seq_lens_q` says where each begins. Each
prompt attends causally to itself alone, one SDPA call per prompt with `is_causal`, so no
work is spent on padding or on the masked upper triangle. A beginning every prompt shares (the
system prompt) can be prefilled once before, into the cache: each prompt then attends to it
too. Such a forward pass is given `PACKED_MASK` as its attention mask: transformers passes a 4D
mask through untouched (it would otherwise build a tokens x tokens one), and the marker says
the bounds replace it.

`IMPLEMENTATION` is registered with transformers' attention and mask interfaces under its own
name; registering adds a name and changes nothing for models that do not ask for it.
"""
from __future__ import annotations

import torch

IMPLEMENTATION = "shopbench_cpu"
HALF_PRECISIONS = (torch.bfloat16, torch.float16)
PACKED_MASK = torch.ones(1, 1, 0, 0, dtype=torch.bool)  # the marker of a packed prefill (module docstring)


def decode_step(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, mask: torch.Tensor | None,
                scaling: float) -> torch.Tensor:
    """Attention of one query row per sequence: query [batch, heads, 1, dim], key and value
    [batch, kv_heads, length, dim], mask broadcastable to [batch, 1, 1, length] (True: attend)
    or None. Returns [batch, 1, heads, dim] in the query's type, as transformers expects."""
    batch, heads, _, dim = query.shape
    kv_heads = key.shape[1]
    grouped = query.float().view(batch, kv_heads, heads // kv_heads, dim)
    scores = torch.matmul(grouped, key.float().transpose(2, 3)) * scaling  # [batch, kv_heads, group, length]
    if mask is not None:
        scores = scores.masked_fill(~mask.view(mask.shape[0], 1, 1, mask.shape[-1]), float("-inf"))
    output = torch.matmul(scores.softmax(dim=-1), value.float())  # [batch, kv_heads, group, dim]
    return output.view(batch, heads, 1, dim).transpose(1, 2).to(query.dtype)


def packed_prefill(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, starts: torch.Tensor,
                   scaling: float) -> torch.Tensor:
    """Causal attention of prompts packed end to end: query [1, heads, tokens, dim], `starts`
    their cumulative lengths (0, n1, n1+n2, ..., tokens). key and value [1, kv_heads, shared +
    tokens, dim]: when longer than the query, their first `shared` positions are a beginning
    common to every prompt, prefilled once before, which each prompt also attends to. Returns
    [1, tokens, heads, dim], as transformers expects."""
    output = query.new_empty(1, query.shape[2], query.shape[1], query.shape[3])
    shared = key.shape[2] - query.shape[2]
    bounds = starts.tolist()
    for start, end in zip(bounds, bounds[1:]):
        if end == start:
            continue
        rows, keys, values = query[:, :, start:end], key[:, :, start:end], value[:, :, start:end]
        if shared:
            own = slice(shared + start, shared + end)
            keys = torch.cat([key[:, :, :shared], key[:, :, own]], dim=2)
            values = torch.cat([value[:, :, :shared], value[:, :, own]], dim=2)
            # is_causal aligns the first query row with the first key; rows standing for the
            # shared part, dropped after, align this prompt's rows with its own keys (a mask
            # would do the same, but the kernel then no longer skips the upper triangle)
            rows = torch.cat([rows.new_zeros(1, rows.shape[1], shared, rows.shape[3]), rows], dim=2)
        attended = torch.nn.functional.scaled_dot_product_attention(
            rows, keys, values, is_causal=True, scale=scaling, enable_gqa=True)[:, :, shared:]
        output[0, start:end] = attended[0].transpose(0, 1)
    return output


def attention(module, query, key, value, attention_mask, scaling=None, **kwargs):
    """transformers' attention-function signature."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if attention_mask is PACKED_MASK:
        scale = scaling if scaling is not None else query.shape[-1] ** -0.5
        return packed_prefill(query, key, value, kwargs["cu_seq_lens_q"], scale), None
    one_step = query.shape[2] == 1 and query.dtype in HALF_PRECISIONS and query.device.type == "cpu"
    if not one_step or (attention_mask is not None and attention_mask.dtype != torch.bool):
        return sdpa_attention_forward(module, query, key, value, attention_mask, scaling=scaling, **kwargs)
    scale = scaling if scaling is not None else query.shape[-1] ** -0.5
    return decode_step(query, key, value, attention_mask, scale), None


def register() -> str:
    """Make `IMPLEMENTATION` known to transformers (idempotent); returns its name."""
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface, sdpa_mask

    if IMPLEMENTATION not in ALL_MASK_ATTENTION_FUNCTIONS:
        AttentionInterface.register(IMPLEMENTATION, attention)
        AttentionMaskInterface.register(IMPLEMENTATION, sdpa_mask)
    return IMPLEMENTATION
