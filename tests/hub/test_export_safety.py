"""`python -m concner.export` never deletes what it did not create, refuses unsafe destinations in one line, and
writes files with the umask's permissions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from concner.export import main
from tests.conftest import REPO_ROOT
from tests.fs_helpers import assert_same_tree, assert_unchanged, mode, one_error_line, snapshot, umask


@pytest.fixture
def runs(teacher_run, tmp_path) -> Path:
    """A `runs/` folder like a user's: the teacher, another model and notes."""
    folder, _ = teacher_run
    runs = tmp_path / "runs"
    runs.mkdir()
    folder.rename(runs / "teacher")
    (runs / "notes.txt").write_text("seed 1: F1 0.71\n")
    (runs / "other-model").mkdir()
    (runs / "other-model" / "config.json").write_text('{"model_type": "bert"}\n')
    (runs / "other-model" / "model.safetensors").write_bytes(b"\x00weights")
    return runs


def _export(capsys, *argv: str) -> tuple[int, str]:
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return status, captured.err


def test_export_into_the_parent_of_the_source_deletes_nothing(runs, capsys):
    before = snapshot(runs.parent)
    for extra in ([], ["--overwrite"]):
        status, err = _export(capsys, runs / "teacher", runs, *extra)
        assert status == 2
        one_error_line(err, str(runs))
        assert_same_tree(before, runs.parent)


def test_export_from_a_script_into_the_parent_of_the_source(runs):
    """The reported command itself, in a fresh process: one line, status 2, nothing touched."""
    before = snapshot(runs.parent)
    result = subprocess.run(
        [sys.executable, "-m", "concner.export", "runs/teacher", "runs", "--overwrite"],
        cwd=runs.parent,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stdout + result.stderr
    one_error_line(result.stderr, "runs", "contains the source")
    assert_same_tree(before, runs.parent)


@pytest.mark.parametrize("where", ["same", "inside_with_existing"])
def test_export_refuses_the_source_folder_itself_or_its_own_files(runs, where, capsys):
    src = runs / "teacher"
    dst = {"same": src, "inside_with_existing": src / "checkpoint-10"}[where]
    before = snapshot(runs.parent)
    status, err = _export(capsys, src, dst, "--overwrite")
    assert status == 2
    one_error_line(err, str(dst), "source" if where == "same" else "")
    assert_same_tree(before, runs.parent)


def test_export_into_a_new_folder_inside_the_source_keeps_the_source(runs, capsys):
    """What `run_concner.py --export_plain_bert` does: `<output_dir>/bert`."""
    src = runs / "teacher"
    before = snapshot(runs.parent)
    status, _ = _export(capsys, src, src / "bert")
    assert status == 0 and (src / "bert" / "config.json").is_file()
    assert_unchanged(before, runs.parent)


def test_non_empty_destination_needs_overwrite_and_must_be_a_previous_export(runs, capsys):
    dst = runs / "other-model"
    (dst / "notes.txt").write_text("keep me\n")
    before = snapshot(runs.parent)
    status, err = _export(capsys, runs / "teacher", dst)
    assert status == 2
    one_error_line(err, str(dst), "--overwrite")
    status, err = _export(capsys, runs / "teacher", dst, "--overwrite")
    assert status == 2
    one_error_line(err, str(dst), "notes.txt")
    assert_same_tree(before, runs.parent)


def test_overwrite_refuses_another_kind_of_model_folder(runs, capsys):
    """`other-model` holds only config.json and weights, but it is no BertForTokenClassification export."""
    before = snapshot(runs.parent)
    status, err = _export(capsys, runs / "teacher", runs / "other-model", "--overwrite")
    assert status == 2
    one_error_line(err, str(runs / "other-model"), "not a BertForTokenClassification")
    assert_same_tree(before, runs.parent)


def test_overwrite_replaces_a_previous_export_only(runs, capsys):
    dst = runs / "teacher-bert"
    status, _ = _export(capsys, runs / "teacher", dst)
    assert status == 0
    first = snapshot(dst)
    (dst / "README.md").write_text("edited by hand\n")
    (dst / "model.safetensors").write_bytes(b"stale")
    others = {k: v for k, v in snapshot(runs.parent).items() if not k.startswith("runs/teacher-bert")}

    status, err = _export(capsys, runs / "teacher", dst)
    assert status == 2
    one_error_line(err, str(dst), "not empty")
    assert (dst / "README.md").read_text() == "edited by hand\n"

    status, _ = _export(capsys, runs / "teacher", dst, "--overwrite")
    assert status == 0
    assert snapshot(dst) == first
    assert_unchanged(others, runs.parent)
    assert sorted(p.name for p in runs.iterdir()) == ["notes.txt", "other-model", "teacher", "teacher-bert"]


def test_overwrite_failure_keeps_the_previous_export(runs, capsys, monkeypatch):
    dst = runs / "teacher-bert"
    assert _export(capsys, runs / "teacher", dst)[0] == 0
    before = snapshot(runs.parent)

    def fail(self, folder, **kwargs):
        Path(folder, "model.safetensors").write_bytes(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("transformers.BertForTokenClassification.save_pretrained", fail)
    status, err = _export(capsys, runs / "teacher", dst, "--overwrite")
    assert status == 2
    one_error_line(err, str(dst), "No space left")
    assert_same_tree(before, runs.parent)


def test_empty_destination_folder_is_used(runs, capsys):
    (runs / "empty").mkdir()
    assert _export(capsys, runs / "teacher", runs / "empty")[0] == 0
    assert (runs / "empty" / "model.safetensors").is_file()


@pytest.mark.parametrize("case", ["file", "under_a_file", "symlink", "not_writable"])
def test_unusable_destinations_are_one_line(runs, case, capsys, monkeypatch):
    dst = {
        "file": runs / "notes.txt",
        "under_a_file": runs / "notes.txt" / "bert",
        "symlink": runs / "link",
        "not_writable": runs / "new" / "bert",
    }[case]
    if case == "symlink":
        dst.symlink_to(runs / "other-model")
    if case == "not_writable":  # tests run as root: chmod cannot take the permission away
        monkeypatch.setattr(os, "access", lambda path, flags: False)
    before = snapshot(runs.parent)
    status, err = _export(capsys, runs / "teacher", dst, "--overwrite")
    assert status == 2
    one_error_line(err, str(dst))
    assert_same_tree(before, runs.parent)


@pytest.mark.parametrize("case", ["missing", "file", "empty"])
def test_unusable_source_is_one_line(tmp_path, case, capsys):
    src = {"missing": tmp_path / "runs" / "teacher", "file": tmp_path / "config.json", "empty": ""}[case]
    (tmp_path / "config.json").write_text("{}")
    before = snapshot(tmp_path)
    status, err = _export(capsys, src, tmp_path / "out")
    assert status == 2
    line = one_error_line(err, str(src))
    assert "Repo id" not in line
    assert {"missing": "no such model folder", "file": "not a folder", "empty": "empty"}[case] in line
    assert_same_tree(before, tmp_path)


@pytest.mark.parametrize(("mask", "file_mode", "dir_mode"), [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700)])
def test_export_follows_the_umask(runs, mask, file_mode, dir_mode, capsys):
    (runs / "teacher" / "tokenizer.json").chmod(0o600)  # copied content, not copied permissions
    dst = runs / "new" / "teacher-bert"
    with umask(mask):
        assert _export(capsys, runs / "teacher", dst)[0] == 0
    assert mode(dst) == mode(dst.parent) == dir_mode
    names = sorted(os.listdir(dst))
    assert {"config.json", "model.safetensors", "tokenizer.json", "README.md"} <= set(names)
    assert {name: mode(dst / name) for name in names} == dict.fromkeys(names, file_mode)
    assert json.loads((dst / "config.json").read_text())["model_type"] == "bert"
