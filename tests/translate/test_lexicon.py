"""The lexicon backend: MUSE dictionary loading, case restoration, 1:1 labels."""

from __future__ import annotations

import pytest

from concner.data.errors import DataError
from concner.translate.lexicon import load_dictionary, restore_case, translate_lexicon, translate_tokens


@pytest.fixture
def dictionary_file(tmp_path):
    path = tmp_path / "en-de.txt"
    path.write_text(
        "the der\nthe die\nsaid sagte\nhouse Haus\nEU EU\n\nin in\nPeter Pedro\nThe Das\n", encoding="utf-8"
    )
    return path


def test_load_dictionary_keeps_the_first_translation_of_the_lowercased_word(dictionary_file):
    dictionary = load_dictionary(dictionary_file)
    assert dictionary["the"] == "der"  # "the die" and "The Das" come later
    assert dictionary["peter"] == "Pedro"
    assert "The" not in dictionary


def test_load_dictionary_errors(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("a b\nc d e\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.txt:2: expected 'source target', found 3 fields"):
        load_dictionary(bad)
    with pytest.raises(DataError, match="not found"):
        load_dictionary(tmp_path / "missing.txt")
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("stra\xdfe street\n".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        load_dictionary(latin1)


@pytest.mark.parametrize(
    ("source", "translation", "expected"),
    [
        ("the", "der", "der"),
        ("The", "der", "Der"),
        ("THE", "der", "DER"),
        ("house", "Haus", "Haus"),
        ("A", "ein", "Ein"),
    ],
)
def test_restore_case(source, translation, expected):
    assert restore_case(source, translation) == expected


def test_entities_are_copied_and_labels_carry_over(dictionary_file):
    dictionary = load_dictionary(dictionary_file)
    tokens = ["The", "EU", "said", "Peter", "THE", "house", "in", "Unknownville", "."]
    tags = ["O", "B-ORG", "O", "B-PER", "O", "O", "O", "O", "O"]
    assert translate_tokens(tokens, tags, dictionary) == [
        "Der", "EU", "sagte", "Peter", "DER", "Haus", "in", "Unknownville", ".",
    ]  # fmt: skip
    pairs = translate_lexicon(["s1"], [tokens], [tags], dictionary)
    assert pairs[0].id == "s1" and pairs[0].kept and pairs[0].target_tags == tags
    assert len(pairs[0].target_tokens) == len(tokens)


@pytest.mark.slow
def test_muse_dictionary_loads(shared_data):
    dictionary = load_dictionary(shared_data / "muse" / "en-de.txt")
    assert len(dictionary) == 74655  # distinct English words (README); the MUSE files are lowercase
    assert translate_tokens(["The", "house", "Berlin"], ["O", "O", "B-LOC"], dictionary) == ["Die", "haus", "Berlin"]
