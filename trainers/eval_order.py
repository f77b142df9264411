"""Evaluation in dataset order, whatever the training sampling strategy."""

from __future__ import annotations

from typing import Any

from torch.utils.data import Sampler, SequentialSampler


class SequentialEvalMixin:
    """Keeps evaluation and prediction in dataset order.

    transformers' `Trainer` reorders evaluation batches by length under `--train_sampling_strategy
    group_by_length`; ConCNER's metrics map prediction rows back to sentences by position (`example_index`,
    `word_index`), so evaluation must stay sequential (`accelerate` still shards it across processes).
    """

    def _get_eval_sampler(self, eval_dataset: Any) -> Sampler | None:
        return SequentialSampler(eval_dataset) if eval_dataset is not None else None


__all__ = ["SequentialEvalMixin"]
