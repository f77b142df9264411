"""Batching for distillation: dynamic padding of the model inputs, `word_index`, `labels` and cached teacher logits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from transformers import PreTrainedTokenizerBase

TEACHER_LOGITS_COLUMN = "teacher_logits"
MODEL_INPUT_COLUMNS = ("input_ids", "attention_mask", "token_type_ids")
IGNORE_INDEX = -100


def _pad_rows(rows: Sequence[Sequence[int]], length: int, value: int, side: str) -> torch.Tensor:
    out = torch.full((len(rows), length), value, dtype=torch.long)
    for i, row in enumerate(rows):
        row = torch.as_tensor(row, dtype=torch.long)
        if side == "left":
            out[i, length - row.numel() :] = row
        else:
            out[i, : row.numel()] = row
    return out


def scatter_teacher_logits(
    cached: Sequence[Any], positions: torch.Tensor, num_labels: int | None = None
) -> torch.Tensor:
    """Place each row's cached first-sub-word logits `(K_b, C)` at its positions of a `(B, T, C)` float32 tensor.

    Args:
        cached: per row, an array-like of shape `(K_b, C)` (an empty list when the row has no word).
        positions (`torch.BoolTensor` of shape `(B, T)`): the `K_b` distilled positions of each row, in order.
        num_labels: C, needed only when every row is empty.

    Returns:
        A `torch.FloatTensor` of shape `(B, T, C)`, zero off the distilled positions.
    """
    arrays = [np.asarray(row, dtype=np.float32) for row in cached]
    widths = {a.shape[1] for a in arrays if a.ndim == 2 and a.shape[0] > 0}
    if num_labels is not None:
        widths.add(num_labels)
    if len(widths) != 1:
        raise ValueError(f"cached teacher logits have inconsistent or unknown label dimensions {sorted(widths)}")
    width = widths.pop()
    out = torch.zeros((*positions.shape, width), dtype=torch.float32)
    for b, array in enumerate(arrays):
        array = array.reshape(-1, width)
        expected = int(positions[b].sum())
        if array.shape[0] != expected:
            raise ValueError(
                f"row {b}: {array.shape[0]} cached teacher rows but the feature has {expected} first sub-words; "
                "the cache was computed for other features, recompute it"
            )
        out[b, positions[b]] = torch.from_numpy(array)
    return out


@dataclass
class DataCollatorForDistillation:
    """Pads a list of tokenised features into a distillation batch.

    Keeps only what [`DistillationTrainer`] reads: `input_ids`, `attention_mask`, `token_type_ids` (padded by the
    tokenizer), `word_index` (padded with -1), `labels` (padded with -100, used only for evaluation metrics) and
    the cached `teacher_logits` (scattered to a `(B, T, C)` float32 tensor at the `word_index >= 0` positions).
    Every other column (`id`, `tokens`, `example_index`, `pair_id`, ...) is dropped.

    Args:
        tokenizer: the student's (= the teacher's) tokenizer.
        pad_to_multiple_of: pad the length to a multiple of this.
        num_labels: C; only needed to batch cached logits when every row of a batch has no word.
    """

    tokenizer: PreTrainedTokenizerBase
    pad_to_multiple_of: int | None = None
    num_labels: int | None = None

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        model_features = [{k: f[k] for k in MODEL_INPUT_COLUMNS if k in f} for f in features]
        batch = dict(
            self.tokenizer.pad(
                model_features, padding=True, pad_to_multiple_of=self.pad_to_multiple_of, return_tensors="pt"
            )
        )
        length = batch["input_ids"].shape[1]
        side = self.tokenizer.padding_side
        first = features[0]
        if "word_index" in first:
            batch["word_index"] = _pad_rows([f["word_index"] for f in features], length, -1, side)
        if "labels" in first:
            batch["labels"] = _pad_rows([f["labels"] for f in features], length, IGNORE_INDEX, side)
        if TEACHER_LOGITS_COLUMN in first:
            if "word_index" not in batch:
                raise ValueError(f"`{TEACHER_LOGITS_COLUMN}` needs the `word_index` column of tokenize_and_align")
            batch[TEACHER_LOGITS_COLUMN] = scatter_teacher_logits(
                [f[TEACHER_LOGITS_COLUMN] for f in features], batch["word_index"] >= 0, self.num_labels
            )
        return batch


__all__ = ["DataCollatorForDistillation", "TEACHER_LOGITS_COLUMN", "scatter_teacher_logits"]
