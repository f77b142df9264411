"""Distillation targets for every sub-word piece, not only the first one of each word (beyond the paper).

Eq. 9 distils the first sub-word of each word, so the student's outputs on continuation pieces are never trained.
`pipeline("ner", aggregation_strategy="simple")` classifies every piece, and with a tokenizer that is not word-aware
(XLM-R's Unigram, the offline default encoder's) the other strategies cannot rebuild words either. Untrained pieces
then come out as stray entities: "eröffnet|e" gives an entity "e", and "▁|," an entity ",".

With `kd_subword_targets="all"`, a continuation piece is distilled towards its word's teacher distribution with the
mass of each `B-X` moved to `I-X` (the piece continues the entity its word begins), so the B/I tags that `simple`
follows yield whole words and whole entities.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F

SUBWORD_TARGET_MODES = ("first", "all")


def begin_to_inside(id2label: Mapping[int, str]) -> torch.Tensor:
    """Label-id map `c -> c'` with every `B-X` sent to `I-X` (where `I-X` exists) and every other label to itself.

    Args:
        id2label: the model's label map, IOB2 tags.

    Returns:
        A `torch.LongTensor` of shape `(C,)`.
    """
    label2id = {str(label): int(i) for i, label in id2label.items()}
    mapping = list(range(len(label2id)))
    for label, i in label2id.items():
        if label.startswith("B-") and f"I-{label[2:]}" in label2id:
            mapping[i] = label2id[f"I-{label[2:]}"]
    return torch.tensor(mapping, dtype=torch.long)


def continuation_owner(first_subword: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """For each position, the position of the first sub-word of the word it belongs to; -1 where there is none.

    A first sub-word owns itself. A content position that is not a first sub-word belongs to the nearest first
    sub-word before it in its row. Positions outside `content` (special tokens, padding), and content positions
    before the row's first word, get -1.

    Args:
        first_subword (`torch.BoolTensor` of shape `(B, T)`): first sub-word of a word (`word_index >= 0`).
        content (`torch.BoolTensor` of shape `(B, T)`): real, non-special tokens.

    Returns:
        A `torch.LongTensor` of shape `(B, T)`.
    """
    positions = torch.arange(first_subword.shape[1], device=first_subword.device).expand_as(first_subword)
    marks = torch.where(first_subword, positions, torch.full_like(positions, -1))
    owner = marks.cummax(dim=1).values
    return torch.where(content | first_subword, owner, torch.full_like(owner, -1))


def spread_to_subwords(
    teacher_logits: torch.Tensor, owner: torch.Tensor, first_subword: torch.Tensor, inside_of: torch.Tensor
) -> torch.Tensor:
    r"""Teacher logits at every sub-word: first sub-words keep theirs; a continuation piece gets its word's.

    For a continuation piece `j` of the word whose first sub-word is `i`, with teacher distribution `p_i`:

        q_j[c'] = Σ_{c : inside_of[c] = c'} p_i[c]        (B-X's mass moves to I-X; O and I-X stay)

    returned as log-probabilities (a valid logit vector: `softmax(log q) = q`, also under a temperature).

    Args:
        teacher_logits (`torch.Tensor` of shape `(B, T, C)`): valid at the first sub-words.
        owner (`torch.LongTensor` of shape `(B, T)`): from [`continuation_owner`].
        first_subword (`torch.BoolTensor` of shape `(B, T)`).
        inside_of (`torch.LongTensor` of shape `(C,)`): from [`begin_to_inside`].

    Returns:
        A float32 (float64 stays float64) tensor of shape `(B, T, C)`; positions with `owner == -1` are copied from
        `teacher_logits` and mean nothing.
    """
    logits = teacher_logits.float() if teacher_logits.dtype in (torch.float16, torch.bfloat16) else teacher_logits
    num_labels = logits.shape[-1]
    index = owner.clamp(min=0).unsqueeze(-1).expand(-1, -1, num_labels)
    probs = F.softmax(logits.gather(1, index), dim=-1)
    moved = torch.zeros_like(probs).index_add_(-1, inside_of.to(probs.device), probs)
    continuation = (owner >= 0) & ~first_subword
    spread = torch.log(moved.clamp_min(torch.finfo(moved.dtype).tiny))
    return torch.where(continuation.unsqueeze(-1), spread, logits)


__all__ = ["SUBWORD_TARGET_MODES", "begin_to_inside", "continuation_owner", "spread_to_subwords"]
