"""`concner-predict` on a tiny trained student: agreement with `pipeline("ner")`, windows, formats, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from transformers import AutoTokenizer, pipeline

from concner.data.tokenization import tokenize_and_align
from concner.metrics import ner_scores
from concner.predict import entity_spans, load_model, main, predict_sentences
from tests.conftest import REPO_ROOT
from tests.fs_helpers import assert_same_tree, mode, one_error_line, snapshot, umask
from tests.hub.conftest import PAIRS, TEST_DE, rows

SENTENCES = [p[0] for p in PAIRS] + [p[2] for p in PAIRS] + [s for s, _ in TEST_DE]


def _word_span(text_starts: list[int], tokens: list[str], start: int, end: int) -> tuple[int, int]:
    first = max(i for i, s in enumerate(text_starts) if s <= start)
    last = max(i for i, s in enumerate(text_starts) if s <= end - 1)
    return first, last + 1


def pipeline_spans(ner, tokens: list[str]) -> list[tuple[int, int, str, float]]:
    """The pipeline's entity groups on `" ".join(tokens)`, as word spans `(start, end, type, score)`."""
    starts, offset = [], 0
    for token in tokens:
        starts.append(offset)
        offset += len(token) + 1
    spans = []
    for group in ner(" ".join(tokens)):
        start, end = _word_span(starts, tokens, group["start"], group["end"])
        spans.append((start, end, group["entity_group"], float(group["score"])))
    return spans


def _write(path, lines: list[str]) -> str:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def _read_jsonl(path) -> list[dict]:
    return [json.loads(line) for line in open(path, encoding="utf-8")]


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith("error: ")
    assert not any("Traceback" in line for line in err)
    return err[-1]


def test_pipeline_returns_named_entity_groups(student_dir):
    ner = pipeline("ner", model=str(student_dir), aggregation_strategy="simple")
    groups = ner("mary was in london with john")
    assert [(g["entity_group"], g["word"]) for g in groups] == [("PER", "mary"), ("LOC", "london"), ("PER", "john")]
    labels = set(ner.model.config.id2label.values())
    assert not any(label.startswith("LABEL_") for label in labels)


def test_predict_agrees_with_the_pipeline(student_dir, tmp_path, capsys):
    input_file = _write(tmp_path / "in.txt", SENTENCES)
    output_file = tmp_path / "out.jsonl"
    assert main(["--model_name_or_path", str(student_dir), "--input_file", input_file, "--input_format", "text",
                 "--output_file", str(output_file), "--batch_size", "3"]) == 0  # fmt: skip
    records = _read_jsonl(output_file)
    assert [r["tokens"] for r in records] == [s.split() for s in SENTENCES]
    first = pipeline("ner", model=str(student_dir), aggregation_strategy="first")
    simple = pipeline("ner", model=str(student_dir), aggregation_strategy="simple")
    tokenizer = AutoTokenizer.from_pretrained(student_dir)
    compared_simple = n_entities = 0
    for record in records:
        ours = [(e["start"], e["end"], e["type"]) for e in record["entities"]]
        n_entities += len(ours)
        theirs = pipeline_spans(first, record["tokens"])
        assert ours == [s[:3] for s in theirs], record["tokens"]
        # Same words, same first-sub-word probabilities: the span scores agree too.
        assert [e["score"] for e in record["entities"]] == pytest.approx([s[3] for s in theirs], abs=1e-4)
        # "simple" groups sub-words; where every word is one piece it must give the same spans.
        if all(len(tokenizer.tokenize(w)) == 1 for w in record["tokens"]):
            assert ours == [s[:3] for s in pipeline_spans(simple, record["tokens"])]
            compared_simple += 1
        for entity in record["entities"]:
            assert entity["text"] == " ".join(record["tokens"][entity["start"] : entity["end"]])
            assert 0.0 < entity["score"] <= 1.0
    assert n_entities >= 20 and compared_simple >= 8


def test_long_sentences_are_windowed_and_no_word_is_dropped(student_dir, tmp_path):
    model, tokenizer = load_model(str(student_dir), "cpu")
    long_sentence = ("peter said he was in berlin and " * 8).split()
    from datasets import Dataset

    dataset = Dataset.from_list([{"id": "long", "tokens": long_sentence}, {"id": "short", "tokens": ["john"]}])
    windowed = predict_sentences(model, tokenizer, dataset, batch_size=2, max_seq_length=12)
    whole = predict_sentences(model, tokenizer, dataset, batch_size=2, max_seq_length=128)
    assert len(windowed[0].tags) == len(long_sentence) == 56
    assert all(score > 0.0 for score in windowed[0].scores), "every word got a prediction"
    # Stitching: each word's tag is the one the model gives it inside its own window.
    features = tokenize_and_align(dataset.select([0]), tokenizer, None, 12)
    assert len(features) >= 5
    id2label = model.config.id2label
    for row in features:
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([row["input_ids"]])).logits[0]
        for position, word in enumerate(row["word_index"]):
            if word >= 0:
                assert windowed[0].tags[word] == id2label[int(logits[position].argmax())]
    assert any(tag != "O" for tag in windowed[0].tags[features[-1]["word_index"][1] :])
    assert windowed[1].tags == whole[1].tags


def test_conll_input_with_gold_and_evaluate(student_dir, tmp_path, capsys):
    lines = []
    for sentence, tags in TEST_DE:
        lines += [f"{w} {t}" for w, t in zip(sentence.split(), tags.split())] + [""]
    input_file = _write(tmp_path / "test.conll", lines)
    output_file = tmp_path / "pred.conll"
    assert main(["--model_name_or_path", str(student_dir), "--input_file", input_file,
                 "--output_file", str(output_file), "--evaluate"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    blocks = output_file.read_text(encoding="utf-8").strip().split("\n\n")
    predicted = [[line.split()[1] for line in block.splitlines()] for block in blocks]
    assert [[line.split()[0] for line in b.splitlines()] for b in blocks] == [s.split() for s, _ in TEST_DE]
    scores = ner_scores([t.split() for _, t in TEST_DE], predicted)
    assert f"overall{scores['precision']:>13.4f}{scores['recall']:>10.4f}{scores['f1']:>10.4f}" in out
    assert "PER" in out


def test_teacher_folder_and_its_export_predict_the_same(teacher_run, tmp_path):
    from concner.export import export_plain_bert

    folder, _ = teacher_run
    exported = export_plain_bert(folder, tmp_path / "bert")
    input_file = _write(tmp_path / "in.jsonl", [json.dumps({"tokens": s.split()}) for s in SENTENCES])
    outputs = []
    for model_dir in (folder, exported):
        output_file = tmp_path / f"{model_dir.name}.jsonl"
        assert main(["--model_name_or_path", str(model_dir), "--input_file", input_file,
                     "--output_file", str(output_file)]) == 0  # fmt: skip
        outputs.append([r["ner_tags"] for r in _read_jsonl(output_file)])
    assert outputs[0] == outputs[1]


@pytest.mark.parametrize(
    "case",
    ["missing_input", "bad_conll", "evaluate_without_gold", "missing_model", "bad_batch_size", "unknown_argument"],
)
def test_bad_input_is_one_line_and_exit_2(case, student_dir, tmp_path, capsys):
    good = _write(tmp_path / "in.txt", ["peter ist in berlin"])
    output_file = tmp_path / "out.jsonl"
    output_file.write_text("previous content\n")
    argv = ["--model_name_or_path", str(student_dir), "--input_file", good, "--input_format", "text",
            "--output_file", str(output_file)]  # fmt: skip
    if case == "missing_input":
        argv[3] = str(tmp_path / "nope.txt")
    elif case == "bad_conll":
        argv[3] = _write(tmp_path / "bad.conll", ["peter B-PER", "berlin X-LOC"])
        argv[4:6] = ["--input_format", "conll"]
    elif case == "evaluate_without_gold":
        argv.append("--evaluate")
    elif case == "missing_model":
        argv[1] = str(tmp_path / "no-model")
    elif case == "bad_batch_size":
        argv += ["--batch_size", "0"]
    else:
        argv.append("--frobnicate")
    if case == "unknown_argument":
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
    else:
        assert main(argv) == 2
    line = _one_error_line(capsys)
    if case == "bad_conll":
        assert "bad.conll:2" in line
    assert output_file.read_text() == "previous content\n"
    assert [p for p in os.listdir(tmp_path) if p.endswith(".tmp")] == []


def test_console_entry_point_reports_errors_without_traceback(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "concner.predict", "--model_name_or_path", str(tmp_path / "m"),
         "--input_file", str(tmp_path / "x.txt"), "--output_file", str(tmp_path / "o.jsonl")],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: ") and "Traceback" not in result.stderr


def test_jsonl_input_rows_keep_their_ids(student_dir, tmp_path):
    input_file = _write(tmp_path / "in.jsonl", [json.dumps(r) for r in rows(TEST_DE, "doc-")])
    output_file = tmp_path / "out.jsonl"
    assert main(["--model_name_or_path", str(student_dir), "--input_file", input_file,
                 "--output_file", str(output_file), "--evaluate"]) == 0  # fmt: skip
    assert [r["id"] for r in _read_jsonl(output_file)] == ["doc-0", "doc-1", "doc-2", "doc-3"]


def test_entity_spans_read_iob2_and_average_scores():
    tokens = ["peter", "john", "in", "new", "york", "city"]
    tags = ["B-PER", "I-PER", "O", "I-LOC", "I-LOC", "B-LOC"]
    spans = entity_spans(tokens, tags, [0.9, 0.7, 1.0, 0.5, 0.7, 0.8])
    assert spans == [
        {"start": 0, "end": 2, "type": "PER", "text": "peter john", "score": pytest.approx(0.8)},
        {"start": 3, "end": 5, "type": "LOC", "text": "new york", "score": pytest.approx(0.6)},
        {"start": 5, "end": 6, "type": "LOC", "text": "city", "score": pytest.approx(0.8)},
    ]


@pytest.mark.parametrize("case", ["folder", "under_a_file", "not_writable", "fifo"])
def test_unusable_output_file_is_one_line_before_loading_the_model(case, student_dir, tmp_path, capsys, monkeypatch):
    good = _write(tmp_path / "in.txt", ["peter ist in berlin"])
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "old.jsonl").write_text("keep me\n")
    output_file = {
        "folder": tmp_path / "results",
        "under_a_file": tmp_path / "in.txt" / "out.jsonl",
        "not_writable": tmp_path / "new" / "out.jsonl",
        "fifo": tmp_path / "pipe",
    }[case]
    if case == "fifo":  # like /dev/null or /dev/stdout: never to be replaced by a regular file
        os.mkfifo(output_file)
    if case == "not_writable":  # tests run as root: chmod cannot take the permission away
        real_access, denied = os.access, os.path.realpath(tmp_path)
        monkeypatch.setattr(os, "access", lambda path, flags: path != denied and real_access(path, flags))
    monkeypatch.setattr("concner.predict.load_model", lambda *a, **k: pytest.fail("the model was loaded"))
    before = snapshot(tmp_path)
    assert main(["--model_name_or_path", str(student_dir), "--input_file", good, "--input_format", "text",
                 "--output_file", str(output_file)]) == 2  # fmt: skip
    one_error_line(capsys.readouterr().err, "--output_file", str(output_file))
    assert_same_tree(before, tmp_path)


def test_write_failure_is_one_line_and_leaves_nothing(student_dir, tmp_path, capsys, monkeypatch):
    good = _write(tmp_path / "in.txt", ["peter ist in berlin"])
    (tmp_path / "out.jsonl").write_text("previous\n")
    before = snapshot(tmp_path)

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    assert main(["--model_name_or_path", str(student_dir), "--input_file", good, "--input_format", "text",
                 "--output_file", str(tmp_path / "out.jsonl")]) == 2  # fmt: skip
    one_error_line(capsys.readouterr().err, "--output_file", "No space left")
    assert_same_tree(before, tmp_path)


@pytest.mark.parametrize(("mask", "file_mode", "dir_mode"), [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700)])
def test_predictions_follow_the_umask(student_dir, tmp_path, mask, file_mode, dir_mode):
    good = _write(tmp_path / "in.txt", ["peter ist in berlin"])
    output_file = tmp_path / "new" / "out.conll"
    with umask(mask):
        assert main(["--model_name_or_path", str(student_dir), "--input_file", good, "--input_format", "text",
                     "--output_file", str(output_file)]) == 0  # fmt: skip
    assert output_file.read_text().split()[0] == "peter"
    assert mode(output_file) == file_mode and mode(output_file.parent) == dir_mode
