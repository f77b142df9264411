"""tokenize_and_align: first sub-word labels, windows at word boundaries, zero-piece words, summary, cache."""

from __future__ import annotations

import numpy as np
import pytest
from datasets import Dataset, load_from_disk

from concner.data import TokenizationSummary, tokenize_and_align, tokenize_and_align_with_summary

LABELS = ["O", "B-LOC", "B-PER", "I-LOC", "I-PER"]
LABEL2ID = {label: i for i, label in enumerate(LABELS)}


def first_piece(tokenizer, word: str) -> int | None:
    ids = tokenizer(word, add_special_tokens=False)["input_ids"]
    return ids[0] if ids else None


def words_per_example(features: Dataset) -> dict[int, list[int]]:
    seen: dict[int, list[int]] = {}
    for row in features:
        seen.setdefault(row["example_index"], []).extend(w for w in row["word_index"] if w >= 0)
    return seen


def check_alignment(features: Dataset, dataset: Dataset, tokenizer, max_length: int) -> None:
    """Every word with pieces is labelled exactly once, on its first sub-word, with its own tag."""
    for row in features:
        words = dataset[row["example_index"]]["tokens"]
        tags = dataset[row["example_index"]]["ner_tags"]
        assert len(row["input_ids"]) <= max_length
        assert len(row["word_index"]) == len(row["input_ids"]) == len(row["labels"])
        for token, label, word in zip(row["input_ids"], row["labels"], row["word_index"]):
            if word < 0:
                assert label == -100
            else:
                assert label == LABEL2ID[tags[word]]
                assert token == first_piece(tokenizer, words[word])
    for example, labelled in words_per_example(features).items():
        words = dataset[example]["tokens"]
        expected = [i for i, w in enumerate(words) if first_piece(tokenizer, w) is not None]
        assert labelled == expected  # once each, in order


def test_first_subword_labels(tiny_tokenizer):
    ds = Dataset.from_dict(
        {
            "tokens": [["Smith", "lives", "in", "Berlin"], ["the", "Xyz"]],
            "ner_tags": [["B-PER", "O", "O", "B-LOC"], ["O", "B-LOC"]],
            "pair_id": [5, -1],
        }
    )
    features = tokenize_and_align(ds, tiny_tokenizer, LABEL2ID, 32)
    assert features.column_names == [
        "input_ids",
        "attention_mask",
        "token_type_ids",
        "labels",
        "word_index",
        "example_index",
        "pair_id",
    ]
    row = features[0]
    pieces = tiny_tokenizer.convert_ids_to_tokens(row["input_ids"])
    assert pieces[:7] == ["[CLS]", "S", "##m", "##i", "##t", "##h", "l"]
    assert row["labels"][:7] == [-100, LABEL2ID["B-PER"], -100, -100, -100, -100, LABEL2ID["O"]]
    assert row["word_index"][:7] == [-1, 0, -1, -1, -1, -1, 1]
    assert row["labels"][-1] == -100 and row["word_index"][-1] == -1
    assert features["example_index"][:] == [0, 1]
    assert features["pair_id"][:] == [5, -1]
    check_alignment(features, ds, tiny_tokenizer, 32)
    summary = features.tokenization_summary
    assert summary == TokenizationSummary(num_examples=2, num_rows=2, num_words=6)


def test_no_labels_without_label2id_or_tags(tiny_tokenizer):
    ds = Dataset.from_dict({"tokens": [["the", "city"]], "ner_tags": [["O", "O"]]})
    assert "labels" not in tokenize_and_align(ds, tiny_tokenizer, None).column_names
    unlabelled = ds.remove_columns("ner_tags")
    features = tokenize_and_align(unlabelled, tiny_tokenizer, LABEL2ID)
    assert "labels" not in features.column_names
    assert features[0]["word_index"] == [-1, 0, 1, -1]


def test_long_sentence_is_split_into_windows(tiny_tokenizer):
    words = [w for i in range(20) for w in ("Peter", "Smith", "visited", "the", "city")]
    tags = [t for i in range(20) for t in ("B-PER", "I-PER", "O", "O", "O")]
    ds = Dataset.from_dict({"tokens": [words, ["the"]], "ner_tags": [tags, ["O"]], "pair_id": [0, 1]})
    features, summary = tokenize_and_align_with_summary(ds, tiny_tokenizer, LABEL2ID, 16)
    windows = [row for row in features if row["example_index"] == 0]
    assert len(windows) > 5
    assert all(row["pair_id"] == -1 for row in windows)
    assert features[len(features) - 1]["pair_id"] == 1
    check_alignment(features, ds, tiny_tokenizer, 16)
    assert summary.num_windows_split == 1 and summary.num_rows == len(windows) + 1
    assert summary.num_zero_piece_words == 0 and summary.num_truncated_words == 0
    # windows break only at word boundaries: each window starts with [CLS] then a word's first piece
    for row in windows:
        assert row["word_index"][1] >= 0


def test_stride_repeats_context_without_relabelling(tiny_tokenizer):
    words = ["the", "city"] * 30
    ds = Dataset.from_dict({"tokens": [words], "ner_tags": [["O"] * 60]})
    plain = tokenize_and_align(ds, tiny_tokenizer, LABEL2ID, 12)
    strided = tokenize_and_align(ds, tiny_tokenizer, LABEL2ID, 12, stride_words=3)
    assert len(strided) > len(plain)
    check_alignment(strided, ds, tiny_tokenizer, 12)
    second = strided[1]
    assert second["word_index"][1:4] == [-1, -1, -1] and second["labels"][1:4] == [-100] * 3
    with pytest.raises(ValueError, match="stride_words"):
        tokenize_and_align(ds, tiny_tokenizer, LABEL2ID, 12, stride_words=-1)


def test_overlong_word_is_truncated_but_keeps_first_piece(tiny_tokenizer):
    long_word = "Q" + "z" * 30  # 31 character pieces
    ds = Dataset.from_dict({"tokens": [["the", long_word, "city"]], "ner_tags": [["O", "B-LOC", "O"]]})
    features, summary = tokenize_and_align_with_summary(ds, tiny_tokenizer, LABEL2ID, 8)
    assert summary.num_truncated_words == 1 and summary.num_windows_split == 1
    assert [len(r) for r in features["input_ids"][:]] == [3, 8, 3]
    middle = features[1]
    assert middle["word_index"] == [-1, 1, -1, -1, -1, -1, -1, -1]
    assert middle["labels"][1] == LABEL2ID["B-LOC"]
    check_alignment(features, ds, tiny_tokenizer, 8)


def test_zero_piece_words_are_tolerated_and_counted(tiny_tokenizer):
    assert first_piece(tiny_tokenizer, "\u200b") is None
    ds = Dataset.from_dict(
        {
            "tokens": [["Berlin", "\u200b", "city"], ["\u200b"], ["the"] * 20 + ["\u200b"] + ["the"] * 20],
            "ner_tags": [["B-LOC", "I-LOC", "O"], ["O"], ["O"] * 41],
        }
    )
    features, summary = tokenize_and_align_with_summary(ds, tiny_tokenizer, LABEL2ID, 12)
    assert summary.num_zero_piece_words == 3
    assert features[0]["word_index"] == [-1, 0, -1, -1, -1, -1, -1, 2, -1]
    assert features[1]["input_ids"] == [tiny_tokenizer.cls_token_id, tiny_tokenizer.sep_token_id]
    check_alignment(features, ds, tiny_tokenizer, 12)


def test_unknown_tag_and_bad_arguments(tiny_tokenizer):
    ds = Dataset.from_dict({"tokens": [["the"]], "ner_tags": [["B-MISC"]]})
    with pytest.raises(ValueError, match="'B-MISC' of example 0 is not in label2id"):
        tokenize_and_align(ds, tiny_tokenizer, LABEL2ID)
    with pytest.raises(ValueError, match="leaves no room"):
        tokenize_and_align(ds, tiny_tokenizer, LABEL2ID, 2)

    class Slow:
        is_fast = False

    with pytest.raises(ValueError, match="fast tokenizer"):
        tokenize_and_align(ds, Slow(), LABEL2ID)


def test_cache_is_reused_for_file_backed_datasets(tiny_tokenizer, tmp_path):
    Dataset.from_dict({"tokens": [["the", "city"]] * 4, "ner_tags": [["O", "O"]] * 4}).save_to_disk(tmp_path / "d")
    ds = load_from_disk(str(tmp_path / "d"))
    first = tokenize_and_align(ds, tiny_tokenizer, LABEL2ID)
    second = tokenize_and_align(ds, tiny_tokenizer, LABEL2ID)
    assert first.cache_files and first.cache_files == second.cache_files
    other = tokenize_and_align(ds, tiny_tokenizer, LABEL2ID, 64)
    assert other.cache_files != first.cache_files
    assert second.tokenization_summary == first.tokenization_summary


def test_num_proc_gives_the_same_rows(tiny_tokenizer):
    ds = Dataset.from_dict(
        {
            "tokens": [["Peter", "the", "city"] * (i + 1) for i in range(8)],
            "ner_tags": [["B-PER", "O", "O"] * (i + 1) for i in range(8)],
        }
    )
    single = tokenize_and_align(ds, tiny_tokenizer, LABEL2ID, 16)
    double = tokenize_and_align(ds, tiny_tokenizer, LABEL2ID, 16, num_proc=2)
    assert single.to_dict() == double.to_dict()


def test_sort_for_inference_orders_rows_and_keeps_word_level_results(tiny_tokenizer):
    from concner.data import sort_for_inference
    from concner.metrics import word_level_predictions

    sentences = [["the"] * n + ["Peter", "Smith"] for n in (3, 30, 0, 12, 7)]
    tags = [["O"] * n + ["B-PER", "I-PER"] for n in (3, 30, 0, 12, 7)]
    ds = Dataset.from_dict({"tokens": sentences, "ner_tags": tags})
    features = tokenize_and_align(ds, tiny_tokenizer, LABEL2ID, 16)
    ordered = sort_for_inference(features)
    lengths = [len(row) for row in ordered["input_ids"]]
    assert lengths == sorted(lengths, reverse=True) and len(ordered) == len(features)
    id2label = {i: t for t, i in LABEL2ID.items()}

    def predict(rows: Dataset) -> list[list[str]]:
        # a "model" that predicts each word's gold label: any row order must give the same sentences back
        width = max(len(r) for r in rows["input_ids"])
        predictions = [[0] * width for _ in range(len(rows))]
        for i, (labels, words) in enumerate(zip(rows["labels"], rows["word_index"])):
            for pos, word in enumerate(words):
                if word >= 0:
                    predictions[i][pos] = labels[pos]
        return word_level_predictions(
            np.asarray(predictions), rows["example_index"], rows["word_index"], [len(t) for t in tags], id2label
        )

    assert predict(ordered) == predict(features) == tags
