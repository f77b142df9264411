"""Readers on small hand-written fixtures, writers, and every malformed-input error."""

from __future__ import annotations

import json
import re

import pytest
from datasets import ClassLabel, Dataset, DatasetDict, Features, List, Value

from concner.data import DataError, load_ner_dataset, load_text_dataset, source_file, write_conll, write_jsonl
from concner.data import readers as readers_module

from .helpers import fixture


def as_rows(dataset: Dataset) -> list[dict]:
    return [dict(row) for row in dataset]


# --- CoNLL text -------------------------------------------------------------------------------------------


def test_conll_four_columns_iob1_docstart_skipped():
    ds = load_ner_dataset(fixture("conll_iob1_4col.txt"))
    assert ds.column_names == ["id", "tokens", "ner_tags"]
    assert ds["id"][:] == ["0", "1", "2", "3"]
    assert ds[0]["tokens"][:3] == ["EU", "rejects", "German"]
    assert ds[0]["ner_tags"] == ["B-ORG", "O", "B-MISC", "O", "O", "O", "B-MISC", "O", "O"]
    assert ds[1]["ner_tags"] == ["B-PER", "I-PER"]
    # IOB1: B- only between adjacent same-type entities; converted to IOB2.
    assert ds[3] == {
        "id": "3",
        "tokens": ["Germany", "France", "and", "Spain"],
        "ner_tags": ["B-LOC", "B-LOC", "O", "B-LOC"],
    }
    assert source_file(ds) == fixture("conll_iob1_4col.txt")


def test_conll_tag_column_other_than_last():
    ds = load_ner_dataset(fixture("conll_iob1_4col.txt"), tag_column=2)  # the chunk column
    assert ds[0]["ner_tags"][:3] == ["B-NP", "B-VP", "B-NP"]


def test_conll_tag_column_cannot_be_the_token():
    with pytest.raises(DataError, match=r"conll_iob2\.txt:1: tag column 0"):
        load_ner_dataset(fixture("conll_iob2.txt"), tag_column=0)


def test_conll_iob2_is_unchanged():
    ds = load_ner_dataset(fixture("conll_iob2.txt"))
    assert as_rows(ds) == [
        {
            "id": "0",
            "tokens": ["John", "Smith", "lives", "in", "New", "York", "."],
            "ner_tags": ["B-PER", "I-PER", "O", "O", "B-LOC", "I-LOC", "O"],
        },
        {
            "id": "1",
            "tokens": ["The", "European", "Commission", "said", "so", "."],
            "ner_tags": ["O", "B-ORG", "I-ORG", "O", "O", "O"],
        },
    ]


@pytest.mark.parametrize("name", ["conll_iobes.txt", "conll_bilou.txt"])
def test_conll_iobes_and_bilou_are_converted(name):
    ds = load_ner_dataset(fixture(name))
    assert ds[0]["ner_tags"] == ["B-PER", "I-PER", "O", "B-LOC", "O", "O", "B-ORG", "I-ORG", "I-ORG", "O"]
    assert ds[1]["ner_tags"] == ["B-PER"]


def test_explicit_scheme_rejects_foreign_prefix():
    with pytest.raises(DataError, match=r"conll_iobes\.txt:2: tag 'E-PER' is not allowed in the IOB2 scheme"):
        load_ner_dataset(fixture("conll_iobes.txt"), scheme="IOB2")


def test_crlf_and_space_only_separator_lines(tmp_path):
    path = tmp_path / "crlf.txt"
    path.write_bytes(b"\xef\xbb\xbfJohn B-PER\r\nSmith I-PER\r\n \r\nBerlin B-LOC\r\n")
    ds = load_ner_dataset(str(path))
    assert ds["tokens"][:] == [["John", "Smith"], ["Berlin"]]
    assert ds["ner_tags"][:] == [["B-PER", "I-PER"], ["B-LOC"]]


# --- JSON / JSON Lines ------------------------------------------------------------------------------------


def test_jsonl_string_tags_and_ids():
    ds = load_ner_dataset(fixture("records.jsonl"))
    assert ds["id"][:] == ["s1", "s2", "s3"]
    assert ds[1] == {"id": "s2", "tokens": ["The", "EU", "said"], "ner_tags": ["O", "B-ORG", "O"]}


def test_jsonl_int_tags_with_label_list_header():
    ds = load_ner_dataset(fixture("int_tags.jsonl"))
    assert ds["id"][:] == ["0", "1"]
    assert ds[0]["ner_tags"] == ["B-PER", "I-PER", "O", "B-LOC"]


def test_jsonl_int_tags_with_label_list_argument():
    ds = load_ner_dataset(fixture("int_tags_no_labels.jsonl"), label_list=["O", "B-ORG", "I-ORG", "B-MISC"])
    assert ds[0]["ner_tags"] == ["B-ORG", "I-ORG", "O", "B-MISC"]


def test_jsonl_int_tags_without_label_list_is_an_error():
    with pytest.raises(DataError, match=r"int_tags_no_labels\.jsonl:1: ner_tags are integer ids"):
        load_ner_dataset(fixture("int_tags_no_labels.jsonl"))


def test_json_list_with_int_ids_converted_to_str():
    ds = load_ner_dataset(fixture("records.json"))
    assert ds["id"][:] == ["10", "11"]
    assert ds[1]["ner_tags"] == ["O", "B-LOC"]


def test_json_object_with_features_and_data():
    ds = load_ner_dataset(fixture("features.json"))
    assert ds["ner_tags"][:] == [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "I-ORG"]]


def test_json_invalid_tag_names_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('[\n{"tokens": ["a"], "ner_tags": ["O"]},\n\n{"tokens": ["b"], "ner_tags": ["Z-PER"]}\n]\n')
    with pytest.raises(DataError, match=r"bad\.json:4: invalid tag 'Z-PER'"):
        load_ner_dataset(str(path))


def test_jsonl_syntax_error_names_line(tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text('{"tokens": ["a"], "ner_tags": ["O"]}\n{"tokens": ["b"], \n')
    with pytest.raises(DataError, match=r"broken\.jsonl:2: invalid JSON"):
        load_ner_dataset(str(path))


# --- Arrow: save_to_disk, Parquet, Hub ----------------------------------------------------------------------

WIKIANN_NAMES = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]


def wikiann_like() -> Dataset:
    """Hand-written rows with the WikiAnn / PAN-X schema (ClassLabel ids, extra columns)."""
    features = Features(
        {
            "tokens": List(Value("string")),
            "ner_tags": List(ClassLabel(names=WIKIANN_NAMES)),
            "langs": List(Value("string")),
        }
    )
    return Dataset.from_dict(
        {
            "tokens": [["Angela", "Merkel", "besucht", "Paris"], ["Siemens"]],
            "ner_tags": [[1, 2, 0, 5], [3]],
            "langs": [["de"] * 4, ["de"]],
        },
        features=features,
    )


def test_save_to_disk_directory_with_split(tmp_path):
    DatasetDict({"train": wikiann_like(), "validation": wikiann_like().select([1])}).save_to_disk(tmp_path / "wiki")
    ds = load_ner_dataset(str(tmp_path / "wiki"), split="validation")
    assert as_rows(ds) == [{"id": "0", "tokens": ["Siemens"], "ner_tags": ["B-ORG"]}]
    with pytest.raises(DataError, match="no split 'test'"):
        load_ner_dataset(str(tmp_path / "wiki"), split="test")


def test_parquet_with_class_labels(tmp_path):
    wikiann_like().to_parquet(str(tmp_path / "wiki.parquet"))
    ds = load_ner_dataset(str(tmp_path / "wiki.parquet"))
    assert ds.column_names == ["id", "tokens", "ner_tags"]
    assert ds[0]["ner_tags"] == ["B-PER", "I-PER", "O", "B-LOC"]


def test_parquet_with_string_tags_and_ids(tmp_path):
    Dataset.from_dict({"id": ["x", "y"], "tokens": [["a"], ["b"]], "ner_tags": [["B-PER"], ["I-LOC"]]}).to_parquet(
        str(tmp_path / "s.parquet")
    )
    ds = load_ner_dataset(str(tmp_path / "s.parquet"))
    assert ds["id"][:] == ["x", "y"]
    assert ds["ner_tags"][:] == [["B-PER"], ["B-LOC"]]


def test_hub_dataset_via_load_dataset(monkeypatch):
    calls = []

    def fake_load_dataset(name, config, split):
        calls.append((name, config, split))
        return wikiann_like()

    monkeypatch.setattr(readers_module.datasets, "load_dataset", fake_load_dataset)
    ds = load_ner_dataset("google/xtreme", config_name="PAN-X.de", split="validation")
    assert calls == [("google/xtreme", "PAN-X.de", "validation")]
    assert ds.column_names == ["id", "tokens", "ner_tags"]
    assert ds[1]["ner_tags"] == ["B-ORG"]


def test_hub_failure_is_a_data_error(monkeypatch):
    def failing(*args, **kwargs):
        raise ConnectionError("offline\nmode")

    monkeypatch.setattr(readers_module.datasets, "load_dataset", failing)
    with pytest.raises(DataError, match=r"^unimelb-nlp/wikiann: .*ConnectionError: offline mode$"):
        load_ner_dataset("unimelb-nlp/wikiann", config_name="zh")


def test_missing_path_is_not_sent_to_the_hub(monkeypatch):
    monkeypatch.setattr(readers_module.datasets, "load_dataset", pytest.fail)
    with pytest.raises(DataError, match=r"nope/train\.txt: no such file"):
        load_ner_dataset("nope/train.txt")


# --- unlabelled text --------------------------------------------------------------------------------------


def test_plain_text_one_sentence_per_line():
    ds = load_text_dataset(fixture("plain.txt"))
    assert ds.column_names == ["id", "tokens"]
    assert ds["tokens"][:] == [
        ["EU", "rejects", "German", "call", "to", "boycott", "British", "lamb", "."],
        ["Peter", "Blackburn"],
        ["BRUSSELS", "1996-08-22"],
    ]
    assert ds["id"][:] == ["0", "1", "2"]


@pytest.mark.parametrize("name", ["conll_iob1_4col.txt", "records.jsonl", "features.json"])
def test_text_dataset_from_ner_files_drops_labels(name):
    text = load_text_dataset(fixture(name))
    labelled = load_ner_dataset(fixture(name))
    assert text.column_names == ["id", "tokens"]
    assert text["tokens"][:] == labelled["tokens"][:]
    assert text["id"][:] == labelled["id"][:]


def test_text_dataset_one_column_conll(tmp_path):
    path = tmp_path / "tokens.txt"
    path.write_text("Hello\nworld\n\nBye\n")
    assert load_text_dataset(str(path), text_format="conll")["tokens"][:] == [["Hello", "world"], ["Bye"]]
    assert load_text_dataset(str(path))["tokens"][:] == [["Hello", "world"], ["Bye"]]  # auto: blank-line blocks
    assert load_text_dataset(str(path), text_format="text")["tokens"][:] == [["Hello"], ["world"], ["Bye"]]


def test_text_dataset_jsonl_without_tags(tmp_path):
    path = tmp_path / "u.jsonl"
    path.write_text(json.dumps({"id": "u1", "tokens": ["a", "b"]}) + "\n")
    assert as_rows(load_text_dataset(str(path))) == [{"id": "u1", "tokens": ["a", "b"]}]
    with pytest.raises(DataError, match=r"u\.jsonl:1: records have no 'ner_tags'"):
        load_ner_dataset(str(path))


# --- errors: each names file and line ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        ("bad_columns.txt", r"^.*bad_columns\.txt:4: expected 2 columns, got 3$"),
        ("bad_tag.txt", r"^.*bad_tag\.txt:6: invalid tag 'X-LOC'"),
        ("empty_type.txt", r"^.*empty_type\.txt:1: invalid tag 'B-'"),
        ("empty.txt", r"^.*empty\.txt:1: file is empty"),
        ("blank_lines.txt", r"^.*blank_lines\.txt:1: file is empty"),
        ("latin1.txt", r"^.*latin1\.txt:1: not valid UTF-8: byte 0xdf at column 5"),
        ("dup_ids.jsonl", r"^.*dup_ids\.jsonl:3: duplicate id 'a' \(first used at line 1\)$"),
        ("length_mismatch.jsonl", r"^.*length_mismatch\.jsonl:2: 2 tokens but 1 ner_tags$"),
    ],
)
def test_errors_name_file_and_line(name, pattern):
    with pytest.raises(DataError) as info:
        load_ner_dataset(fixture(name))
    message = str(info.value)
    assert "\n" not in message
    assert re.match(pattern, message), message
    assert info.value.file == fixture(name)
    assert isinstance(info.value.line, int)


def test_non_utf8_on_a_later_line(tmp_path):
    path = tmp_path / "late.txt"
    path.write_bytes(b"a O\nb O\n\nc\xff O\n")
    with pytest.raises(DataError, match=r"late\.txt:4: not valid UTF-8: byte 0xff at column 2"):
        load_ner_dataset(str(path))
    with pytest.raises(DataError, match=r"late\.txt:4: not valid UTF-8"):
        load_text_dataset(str(path))


def test_one_column_file_is_not_an_ner_file(tmp_path):
    path = tmp_path / "one.txt"
    path.write_text("Hello\nworld\n")
    with pytest.raises(DataError, match=r"one\.txt:1: expected a token column and a tag column"):
        load_ner_dataset(str(path))


def test_mixed_iobes_and_bilou_is_an_error(tmp_path):
    path = tmp_path / "mixed.txt"
    path.write_text("a S-PER\nb O\n\nc U-LOC\n")
    with pytest.raises(DataError, match=r"mixed\.txt:4: tags mix IOBES"):
        load_ner_dataset(str(path))


def test_arrow_errors_name_the_row(tmp_path):
    Dataset.from_dict({"tokens": [["a"], ["b", "c"]], "ner_tags": [["O"], ["O", "B-"]]}).save_to_disk(tmp_path / "d")
    with pytest.raises(DataError, match=r"d: row 1: invalid tag 'B-'"):
        load_ner_dataset(str(tmp_path / "d"))


def test_data_error_formatting():
    assert str(DataError("boom", "f.txt", 17)) == "f.txt:17: boom"
    assert str(DataError("boom", "f.txt")) == "f.txt: boom"
    assert str(DataError("two\nlines")) == "two lines"


# --- writers ----------------------------------------------------------------------------------------------


def test_write_conll_round_trip(tmp_path):
    ds = load_ner_dataset(fixture("conll_iob1_4col.txt"))
    out = tmp_path / "sub" / "out.txt"
    write_conll(ds, out)
    assert out.read_text().startswith("EU B-ORG\nrejects O\n")
    back = load_ner_dataset(str(out))
    assert back["tokens"][:] == ds["tokens"][:] and back["ner_tags"][:] == ds["ner_tags"][:]
    assert [p.name for p in out.parent.iterdir()] == ["out.txt"]


def test_write_conll_unlabelled(tmp_path):
    write_conll(load_text_dataset(fixture("plain.txt")), tmp_path / "u.txt")
    assert load_text_dataset(str(tmp_path / "u.txt"), text_format="conll")["tokens"][1] == ["Peter", "Blackburn"]


def test_write_jsonl_round_trip_and_atomicity(tmp_path):
    ds = load_ner_dataset(fixture("records.jsonl"))
    out = tmp_path / "out.jsonl"
    write_jsonl(ds, out)
    assert as_rows(load_ner_dataset(str(out))) == as_rows(ds)
    bad = Dataset.from_dict({"tokens": [["ok"], ["has space"]], "ner_tags": [["O"], ["O"]]})
    out.write_text("previous\n")
    with pytest.raises(ValueError, match="whitespace"):
        write_conll(bad, out)
    assert out.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]


def test_arrow_negative_class_label_id_is_an_error(tmp_path):
    features = Features({"tokens": List(Value("string")), "ner_tags": List(ClassLabel(names=WIKIANN_NAMES))})
    Dataset.from_dict({"tokens": [["a", "b"]], "ner_tags": [[0, -1]]}, features=features).save_to_disk(tmp_path / "n")
    with pytest.raises(DataError, match=r"n: row 0: tag id -1 is outside the label list \(0\.\.6\)"):
        load_ner_dataset(str(tmp_path / "n"))
