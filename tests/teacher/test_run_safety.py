"""`run_concner.py` never destroys what the user made, never scores a random head, and refuses bad input in one line.

The output-folder rules are those of `run_distill.py` (`concner.cli.check_output_dir`): each refused command exits
with status 2 and one `error:` line naming the option or file, with no traceback, and leaves every file as it was.
"""

from __future__ import annotations

import json

import pytest

import run_concner
from tests.fs_helpers import assert_same_tree, one_error_line, snapshot
from tests.teacher.helpers import run_argv, write_conll


def _refused(argv, capsys, *names: str) -> str:
    assert run_concner.main(argv) == 2
    return one_error_line(capsys.readouterr().err, *names)


def _argv(synthetic, model, output, *extra):
    return run_argv(synthetic, model, output, "--max_steps", "2", "--eval_steps", "2", "--save_steps", "2", *extra)


def test_output_dir_holding_the_encoder_is_refused_and_left_intact(synthetic, tiny_bert_dir, tmp_path, capsys):
    before = snapshot(tmp_path)
    for output in (tiny_bert_dir, tiny_bert_dir / "teacher"):
        _refused(_argv(synthetic, tiny_bert_dir, output, "--overwrite_output_dir", "true"), capsys, "--output_dir")
    assert_same_tree(before, tmp_path)


def test_non_empty_output_dir_needs_resume_or_overwrite(synthetic, tiny_bert_dir, tmp_path, capsys):
    out = tmp_path / "teacher"
    assert run_concner.main(_argv(synthetic, tiny_bert_dir, out)) == 0
    before = snapshot(tmp_path)
    line = _refused(_argv(synthetic, tiny_bert_dir, out), capsys, "--output_dir", "checkpoint-2")
    assert "--resume_from_checkpoint true" in line and "--overwrite_output_dir" in line
    assert_same_tree(before, tmp_path)
    _, _, _, training_args = run_concner.parse_arguments(
        _argv(synthetic, tiny_bert_dir, out, "--resume_from_checkpoint", "true")
    )
    assert training_args.resume_from_checkpoint == str(out / "checkpoint-2")
    (out / "notes.txt").write_text("mine\n")
    assert run_concner.main(_argv(synthetic, tiny_bert_dir, out, "--overwrite_output_dir", "true")) == 0
    assert (out / "notes.txt").read_text() == "mine\n"


@pytest.mark.parametrize("case", ["resume_true_nothing", "resume_missing", "output_file", "seq_length"])
def test_refused_before_anything_is_written(case, synthetic, tiny_bert_dir, tmp_path, capsys):
    out = tmp_path / "teacher"
    extra, names = {
        "resume_true_nothing": (["--resume_from_checkpoint", "true"], ["--resume_from_checkpoint"]),
        "resume_missing": (["--resume_from_checkpoint", str(tmp_path / "gone")], ["gone"]),
        "output_file": ([], ["--output_dir"]),
        "seq_length": (["--max_seq_length", "1024"], ["--max_seq_length", "128"]),
    }[case]
    if case == "output_file":
        out = tmp_path / "a-file"
        out.write_text("x")
    before = snapshot(tmp_path)
    _refused(_argv(synthetic, tiny_bert_dir, out, *extra), capsys, *names)
    assert_same_tree(before, tmp_path)


def test_do_train_false_never_scores_an_untrained_head(synthetic, tiny_bert_dir, tmp_path, capsys):
    from transformers import BertModel

    encoder = tmp_path / "encoder"
    BertModel.from_pretrained(tiny_bert_dir).save_pretrained(encoder)  # a base encoder: no trained classifier
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (encoder / name).write_bytes((tiny_bert_dir / name).read_bytes())
    before = snapshot(tmp_path)
    line = _refused(_argv(synthetic, encoder, tmp_path / "scored", "--do_train", "false"), capsys, "--do_train false")
    assert "untrained" in line
    assert_same_tree(before, tmp_path)
    # a trained teacher is scored as it is
    teacher = tmp_path / "teacher"
    assert run_concner.main(_argv(synthetic, tiny_bert_dir, teacher)) == 0
    assert run_concner.main(_argv(synthetic, teacher, tmp_path / "scored", "--do_train", "false")) == 0
    results = json.loads((tmp_path / "scored" / "all_results.json").read_text())
    assert "eval_f1" in results and "test_de_f1" in results and "train_runtime" not in results


def test_dev_set_label_mismatch_is_refused(synthetic, tiny_bert_dir, tmp_path, capsys):
    misc = write_conll(tmp_path / "misc_dev.txt", [{"tokens": ["Euro"], "ner_tags": ["B-MISC"]}])
    files = {**synthetic, "dev": misc}
    _refused(_argv(files, tiny_bert_dir, tmp_path / "t1"), capsys, "dev set", "share no entity type")
    wider = write_conll(
        tmp_path / "wider_dev.txt",
        [{"tokens": ["Paris", "Euro"], "ner_tags": ["B-LOC", "B-MISC"]}, {"tokens": ["John"], "ner_tags": ["B-PER"]}],
    )
    files = {**synthetic, "dev": wider}
    _refused(_argv(files, tiny_bert_dir, tmp_path / "t2"), capsys, "dev set", "MISC", "--map_types_to_o")
    assert not (tmp_path / "t1").exists() and not (tmp_path / "t2").exists()


def test_max_train_samples_above_the_data_is_said_and_carded(synthetic, tiny_bert_dir, tmp_path, capsys):
    out = tmp_path / "teacher"
    assert run_concner.main(_argv(synthetic, tiny_bert_dir, out, "--max_train_samples", "5000")) == 0
    assert "--max_train_samples 5000 but the source has only 16 sentences" in capsys.readouterr().out
    card = (out / "README.md").read_text()
    assert "5000" not in card and "16" in card
