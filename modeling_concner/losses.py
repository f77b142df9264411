"""The two contrastive objectives of ConCNER (Fu et al., "A Dual-Contrastive Framework for Low-Resource
Cross-Lingual Named Entity Recognition").

Both are pure functions from tensors to a scalar. They normalise and reduce in float32 (float64 stays
float64) whatever the input dtype, and use `logsumexp`, never `exp(...).sum().log()`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

IGNORE_INDEX = -100
# Rows of the (M, M) similarity matrix materialised at once. Above this, LCL's denominator is computed
# chunk by chunk with activation checkpointing, so the extra memory stays O(chunk * M), not O(M^2).
_LCL_CHUNK = 1024


def _as_float(x: torch.Tensor) -> torch.Tensor:
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def _offdiag_logsumexp(rows: torch.Tensor, keys: torch.Tensor, offset: int, temperature: float) -> torch.Tensor:
    """`log Σ_{k≠i} exp(cos(z_i, z_k)/τ)` for the anchors `rows` (already normalised), i = offset + row."""
    sim = rows @ keys.T / temperature
    idx = torch.arange(rows.shape[0], device=rows.device)
    sim = sim.index_put((idx, idx + offset), torch.tensor(float("-inf"), dtype=sim.dtype, device=sim.device))
    return torch.logsumexp(sim, dim=1)


def label_contrastive_loss(features: torch.Tensor, labels: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    r"""Label contrastive loss, LCL (paper eq. 4 and 5).

    For anchor `i` with positives `P(i)` = the other positions carrying the same label (eq. 4):

        L_i = 1/|P(i)| Σ_{p∈P(i)} -log( exp(cos(h_i,h_p)/τ) / Σ_{k≠i} exp(cos(h_i,h_k)/τ) )

    and LCL is the mean of `L_i` over the anchors that have at least one positive (eq. 5). Positions
    labelled `-100` are ignored entirely: they are neither anchors nor in any denominator.

    The positive term is computed from per-label sums of the normalised features,
    `Σ_p cos(h_i,h_p) = z_i · (S_{y_i} − z_i)`, so only the denominator needs the `(M, M)` similarities.

    Args:
        features (`torch.Tensor` of shape `(M, H)`): token representations.
        labels (`torch.LongTensor` of shape `(M,)`): label per position, `-100` to ignore.
        temperature (`float`): τ.

    Returns:
        A scalar tensor. When no anchor has a positive it is a zero that still carries a graph.
    """
    if features.dim() != 2 or labels.dim() != 1 or features.shape[0] != labels.shape[0]:
        raise ValueError(
            f"expected features (M, H) and labels (M,), got {tuple(features.shape)} and {tuple(labels.shape)}"
        )
    keep = labels != IGNORE_INDEX
    z = F.normalize(_as_float(features[keep]), dim=-1)
    y = labels[keep]
    if z.shape[0] < 2:
        return features.sum() * 0.0
    classes, inverse = torch.unique(y, return_inverse=True)
    class_sums = torch.zeros(classes.shape[0], z.shape[1], dtype=z.dtype, device=z.device).index_add(0, inverse, z)
    num_pos = torch.bincount(inverse, minlength=classes.shape[0])[inverse] - 1
    anchors = num_pos > 0
    if not bool(anchors.any()):
        return features.sum() * 0.0
    pos_sim = ((z * class_sums[inverse]).sum(-1) - (z * z).sum(-1)) / temperature
    lse = _anchor_logsumexp(z, anchors, temperature)
    per_anchor = lse - pos_sim[anchors] / num_pos[anchors]
    return per_anchor.mean()


def _anchor_logsumexp(z: torch.Tensor, anchors: torch.Tensor, temperature: float) -> torch.Tensor:
    """Eq. 4's denominator for every anchor, chunked (with checkpointing) when M is large."""
    m = z.shape[0]
    if m <= _LCL_CHUNK:
        sim = z @ z.T / temperature
        sim = sim.masked_fill(torch.eye(m, dtype=torch.bool, device=z.device), float("-inf"))
        return torch.logsumexp(sim[anchors], dim=1)
    pieces = []
    for start in range(0, m, _LCL_CHUNK):
        rows = z[start : start + _LCL_CHUNK]
        if torch.is_grad_enabled() and z.requires_grad:
            lse = checkpoint(_offdiag_logsumexp, rows, z, start, temperature, use_reentrant=False)
        else:
            lse = _offdiag_logsumexp(rows, z, start, temperature)
        pieces.append(lse)
    return torch.cat(pieces)[anchors]


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


__all__ = ["label_contrastive_loss", "translation_contrastive_loss"]
