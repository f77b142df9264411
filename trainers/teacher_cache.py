"""Compute the frozen teacher's outputs once and keep them beside the features (an Arrow column, never pickle).

The cache holds the teacher's **logits** at the first sub-word of every word (`word_index >= 0`), one float32
array of shape `(K, C)` per feature row, in the `teacher_logits` column of a `datasets.Dataset`. Logits rather than
probabilities, so the temperature can change without recomputing, KL gets exact log-probabilities and the hard
labels are their argmax; the trainer turns them into `softmax(logits / T)` exactly as it does on the fly, so the
two paths give the same loss. When the dataset is backed by files, `datasets` writes the column to an Arrow cache
file keyed by a fingerprint of the features *and* of the teacher's weights, so a rerun with the same teacher
reuses it and a different teacher recomputes it.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import torch
from datasets import Dataset, List, Value
from datasets.fingerprint import Hasher
from transformers import PreTrainedTokenizerBase

from .distillation_collator import TEACHER_LOGITS_COLUMN, DataCollatorForDistillation

TEACHER_INPUT_COLUMNS = ("input_ids", "attention_mask", "token_type_ids")


def model_fingerprint(model: torch.nn.Module) -> str:
    """SHA-256 of a model's class, parameter and buffer names, dtypes, shapes and values."""
    digest = hashlib.sha256(type(model).__name__.encode())
    for name, tensor in model.state_dict().items():
        cpu = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}|{cpu.dtype}|{tuple(cpu.shape)}".encode())
        digest.update(cpu.view(torch.uint8).numpy().tobytes() if cpu.numel() else b"")
    return digest.hexdigest()


@torch.no_grad()
def teacher_logits(teacher: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Run the frozen teacher on the model inputs of `batch` (no labels, no pair ids) → float32 `(B, T, C)`."""
    inputs = {k: batch[k] for k in TEACHER_INPUT_COLUMNS if batch.get(k) is not None}
    return teacher(**inputs).logits.detach().float()


def add_teacher_logits(
    dataset: Dataset,
    teacher: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    batch_size: int = 32,
    device: str | torch.device | None = None,
    column: str = TEACHER_LOGITS_COLUMN,
    autocast_dtype: torch.dtype | None = None,
) -> Dataset:
    """Add the teacher's first-sub-word logits to tokenised features, as an Arrow column.

    Args:
        dataset: features from `tokenize_and_align` (needs `input_ids` and `word_index`).
        teacher: the teacher model; run in evaluation mode (its previous mode is restored) under `no_grad`.
        tokenizer: pads the batches.
        batch_size: rows per teacher forward pass.
        device: where to run the teacher; defaults to the device of its parameters.
        column: name of the new column.
        autocast_dtype: run the teacher under autocast in this dtype (`torch.bfloat16` under `--bf16`, as the
            on-the-fly teacher runs in the trainer); `None`: in its own precision. Part of the cache key.

    Returns:
        `dataset` with `column` of type `list<list<float32>>`: row `r` holds `(K_r, C)` logits, `K_r` the number of
        `word_index >= 0` positions of row `r`, in position order.
    """
    for needed in ("input_ids", "word_index"):
        if needed not in dataset.column_names:
            raise ValueError(f"caching teacher logits needs a `{needed}` column (features of tokenize_and_align)")
    if device is None:
        device = next(teacher.parameters()).device
    collator = DataCollatorForDistillation(tokenizer)
    keep = [c for c in dataset.column_names if c in (*TEACHER_INPUT_COLUMNS, "word_index")]

    def compute(batch: dict[str, list[Any]]) -> dict[str, list[np.ndarray]]:
        rows = [dict(zip(keep, values)) for values in zip(*(batch[c] for c in keep))]
        inputs = {k: v.to(device) for k, v in collator(rows).items()}
        with torch.autocast(torch.device(device).type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
            logits = teacher_logits(teacher, inputs).cpu()
        positions = inputs["word_index"].cpu() >= 0
        return {column: [logits[b][positions[b]].numpy() for b in range(len(rows))]}

    features = dataset.features.copy()
    features[column] = List(List(Value("float32")))
    # v2: the teacher runs over the rows longest first (v1 files hold dataset order, so they must not be reused)
    key = [dataset._fingerprint, model_fingerprint(teacher), column, "teacher-logits-v2"]
    fingerprint = Hasher.hash(key + ([str(autocast_dtype)] if autocast_dtype is not None else []))
    # Batches of rows of similar length carry little padding (`sort_for_inference`); the rows go back to their
    # order afterwards, so the column lines up with `dataset` whatever the order the teacher saw them in.
    lengths = np.fromiter((len(ids) for ids in dataset["input_ids"]), dtype=np.int64, count=len(dataset))
    order = np.argsort(-lengths, kind="stable")
    was_training = teacher.training
    teacher.eval()
    try:
        cached = dataset.select(order).map(
            compute,
            batched=True,
            batch_size=batch_size,
            features=features,
            new_fingerprint=fingerprint,
            desc="Caching teacher logits",
        )
    finally:
        teacher.train(was_training)
    return cached.select(np.argsort(order)).flatten_indices(new_fingerprint=Hasher.hash([fingerprint, "in order"]))


def ensemble_log_probs(logits: list[np.ndarray]) -> np.ndarray:
    """Log of the mean of the members' softmax distributions: the ensemble's "logits" (softmax gives the mean back).

        log p̄ = log (1/J Σ_j softmax(s_j)),   computed as logsumexp_j(log_softmax(s_j)) − log J

    Args:
        logits: J arrays of shape `(K, C)`, one per teacher, over the same K words and C labels.

    Returns:
        A float32 array `(K, C)`; its softmax is the mean distribution, its argmax the ensemble's label.
    """
    stacked = torch.as_tensor(np.stack([np.asarray(x, dtype=np.float32) for x in logits]))
    log_probs = torch.log_softmax(stacked, dim=-1)
    return (torch.logsumexp(log_probs, dim=0) - np.log(len(logits))).numpy()


def add_ensemble_teacher_logits(
    dataset: Dataset,
    teachers: list[torch.nn.Module],
    tokenizer: PreTrainedTokenizerBase,
    batch_size: int = 32,
    device: str | torch.device | None = None,
    column: str = TEACHER_LOGITS_COLUMN,
    autocast_dtype: torch.dtype | None = None,
) -> Dataset:
    """`add_teacher_logits` for several teachers: the column holds `ensemble_log_probs` of their logits.

    One teacher gives exactly `add_teacher_logits`. Each member's logits are cached (and reused) on their own.
    """
    if len(teachers) == 1:
        return add_teacher_logits(dataset, teachers[0], tokenizer, batch_size, device, column, autocast_dtype)
    names = [f"_{column}_member_{j}" for j in range(len(teachers))]
    for name, teacher in zip(names, teachers):
        dataset = add_teacher_logits(dataset, teacher, tokenizer, batch_size, device, name, autocast_dtype)

    def combine(batch: dict[str, list[Any]]) -> dict[str, list[np.ndarray]]:
        rows = zip(*(batch[name] for name in names))
        return {column: [ensemble_log_probs([np.asarray(m, dtype=np.float32) for m in members]) for members in rows]}

    features = dataset.features.copy()
    features[column] = List(List(Value("float32")))
    return dataset.map(combine, batched=True, features=features, desc="Averaging the teachers").remove_columns(names)


__all__ = [
    "add_ensemble_teacher_logits",
    "add_teacher_logits",
    "ensemble_log_probs",
    "model_fingerprint",
    "teacher_logits",
]
