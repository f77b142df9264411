"""The two contrastive objectives of ConCNER (Fu et al., "A Dual-Contrastive Framework for Low-Resource
Cross-Lingual Named Entity Recognition").

Both are pure functions from tensors to a scalar. They normalise and reduce in float32 (float64 stays
float64) whatever the input dtype, and use `logsumexp`, never `exp(...).sum().log()`. LCL's options beyond the
paper (`O`-anchor sampling, class-balanced weights; all off by default) live in their own small functions.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

IGNORE_INDEX = -100
# Rows of the (M, M) similarity matrix materialised at once. Above this, LCL's denominator is computed
# chunk by chunk with activation checkpointing, so the extra memory stays O(chunk * M), not O(M^2).
_LCL_CHUNK = 1024
# Ways of weighting the anchors' L_i in LCL: the paper's plain mean, or inverse class frequency (beyond the paper).
LCL_CLASS_WEIGHTINGS = ("none", "balanced")


def _as_float(x: torch.Tensor) -> torch.Tensor:
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def _offdiag_logsumexp(z: torch.Tensor, anchor_idx: torch.Tensor, temperature: float) -> torch.Tensor:
    """`log Σ_{k≠i} exp(cos(z_i, z_k)/τ)` for each anchor `i` in `anchor_idx` (`z` already normalised)."""
    # In place on the fresh (chunk, M) product (autograd keeps none of these intermediates): one such matrix, not 3.
    sim = (z[anchor_idx] @ z.T).div_(temperature)
    idx = torch.arange(anchor_idx.shape[0], device=z.device)
    sim.index_put_((idx, anchor_idx), torch.tensor(float("-inf"), dtype=sim.dtype, device=sim.device))
    return torch.logsumexp(sim, dim=1)


def _anchor_logsumexp(z: torch.Tensor, anchor_idx: torch.Tensor, temperature: float) -> torch.Tensor:
    """Eq. 4's denominator for the anchors `z[anchor_idx]`, chunked (with checkpointing) above `_LCL_CHUNK` anchors.

    Only anchor rows of the similarity matrix are formed, `(chunk, M)` at a time, so the extra memory is
    O(chunk * M) whatever the options.
    """
    if anchor_idx.shape[0] <= _LCL_CHUNK:
        return _offdiag_logsumexp(z, anchor_idx, temperature)
    pieces = []
    for start in range(0, anchor_idx.shape[0], _LCL_CHUNK):
        chunk = anchor_idx[start : start + _LCL_CHUNK]
        if torch.is_grad_enabled() and z.requires_grad:
            # the rows z[chunk] are gathered inside the checkpoint: they are not kept between forward and backward
            lse = checkpoint(_offdiag_logsumexp, z, chunk, temperature, use_reentrant=False)
        else:
            lse = _offdiag_logsumexp(z, chunk, temperature)
        pieces.append(lse)
    return torch.cat(pieces)


def _positive_counts(y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int]:
    """`(inverse, |P(i)|, number of classes)`: each position's class index and its count of same-class others."""
    classes, inverse = torch.unique(y, return_inverse=True)
    num_pos = torch.bincount(inverse, minlength=classes.shape[0])[inverse] - 1
    return inverse, num_pos, classes.shape[0]


def sample_o_anchors(
    candidates: torch.Tensor,
    is_o: torch.Tensor,
    ratio: float,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Anchor mask keeping every entity anchor and at most `⌊ratio · |E|⌋` `O` anchors (beyond the paper).

    `E` = the candidate anchors (positions with at least one positive) whose class is not `O`. The kept `O`
    anchors are a uniformly random subset, without replacement, of the `O` candidates, of size
    `min(|O candidates|, ⌊ratio · |E|⌋)` (so `ratio = 0`, or a batch without entity anchors, keeps no `O`
    anchor), drawn with `torch.randperm(..., generator=generator)` on the CPU.

    Args:
        candidates (`torch.BoolTensor` of shape `(M,)`): positions that have at least one positive.
        is_o (`torch.BoolTensor` of shape `(M,)`): positions of the `O` class.
        ratio (`float`): `O` anchors kept per entity anchor, `>= 0`.
        generator (`torch.Generator`, *optional*): a CPU generator; `None` uses torch's default one.

    Returns:
        `torch.BoolTensor` of shape `(M,)`: the anchors.
    """
    entity = candidates & ~is_o
    o_idx = (candidates & is_o).nonzero().squeeze(1)
    # round() first so that e.g. 0.29 * 100 keeps 29, not 28 (floating point).
    n_keep = min(o_idx.shape[0], math.floor(round(ratio * int(entity.sum()), 6)))
    order = torch.randperm(o_idx.shape[0], generator=generator)[:n_keep].to(o_idx.device)
    return entity.index_fill(0, o_idx[order], True)


def balanced_anchor_weights(anchor_classes: torch.Tensor) -> torch.Tensor:
    r"""Inverse class frequency weights over the anchors, averaging to 1 (beyond the paper).

    With `|A|` anchors, `C` distinct classes among them and `n_c` anchors of class `c`:

        w_i = |A| / (C · n_{y_i})

    so `1/|A| Σ_i w_i = 1`, and `1/|A| Σ_i w_i L_i = 1/C Σ_c mean_{i: y_i = c} L_i` (the macro average over
    classes). When every class has as many anchors, all `w_i = 1`.

    Args:
        anchor_classes (`torch.LongTensor` of shape `(|A|,)`): class of each anchor.

    Returns:
        `torch.DoubleTensor` of shape `(|A|,)`.
    """
    _, inverse, counts = torch.unique(anchor_classes, return_inverse=True, return_counts=True)
    return anchor_classes.shape[0] / (counts.shape[0] * counts[inverse].to(torch.float64))


def label_contrastive_loss(
    features: torch.Tensor,
    labels: torch.Tensor,
    temperature: float = 0.1,
    *,
    o_label: int | None = None,
    o_sample_ratio: float | None = None,
    o_in_denominator: bool = True,
    class_weighting: str = "none",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Label contrastive loss, LCL (paper eq. 4 and 5), with optional extensions beyond the paper.

    For anchor `i` with positives `P(i)` = the other positions carrying the same label (eq. 4):

        L_i = 1/|P(i)| Σ_{p∈P(i)} -log( exp(cos(h_i,h_p)/τ) / Σ_{k≠i} exp(cos(h_i,h_k)/τ) )

    and LCL is the mean of `L_i` over the anchors `A`, the positions that have at least one positive
    (eq. 5). Positions labelled `-100` are ignored entirely: they are neither anchors nor in any denominator.
    The defaults are the paper's.

    Beyond the paper (all off by default):

    - `o_sample_ratio = r`: the anchors are every entity anchor (class `!= o_label`) and a random
      `min(|O candidates|, ⌊r · |entity anchors|⌋)` of the `O` ones (see [`sample_o_anchors`]); `r = 0` keeps
      no `O` anchor. Every position still serves as positive and in the denominators.
    - `o_in_denominator = False`: the `O` positions that are not anchors are dropped from the batch (neither
      positives nor in any denominator), so the kept `O` anchors contrast only with each other and the entity
      positions. A kept `O` anchor left without a positive is no anchor.
    - `class_weighting = "balanced"`: `LCL = 1/|A| Σ_{i∈A} w_i L_i` with `w_i = |A| / (C · n_{y_i})`, `C` the
      number of classes among the anchors and `n_c` the anchors of class `c` (see [`balanced_anchor_weights`]);
      the weights average to 1, so it equals the plain mean when all classes have as many anchors.

    The positive term is computed from per-label sums of the normalised features,
    `Σ_p cos(h_i,h_p) = z_i · (S_{y_i} − z_i)`, so only the anchors' rows of the `(M, M)` similarities are
    needed (in chunks of `_LCL_CHUNK` rows with checkpointing when there are more anchors).

    Args:
        features (`torch.Tensor` of shape `(M, H)`): token representations.
        labels (`torch.LongTensor` of shape `(M,)`): label (class) per position, `-100` to ignore.
        temperature (`float`): τ.
        o_label (`int`, *optional*): the class id of `O` in `labels`; needed by the two `O` options.
        o_sample_ratio (`float`, *optional*): `O` anchors kept per entity anchor; `None` keeps all (paper).
        o_in_denominator (`bool`, defaults to `True`): keep the non-anchor `O` positions as positives and in
            the denominators (paper).
        class_weighting (`str`, defaults to `"none"`): `"none"` (paper) or `"balanced"`.
        generator (`torch.Generator`, *optional*): CPU generator of the `O` sampling (`None`: torch's default).

    Returns:
        A scalar tensor. When there is no anchor it is a zero that still carries a graph.
    """
    if features.dim() != 2 or labels.dim() != 1 or features.shape[0] != labels.shape[0]:
        raise ValueError(
            f"expected features (M, H) and labels (M,), got {tuple(features.shape)} and {tuple(labels.shape)}"
        )
    if class_weighting not in LCL_CLASS_WEIGHTINGS:
        raise ValueError(f"class_weighting must be one of {LCL_CLASS_WEIGHTINGS}, got {class_weighting!r}")
    if o_sample_ratio is not None and not (math.isfinite(o_sample_ratio) and o_sample_ratio >= 0):
        raise ValueError(f"o_sample_ratio must be a finite number >= 0 or None, got {o_sample_ratio!r}")
    if o_label is None and (o_sample_ratio is not None or not o_in_denominator):
        raise ValueError("o_sample_ratio and o_in_denominator=False need o_label, the class id of O")
    keep = labels != IGNORE_INDEX
    z = F.normalize(_as_float(features[keep]), dim=-1)
    y = labels[keep]
    if z.shape[0] < 2:
        return features.sum() * 0.0
    inverse, num_pos, num_classes = _positive_counts(y)
    anchors = num_pos > 0
    if o_sample_ratio is not None:
        anchors = sample_o_anchors(anchors, y == o_label, o_sample_ratio, generator)
    if not o_in_denominator:
        stay = anchors | (y != o_label)
        z, y, anchors = z[stay], y[stay], anchors[stay]
        inverse, num_pos, num_classes = _positive_counts(y)
        anchors = anchors & (num_pos > 0)
    anchor_idx = anchors.nonzero().squeeze(1)
    if anchor_idx.numel() == 0:
        return features.sum() * 0.0
    class_sums = torch.zeros(num_classes, z.shape[1], dtype=z.dtype, device=z.device).index_add(0, inverse, z)
    za = z[anchor_idx]
    pos_sim = ((za * class_sums[inverse[anchor_idx]]).sum(-1) - (za * za).sum(-1)) / temperature
    lse = _anchor_logsumexp(z, anchor_idx, temperature)
    per_anchor = lse - pos_sim / num_pos[anchor_idx]
    if class_weighting == "balanced":
        return (balanced_anchor_weights(y[anchor_idx]).to(per_anchor.dtype) * per_anchor).mean()
    return per_anchor.mean()


def translation_contrastive_loss(source: torch.Tensor, target: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    r"""Translation contrastive loss, TCL (paper eq. 6 and 7).

    Over the 2N sentence vectors `r = [source; target]`, the positive of `r_i` is its translation
    partner `r_{i+}` (row i of `source` ↔ row i of `target`) and the denominator runs over the other
    2N-1 vectors (eq. 6):

        L_i = -log( exp(cos(r_i, r_{i+})/τ) / Σ_{k≠i} exp(cos(r_i, r_k)/τ) )

    TCL is the mean of `L_i` over the 2N anchors (eq. 7).

    Args:
        source (`torch.Tensor` of shape `(N, H)`): sentence representations of the source sentences.
        target (`torch.Tensor` of shape `(N, H)`): sentence representations of their translations.
        temperature (`float`): τ.

    Returns:
        A scalar tensor.
    """
    if source.dim() != 2 or source.shape != target.shape:
        raise ValueError(
            f"expected source and target of equal shape (N, H), got {tuple(source.shape)} and {tuple(target.shape)}"
        )
    n = source.shape[0]
    r = F.normalize(torch.cat([_as_float(source), _as_float(target)]), dim=-1)
    sim = r @ r.T / temperature
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=r.device), float("-inf"))
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(r.device)
    return F.cross_entropy(sim, partner)


__all__ = [
    "LCL_CLASS_WEIGHTINGS",
    "balanced_anchor_weights",
    "label_contrastive_loss",
    "sample_o_anchors",
    "translation_contrastive_loss",
]
