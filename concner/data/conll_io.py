"""Write datasets as CoNLL-style text, plain text or JSON Lines, atomically (temp file + rename, `io_utils`)."""

from __future__ import annotations

import json
import os

from datasets import Dataset

from concner.io_utils import atomic_write

__all__ = ["atomic_write", "write_conll", "write_jsonl", "write_text"]


def _check_token(token: str, row: int) -> None:
    if not token or any(c.isspace() for c in token):
        raise ValueError(f"row {row}: token {token!r} is empty or contains whitespace; it cannot be written as CoNLL")


def write_conll(dataset: Dataset, path: str | os.PathLike) -> None:
    """Write ``token TAG`` lines (or just ``token`` for unlabelled data), a blank line after each sentence.

    Sentence ids are not written (CoNLL text has none; `load_ner_dataset` numbers sentences from 0), and
    empty sentences are skipped since CoNLL text cannot represent them: write JSON Lines to keep either.

    Args:
        dataset: Columns ``tokens`` and optionally ``ner_tags``.
        path: Destination file.

    Raises:
        ValueError: If a token is empty or contains whitespace, or tokens and tags differ in length.
    """
    labelled = "ner_tags" in dataset.column_names
    tokens = dataset["tokens"][:]
    tags = dataset["ner_tags"][:] if labelled else None
    with atomic_write(path) as stream:
        for row, words in enumerate(tokens):
            if not words:
                continue
            if labelled and len(tags[row]) != len(words):
                raise ValueError(f"row {row}: {len(words)} tokens but {len(tags[row])} ner_tags")
            lines = []
            for position, word in enumerate(words):
                _check_token(word, row)
                lines.append(f"{word} {tags[row][position]}" if labelled else word)
            stream.write("\n".join(lines) + "\n\n")


def write_text(dataset: Dataset, path: str | os.PathLike) -> None:
    """Write one sentence per line, tokens separated by single spaces (the plain text `load_text_dataset` reads).

    Empty sentences are skipped (plain text cannot represent them); labels, if any, are not written.

    Args:
        dataset: Column ``tokens``.
        path: Destination file.

    Raises:
        ValueError: If a token is empty or contains whitespace.
    """
    with atomic_write(path) as stream:
        for row, words in enumerate(dataset["tokens"][:]):
            if not words:
                continue
            for word in words:
                _check_token(word, row)
            stream.write(" ".join(words) + "\n")


def write_jsonl(dataset: Dataset, path: str | os.PathLike) -> None:
    """Write one JSON object per row with all columns (``id``, ``tokens``, ``ner_tags``, ...).

    Args:
        dataset: Any dataset with JSON-serialisable columns.
        path: Destination file.
    """
    with atomic_write(path) as stream:
        for record in dataset:
            stream.write(json.dumps(record, ensure_ascii=False) + "\n")
