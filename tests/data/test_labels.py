"""Scheme detection and conversion, label lists, type mapping and reconciliation."""

from __future__ import annotations

import pytest
from datasets import Dataset

from concner.data import build_label_list, detect_scheme, entity_types, map_types_to_o, reconcile_label_sets, to_iob2
from concner.data.labels import entity_counts, is_valid_tag

IOB2 = ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "O", "B-ORG", "I-ORG", "I-ORG"]


@pytest.mark.parametrize(
    ("scheme", "tags"),
    [
        ("IOB1", ["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "O", "I-ORG", "I-ORG", "I-ORG"]),
        ("IOB2", IOB2),
        ("IOBES", ["B-PER", "E-PER", "O", "S-LOC", "S-LOC", "O", "B-ORG", "I-ORG", "E-ORG"]),
        ("BILOU", ["B-PER", "L-PER", "O", "U-LOC", "U-LOC", "O", "B-ORG", "I-ORG", "L-ORG"]),
    ],
)
def test_detect_and_convert_each_scheme(scheme, tags):
    assert detect_scheme([tags, ["O"]]) == scheme
    assert to_iob2(tags, scheme) == IOB2


def test_iob1_type_change_opens_a_new_entity():
    assert to_iob2(["I-PER", "I-LOC", "I-LOC", "O", "I-LOC"], "IOB1") == ["B-PER", "B-LOC", "I-LOC", "O", "B-LOC"]


def test_iob2_repairs_spans_opened_by_inside():
    assert to_iob2(["O", "I-MISC", "I-MISC"], "IOB2") == ["O", "B-MISC", "I-MISC"]


def test_iobes_inside_after_end_starts_new_entity():
    assert to_iob2(["B-PER", "E-PER", "I-PER"], "IOBES") == ["B-PER", "I-PER", "B-PER"]


def test_all_outside_is_iob2():
    assert detect_scheme([["O", "O"], []]) == "IOB2"


@pytest.mark.parametrize("tag", ["X-PER", "B-", "b-PER", "PER", "", "B-NEW YORK", "BB-PER"])
def test_invalid_tags_rejected(tag):
    assert not is_valid_tag(tag)
    with pytest.raises(ValueError, match="invalid tag"):
        detect_scheme([[tag]])
    with pytest.raises(ValueError, match="invalid tag"):
        to_iob2([tag], "IOB2")


def test_prefix_not_allowed_by_scheme():
    with pytest.raises(ValueError, match="not allowed in the IOB2 scheme"):
        to_iob2(["S-PER"], "IOB2")
    with pytest.raises(ValueError, match="unknown tagging scheme"):
        to_iob2(["O"], "BIO")


def test_mixed_schemes_rejected():
    with pytest.raises(ValueError, match="mix IOBES"):
        detect_scheme([["S-PER"], ["U-LOC"]])


def test_build_label_list_from_datasets_and_iterables():
    ds = Dataset.from_dict({"ner_tags": [["B-PER", "I-PER", "O"], ["B-MISC"]]})
    labels = build_label_list(ds, [["B-LOC", "I-LOC"]], ["B-ORG", "I-ORG"])
    assert labels == ["O", "B-LOC", "B-MISC", "B-ORG", "B-PER", "I-LOC", "I-MISC", "I-ORG", "I-PER"]
    assert build_label_list([]) == ["O"]
    with pytest.raises(ValueError, match="not IOB2"):
        build_label_list([["S-PER"]])


def test_entity_types_and_counts():
    assert entity_types(["O", "B-PER", "I-PER", "B-LOC", "MISC"]) == ["LOC", "MISC", "PER"]
    assert entity_counts(["B-PER", "I-PER", "O", "B-PER", "B-LOC"]) == {"PER": 2, "LOC": 1}


def test_map_types_to_o():
    ds = Dataset.from_dict(
        {"id": ["0"], "tokens": [["a", "b", "c", "d"]], "ner_tags": [["B-MISC", "I-MISC", "B-PER", "O"]]}
    )
    mapped = map_types_to_o(ds, ["MISC"])
    assert mapped["ner_tags"][:] == [["O", "O", "B-PER", "O"]]
    assert mapped["tokens"][:] == ds["tokens"][:]
    assert map_types_to_o(ds, []) is ds


def test_reconcile_same_types():
    result = reconcile_label_sets(["O", "B-PER", "I-PER"], ["O", "I-PER", "B-PER"], map_to_o=False)
    assert result.scored_types == ["PER"] and result.source_only == [] and result.target_only == []
    assert result.label_list == ["O", "B-PER", "I-PER"]


def test_reconcile_conll_to_wikiann():
    conll = build_label_list([["B-PER", "B-LOC", "B-ORG", "B-MISC"]])
    wikiann = build_label_list([["B-PER", "B-LOC", "B-ORG"]])
    with pytest.raises(ValueError, match=r"source only: MISC; target only: -\).*LOC, ORG, PER"):
        reconcile_label_sets(conll, wikiann, map_to_o=False)
    result = reconcile_label_sets(conll, wikiann, map_to_o=True)
    assert result.scored_types == ["LOC", "ORG", "PER"]
    assert result.source_only == ["MISC"]
    assert "mapped to O in the source: MISC" in str(result)


def test_reconcile_disjoint_types_fails_even_with_mapping():
    with pytest.raises(ValueError, match="share no entity type"):
        reconcile_label_sets(["B-PER"], ["B-GPE"], map_to_o=True)
