"""DataCollatorForConCNER: dynamic padding, labels padded with -100, pair ids, extra columns dropped."""

from __future__ import annotations

import torch
from datasets import Dataset

from trainers.collator import DataCollatorForConCNER


def _features(tokenizer):
    rows = [
        {"tokens": ["Peter", "in", "Berlin"], "tags": [4, 0, 1], "pair_id": 0},
        {"tokens": ["Peter", "in", "Berlin", "und", "Paris"], "tags": [4, 0, 1, 0, 1], "pair_id": 0},
        {"tokens": ["the"], "tags": [0], "pair_id": -1},
    ]
    out = []
    for i, row in enumerate(rows):
        enc = tokenizer(row["tokens"], is_split_into_words=True)
        words = enc.word_ids()
        labels, word_index, prev = [], [], None
        for w in words:
            first = w is not None and w != prev
            labels.append(row["tags"][w] if first else -100)
            word_index.append(w if first else -1)
            prev = w
        out.append(
            {
                **{k: list(v) for k, v in enc.items()},
                "labels": labels,
                "word_index": word_index,
                "example_index": i,
                "pair_id": row["pair_id"],
                "id": str(i),
            }
        )
    return out


def test_pads_and_builds_pair_ids(tiny_tokenizer):
    features = _features(tiny_tokenizer)
    batch = DataCollatorForConCNER(tiny_tokenizer)(features)
    assert set(batch) == {"input_ids", "attention_mask", "token_type_ids", "labels", "pair_ids"}
    longest = max(len(f["input_ids"]) for f in features)
    assert batch["input_ids"].shape == batch["labels"].shape == (3, longest)
    assert batch["pair_ids"].tolist() == [0, 0, -1]
    assert batch["pair_ids"].dtype == torch.long
    short = len(features[2]["input_ids"])
    assert batch["input_ids"][2, short:].eq(tiny_tokenizer.pad_token_id).all()
    assert batch["attention_mask"][2].tolist() == [1] * short + [0] * (longest - short)
    assert batch["labels"][2, short:].eq(-100).all()
    assert batch["labels"][0, : len(features[0]["labels"])].tolist() == features[0]["labels"]


def test_without_pair_id_or_labels(tiny_tokenizer):
    features = [{k: v for k, v in f.items() if k not in ("pair_id", "labels")} for f in _features(tiny_tokenizer)]
    batch = DataCollatorForConCNER(tiny_tokenizer)(features)
    assert set(batch) == {"input_ids", "attention_mask", "token_type_ids"}


def test_pad_to_multiple_of(tiny_tokenizer):
    batch = DataCollatorForConCNER(tiny_tokenizer, pad_to_multiple_of=16)(_features(tiny_tokenizer))
    assert batch["input_ids"].shape[1] % 16 == 0 and batch["labels"].shape == batch["input_ids"].shape


def test_works_on_dataset_rows_with_all_columns(tiny_tokenizer):
    dataset = Dataset.from_list(_features(tiny_tokenizer))
    batch = DataCollatorForConCNER(tiny_tokenizer)([dataset[i] for i in range(len(dataset))])
    assert batch["pair_ids"].tolist() == [0, 0, -1]
    assert "word_index" not in batch and "example_index" not in batch and "id" not in batch
