"""Entity-level NER metrics (seqeval, conlleval-compatible) computed on word-level predictions.

Predictions are made per sub-word; a word's prediction is the one on its first sub-word. Features
carry `example_index` (row of the original dataset) and `word_index` (word position at first
sub-words, -1 elsewhere), so sentences split into windows are stitched back together, and a word that
tokenised to no piece at all is scored as a predicted `O`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from seqeval.metrics import classification_report

OUTSIDE = "O"


def word_level_predictions(
    predictions: np.ndarray,
    example_index: Sequence[int],
    word_index: Sequence[Sequence[int]],
    num_words: Sequence[int],
    id2label: dict[int, str],
) -> list[list[str]]:
    """Turn sub-word predictions into one tag per word of each original sentence.

    Args:
        predictions (`np.ndarray` of shape `(rows, T)` label ids or `(rows, T, num_labels)` logits): one row per
            feature (window), padded on the right.
        example_index (`Sequence[int]` of length `rows`): original sentence of each feature row.
        word_index (`Sequence[Sequence[int]]`): per row, the word position at first sub-words, -1 elsewhere.
        num_words (`Sequence[int]`): number of words of each original sentence.
        id2label (`dict[int, str]`): label names.

    Returns:
        One list of tags per original sentence; words never predicted are `O`.
    """
    if predictions.ndim == 3:
        predictions = predictions.argmax(-1)
    ids: list[list[int]] = [[-1] * n for n in num_words]
    scatter_to_words(predictions, example_index, word_index, ids)
    return [[id2label[int(i)] if i >= 0 else OUTSIDE for i in sentence] for sentence in ids]


def scatter_to_words(
    values: np.ndarray, example_index: Sequence[int], word_index: Sequence[Sequence[int]], out: list[list[Any]]
) -> None:
    """Write `values[row, position]` into `out[example][word]` at every first sub-word of every feature row.

    This is how windows are stitched back into sentences: each word is predicted in exactly one window (the
    others mark it -1), so the order of rows does not matter.
    """
    for row, (example, words) in enumerate(zip(example_index, word_index)):
        words = np.asarray(words)
        positions = np.nonzero(words >= 0)[0]
        target = out[example]
        for pos, word in zip(positions.tolist(), words[positions].tolist()):
            target[word] = values[row, pos].item()


def ner_scores(references: list[list[str]], predictions: list[list[str]]) -> dict[str, Any]:
    """Entity-level precision, recall and F1 (seqeval default mode = conlleval), overall and per type.

    Returns:
        `{"precision", "recall", "f1", "accuracy", "per_type": {TYPE: {"precision", "recall", "f1", "number"}}}`.
    """
    if len(references) != len(predictions):
        raise ValueError(f"{len(references)} reference sentences but {len(predictions)} predicted")
    report = classification_report(references, predictions, output_dict=True, zero_division=0)
    overall = report.get("micro avg", {"precision": 0.0, "recall": 0.0, "f1-score": 0.0})
    flat_ref = [t for s in references for t in s]
    flat_pred = [t for s in predictions for t in s]
    accuracy = float(np.mean([a == b for a, b in zip(flat_ref, flat_pred)])) if flat_ref else 0.0
    per_type = {
        name: {
            "precision": float(v["precision"]),
            "recall": float(v["recall"]),
            "f1": float(v["f1-score"]),
            "number": int(v["support"]),
        }
        for name, v in report.items()
        if name not in ("micro avg", "macro avg", "weighted avg")
    }
    return {
        "precision": float(overall["precision"]),
        "recall": float(overall["recall"]),
        "f1": float(overall["f1-score"]),
        "accuracy": accuracy,
        "per_type": per_type,
    }


def flatten_scores(scores: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """`{"f1": .., "per_type": {"PER": {"f1": ..}}}` → `{"f1": .., "PER_f1": ..}` (Trainer-loggable floats)."""
    flat = {f"{prefix}{k}": float(v) for k, v in scores.items() if k != "per_type"}
    for name, values in scores.get("per_type", {}).items():
        for key, value in values.items():
            flat[f"{prefix}{name}_{key}"] = float(value)
    return flat


def build_compute_metrics(
    features: Any, references: list[list[str]], id2label: dict[int, str]
) -> Callable[[Any], dict[str, float]]:
    """A `compute_metrics` for `Trainer` that scores word-level predictions against `references`.

    Args:
        features: the tokenised evaluation dataset (columns `example_index`, `word_index`), in the order the
            `Trainer` predicts it (evaluation is never shuffled).
        references: the gold tags of each original sentence.
        id2label: label names.
    """
    example_index = list(features["example_index"])
    word_index = list(features["word_index"])
    num_words = [len(r) for r in references]

    def compute_metrics(eval_prediction: Any) -> dict[str, float]:
        predictions = eval_prediction.predictions
        if isinstance(predictions, tuple):
            predictions = predictions[0]
        predicted = word_level_predictions(np.asarray(predictions), example_index, word_index, num_words, id2label)
        return flatten_scores(ner_scores(references, predicted))

    return compute_metrics


def argmax_logits(logits: Any, labels: Any) -> Any:
    """`preprocess_logits_for_metrics`: keep label ids, not logits, to save evaluation memory."""
    if isinstance(logits, tuple):
        logits = logits[0]
    return logits.argmax(dim=-1)


__all__ = ["argmax_logits", "build_compute_metrics", "flatten_scores", "ner_scores", "word_level_predictions"]
