"""Sub-word tokenisation with word-level label alignment and word-boundary windows.

Each word's label goes on its first sub-word; other sub-words and special tokens get -100. A sentence
that does not fit in ``max_seq_length`` tokens is split into several rows ("windows") at word
boundaries, so no word is lost; a single word with more pieces than fit is truncated inside itself,
keeping its first sub-word. Words that tokenise to zero pieces (e.g. U+200B in WikiAnn zh with BERT
vocabularies) get no token; metrics predict ``O`` for them.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from datasets import Dataset, Features, List, Value
from datasets.fingerprint import Hasher

__all__ = ["TokenizationSummary", "sort_for_inference", "tokenize_and_align", "tokenize_and_align_with_summary"]

logger = logging.getLogger(__name__)

_VERSION = "concner-tokenize-and-align-1"
_WORDS, _ZERO, _TRUNCATED = "__concner_words", "__concner_zero_piece_words", "__concner_truncated_words"


@dataclass
class TokenizationSummary:
    """Counts describing one `tokenize_and_align` call.

    Attributes:
        num_examples: Input sentences.
        num_rows: Output rows (windows).
        num_words: Input words.
        num_zero_piece_words: Words that produced no sub-word piece (not labelled; predicted ``O``).
        num_windows_split: Sentences split into more than one window.
        num_truncated_words: Words with more pieces than fit, truncated inside themselves.
    """

    num_examples: int = 0
    num_rows: int = 0
    num_words: int = 0
    num_zero_piece_words: int = 0
    num_windows_split: int = 0
    num_truncated_words: int = 0

    def __str__(self) -> str:
        return (
            f"tokenized {self.num_examples} sentences ({self.num_words} words) into {self.num_rows} rows; "
            f"{self.num_windows_split} sentences split into windows, {self.num_zero_piece_words} zero-piece words, "
            f"{self.num_truncated_words} truncated words"
        )


def _tokenizer_fingerprint(tokenizer: Any) -> str:
    """A cheap, stable hash of everything in the tokenizer that changes its output."""
    backend = tokenizer.backend_tokenizer.to_str()
    return hashlib.sha256(f"{type(tokenizer).__name__}\n{backend}".encode()).hexdigest()


def _windows(pieces: list[int], budget: int, stride_words: int) -> list[tuple[int, int, int]]:
    """Split words into windows ``(context_start, start, end)`` of at most ``budget`` pieces.

    Words ``start..end-1`` are labelled in the window; ``context_start..start-1`` are up to ``stride_words``
    words of the previous window repeated as unlabelled left context. A word with more than ``budget``
    pieces gets a window of its own (and is truncated by the tokenizer).
    """
    windows, start, n = [], 0, len(pieces)
    while start < n:
        context = max(0, start - stride_words) if windows else start
        while context < start and sum(pieces[context:start]) + pieces[start] > budget:
            context += 1
        used, end = sum(pieces[context:start]), start
        while end < n and used + pieces[end] <= budget:
            used += pieces[end]
            end += 1
        if end == start:
            end = start + 1
        windows.append((context, start, end))
        start = end
    return windows


def _align(word_ids: list[int | None], label_ids: list[int] | None, first: int, lo: int, hi: int):
    """Labels and word indices for one row: the first piece of each word ``first + w`` in ``[lo, hi)``."""
    labels, word_index = [], []
    previous = None
    for w in word_ids:
        word = None if w is None else first + w
        if word is None or w == previous or not lo <= word < hi:
            labels.append(-100)
            word_index.append(-1)
        else:
            labels.append(label_ids[word] if label_ids is not None else -100)
            word_index.append(word)
        previous = w
    return labels, word_index


def _label_ids(tags: list[str], label2id: dict[str, int], example: int) -> list[int]:
    try:
        return [label2id[t] for t in tags]
    except KeyError as exc:
        raise ValueError(
            f"tag {exc.args[0]!r} of example {example} is not in label2id ({', '.join(label2id)}); "
            "build the label list over all splits or map the extra types to O"
        ) from None


def _tokenize_batch(
    batch: dict[str, list],
    indices: list[int],
    *,
    tokenizer: Any,
    label2id: dict[str, int] | None,
    max_length: int,
    stride_words: int,
    keys: list[str],
) -> dict[str, list]:
    """The batched map function (module level so ``num_proc`` can pickle it)."""
    sentences = batch["tokens"]
    with_labels = "labels" in keys
    with_pair_id = "pair_id" in keys
    budget = max_length - tokenizer.num_special_tokens_to_add(pair=False)
    model_keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in keys]
    encoded = tokenizer(sentences, is_split_into_words=True, truncation=False, verbose=False)
    out: dict[str, list] = {k: [] for k in keys}
    pending = []  # (output row, example position, context, start, end)
    for i, words in enumerate(sentences):
        example = indices[i]
        label_ids = _label_ids(batch["ner_tags"][i], label2id, example) if with_labels else None
        word_ids = encoded.word_ids(i)
        present = {w for w in word_ids if w is not None}
        zero_pieces = len(words) - len(present)
        if len(word_ids) <= max_length:
            labels, word_index = _align(word_ids, label_ids, 0, 0, len(words))
            for key in model_keys:
                out[key].append(encoded[key][i])
            rows = [(labels, word_index, 0)]
            pair_id = batch["pair_id"][i] if with_pair_id else -1
        else:
            pieces = [0] * len(words)
            for w in word_ids:
                if w is not None:
                    pieces[w] += 1
            rows = []
            for context, start, end in _windows(pieces, budget, stride_words):
                pending.append((len(out["example_index"]) + len(rows), i, context, start, end))
                truncated = int(end - start == 1 and pieces[start] > budget)
                rows.append((None, None, truncated))
                for key in model_keys:
                    out[key].append(None)
            pair_id = -1
        for row, (labels, word_index, truncated) in enumerate(rows):
            if with_labels:
                out["labels"].append(labels)
            out["word_index"].append(word_index)
            out["example_index"].append(example)
            if with_pair_id:
                out["pair_id"].append(pair_id)
            out[_WORDS].append(len(words) if row == 0 else 0)
            out[_ZERO].append(zero_pieces if row == 0 else 0)
            out[_TRUNCATED].append(truncated)
    if pending:
        windows = [sentences[i][context:end] for _, i, context, _, end in pending]
        encoded = tokenizer(windows, is_split_into_words=True, truncation=True, max_length=max_length, verbose=False)
        for j, (row, i, context, start, end) in enumerate(pending):
            label_ids = _label_ids(batch["ner_tags"][i], label2id, indices[i]) if with_labels else None
            labels, word_index = _align(encoded.word_ids(j), label_ids, context, start, end)
            for key in model_keys:
                out[key][row] = encoded[key][j]
            if with_labels:
                out["labels"][row] = labels
            out["word_index"][row] = word_index
    return out


def tokenize_and_align_with_summary(
    dataset: Dataset,
    tokenizer: Any,
    label2id: dict[str, int] | None,
    max_seq_length: int = 128,
    *,
    stride_words: int = 0,
    num_proc: int | None = None,
    load_from_cache_file: bool = True,
) -> tuple[Dataset, TokenizationSummary]:
    """`tokenize_and_align`, also returning its `TokenizationSummary`.

    Args:
        dataset: See `tokenize_and_align`.
        tokenizer: See `tokenize_and_align`.
        label2id: See `tokenize_and_align`.
        max_seq_length: See `tokenize_and_align`.
        stride_words: See `tokenize_and_align`.
        num_proc: See `tokenize_and_align`.
        load_from_cache_file: See `tokenize_and_align`.
    """
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError("tokenize_and_align needs a fast tokenizer (word_ids()); got a slow one")
    if stride_words < 0:
        raise ValueError(f"stride_words must be >= 0, got {stride_words}")
    if max_seq_length - tokenizer.num_special_tokens_to_add(pair=False) < 1:
        raise ValueError(f"max_seq_length={max_seq_length} leaves no room for a word after the special tokens")
    if "tokens" not in dataset.column_names:
        raise ValueError(f"dataset has no 'tokens' column (columns: {', '.join(dataset.column_names)})")
    with_labels = label2id is not None and "ner_tags" in dataset.column_names
    probe = tokenizer([["a"]], is_split_into_words=True)
    features = Features({"input_ids": List(Value("int32")), "attention_mask": List(Value("int8"))})
    if "token_type_ids" in probe:
        features["token_type_ids"] = List(Value("int8"))
    if with_labels:
        features["labels"] = List(Value("int64"))
    features["word_index"] = List(Value("int32"))
    features["example_index"] = Value("int64")
    if "pair_id" in dataset.column_names:
        features["pair_id"] = Value("int64")
    for key in (_WORDS, _ZERO, _TRUNCATED):
        features[key] = Value("int32")
    label_map = dict(label2id) if with_labels else None
    fingerprint = Hasher.hash(
        [
            _VERSION,
            dataset._fingerprint,
            _tokenizer_fingerprint(tokenizer),
            sorted(label_map.items()) if label_map else None,
            max_seq_length,
            stride_words,
        ]
    )
    mapped = dataset.map(
        _tokenize_batch,
        batched=True,
        with_indices=True,
        remove_columns=dataset.column_names,
        features=features,
        fn_kwargs={
            "tokenizer": tokenizer,
            "label2id": label_map,
            "max_length": max_seq_length,
            "stride_words": stride_words,
            "keys": list(features),
        },
        num_proc=num_proc,
        load_from_cache_file=load_from_cache_file,
        new_fingerprint=fingerprint,
        desc="Tokenizing and aligning labels",
    )
    table = mapped.data
    example_index = table.column("example_index").to_numpy()
    summary = TokenizationSummary(
        num_examples=len(dataset),
        num_rows=len(mapped),
        num_words=int(table.column(_WORDS).to_numpy().sum()),
        num_zero_piece_words=int(table.column(_ZERO).to_numpy().sum()),
        num_windows_split=int((np.bincount(example_index) > 1).sum()) if len(example_index) else 0,
        num_truncated_words=int(table.column(_TRUNCATED).to_numpy().sum()),
    )
    return mapped.remove_columns([_WORDS, _ZERO, _TRUNCATED]), summary


def tokenize_and_align(
    dataset: Dataset,
    tokenizer: Any,
    label2id: dict[str, int] | None,
    max_seq_length: int = 128,
    *,
    stride_words: int = 0,
    num_proc: int | None = None,
    load_from_cache_file: bool = True,
) -> Dataset:
    """Tokenise pre-split sentences and align word labels to sub-words (the model features).

    Output columns: ``input_ids``, ``attention_mask`` (and ``token_type_ids`` when the tokenizer makes them),
    ``labels`` (the word's label id on its first sub-word, -100 elsewhere; only when ``label2id`` is given
    and the dataset has ``ner_tags``), ``word_index`` (position of the word in the *original* sentence at
    first sub-words, -1 elsewhere), ``example_index`` (row of ``dataset``) and ``pair_id`` (copied when
    present; -1 for every window of a split sentence). Each word with at least one piece is labelled in
    exactly one row. The `TokenizationSummary` (zero-piece words, split sentences, truncated words) is
    logged at INFO level and attached to the result as ``result.tokenization_summary`` (an attribute of
    this object only, lost by later ``map``/``select``); use `tokenize_and_align_with_summary` to get it
    as a return value. Results are cached by ``datasets`` for file-backed datasets.

    Args:
        dataset: Columns ``tokens`` and optionally ``ner_tags`` (IOB2 strings) and ``pair_id``.
        tokenizer: A fast (Rust-backed) tokenizer.
        label2id: Tag -> id mapping, or ``None`` for unlabelled features.
        max_seq_length: Maximum tokens per row, special tokens included.
        stride_words: Words of the previous window repeated as unlabelled left context in the next window.
        num_proc: Processes for ``datasets.map``.
        load_from_cache_file: Reuse a cached result when one exists.

    Returns:
        The features dataset (one row per window).

    Raises:
        ValueError: For a slow tokenizer, a too small ``max_seq_length`` or a tag missing from ``label2id``.
    """
    features, summary = tokenize_and_align_with_summary(
        dataset,
        tokenizer,
        label2id,
        max_seq_length,
        stride_words=stride_words,
        num_proc=num_proc,
        load_from_cache_file=load_from_cache_file,
    )
    logger.info("%s", summary)
    features.tokenization_summary = summary
    return features


def sort_for_inference(features: Dataset) -> Dataset:
    """Order feature rows longest first, so that evaluation batches carry little padding.

    Scoring stitches predictions back to words through ``example_index``/``word_index``
    (`concner.metrics.scatter_to_words`), so it does not depend on the order of rows. `benchmarks/speed_report.py`
    times a test-set pass in both orders.
    """
    lengths = np.fromiter((len(row) for row in features["input_ids"]), dtype=np.int64, count=len(features))
    return features.select(np.argsort(-lengths, kind="stable").tolist())
