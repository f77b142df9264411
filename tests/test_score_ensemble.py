"""benchmarks/score_ensemble.py: the ensemble's tags against a naive per-sentence loop over the teachers."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

from tests.conftest import build_tiny_tokenizer
from tests.distill.conftest import make_model, random_sentences

_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "score_ensemble.py"
_SPEC = importlib.util.spec_from_file_location("score_ensemble", _PATH)
score_ensemble = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(score_ensemble)


def test_tags_are_the_argmax_of_the_mean_distribution(tmp_path):
    tokenizer = build_tiny_tokenizer(tmp_path / "tok")
    teachers = [make_model(len(tokenizer), seed=s).eval() for s in (1, 2, 3)]
    sentences = random_sentences(7, seed=5)
    tags = score_ensemble.ensemble_predictions(teachers, tokenizer, sentences, 64, bf16=False)
    id2label = teachers[0].config.id2label
    for sentence, predicted in zip(sentences, tags):
        encoding = tokenizer(sentence, is_split_into_words=True, return_tensors="pt")
        with torch.no_grad():
            probs = torch.stack([t(**encoding).logits.softmax(-1)[0] for t in teachers]).mean(0)
        first = {}
        for position, word in enumerate(encoding.word_ids()):
            if word is not None and word not in first:
                first[word] = position
        assert predicted == [id2label[int(probs[first[w]].argmax())] for w in range(len(sentence))]
    # one teacher alone: its own argmax
    alone = score_ensemble.ensemble_predictions(teachers[:1], tokenizer, sentences, 64, bf16=False)
    assert alone != tags or all(len(s) == 0 for s in sentences)
