"""Knowledge-distillation objectives for the ConCNER student (Fu et al., "A Dual-Contrastive Framework for
Low-Resource Cross-Lingual Named Entity Recognition", eq. 9).

Every function is pure: it takes the student's logits, the frozen teacher's logits and a boolean mask of the
positions that are distilled, and returns a scalar. All three share the reduction of eq. 9: a per-position term is
averaged over the masked positions of each sentence (feature row), then over the sentences that have at least one
masked position. Softmax, log-softmax and the reductions run in float32 (float64 stays float64) whatever the input
dtype, and log-probabilities come from `log_softmax`, never `softmax(...).log()`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

KD_LOSS_TYPES = ("mse", "kl")
IGNORE_INDEX = -100


def _as_float(x: torch.Tensor) -> torch.Tensor:
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def _check_shapes(student_logits: torch.Tensor, teacher_logits: torch.Tensor, mask: torch.Tensor) -> None:
    if student_logits.dim() != 3 or student_logits.shape != teacher_logits.shape:
        raise ValueError(
            "expected student and teacher logits of equal shape (B, T, C), got "
            f"{tuple(student_logits.shape)} and {tuple(teacher_logits.shape)}"
        )
    if mask.shape != student_logits.shape[:2]:
        raise ValueError(f"expected mask of shape {tuple(student_logits.shape[:2])}, got {tuple(mask.shape)}")


def distilled_positions(
    word_index: torch.Tensor | None = None,
    labels: torch.Tensor | None = None,
    attention_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """The positions eq. 9 averages over: the first sub-word of every word.

    Taken from `word_index >= 0` (features of `tokenize_and_align`), else from `labels != -100`, else (features
    without word alignment) from `attention_mask`, i.e. every real token including special tokens.

    Args:
        word_index (`torch.LongTensor` of shape `(B, T)`, *optional*): word position at first sub-words, -1 elsewhere.
        labels (`torch.LongTensor` of shape `(B, T)`, *optional*): label ids, -100 off the first sub-words.
        attention_mask (`torch.LongTensor` of shape `(B, T)`, *optional*): 1 on real tokens.

    Returns:
        A `torch.BoolTensor` of shape `(B, T)`.
    """
    if word_index is not None:
        return word_index >= 0
    if labels is not None:
        return labels != IGNORE_INDEX
    if attention_mask is not None:
        return attention_mask.bool()
    raise ValueError("cannot tell which positions to distil: no `word_index`, `labels` or `attention_mask`")


def sentence_mean(per_position: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    r"""`1/|X| Σ_x 1/L_x Σ_{i∈x} v_i`: mean over the masked positions of each row, then over the rows.

    Rows without a masked position do not count in `|X|`. Unmasked entries are never read, so they may hold
    anything, including `nan` or `inf`.

    Args:
        per_position (`torch.Tensor` of shape `(B, T)`): the per-position term `v_i`.
        mask (`torch.BoolTensor` of shape `(B, T)`): positions that count.

    Returns:
        A scalar tensor; a zero that still carries a graph when no position is masked.
    """
    mask = mask.bool()
    values = torch.where(mask, per_position, torch.zeros((), dtype=per_position.dtype, device=per_position.device))
    counts = mask.sum(dim=1)
    per_row = values.sum(dim=1) / counts.clamp(min=1).to(values.dtype)
    rows = (counts > 0).sum().clamp(min=1).to(values.dtype)
    return per_row.sum() / rows


def distillation_mse_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, mask: torch.Tensor, temperature: float = 1.0
) -> torch.Tensor:
    r"""Teacher-student MSE on label distributions (paper eq. 9).

        L_KD = 1/|D_U| Σ_{x∈D_U} 1/L Σ_{i=1}^{L} ‖p̂_i − p_i‖²₂ ,   p̂_i = softmax(ŝ_i/T),  p_i = softmax(s_i/T)

    where `p̂_i` is the student's and `p_i` the teacher's distribution over the C labels at word `i` of sentence `x`.
    Exact choices, with the paper's reading of `(p̂_i − p_i)²` as a squared Euclidean norm:

    - the square is **summed over the labels** (squared L2 norm of the difference of two distributions, in
      `[0, 2]`), not averaged over them. (`torch.nn.MSELoss(reduction="mean")`, as in the TSL reference code,
      also divides by C; under Adam the constant factor only interacts with `eps`.)
    - the `L` positions of a sentence are the positions where `mask` is true: in ConCNER the **first sub-word of
      every word** (`word_index >= 0`), never special tokens, padding or continuation pieces;
    - the mean over words is taken **per sentence** (feature row), then over sentences (`1/|D_U|`, estimated by
      the mini-batch mean; rows without a masked position are skipped). A sentence longer than the maximum
      sequence length is split into windows, and each window counts as a sentence.
    - `T = 1` is the paper. Other temperatures soften both distributions; unlike KL, the MSE is not rescaled
      by `T²`.

    Args:
        student_logits (`torch.Tensor` of shape `(B, T, C)`): ŝ, requires grad.
        teacher_logits (`torch.Tensor` of shape `(B, T, C)`): s, from the frozen teacher.
        mask (`torch.BoolTensor` of shape `(B, T)`): positions distilled.
        temperature (`float`): softmax temperature `T` applied to both.

    Returns:
        A scalar tensor.
    """
    _check_shapes(student_logits, teacher_logits, mask)
    student = F.softmax(_as_float(student_logits) / temperature, dim=-1)
    teacher = F.softmax(_as_float(teacher_logits) / temperature, dim=-1).to(student.dtype)
    per_position = (student - teacher).pow(2).sum(dim=-1)
    return sentence_mean(per_position, mask)


def distillation_kl_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, mask: torch.Tensor, temperature: float = 1.0
) -> torch.Tensor:
    r"""Teacher-student KL divergence, the alternative to eq. 9 (Hinton et al., 2015), with eq. 9's reduction.

        L = 1/|D_U| Σ_{x∈D_U} 1/L Σ_{i=1}^{L} T² · KL(p_i ‖ p̂_i) ,   KL(p ‖ q) = Σ_c p_c (log p_c − log q_c)

    Positions and averaging are those of [`distillation_mse_loss`]; the `T²` factor keeps gradient magnitudes
    comparable across temperatures.

    Args:
        student_logits (`torch.Tensor` of shape `(B, T, C)`): ŝ, requires grad.
        teacher_logits (`torch.Tensor` of shape `(B, T, C)`): s, from the frozen teacher.
        mask (`torch.BoolTensor` of shape `(B, T)`): positions distilled.
        temperature (`float`): softmax temperature `T` applied to both.

    Returns:
        A scalar tensor.
    """
    _check_shapes(student_logits, teacher_logits, mask)
    student_log = F.log_softmax(_as_float(student_logits) / temperature, dim=-1)
    teacher_log = F.log_softmax(_as_float(teacher_logits) / temperature, dim=-1).to(student_log.dtype)
    per_position = (teacher_log.exp() * (teacher_log - student_log)).sum(dim=-1) * (temperature**2)
    return sentence_mean(per_position, mask)


def teacher_hard_label_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    r"""Cross-entropy on the teacher's argmax labels (an extension beyond the paper), with eq. 9's reduction.

        L_hard = 1/|D_U| Σ_{x∈D_U} 1/L Σ_{i=1}^{L} −log softmax(ŝ_i)[argmax_c s_{i,c}]

    No temperature: the hard label is the teacher's prediction and the student is scored at `T = 1`.

    Args:
        student_logits (`torch.Tensor` of shape `(B, T, C)`): ŝ, requires grad.
        teacher_logits (`torch.Tensor` of shape `(B, T, C)`): s, from the frozen teacher.
        mask (`torch.BoolTensor` of shape `(B, T)`): positions distilled.

    Returns:
        A scalar tensor.
    """
    _check_shapes(student_logits, teacher_logits, mask)
    student_log = F.log_softmax(_as_float(student_logits), dim=-1)
    targets = teacher_logits.argmax(dim=-1, keepdim=True)
    per_position = -student_log.gather(-1, targets).squeeze(-1)
    return sentence_mean(per_position, mask)


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    mask: torch.Tensor,
    loss_type: str = "mse",
    temperature: float = 1.0,
) -> torch.Tensor:
    """Dispatch to [`distillation_mse_loss`] (eq. 9, `"mse"`) or [`distillation_kl_loss`] (`"kl"`)."""
    if loss_type == "mse":
        return distillation_mse_loss(student_logits, teacher_logits, mask, temperature)
    if loss_type == "kl":
        return distillation_kl_loss(student_logits, teacher_logits, mask, temperature)
    raise ValueError(f"`loss_type` must be one of {KD_LOSS_TYPES}, got {loss_type!r}")


__all__ = [
    "KD_LOSS_TYPES",
    "distillation_kl_loss",
    "distillation_loss",
    "distillation_mse_loss",
    "distilled_positions",
    "sentence_mean",
    "teacher_hard_label_loss",
]
