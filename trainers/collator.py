"""Collator for the ConCNER teacher: dynamic padding of the model inputs and labels, plus the pair ids."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import DataCollatorForTokenClassification, PreTrainedTokenizerBase

MODEL_INPUT_COLUMNS = ("input_ids", "attention_mask", "token_type_ids")
LABEL_COLUMN = "labels"
PAIR_COLUMN = "pair_id"


@dataclass
class DataCollatorForConCNER:
    """Pads a list of features into a batch for [`ConCNERForTokenClassification`].

    Keeps only what the model takes: `input_ids`, `attention_mask`, `token_type_ids` (padded with the tokenizer),
    `labels` (padded with `label_pad_token_id`) and `pair_ids` `(B,)` built from each feature's `pair_id` (-1 when a
    feature has none). Everything else (`word_index`, `example_index`, `id`, `tokens`, ...) is dropped, so the
    collator works with `remove_unused_columns=False`, which the paired training data needs.

    Args:
        tokenizer (`PreTrainedTokenizerBase`): the tokenizer that made the features (its pad token and side are used).
        padding (`bool` or `str`, defaults to `True`): padding strategy of `tokenizer.pad` (`True` = longest).
        max_length (`int`, *optional*): maximum padded length (with `padding="max_length"`).
        pad_to_multiple_of (`int`, *optional*): pad the length to a multiple of this.
        label_pad_token_id (`int`, defaults to -100): label value of padded positions.
        model_input_names (`Sequence[str]`): feature columns passed through to the model besides labels.
    """

    tokenizer: PreTrainedTokenizerBase
    padding: bool | str = True
    max_length: int | None = None
    pad_to_multiple_of: int | None = None
    label_pad_token_id: int = -100
    model_input_names: Sequence[str] = field(default=MODEL_INPUT_COLUMNS)

    def __post_init__(self) -> None:
        self._token_collator = DataCollatorForTokenClassification(
            tokenizer=self.tokenizer,
            padding=self.padding,
            max_length=self.max_length,
            pad_to_multiple_of=self.pad_to_multiple_of,
            label_pad_token_id=self.label_pad_token_id,
            return_tensors="pt",
        )

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        """Collate `features` (dicts of lists) into a dict of tensors.

        Args:
            features: feature rows as produced by `tokenize_and_align`.

        Returns:
            `input_ids`, `attention_mask` (and `token_type_ids`) `(B, T)`, `labels` `(B, T)` when the features have
            labels, and `pair_ids` `(B,)` when any feature has a `pair_id`.
        """
        if not features:
            raise ValueError("cannot collate an empty list of features")
        keep = (*self.model_input_names, LABEL_COLUMN)
        model_features = [{k: v for k, v in f.items() if k in keep} for f in features]
        batch = dict(self._token_collator(model_features))
        if any(PAIR_COLUMN in f for f in features):
            batch["pair_ids"] = torch.tensor([int(f.get(PAIR_COLUMN, -1)) for f in features], dtype=torch.long)
        return batch


__all__ = ["DataCollatorForConCNER"]
