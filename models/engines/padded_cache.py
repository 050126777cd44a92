"""The cache a packed prefill hands to decoding (`TransformersEngine.generate_packed`).

A packed prefill leaves each layer's keys and values as one sequence, [1, kv_heads, tokens, dim]:
the tokens every prompt begins with once, then the rest of each prompt, end to end. Decoding
wants one left-padded row per prompt. `lay_out` writes them so, once, into buffers with room
for every token decoding will add, in float32:
- room reserved: transformers' own cache concatenates every step, copying the whole cache;
  here a step writes its one column and the layer hands out a view;
- float32: a half-precision decoding step computes in float32 (`cpu_attention.decode_step`)
  and would otherwise convert the whole cache every step. The conversion is exact and the step
  would make it anyway, so answers do not change.
Padding columns are zeros; the attention mask hides them.
"""
from __future__ import annotations

import functools

import torch


@functools.cache
def _reserved_layer():
    """The layer class, made on first use (transformers is imported only where used)."""
    from transformers.cache_utils import DynamicLayer

    class ReservedLayer(DynamicLayer):
        """A DynamicLayer over buffers with room reserved: `keys` and `values` are views of the
        columns written so far."""

        def __init__(self, keys: torch.Tensor, values: torch.Tensor, length: int):
            super().__init__()
            self.buffers = (keys, values)
            self.dtype, self.device = keys.dtype, keys.device
            self.length = length
            self.keys, self.values = keys[:, :, :length], values[:, :, :length]
            self.is_initialized = True

        def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
            end = self.length + key_states.shape[-2]
            keys, values = self.buffers
            if end > keys.shape[-2]:
                raise RuntimeError(f"the cache holds {keys.shape[-2]} positions, decoding asked for {end}")
            keys[:, :, self.length:end] = key_states
            values[:, :, self.length:end] = value_states
            self.length = end
            self.keys, self.values = keys[:, :, :end], values[:, :, :end]
            return self.keys, self.values

    return ReservedLayer


def lay_out(packed, lengths: list[int], shared: int, room: int, config):
    """A cache of one left-padded row per prompt from `packed`, a transformers cache of a
    packed prefill: the `shared` first tokens common to every prompt once, then each prompt's
    other tokens, end to end. Prompts are `lengths` tokens long (the shared ones included);
    `room` positions are left free after the longest for decoding."""
    from transformers import DynamicCache

    width, count = max(lengths), torch.tensor(lengths)
    rows = torch.repeat_interleave(torch.arange(len(lengths)), count)
    within = torch.arange(int(count.sum())) - (count.cumsum(0) - count)[rows]  # a token's place in its prompt
    own = count - shared
    source = torch.where(within < shared, within, shared + (own.cumsum(0) - own)[rows] + within - shared)
    columns = width - count[rows] + within
    cache = DynamicCache(config=config)
    layers = []
    for layer in packed.layers:
        kv_heads, dim = layer.keys.shape[1], layer.keys.shape[3]
        buffers = []
        for packed_states in (layer.keys, layer.values):
            buffer = torch.zeros(len(lengths), kv_heads, width + room, dim, dtype=torch.float32,
                                 device=packed_states.device)
            buffer[rows, :, columns] = packed_states[0][:, source].transpose(0, 1).float()  # [tokens, kv_heads, dim]
            buffers.append(buffer)
        layers.append(_reserved_layer()(*buffers, width))
    cache.layers = layers
    return cache
