"""The aligned backend: alignment parsing, error messages, report counts."""

from __future__ import annotations

import pytest

from concner.data.errors import DataError
from concner.translate.aligned import parse_alignment_line, read_alignment_file, translate_aligned
from concner.translate.report import build_report, format_summary, label_agreement

SOURCE = [
    (["Peter", "Smith", "visited", "Berlin", "."], ["B-PER", "I-PER", "O", "B-LOC", "O"]),
    (["Nothing", "here"], ["O", "O"]),
    (["Mary", "met", "EU", "officials"], ["B-PER", "O", "B-ORG", "O"]),
    (["Baden", "Wuerttemberg"], ["B-LOC", "B-LOC"]),
]
TARGET = [
    ["Peter", "Smith", "besuchte", "Berlin", "."],
    ["Nichts", "hier"],
    ["Mary", "traf", "Beamte"],
    ["Baden-Württemberg"],
]
ALIGN = [
    [(0, 0), (1, 1), (2, 2), (3, 3), (4, 4)],
    [(0, 0), (1, 1)],
    [(0, 0), (1, 1), (3, 2)],  # "EU" unaligned
    [(0, 0), (1, 0)],  # merged
]


def _pairs(keep_partial=False):
    return translate_aligned(
        ["a", "b", "c", "d"],
        [s[0] for s in SOURCE],
        [s[1] for s in SOURCE],
        TARGET,
        ALIGN,
        keep_partial=keep_partial,
    )


def test_parse_alignment_line():
    assert parse_alignment_line("0-0 2-1  1-3\n", "f", 1) == [(0, 0), (2, 1), (1, 3)]
    assert parse_alignment_line("", "f", 1) == []


@pytest.mark.parametrize("bad", ["0-0 1", "0-x", "-1-2", "1--2", "1-2-3", "a-b", "1:2"])
def test_malformed_link_names_file_and_line(bad):
    with pytest.raises(DataError) as err:
        parse_alignment_line(bad, "x.align", 12)
    assert str(err.value).startswith("x.align:12: malformed alignment link")


def test_read_alignment_file(tmp_path):
    path = tmp_path / "a.align"
    path.write_text("0-0 1-1\n\n2-0\n", encoding="utf-8")
    assert read_alignment_file(path) == [[(0, 0), (1, 1)], [], [(2, 0)]]
    path.write_text("0-0\n0-0 1_1\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"a\.align:2: malformed"):
        read_alignment_file(path)
    with pytest.raises(DataError, match="not found"):
        read_alignment_file(tmp_path / "missing.align")


def test_line_count_mismatch_and_out_of_range():
    tokens, tags = [s[0] for s in SOURCE], [s[1] for s in SOURCE]
    with pytest.raises(DataError, match="3 alignment lines for 4 sentence pairs"):
        translate_aligned(["a", "b", "c", "d"], tokens, tags, TARGET, ALIGN[:3], alignment_file="t.align")
    bad = [list(a) for a in ALIGN]
    bad[2] = [(0, 0), (1, 3)]
    with pytest.raises(DataError) as err:
        translate_aligned(
            ["a", "b", "c", "d"], tokens, tags, TARGET, bad, alignment_file="t.align", line_numbers=[5, 6, 7, 8]
        )
    assert str(err.value) == "t.align:7: alignment link 1-3 out of range (source has 4 tokens, target has 3)"
    bad[2] = [(4, 0)]
    with pytest.raises(DataError, match="t.align:3: alignment link 4-0 out of range"):
        translate_aligned(["a", "b", "c", "d"], tokens, tags, TARGET, bad, alignment_file="t.align")


def test_report_counts():
    pairs = _pairs()
    assert [p.id for p in pairs] == ["a", "b", "c", "d"]
    assert pairs[0].target_tags == ["B-PER", "I-PER", "O", "B-LOC", "O"]
    report = build_report(pairs, "aligned", source_file="src.txt")
    assert report["source_file"] == "src.txt"
    assert report["pairs"] == {
        "total": 4,
        "kept": 2,
        "dropped": 2,
        "dropped_by_reason": {"entity_conflict": 1, "unaligned_entity": 1},
        "kept_by_method": {"alignment": 2},
    }
    assert report["entities"] == {
        "source_all": {"LOC": 3, "ORG": 1, "PER": 2},
        "source_kept": {"LOC": 1, "PER": 1},
        "target_kept": {"LOC": 1, "PER": 1},
        "lost_by_reason": {"conflict": 1, "unaligned": 1},
    }
    assert report["dropped_ids"] == {"entity_conflict": ["d"], "unaligned_entity": ["c"]}
    summary = format_summary(report)
    assert "pairs: 2 kept / 4 (2 dropped)" in summary
    assert "entities source_all: LOC 3 ORG 1 PER 2 (total 6)" in summary


def test_report_counts_keep_partial():
    report = build_report(_pairs(keep_partial=True), "aligned")
    assert report["pairs"]["kept"] == 4 and report["pairs"]["dropped_by_reason"] == {}
    assert report["entities"]["source_kept"] == {"LOC": 3, "ORG": 1, "PER": 2}
    assert report["entities"]["target_kept"] == {"LOC": 2, "PER": 2}


def test_label_agreement():
    agreement = label_agreement([["B-PER", "O", "B-LOC"], ["O"]], [["B-PER", "O", "B-ORG"], ["O"]])
    assert agreement["tokens"] == 4 and agreement["token_agreement"] == 0.75
    assert agreement["entity_precision"] == 0.5 and agreement["entity_recall"] == 0.5
    assert agreement["sentence_exact"] == 0.5
    with pytest.raises(ValueError, match="lengths differ"):
        label_agreement([["O"]], [["O", "O"]])
