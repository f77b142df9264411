"""Inputs that used to be read silently wrong (or crash): CR line ends, one-column token files as unlabelled
text, non-string tokens, float tags, unreadable files. Each error is one `DataError` line naming the file, and
the command-line scripts turn it into exit status 2 and one ``error:`` line.
"""

from __future__ import annotations

import builtins
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import run_concner
import run_distill
from concner.data import DataError, load_ner_dataset, load_text_dataset
from concner.data.parsing import read_text

from .helpers import fixture


def _error(call, *args, **kwargs) -> DataError:
    """The `DataError` raised by ``call``, checked to be a single line."""
    with pytest.raises(DataError) as info:
        call(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message and "\r" not in message, message
    return info.value


def _one_error_line(err: str, name: str) -> str:
    """The single ``error:`` line of a script's stderr; it names ``name`` and no traceback was printed."""
    errors = [line for line in err.splitlines() if line.startswith("error")]
    assert len(errors) == 1 and errors[0].startswith("error: ") and name in errors[0], err
    assert err.rstrip().endswith(errors[0]) and "Traceback" not in err, err
    return errors[0]


def _distill_fails(tmp_path: Path, model: Path, unlabelled: Path, capsys) -> str:
    """`run_distill.main` on ``unlabelled`` with a tiny teacher and student: exit 2, one error line naming it."""
    argv = [
        "--teacher_model_name_or_path", str(model),
        "--model_name_or_path", str(model),
        "--unlabeled_file", str(unlabelled),
        "--output_dir", str(tmp_path / "student"),
        "--max_steps", "1",  # should the file be read after all (the old bug), keep that run short
        "--report_to", "none",
        "--use_cpu",
    ]  # fmt: skip
    assert run_distill.main(argv) == 2
    return _one_error_line(capsys.readouterr().err, str(unlabelled))


def _teacher_fails(tmp_path: Path, model: Path, train: Path, capsys) -> str:
    """`run_concner.main` on ``train`` with a real tiny encoder: exit 2 and one error line naming the file."""
    argv = [
        "--model_name_or_path", str(model),
        "--variant", "en",
        "--train_file", str(train),
        "--output_dir", str(tmp_path / "out"),
        "--max_steps", "1",
    ]  # fmt: skip
    assert run_concner.main(argv) == 2
    return _one_error_line(capsys.readouterr().err, str(train))


# --- 1. CR-only (old Mac) line ends ------------------------------------------------------------------------


def test_cr_only_conll_file(tmp_path):
    path = tmp_path / "mac.txt"
    path.write_bytes(b"John B-PER\rSmith I-PER\r\rBerlin B-LOC\r")
    ds = load_ner_dataset(str(path))
    assert ds.to_dict() == {
        "id": ["0", "1"],
        "tokens": [["John", "Smith"], ["Berlin"]],
        "ner_tags": [["B-PER", "I-PER"], ["B-LOC"]],
    }
    assert load_text_dataset(str(path))["tokens"][:] == [["John", "Smith"], ["Berlin"]]


def test_mixed_line_ends_in_one_file(tmp_path):
    path = tmp_path / "mixed.txt"
    path.write_bytes(b"John B-PER\r\nSmith I-PER\r\rBerlin B-LOC\n\nParis B-LOC\r")
    ds = load_ner_dataset(str(path))
    assert ds["tokens"][:] == [["John", "Smith"], ["Berlin"], ["Paris"]]
    assert ds["ner_tags"][:] == [["B-PER", "I-PER"], ["B-LOC"], ["B-LOC"]]


def test_cr_only_plain_text(tmp_path):
    path = tmp_path / "plain.txt"
    path.write_bytes(b"EU rejects German call\rPeter Blackburn\r\rBRUSSELS 1996-08-22\r")
    ds = load_text_dataset(str(path))
    assert ds.to_dict() == {
        "id": ["0", "1", "2"],
        "tokens": [["EU", "rejects", "German", "call"], ["Peter", "Blackburn"], ["BRUSSELS", "1996-08-22"]],
    }
    assert load_text_dataset(str(path), text_format="text")["tokens"][:] == ds["tokens"][:]


def test_cr_only_one_column_conll_text(tmp_path):
    path = tmp_path / "tokens.txt"
    path.write_bytes(b"Hello\rworld\r\rBye\r")
    assert load_text_dataset(str(path), text_format="conll")["tokens"][:] == [["Hello", "world"], ["Bye"]]
    assert load_text_dataset(str(path))["tokens"][:] == [["Hello", "world"], ["Bye"]]


def test_cr_only_jsonl_and_json(tmp_path):
    records = [
        {"id": "a", "tokens": ["EU"], "ner_tags": ["B-ORG"]},
        {"id": "b", "tokens": ["Bonn"], "ner_tags": ["B-LOC"]},
    ]
    jsonl = tmp_path / "mac.jsonl"
    jsonl.write_bytes("\r".join(json.dumps(r) for r in records).encode() + b"\r")
    ds = load_ner_dataset(str(jsonl))
    assert ds.to_dict() == {"id": ["a", "b"], "tokens": [["EU"], ["Bonn"]], "ner_tags": [["B-ORG"], ["B-LOC"]]}
    as_json = tmp_path / "mac.json"
    as_json.write_bytes(("[\r" + ",\r".join(json.dumps(r) for r in records) + "\r]\r").encode())
    assert load_ner_dataset(str(as_json)).to_dict() == ds.to_dict()


@pytest.mark.parametrize(
    ("name", "data", "where"),
    [
        ("tag.txt", b"a O\rb O\r\rc X-LOC\r", "tag.txt:4: invalid tag 'X-LOC'"),
        ("cols.txt", b"a O\r\nb O\r\n\r\nc O extra\r\n", "cols.txt:4: expected 2 columns, got 3"),
        ("bad.jsonl", b'{"tokens": ["a"], "ner_tags": ["O"]}\r\r{"tokens": ["b"], \r', "bad.jsonl:3: invalid JSON"),
        ("bad.json", b'[\r{"tokens": ["a"], "ner_tags": ["O"]},\r\r{"tokens": ["b"], "ner_tags": ["Z-PER"]}\r]\r',
         "bad.json:4: invalid tag 'Z-PER'"),
        ("dup.jsonl", b'{"id": 1, "tokens": ["a"]}\r{"id": 2, "tokens": ["b"]}\r{"id": 1, "tokens": ["c"]}\r',
         "dup.jsonl:3: duplicate id '1' (first used at line 1)"),
        ("utf8.txt", b"a O\rb O\r\rc\xff O\r", "utf8.txt:4: not valid UTF-8: byte 0xff at column 2"),
        ("utf8_crlf.txt", b"a O\r\nb O\r\n\r\nc\xff O\r\n", "utf8_crlf.txt:4: not valid UTF-8: byte 0xff at column 2"),
    ],
)  # fmt: skip
def test_cr_line_numbers_in_errors(tmp_path, name, data, where):
    path = tmp_path / name
    path.write_bytes(data)
    reader = load_text_dataset if name.startswith("dup") else load_ner_dataset
    error = _error(reader, str(path))
    assert str(error).startswith(str(tmp_path / where)), str(error)


def test_read_text_normalises_line_ends(tmp_path):
    path = tmp_path / "ends.txt"
    path.write_bytes(b"a\rb\r\nc\nd\r")
    assert read_text(path) == "a\nb\nc\nd\n"


# --- 2. one-column token files as unlabelled text ----------------------------------------------------------


def test_auto_reads_one_column_blocks_as_sentences(tmp_path):
    path = tmp_path / "tokens.txt"
    path.write_text("EU\nrejects\nGerman\ncall\n\nPeter\nBlackburn\n\n\nBRUSSELS\n")
    assert load_text_dataset(str(path)).to_dict() == {
        "id": ["0", "1", "2"],
        "tokens": [["EU", "rejects", "German", "call"], ["Peter", "Blackburn"], ["BRUSSELS"]],
    }


def test_auto_one_column_with_docstart(tmp_path):
    path = tmp_path / "doc.txt"
    path.write_text("-DOCSTART-\n\nEU\nrejects\nGerman\n")
    assert load_text_dataset(str(path))["tokens"][:] == [["EU", "rejects", "German"]]


def test_auto_keeps_plain_text(tmp_path):
    assert load_text_dataset(fixture("plain.txt"))["tokens"][:] == [
        ["EU", "rejects", "German", "call", "to", "boycott", "British", "lamb", "."],
        ["Peter", "Blackburn"],
        ["BRUSSELS", "1996-08-22"],
    ]
    paragraphs = tmp_path / "paragraphs.txt"
    paragraphs.write_text("Hello there\nBye\n\nSee you\n")
    assert load_text_dataset(str(paragraphs))["tokens"][:] == [["Hello", "there"], ["Bye"], ["See", "you"]]
    spaced = tmp_path / "spaced.txt"  # one-word sentences, a blank line after each: both readings agree
    spaced.write_text("Hello\n\nBye\n\n")
    assert load_text_dataset(str(spaced))["tokens"][:] == [["Hello"], ["Bye"]]
    single = tmp_path / "single.txt"
    single.write_text("Hello\n")
    assert load_text_dataset(str(single))["tokens"][:] == [["Hello"]]


def test_auto_single_token_lines_without_blank_lines_are_ambiguous(tmp_path):
    path = tmp_path / "words.txt"
    path.write_text("\nHello\nworld\nBye\n")
    error = _error(load_text_dataset, str(path))
    assert str(error).startswith(f"{path}:2: cannot tell the text format"), str(error)
    assert "text_format" in str(error)
    assert (error.file, error.line) == (str(path), 2)
    assert load_text_dataset(str(path), text_format="text")["tokens"][:] == [["Hello"], ["world"], ["Bye"]]
    assert load_text_dataset(str(path), text_format="conll")["tokens"][:] == [["Hello", "world", "Bye"]]


def test_cli_ambiguous_unlabelled_file_exits_2(tmp_path, tiny_bert_dir, capsys):
    path = tmp_path / "words.txt"
    path.write_text("Hello\nworld\n")
    line = _distill_fails(tmp_path, tiny_bert_dir, path, capsys)
    assert f"{path}:1: cannot tell the text format" in line and "--text_format" in line


# --- 3. non-string tokens ----------------------------------------------------------------------------------


def test_parquet_integer_tokens(tmp_path):
    path = tmp_path / "ints.parquet"
    pq.write_table(pa.table({"tokens": [[1], [2, 3]], "ner_tags": [["O"], ["O", "O"]]}), path)
    for reader in (load_ner_dataset, load_text_dataset):
        error = _error(reader, str(path))
        assert str(error) == f"{path}: row 0: field 'tokens' must hold strings, got int 1 at position 0"


def test_parquet_null_and_string_tokens(tmp_path):
    nulls = tmp_path / "nulls.parquet"
    pq.write_table(pa.table({"tokens": [["a"], ["b", None]], "ner_tags": [["O"], ["O", "O"]]}), nulls)
    error = _error(load_ner_dataset, str(nulls))
    assert str(error) == f"{nulls}: row 1: field 'tokens' must hold strings, got NoneType None at position 1"
    flat = tmp_path / "flat.parquet"  # a sentence string, not a token list: used to become one token per character
    pq.write_table(pa.table({"tokens": ["a b", "c"]}), flat)
    error = _error(load_text_dataset, str(flat))
    assert str(error) == f"{flat}: row 0: field 'tokens' must be a list of strings, got str 'a b'"


def test_saved_dataset_integer_tokens(tmp_path):
    from datasets import Dataset

    Dataset.from_dict({"tokens": [[1, 2]], "ner_tags": [["O", "O"]]}).save_to_disk(tmp_path / "saved")
    error = _error(load_ner_dataset, str(tmp_path / "saved"))
    assert "row 0: field 'tokens' must hold strings, got int 1" in str(error)


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        ("ints.jsonl", '{"tokens": ["a"], "ner_tags": ["O"]}\n{"tokens": ["b", 2], "ner_tags": ["O", "O"]}\n',
         "ints.jsonl:2: field 'tokens' must hold strings, got int 2 at position 1"),
        ("ints.json", '[\n{"tokens": ["a"], "ner_tags": ["O"]},\n{"tokens": [3.5], "ner_tags": ["O"]}\n]\n',
         "ints.json:3: field 'tokens' must hold strings, got float 3.5 at position 0"),
        ("columns.json", '{"tokens": [["a"], [1]], "ner_tags": [["O"], ["O"]]}',
         "columns.json: row 1: field 'tokens' must hold strings, got int 1 at position 0"),
        ("notlist.jsonl", '{"tokens": "a b", "ner_tags": ["O", "O"]}\n',
         "notlist.jsonl:1: field 'tokens' must be a list of strings, got str 'a b'"),
    ],
)  # fmt: skip
def test_json_non_string_tokens(tmp_path, name, text, where):
    path = tmp_path / name
    path.write_text(text)
    assert str(_error(load_ner_dataset, str(path))) == str(tmp_path / where)


def test_cli_integer_tokens_exit_2(tmp_path, tiny_bert_dir, capsys):
    path = tmp_path / "train.parquet"
    pq.write_table(pa.table({"tokens": [[1, 2]], "ner_tags": [["B-PER", "O"]]}), path)
    line = _teacher_fails(tmp_path, tiny_bert_dir, path, capsys)
    assert "row 0: field 'tokens'" in line


# --- 4. float (or otherwise non-id) tags -------------------------------------------------------------------


@pytest.mark.parametrize("label_list", [None, ["O", "B-PER"]])
def test_parquet_float_tags(tmp_path, label_list):
    path = tmp_path / "floats.parquet"
    pq.write_table(pa.table({"tokens": [["a"], ["b", "c"]], "ner_tags": [[0.0], [1.0, 0.0]]}), path)
    message = str(_error(load_ner_dataset, str(path), label_list=label_list))
    assert (
        message == f"{path}: row 0: field 'ner_tags' must hold tag strings or integer ids, got float 0.0 at position 0"
    )


def test_parquet_bool_tags(tmp_path):
    path = tmp_path / "bools.parquet"
    pq.write_table(pa.table({"tokens": [["a"]], "ner_tags": [[True]]}), path)
    message = str(_error(load_ner_dataset, str(path), label_list=["O", "B-PER"]))
    assert message.endswith(
        "row 0: field 'ner_tags' must hold tag strings or integer ids, got bool True at position 0"
    )


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('{"tokens": ["a", "b"], "ner_tags": [0.0, 1.0]}\n',
         "tags.jsonl:1: field 'ner_tags' must hold tag strings or integer ids, got float 0.0 at position 0"),
        ('{"tokens": ["a"], "ner_tags": ["O"]}\n{"tokens": ["a", "b"], "ner_tags": [0, 1.5]}\n',
         "tags.jsonl:2: field 'ner_tags' must hold tag strings or integer ids, got float 1.5 at position 1"),
        ('{"tokens": ["a", "b"], "ner_tags": ["O", 1]}\n',
         "tags.jsonl:1: field 'ner_tags' mixes tag strings and integer ids "
         "(str 'O' at position 0, int 1 at position 1)"),
        ('{"tokens": ["a", "b"], "ner_tags": "O O"}\n',
         "tags.jsonl:1: field 'ner_tags' must be a list of tag strings or integer ids, got str 'O O'"),
    ],
)  # fmt: skip
def test_jsonl_bad_tag_values(tmp_path, text, where):
    path = tmp_path / "tags.jsonl"
    path.write_text(text)
    assert str(_error(load_ner_dataset, str(path), label_list=["O", "B-PER"])) == str(tmp_path / where)


def test_cli_float_tags_exit_2(tmp_path, tiny_bert_dir, capsys):
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps({"tokens": ["Peter", "said"], "ner_tags": [1.0, 0.0]}) + "\n")
    line = _teacher_fails(tmp_path, tiny_bert_dir, path, capsys)
    assert f"{path}:1: field 'ner_tags'" in line and "float" in line and "are integer ids" not in line


# --- 5. unreadable files -----------------------------------------------------------------------------------


def test_directory_where_a_file_is_expected(tmp_path):
    folder = tmp_path / "train.txt"
    folder.mkdir()
    (folder / "part-0.txt").write_text("a O\n")
    for reader in (load_ner_dataset, load_text_dataset):
        error = _error(reader, str(folder))
        assert str(error).startswith(f"{folder}: is a directory but not a dataset saved with save_to_disk"), str(error)
    error = _error(read_text, folder)  # e.g. the pairing code re-reading a file for a line number
    assert str(error) == f"{folder}: is a directory, not a file"


def test_invalid_utf8_in_every_text_format(tmp_path):
    cases = {
        "bad.txt": (b"fine sentence\nbad \xe9t\xe9\n", 2, 5),
        "bad.conll": (b"a O\n\nb\xc3 O\n", 3, 2),
        "bad.jsonl": (b'{"tokens": ["a"]}\n{"tokens": ["\xff"]}\n', 2, 14),
        "bad.json": (b'[\n{"tokens": ["\xfe"]}\n]', 2, 14),
    }
    for name, (data, line, column) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        error = _error(load_text_dataset, str(path))
        assert str(error).startswith(f"{path}:{line}: not valid UTF-8: byte "), str(error)
        assert f"at column {column} " in str(error)


def _deny_open(monkeypatch, denied: Path) -> None:
    """Make ``open(denied)`` raise PermissionError (tests run as root, where chmod does not stop reads)."""
    real_open = builtins.open

    def fake_open(file, *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and os.path.abspath(os.fspath(file)) == str(denied):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", fake_open)


@pytest.mark.parametrize("name", ["locked.txt", "locked.jsonl", "locked.json"])
def test_permission_denied_on_open(tmp_path, monkeypatch, name):
    path = tmp_path / name
    path.write_text('{"tokens": ["a"], "ner_tags": ["O"]}\n' if "json" in name else "a O\n")
    _deny_open(monkeypatch, path)
    for reader in (load_ner_dataset, load_text_dataset):
        error = _error(reader, str(path))
        assert str(error) == f"{path}: cannot read the file (PermissionError: Permission denied)"


def test_permission_denied_on_stat(tmp_path, monkeypatch):
    path = tmp_path / "hidden" / "train.txt"

    def no_access(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "is_dir", no_access)
    error = _error(load_ner_dataset, str(path))
    assert str(error) == f"{path}: cannot access the path (PermissionError: Permission denied)"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_not_a_regular_file(tmp_path):
    path = tmp_path / "pipe.txt"
    os.mkfifo(path)
    assert str(_error(load_text_dataset, str(path))) == f"{path}: not a regular file or a directory"


def test_cli_directory_as_unlabelled_file_exits_2(tmp_path, tiny_bert_dir, capsys):
    folder = tmp_path / "unlabelled.txt"
    folder.mkdir()
    line = _distill_fails(tmp_path, tiny_bert_dir, folder, capsys)
    assert "is a directory" in line


def test_cli_invalid_utf8_exits_2(tmp_path, tiny_bert_dir, capsys):
    path = tmp_path / "train.txt"
    path.write_bytes(b"Peter B-PER\rsa\xefd O\r")
    line = _teacher_fails(tmp_path, tiny_bert_dir, path, capsys)
    assert f"{path}:2: not valid UTF-8" in line


def test_cli_permission_denied_exits_2(tmp_path, tiny_bert_dir, monkeypatch, capsys):
    path = tmp_path / "unlabelled.txt"
    path.write_text("Peter said so\n")
    _deny_open(monkeypatch, path)
    line = _distill_fails(tmp_path, tiny_bert_dir, path, capsys)
    assert line == f"error: {path}: cannot read the file (PermissionError: Permission denied)"
