"""Word-level stitching of sub-word predictions and seqeval scoring."""

from __future__ import annotations

import numpy as np
import pytest
from seqeval.metrics import f1_score

from concner.metrics import build_compute_metrics, flatten_scores, ner_scores, scatter_to_words, word_level_predictions

ID2LABEL = {0: "O", 1: "B-PER", 2: "I-PER", 3: "B-LOC"}


def test_windows_are_stitched_and_missing_words_are_o():
    # sentence 0 (5 words) split into two windows; sentence 1 (3 words) with word 1 having no piece
    predictions = np.array(
        [
            [0, 1, 9, 2, 0, 0],  # window 1: words 0, 1 (pos 1 first piece, pos 2 continuation), 2
            [0, 3, 3, 0, 0, 0],  # window 2: words 3, 4
            [0, 1, 3, 0, 0, 0],  # sentence 1: words 0 and 2
        ]
    )
    word_index = [[-1, 0, -1, 1, 2, -1], [-1, 3, 4, -1], [-1, 0, 2, -1]]
    got = word_level_predictions(predictions, [0, 0, 1], word_index, [5, 3], ID2LABEL)
    assert got == [["B-PER", "I-PER", "O", "B-LOC", "B-LOC"], ["B-PER", "O", "B-LOC"]]


def test_scatter_to_words_matches_a_naive_loop_in_any_row_order():
    rng = np.random.default_rng(0)
    num_words = [7, 3, 5]
    word_index, example_index = [], []
    for example, n in enumerate(num_words):  # every sentence cut into windows of at most 3 words
        for start in range(0, n, 3):
            words = list(range(start, min(start + 3, n)))
            word_index.append([-1, *[w for w in words for w in (w, -1)], -1])
            example_index.append(example)
    values = rng.random((len(word_index), max(len(w) for w in word_index)))
    expected = [[None] * n for n in num_words]
    for row in range(len(word_index)):
        for pos, word in enumerate(word_index[row]):
            if word >= 0:
                expected[example_index[row]][word] = float(values[row, pos])
    order = rng.permutation(len(word_index))
    got = [[None] * n for n in num_words]
    scatter_to_words(values[order], [example_index[i] for i in order], [word_index[i] for i in order], got)
    assert got == expected


def test_logits_are_argmaxed():
    logits = np.zeros((1, 3, 4))
    logits[0, 1, 3] = 5.0
    assert word_level_predictions(logits, [0], [[-1, 0, -1]], [1], ID2LABEL) == [["B-LOC"]]


def test_scores_match_seqeval_and_per_type():
    refs = [["B-PER", "I-PER", "O", "B-LOC"], ["B-LOC", "O"]]
    preds = [["B-PER", "I-PER", "O", "O"], ["B-LOC", "B-PER"]]
    scores = ner_scores(refs, preds)
    assert scores["f1"] == pytest.approx(f1_score(refs, preds))
    assert scores["precision"] == pytest.approx(2 / 3) and scores["recall"] == pytest.approx(2 / 3)
    assert scores["per_type"]["LOC"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "number": 2}
    flat = flatten_scores(scores, prefix="test_de_")
    assert flat["test_de_f1"] == pytest.approx(2 / 3) and flat["test_de_PER_number"] == 1.0


def test_conlleval_reads_leading_i_as_begin():
    # seqeval's default mode is conlleval-compatible: an I- after O opens an entity
    assert ner_scores([["O", "I-PER"]], [["O", "B-PER"]])["f1"] == 1.0


def test_build_compute_metrics():
    class Prediction:
        predictions = np.array([[0, 1, 2, 0], [0, 3, 0, 0]])

    features = {"example_index": [0, 1], "word_index": [[-1, 0, 1, -1], [-1, 0, -1, -1]]}
    fn = build_compute_metrics(features, [["B-PER", "I-PER"], ["B-PER"]], ID2LABEL)
    metrics = fn(Prediction())
    assert metrics["f1"] == pytest.approx(0.5) and metrics["PER_recall"] == pytest.approx(0.5)
