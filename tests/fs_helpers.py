"""Helpers of the data-safety tests: tree snapshots, the umask, and the one-line error contract."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def snapshot(root: str | os.PathLike) -> dict[str, bytes | str]:
    """Every entry below ``root``, hidden ones too, by relative path.

    A file maps to its bytes, a folder to ``"<dir>"``, a link to ``"<link> target"``, a pipe or device to
    ``"<special ...>"`` (never read).
    """
    root = Path(root)
    tree: dict[str, bytes | str] = {}
    for folder, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(folder) / name
            key = str(path.relative_to(root))
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                tree[key] = f"<link> {os.readlink(path)}"
            elif stat.S_ISDIR(info.st_mode):
                tree[key] = "<dir>"
            elif stat.S_ISREG(info.st_mode):
                tree[key] = path.read_bytes()
            else:
                tree[key] = f"<special {stat.S_IFMT(info.st_mode):o}>"
    return tree


def assert_unchanged(before: dict[str, bytes | str], root: str | os.PathLike) -> None:
    """Every entry of the ``before`` snapshot is still there, byte-identical (new entries are allowed)."""
    after = snapshot(root)
    missing = sorted(set(before) - set(after))
    assert not missing, f"deleted: {missing[:10]}"
    changed = sorted(key for key in before if before[key] != after[key])
    assert not changed, f"changed: {changed[:10]}"


def assert_same_tree(before: dict[str, bytes | str], root: str | os.PathLike) -> None:
    """The tree below ``root`` is exactly the ``before`` snapshot: nothing deleted, changed or left behind."""
    assert_unchanged(before, root)
    extra = sorted(set(snapshot(root)) - set(before))
    assert not extra, f"left behind: {extra[:10]}"


def one_error_line(err: str, *names: str) -> str:
    """The stderr of a refused command: exactly one ``error: ...`` line, the last one, naming every one of ``names``.

    Other lines may only be progress bars (transformers' "Loading weights", datasets' map).
    """
    assert "Traceback" not in err
    lines = [line for line in err.replace("\r", "\n").splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], lines
    assert all(line.startswith("error: ") or "%|" in line for line in lines), lines  # tqdm bars: "NN%|###|"
    for name in names:
        assert name in errors[0], (name, errors[0])
    return errors[0]


def mode(path: str | os.PathLike) -> int:
    """The permission bits of ``path``."""
    return stat.S_IMODE(os.stat(path).st_mode)


@contextmanager
def umask(value: int) -> Iterator[None]:
    """Run the block under the process umask ``value`` (restored afterwards)."""
    previous = os.umask(value)
    try:
        yield
    finally:
        os.umask(previous)
