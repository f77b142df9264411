"""Fixtures for the distillation tests: a tiny teacher, a differently initialised student, hand-built features."""

from __future__ import annotations

import random

import pytest

from tests.conftest import _WORDS, LABELS, tiny_bert_config


def make_features(tokenizer, sentences: list[list[str]], label_ids: list[list[int]] | None = None) -> list[dict]:
    """Hand-built model features (input_ids, attention_mask, token_type_ids, word_index[, labels])."""
    rows = []
    for i, words in enumerate(sentences):
        enc = tokenizer(words, is_split_into_words=True, truncation=True, max_length=64)
        word_ids = enc.word_ids()
        word_index, labels, previous = [], [], None
        for w in word_ids:
            first = w is not None and w != previous
            word_index.append(w if first else -1)
            if label_ids is not None:
                labels.append(label_ids[i][w] if first else -100)
            previous = w
        row = {k: list(v) for k, v in enc.items()}
        row["word_index"] = word_index
        row["example_index"] = i
        if label_ids is not None:
            row["labels"] = labels
        rows.append(row)
    return rows


def random_sentences(n: int, seed: int = 0, min_len: int = 3, max_len: int = 12) -> list[list[str]]:
    rng = random.Random(seed)
    return [[rng.choice(_WORDS) for _ in range(rng.randint(min_len, max_len))] for _ in range(n)]


def make_model(vocab_size: int, seed: int, labels: list[str] = LABELS, **kwargs):
    import torch
    from transformers import BertForTokenClassification

    torch.manual_seed(seed)
    return BertForTokenClassification(tiny_bert_config(vocab_size, labels, **kwargs))


def make_teacher(vocab_size: int, seed: int = 1, **kwargs):
    """A tiny random teacher with a sharp classifier, so its per-token distributions differ (a real target)."""
    import torch

    model = make_model(vocab_size, seed, **kwargs)
    with torch.no_grad():
        model.classifier.weight.normal_(0.0, 1.0)
    return model


@pytest.fixture
def teacher(tiny_tokenizer):
    return make_teacher(len(tiny_tokenizer))


@pytest.fixture
def student(tiny_tokenizer):
    return make_model(len(tiny_tokenizer), seed=2)


@pytest.fixture
def unlabelled(tiny_tokenizer):
    from datasets import Dataset

    return Dataset.from_list(make_features(tiny_tokenizer, random_sentences(48, seed=3)))
