"""`run_distill.py` never destroys what the user made, never scores a random head, and refuses bad input in one line.

Each refused command: exit status 2, one `error:` line naming the file or option, no traceback, and (for the cases
that used to lose data) every file present before it byte-identical after it.
"""

from __future__ import annotations

import json

import pytest

import run_distill
from tests.conftest import LABELS, build_tiny_tokenizer
from tests.distill.conftest import make_model
from tests.distill.test_run_distill import _common, base_encoder, bert_teacher, files  # noqa: F401  (fixtures)
from tests.fs_helpers import assert_same_tree, one_error_line, snapshot


def _refused(argv, capsys, *names: str) -> str:
    assert run_distill.main(argv) == 2
    return one_error_line(capsys.readouterr().err, *names)


def _train(tmp_path, files, teacher, **extra):  # noqa: F811
    return _common(tmp_path, files, teacher_model_name_or_path=teacher, model_name_or_path=teacher, **extra)


def test_output_dir_holding_the_teacher_is_refused_and_left_intact(tmp_path, files, bert_teacher, capsys):  # noqa: F811
    before = snapshot(tmp_path)
    argv = _train(tmp_path, files, bert_teacher, output_dir=bert_teacher)
    _refused(argv, capsys, "--output_dir", str(bert_teacher))
    assert_same_tree(before, tmp_path)
    # even with the licence to overwrite, and for a folder inside the teacher's
    _refused(argv + ["--overwrite_output_dir", "true"], capsys, "--output_dir")
    _refused(_train(tmp_path, files, bert_teacher, output_dir=bert_teacher / "student"), capsys, "--output_dir")
    assert_same_tree(before, tmp_path)


def test_non_empty_output_dir_is_refused_unless_resumed_or_overwritten(tmp_path, files, bert_teacher, capsys):  # noqa: F811
    other = tmp_path / "student"
    other.mkdir()
    (other / "notes.txt").write_text("mine\n")
    before = snapshot(tmp_path)
    line = _refused(_train(tmp_path, files, bert_teacher), capsys, "--output_dir", "--overwrite_output_dir")
    assert "not empty" in line
    assert_same_tree(before, tmp_path)
    # --overwrite_output_dir trains, and leaves the files it does not write alone
    assert run_distill.main(_train(tmp_path, files, bert_teacher, overwrite_output_dir="true")) == 0
    assert (other / "notes.txt").read_text() == "mine\n" and (other / "model.safetensors").is_file()


def test_checkpoints_are_resumed_only_when_asked(tmp_path, files, bert_teacher, capsys):  # noqa: F811
    out = tmp_path / "student"
    argv = _train(tmp_path, files, bert_teacher, save_strategy="steps", save_steps=3)
    assert run_distill.main(argv) == 0
    assert (out / "checkpoint-3").is_dir() and (out / "checkpoint-6").is_dir()
    before = snapshot(tmp_path)
    # a rerun into the same folder does not silently resume: it says how to resume or start afresh
    line = _refused(argv, capsys, "--output_dir", "checkpoint-6")
    assert "--resume_from_checkpoint true" in line and "--overwrite_output_dir" in line
    assert_same_tree(before, tmp_path)
    # `true` resumes from the last checkpoint, a path from that checkpoint
    _, _, training_args = run_distill.parse_arguments(argv + ["--resume_from_checkpoint", "true"])
    assert training_args.resume_from_checkpoint == str(out / "checkpoint-6")
    assert run_distill.main(argv + ["--resume_from_checkpoint", "true"]) == 0
    assert json.loads((out / "trainer_state.json").read_text())["global_step"] >= 6
    assert run_distill.main(argv + ["--resume_from_checkpoint", str(out / "checkpoint-3"), "--max_steps", "9"]) == 0
    assert json.loads((out / "trainer_state.json").read_text())["global_step"] >= 9
    # a missing checkpoint is refused before anything is written
    before = snapshot(tmp_path)
    _refused(argv + ["--resume_from_checkpoint", str(out / "checkpoint-99")], capsys, "checkpoint-99")
    assert_same_tree(before, tmp_path)


def test_resume_true_without_a_checkpoint_is_one_line(tmp_path, files, bert_teacher, capsys):  # noqa: F811
    before = snapshot(tmp_path)
    _refused(_train(tmp_path, files, bert_teacher, resume_from_checkpoint="true"), capsys, "--resume_from_checkpoint")
    assert_same_tree(before, tmp_path)


def test_without_training_an_untrained_head_is_never_scored(tmp_path, files, bert_teacher, base_encoder, capsys):  # noqa: F811
    argv = _common(
        tmp_path,
        files,
        teacher_model_name_or_path=bert_teacher,
        model_name_or_path=base_encoder,
        validation_file=files["dev"],
        do_train="false",
    )
    before = snapshot(tmp_path)
    line = _refused(argv, capsys, "--do_train false", str(base_encoder))
    assert "untrained" in line
    assert_same_tree(before, tmp_path)


def test_training_is_the_default_and_do_train_false_scores_a_trained_student(tmp_path, files, bert_teacher, capsys):  # noqa: F811
    argv = _train(tmp_path, files, bert_teacher, validation_file=files["dev"])
    argv.remove("--do_train") if "--do_train" in argv else None
    assert run_distill.main(argv) == 0
    student = tmp_path / "student"
    assert json.loads((student / "train_results.json").read_text())["train_samples"] > 0
    argv = _common(
        tmp_path,
        files,
        teacher_model_name_or_path=bert_teacher,
        model_name_or_path=student,
        validation_file=files["dev"],
        output_dir=tmp_path / "scored",
        do_train="false",
    )
    assert run_distill.main(argv) == 0
    results = json.loads((tmp_path / "scored" / "all_results.json").read_text())
    assert "eval_f1" in results and "train_runtime" not in results


@pytest.mark.parametrize("case", ["file", "under_a_file", "read_only"])
def test_unusable_output_dir_is_one_line(case, tmp_path, files, bert_teacher, capsys, monkeypatch):  # noqa: F811
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    out = {"file": blocker, "under_a_file": blocker / "student", "read_only": tmp_path / "ro" / "student"}[case]
    if case == "read_only":  # tests run as root, for whom chmod does not bite: the check asks os.access
        (tmp_path / "ro").mkdir()
        real = run_distill.check_output_dir.__globals__["os"].access
        monkeypatch.setattr(
            "concner.cli.os.access", lambda p, m: False if str(p) == str(tmp_path / "ro") else real(p, m)
        )
    before = snapshot(tmp_path)
    _refused(_train(tmp_path, files, bert_teacher, output_dir=out), capsys, "--output_dir")
    assert_same_tree(before, tmp_path)


def test_missing_teacher_folder_is_named_plainly(tmp_path, files, capsys):  # noqa: F811
    missing = tmp_path / "runs" / "teacher"
    line = _refused(_train(tmp_path, files, missing), capsys, "--teacher_model_name_or_path", str(missing))
    assert "no such folder" in line and "Repo id" not in line


def test_max_seq_length_above_the_position_limit_is_refused_before_any_weight(tmp_path, files, bert_teacher, capsys):  # noqa: F811
    before = snapshot(tmp_path)
    _refused(_train(tmp_path, files, bert_teacher, max_seq_length=4096), capsys, "--max_seq_length", "128")
    assert_same_tree(before, tmp_path)


def _conll(path, rows):
    path.write_text("".join("".join(f"{w} {t}\n" for w, t in row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_label_sets_that_cannot_match_are_refused_or_mapped(tmp_path, files, bert_teacher, capsys):  # noqa: F811
    # a test set with a type the student lacks
    narrow = tmp_path / "narrow-teacher"
    make_model(
        len(build_tiny_tokenizer(narrow)), seed=4, labels=["O", "B-LOC", "B-PER", "I-LOC", "I-PER"]
    ).save_pretrained(narrow)
    test = _conll(tmp_path / "wide.txt", [[("Paris", "B-LOC"), ("Reuters", "B-ORG")], [("John", "B-PER")]])
    argv = _train(tmp_path, files, narrow) + ["--test_files", f"de={test}"]
    before = snapshot(tmp_path)
    line = _refused(argv, capsys, "test set 'de'", "ORG", "--map_types_to_o")
    assert_same_tree(before, tmp_path)
    # the remedy the message names works, and the summary says what was mapped
    assert run_distill.main(argv + ["--map_types_to_o", "ORG"]) == 0
    assert "mapped to O when scoring: ORG" in capsys.readouterr().out
    del line

    # a dev set that shares no entity type with the teacher
    misc_only = _conll(tmp_path / "misc.txt", [[("Euro", "B-MISC")]])
    argv = _train(tmp_path, files, narrow, validation_file=misc_only, output_dir=tmp_path / "s1")
    _refused(argv, capsys, "dev set", "share no entity type")

    # a teacher with MISC scored on a test set without it: a note, and `auto` maps it
    wikiann = _conll(tmp_path / "wikiann.txt", [[("Paris", "B-LOC"), ("John", "B-PER"), ("UN", "B-ORG")]])
    argv = _train(tmp_path, files, bert_teacher, output_dir=tmp_path / "s2") + ["--test_files", f"xx={wikiann}"]
    assert run_distill.main(argv + ["--map_types_to_o", "auto"]) == 0
    assert "mapped to O when scoring: MISC" in capsys.readouterr().out
    assert set(LABELS) > {"B-MISC"}  # the teacher really has MISC


def test_unlabeled_max_samples_larger_than_the_data_is_said(tmp_path, files, bert_teacher, capsys):  # noqa: F811
    assert run_distill.main(_train(tmp_path, files, bert_teacher, unlabeled_max_samples=100000)) == 0
    assert "--unlabeled_max_samples 100000 but D_U has only 40 sentences" in capsys.readouterr().out
