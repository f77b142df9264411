"""The shared atomic writers: umask permissions, no leftovers on failure, folders replaced only when allowed."""

from __future__ import annotations

import os

import pytest

from concner.io_utils import (
    OutputPathError,
    atomic_folder,
    atomic_write,
    atomic_write_text,
    check_output_file,
    current_umask,
)
from tests.fs_helpers import assert_same_tree, mode, snapshot, umask


@pytest.mark.parametrize(("mask", "file_mode", "dir_mode"), [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700)])
def test_atomic_write_and_folder_follow_the_umask(tmp_path, mask, file_mode, dir_mode):
    with umask(mask):
        assert current_umask() == mask
        atomic_write_text(tmp_path / "new" / "sub" / "card.md", "text\n")
        with atomic_folder(tmp_path / "model") as folder:
            (folder / "nested").mkdir()
            (folder / "nested" / "weights.bin").write_bytes(b"w")
            (folder / "config.json").write_text("{}")
            (folder / "config.json").chmod(0o600)  # like safetensors/mkstemp: made private by the writer
    assert (tmp_path / "new" / "sub" / "card.md").read_text() == "text\n"
    assert mode(tmp_path / "new" / "sub" / "card.md") == file_mode
    assert mode(tmp_path / "new") == mode(tmp_path / "new" / "sub") == dir_mode
    assert mode(tmp_path / "model") == mode(tmp_path / "model" / "nested") == dir_mode
    assert mode(tmp_path / "model" / "config.json") == mode(tmp_path / "model" / "nested" / "weights.bin") == file_mode


def test_atomic_write_failure_keeps_the_old_file_and_removes_what_it_created(tmp_path):
    (tmp_path / "out.txt").write_text("old\n")
    before = snapshot(tmp_path)
    with pytest.raises(RuntimeError), atomic_write(tmp_path / "out.txt") as stream:
        stream.write("half")
        raise RuntimeError
    with pytest.raises(RuntimeError), atomic_write(tmp_path / "a" / "b" / "out.txt") as stream:
        raise RuntimeError
    assert_same_tree(before, tmp_path)


def test_atomic_write_through_a_symlink_replaces_its_target(tmp_path):
    (tmp_path / "real.txt").write_text("old\n")
    (tmp_path / "link.txt").symlink_to("real.txt")
    atomic_write_text(tmp_path / "link.txt", "new\n")
    assert (tmp_path / "link.txt").is_symlink()
    assert (tmp_path / "real.txt").read_text() == "new\n"


def test_atomic_folder_never_replaces_a_non_empty_folder_unless_allowed(tmp_path):
    (tmp_path / "dst").mkdir()
    (tmp_path / "dst" / "notes.txt").write_text("mine\n")
    before = snapshot(tmp_path)
    with pytest.raises(FileExistsError), atomic_folder(tmp_path / "dst") as folder:
        (folder / "config.json").write_text("{}")
    assert_same_tree(before, tmp_path)
    with pytest.raises(FileExistsError), atomic_folder(tmp_path / "dst", replaceable=lambda p: False) as folder:
        (folder / "config.json").write_text("{}")
    assert_same_tree(before, tmp_path)
    with atomic_folder(tmp_path / "dst", replaceable=lambda p: (p / "notes.txt").is_file()) as folder:
        (folder / "config.json").write_text("{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dst"]
    assert sorted(p.name for p in (tmp_path / "dst").iterdir()) == ["config.json"]


def test_atomic_folder_failure_leaves_nothing_behind(tmp_path):
    (tmp_path / "dst").mkdir()
    (tmp_path / "dst" / "config.json").write_text("old")
    before = snapshot(tmp_path)
    with pytest.raises(OSError), atomic_folder(tmp_path / "dst", replaceable=lambda p: True) as folder:
        (folder / "config.json").write_text("new")
        raise OSError("disk full")
    with pytest.raises(OSError), atomic_folder(tmp_path / "x" / "y" / "dst") as folder:
        raise OSError("disk full")
    assert_same_tree(before, tmp_path)


def test_check_output_file(tmp_path, monkeypatch):
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("x")
    os.mkfifo(tmp_path / "pipe")
    check_output_file(tmp_path / "file", "--out")
    check_output_file(tmp_path / "missing" / "deeper" / "out.txt", "--out")
    for path, problem in [
        (tmp_path / "folder", "is a folder"),
        (tmp_path / "file" / "out.txt", "is not a folder"),
        (tmp_path / "pipe", "not a regular file"),
    ]:
        with pytest.raises(OutputPathError, match=problem) as info:
            check_output_file(path, "--out")
        assert str(info.value).startswith(f"--out {path}")
    monkeypatch.setattr("concner.io_utils.os.access", lambda path, flags: False)
    with pytest.raises(OutputPathError, match="permission denied"):
        check_output_file(tmp_path / "out.txt", "--out")
    assert not (tmp_path / "missing").exists()
