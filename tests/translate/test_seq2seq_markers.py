"""Marker projection of the seq2seq backend, driven by fake translation functions (no model)."""

from __future__ import annotations

import pytest

from concner.translate.projection import Span
from concner.translate.report import build_report
from concner.translate.seq2seq import (
    assign_spans,
    fuzzy_find,
    mark_entities,
    parse_markers,
    tokenize_text,
    translate_with_markers,
)

PETER_MARY = (["Peter", "met", "Mary", "in", "Paris", "."], ["B-PER", "O", "B-PER", "O", "B-LOC", "O"])
COMMISSION = (
    ["The", "European", "Commission", "said", "Germany", "agreed", "."],
    ["O", "B-ORG", "I-ORG", "O", "B-LOC", "O", "O"],
)
COMMISSION_MARKED = "The [ European Commission ] said [ Germany ] agreed ."


def table_translator(table: dict[str, str], calls: list[list[str]] | None = None):
    """A fake translation function that looks every input up in ``table``."""

    def translate(texts: list[str]) -> list[str]:
        if calls is not None:
            calls.append(list(texts))
        return [table[text] for text in texts]

    return translate


def run(sentences, table, calls=None, **kwargs):
    ids = [str(k) for k in range(len(sentences))]
    return translate_with_markers(
        ids, [s[0] for s in sentences], [s[1] for s in sentences], table_translator(table, calls), **kwargs
    )


def test_mark_entities():
    assert mark_entities(*[PETER_MARY[0], [Span(0, 1, "PER"), Span(2, 3, "PER"), Span(4, 5, "LOC")]]) == (
        "[ Peter ] met [ Mary ] in [ Paris ] ."
    )
    assert mark_entities(["a", "b"], [Span(0, 2, "X")], "<<", ">>") == "<< a b >>"


def test_tokenize_text():
    assert tokenize_text("Er sagte: 3,5 Mio. am 22.08.1996 in Baden-Württemberg (dpa).") == [
        "Er", "sagte", ":", "3,5", "Mio", ".", "am", "22.08.1996", "in", "Baden-Württemberg", "(", "dpa", ")", ".",
    ]  # fmt: skip


def test_parse_markers_glued_stray_and_empty():
    parse = parse_markers("[Peter] traf [ Mary ]in [Paris].")
    assert parse.tokens == ["Peter", "traf", "Mary", "in", "Paris", "."]
    assert parse.spans == [(0, 1), (2, 3), (4, 5)]
    stray = parse_markers("] Peter [ traf [ Mary ] ] [ ] in [ Paris")
    assert stray.tokens == ["Peter", "traf", "Mary", "in", "Paris"]
    assert stray.spans == [(2, 3)]


def test_identity_translation_keeps_everything_via_markers():
    calls: list[list[str]] = []
    sentences = [PETER_MARY, (["No", "entity"], ["O", "O"]), (["Hi", "Bob"], ["O", "B-PER"])]
    table = {
        "[ Peter ] met [ Mary ] in [ Paris ] .": "[ Peter ] met [ Mary ] in [ Paris ] .",
        "No entity": "No entity",
        "Hi [ Bob ]": "Hi [ Bob ]",
        "Peter": "Peter",
        "Mary": "Mary",
        "Paris": "Paris",
    }
    pairs = run(sentences, table, calls)
    assert [p.target_tags for p in pairs] == [PETER_MARY[1], ["O", "O"], ["O", "B-PER"]]
    assert [p.method for p in pairs] == ["markers", "plain", "markers"]
    # entity strings are translated once, only for the sentence with several entities
    assert calls[1] == ["Mary", "Paris", "Peter"]


def test_reordered_entities_are_matched_by_their_translations():
    sentence = (
        ["Peter", "met", "the", "European", "Commission", "in", "Brussels"],
        ["B-PER", "O", "O", "B-ORG", "I-ORG", "O", "B-LOC"],
    )
    table = {
        "[ Peter ] met the [ European Commission ] in [ Brussels ]": (
            "In [ Brüssel ] traf [ Peter ] die [ Europäische Kommission ]"
        ),
        "Peter": "Peter",
        "European Commission": "Europäische Kommission",
        "Brussels": "Brüssel",
    }
    (pair,) = run([sentence], table)
    assert pair.kept and pair.method == "markers"
    assert pair.target_tokens == ["In", "Brüssel", "traf", "Peter", "die", "Europäische", "Kommission"]
    assert pair.target_tags == ["O", "B-LOC", "O", "B-PER", "O", "B-ORG", "I-ORG"]


def test_lost_markers_fall_back_to_fuzzy_matching():
    table = {
        COMMISSION_MARKED: "Die Europäische Kommission sagte , Deutschland stimme zu .",
        "European Commission": "Europäische Kommission",
        "Germany": "Deutschland",
    }
    (pair,) = run([COMMISSION], table)
    assert pair.kept and pair.method == "fuzzy"
    assert pair.target_tags == ["O", "B-ORG", "I-ORG", "O", "O", "B-LOC", "O", "O", "O"]


def test_partly_lost_markers_combine_markers_and_fuzzy():
    table = {
        COMMISSION_MARKED: "Die [ Europäische Kommission ] sagte , Deutschland ] stimme zu .",
        "European Commission": "EU-Kommission",
        "Germany": "Deutschland",
    }
    (pair,) = run([COMMISSION], table)
    assert pair.kept and pair.method == "markers+fuzzy"
    assert pair.target_tags == ["O", "B-ORG", "I-ORG", "O", "O", "B-LOC", "O", "O", "O"]


def test_merged_entities_are_split_again_by_fuzzy_matching():
    table = {
        "[ Peter ] met [ Mary ] in [ Paris ] .": "[ Peter und Mary ] trafen sich in [ Paris ] .",
        "Peter": "Peter",
        "Mary": "Mary",
        "Paris": "Paris",
    }
    (pair,) = run([PETER_MARY], table)
    assert pair.kept and pair.method == "markers+fuzzy"
    assert pair.target_tags == ["B-PER", "O", "B-PER", "O", "O", "O", "B-LOC", "O"]


def test_lost_entity_drops_the_pair_and_report_counts_are_consistent():
    table = {
        "[ Peter ] met [ Mary ] in [ Paris ] .": "[ Peter ] traf sie in [ Paris ] .",
        "Peter": "Peter",
        "Mary": "Maria",
        "Paris": "Paris",
        COMMISSION_MARKED: "",
        "Nothing": "Nichts",
    }
    pairs = run([PETER_MARY, COMMISSION, (["Nothing"], ["O"])], table)
    assert [p.drop_reason for p in pairs] == ["entities_not_recovered", "empty_translation", None]
    assert pairs[0].target_tags == ["B-PER", "O", "O", "O", "B-LOC", "O"]
    assert pairs[0].entities_lost == {"not_found": 1}
    report = build_report(pairs, "seq2seq")
    assert report["pairs"]["total"] == 3 and report["pairs"]["kept"] == 1
    assert report["pairs"]["dropped_by_reason"] == {"empty_translation": 1, "entities_not_recovered": 1}
    assert sum(report["pairs"]["dropped_by_reason"].values()) == report["pairs"]["dropped"]
    assert report["entities"]["source_all"] == {"LOC": 2, "ORG": 1, "PER": 2}
    assert report["entities"]["target_kept"] == {}
    assert report["entities"]["lost_by_reason"] == {"not_found": 3}


def test_type_multiset_must_survive():
    # two PER markers come back, but the LOC is gone; exact count matching is not enough
    table = {
        "[ Peter ] met [ Mary ] in [ Paris ] .": "[ Peter ] traf [ Mary ] dort .",
        "Peter": "Peter",
        "Mary": "Mary",
        "Paris": "Paris",
    }
    (pair,) = run([PETER_MARY], table)
    assert pair.drop_reason == "entities_not_recovered"


def test_custom_markers_and_threshold():
    table = {"<< Peter >> sang": "Peterle sang", "Peter": "Peter"}
    sentence = (["Peter", "sang"], ["B-PER", "O"])
    assert run([sentence], table, open_marker="<<", close_marker=">>", fuzzy_threshold=0.8)[0].kept
    assert not run([sentence], table, open_marker="<<", close_marker=">>", fuzzy_threshold=0.95)[0].kept


def test_translation_function_must_return_one_output_per_input():
    with pytest.raises(ValueError, match="returned 0 outputs for 1 inputs"):
        translate_with_markers(["0"], [["a"]], [["O"]], lambda texts: [])


def test_assign_spans_and_fuzzy_find():
    assert assign_spans([["Berlin"], ["Paris"]], ["Paris", "Berlin"], None) == {0: 1, 1: 0}
    assert assign_spans([["Berlin"], ["Paris"]], ["xyz"], 0.6) == {}
    tokens = ["in", "New", "York", "und", "Boston"]
    assert fuzzy_find(tokens, ["New York"], set(), 0.6) == (1, 3)
    assert fuzzy_find(tokens, ["New York"], {2}, 0.9) is None
