"""Hand-made projection cases: split, merged, reordered, crossing and unaligned entities."""

from __future__ import annotations

import pytest

from concner.translate.aligned import project_pair
from concner.translate.projection import (
    CONFLICT,
    UNALIGNED,
    Span,
    extract_spans,
    fill_gaps,
    project_spans,
    resolve_overlaps,
    spans_to_tags,
)


def test_extract_spans_reads_iob2_and_stray_inside_tags():
    tags = ["B-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-ORG", "I-ORG"]
    assert extract_spans(tags) == [Span(0, 2, "PER"), Span(3, 4, "LOC"), Span(4, 5, "LOC"), Span(5, 7, "ORG")]
    assert extract_spans([]) == []
    assert extract_spans(["O", "O"]) == []


def test_spans_to_tags_round_trip_and_rejects_overlap():
    tags = ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC"]
    assert spans_to_tags(extract_spans(tags), len(tags)) == tags
    with pytest.raises(ValueError, match="overlaps"):
        spans_to_tags([Span(0, 2, "PER"), Span(1, 3, "LOC")], 4)
    with pytest.raises(ValueError, match="outside"):
        spans_to_tags([Span(2, 5, "PER")], 4)


def test_fill_gaps():
    assert fill_gaps([4, 1, 2]) == (1, 5)
    assert fill_gaps([]) is None


def test_split_entity_is_filled_between_its_pieces():
    # "Peter Smith came" -> "Peter , said Smith , came": the PER is aligned to target 0 and 3
    projection = project_spans(["B-PER", "I-PER", "O"], [(0, 0), (1, 3), (2, 5)], 6)
    assert projection.target_tags == ["B-PER", "I-PER", "I-PER", "I-PER", "O", "O"]
    assert projection.dropped == {}
    assert projection.complete


def test_reordered_entities_keep_their_types():
    # "Peter met Mary in Paris" -> "In Paris traf Peter Mary"
    source = ["B-PER", "O", "B-PER", "O", "B-LOC"]
    links = [(0, 3), (1, 2), (2, 4), (3, 0), (4, 1)]
    projection = project_spans(source, links, 5)
    assert projection.target_tags == ["O", "B-LOC", "O", "B-PER", "B-PER"]
    assert projection.target_spans == [Span(1, 2, "LOC"), Span(3, 4, "PER"), Span(4, 5, "PER")]
    assert projection.complete


def test_merged_entities_keep_the_earlier_and_count_the_other():
    # "Baden Wuerttemberg" tagged as two LOCs -> one target word "Baden-Württemberg"
    projection = project_spans(["B-LOC", "B-LOC"], [(0, 0), (1, 0)], 1)
    assert projection.target_tags == ["B-LOC"]
    assert projection.dropped == {CONFLICT: 1}
    assert not projection.complete


def test_crossing_spans_keep_the_longer():
    # ORG "Bank of England" (0-2) -> target 1..3, LOC "London" (4) aligned into target 3 as well
    source = ["B-ORG", "I-ORG", "I-ORG", "O", "B-LOC"]
    links = [(0, 1), (2, 3), (4, 3), (4, 4)]
    projection = project_spans(source, links, 6)
    assert projection.target_spans == [Span(1, 4, "ORG")]
    assert projection.dropped == {CONFLICT: 1}


def test_equal_length_conflict_goes_to_the_earlier_source_entity():
    kept, dropped = resolve_overlaps([Span(2, 4, "PER"), Span(3, 5, "LOC")])
    assert kept == [Span(2, 4, "PER")]
    assert dropped == [1]


def test_unaligned_entity_is_dropped_and_counted():
    projection = project_spans(["B-PER", "O", "B-LOC"], [(1, 0), (2, 1)], 2)
    assert projection.target_tags == ["O", "B-LOC"]
    assert projection.dropped == {UNALIGNED: 1}


def test_project_pair_drops_incomplete_pairs_unless_keep_partial():
    args = ("7", ["Peter", "in", "Paris"], ["B-PER", "O", "B-LOC"], ["in", "Paris"], [(1, 0), (2, 1)])
    dropped = project_pair(*args)
    assert dropped.drop_reason == "unaligned_entity"
    assert dropped.entities_lost == {UNALIGNED: 1}
    kept = project_pair(*args, keep_partial=True)
    assert kept.kept and kept.target_tags == ["O", "B-LOC"] and kept.id == "7"


def test_project_pair_empty_translation():
    assert project_pair("0", ["a"], ["O"], [], []).drop_reason == "empty_translation"
