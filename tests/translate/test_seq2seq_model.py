"""The seq2seq backend end to end with a tiny randomly initialised MarianMT model built here (no network)."""

from __future__ import annotations

import pytest

from concner.translate.report import build_report
from concner.translate.seq2seq import load_hf_translator, translate_with_markers

from .tiny_marian import build_tiny_marian


@pytest.fixture(scope="module")
def tiny_marian(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tiny-marian")
    build_tiny_marian(directory)
    return directory


def test_tiny_marian_runs_end_to_end(tiny_marian):
    translate = load_hf_translator(str(tiny_marian), batch_size=2, max_new_tokens=8, device="cpu")
    outputs = translate(["Peter met Mary", "the", "Berlin said EU Commission ."])
    assert len(outputs) == 3 and all(isinstance(text, str) for text in outputs)

    sentences = [
        (["Peter", "met", "Mary", "in", "Paris", "."], ["B-PER", "O", "B-PER", "O", "B-LOC", "O"]),
        (["the", "EU", "Commission", "said"], ["O", "B-ORG", "I-ORG", "O"]),
        (["the", "said", "."], ["O", "O", "O"]),
    ]
    pairs = translate_with_markers(["a", "b", "c"], [s[0] for s in sentences], [s[1] for s in sentences], translate)
    report = build_report(pairs, "seq2seq")
    counts = report["pairs"]
    assert counts["total"] == 3
    assert counts["kept"] + counts["dropped"] == 3
    assert sum(counts["dropped_by_reason"].values()) == counts["dropped"]
    assert sum(counts["kept_by_method"].values()) == counts["kept"]
    assert report["entities"]["source_all"] == {"LOC": 1, "ORG": 1, "PER": 2}
    for pair in pairs:
        assert len(pair.target_tags) == len(pair.target_tokens)
        if pair.kept:
            assert pair.target_tokens
    assert report["entities"]["source_kept"] == report["entities"]["target_kept"]


def test_target_language_is_forced_as_first_token(tiny_marian):
    translate = load_hf_translator(str(tiny_marian), src_lang="eng_Latn", tgt_lang="deu_Latn", max_new_tokens=5)
    outputs = translate(["Peter met Mary", "the Commission"])
    assert all(text.split()[0] == "deu_Latn" for text in outputs)


def test_unknown_target_language_is_rejected(tiny_marian):
    with pytest.raises(ValueError, match="target language code 'xx_Latn'"):
        load_hf_translator(str(tiny_marian), tgt_lang="xx_Latn", device="cpu")
