"""Dropout with cheap random bits, for training on a CPU (`--dropout_kernel fast`).

On a CPU, `torch.nn.functional.dropout` draws one Bernoulli sample per element from torch's Mersenne Twister, and that
draw, not the multiplication, is its cost: 15% of an e5-small teacher step under bf16 autocast on this project's
2-core machine (README, "Speed"). Here one 64-bit draw gives the keep decisions of four elements, each from its own
16 bits, so the keep probability is `1 - p` rounded to a multiple of 1/65,536 (0.9 becomes 0.899994). Everything else
is dropout as torch defines it: zeros where dropped, the kept values scaled by `1 / (1 - p)` (the rounded p), the
identity in evaluation mode, gradients through the same mask, and the draws from the default generator, so
`set_seed` makes a run repeatable.

`use_fast_dropout(model)` puts it in every `nn.Dropout` of a model and, where the model runs transformers' eager
attention, in the dropout of the attention probabilities too (an attention function registered with
transformers' `AttentionInterface`). The weights, the config that is saved and the model's behaviour in evaluation
mode do not change.
"""

from __future__ import annotations

import math

import torch
from torch import nn

KEEP_BITS = 16
EAGER_FAST_DROPOUT = "eager_fast_dropout"  # the attention function's name in transformers' AttentionInterface


def keep_mask(shape: torch.Size | tuple[int, ...], p: float, device: torch.device | str | None = None) -> torch.Tensor:
    """A boolean mask of `shape` whose elements are True (kept) with probability `1 - p`, rounded to 16 bits.

    Args:
        shape: the mask's shape.
        p: the drop probability, in [0, 1].
        device: where the mask lives (default: the CPU).

    Returns:
        `torch.bool` tensor of `shape`. Each element is an independent draw: it compares its own 16 random bits,
        read as a signed integer, with a threshold.
    """
    count = math.prod(shape)
    threshold = round(p * 2**KEEP_BITS) - 2 ** (KEEP_BITS - 1)
    if threshold >= 2 ** (KEEP_BITS - 1):  # p rounds to 1: nothing is kept (no int16 reaches the threshold)
        return torch.zeros(shape, dtype=torch.bool, device=device)
    words = torch.empty((count + 3) // 4, dtype=torch.int64, device=device).random_(-(2**63), None)  # all 64 bits
    return (words.view(torch.int16)[:count] >= threshold).view(shape)


def rounded_drop_probability(p: float) -> float:
    """The drop probability that `keep_mask` realises for `p`: `p` rounded to a multiple of 1/65,536."""
    return round(p * 2**KEEP_BITS) / 2**KEEP_BITS


def fast_dropout(inputs: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """`torch.nn.functional.dropout(inputs, p, training)` with the keep decisions drawn by `keep_mask`.

    Args:
        inputs: any tensor.
        p: the drop probability, in [0, 1].
        training: apply dropout (False: return `inputs` unchanged).
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return inputs
    rounded = rounded_drop_probability(p)
    if rounded == 1.0:
        return inputs * 0.0
    scale = keep_mask(inputs.shape, p, inputs.device).to(inputs.dtype).mul_(1.0 / (1.0 - rounded))
    return inputs * scale


class FastDropout(nn.Dropout):
    """`nn.Dropout` drawing its mask with `keep_mask` (same `p`, same evaluation-mode identity)."""

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.inplace:
            raise ValueError("FastDropout does not support inplace=True")
        return fast_dropout(inputs, self.p, self.training)


def eager_attention_fast_dropout(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    **kwargs,
) -> tuple[torch.Tensor, torch.Tensor]:
    """transformers' BERT `eager_attention_forward`, with `fast_dropout` on the attention probabilities.

    Args:
        module: the attention module (its `training` flag switches dropout).
        query, key, value: `(batch, heads, length, head_dim)`.
        attention_mask: additive mask broadcastable to `(batch, heads, length, length)`, or None.
        scaling: factor of the scores (default: `head_dim ** -0.5`).
        dropout: drop probability of the attention probabilities.

    Returns:
        The attention output `(batch, length, heads, head_dim)` and the attention probabilities.
    """
    if scaling is None:
        scaling = query.size(-1) ** -0.5
    weights = torch.matmul(query, key.transpose(2, 3)) * scaling
    if attention_mask is not None:
        weights = weights + attention_mask
    weights = nn.functional.softmax(weights, dim=-1)
    weights = fast_dropout(weights, dropout, module.training)
    output = torch.matmul(weights, value).transpose(1, 2).contiguous()
    return output, weights


def register_attention() -> None:
    """Make `EAGER_FAST_DROPOUT` a name transformers' models accept as an attention implementation.

    The attention function and its mask builder are registered together: a name with no mask builder would get no
    attention mask at all (padding attended to).
    """
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, eager_mask

    AttentionInterface.register(EAGER_FAST_DROPOUT, eager_attention_fast_dropout)
    AttentionMaskInterface.register(EAGER_FAST_DROPOUT, eager_mask)


def use_fast_dropout(model: nn.Module) -> int:
    """Swap every `nn.Dropout` of `model` for a `FastDropout` with the same `p`; under eager attention, also the
    attention-probability dropout. Returns the number of dropout modules swapped.

    The attention implementation changes only where it is `eager`: SDPA and the other kernels drop out inside
    their own code. The saved config is unchanged (transformers does not save the attention implementation).
    """
    swapped = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.Dropout:
                setattr(parent, name, FastDropout(child.p).train(child.training))
                swapped += 1
    config = getattr(model, "config", None)
    if config is not None and getattr(config, "_attn_implementation", None) == "eager":
        register_attention()
        model.set_attn_implementation(EAGER_FAST_DROPOUT)
    return swapped


__all__ = [
    "EAGER_FAST_DROPOUT",
    "FastDropout",
    "eager_attention_fast_dropout",
    "fast_dropout",
    "keep_mask",
    "register_attention",
    "rounded_drop_probability",
    "use_fast_dropout",
]
