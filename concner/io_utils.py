"""Atomic file and folder writes that respect the umask, and early checks of output paths for command lines.

`tempfile.mkstemp`/`mkdtemp` create private entries (0600/0700) whatever the umask; every writer of the package goes
through the helpers here, which give the finished files ``0o666 & ~umask`` and folders ``0o777 & ~umask``, as
``open()``/``mkdir`` would.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

__all__ = [
    "OutputPathError",
    "apply_umask",
    "atomic_folder",
    "atomic_write",
    "atomic_write_text",
    "check_output_file",
    "current_umask",
    "make_temp_dir",
    "staged_files",
]


class OutputPathError(ValueError):
    """An output path that cannot be written (``str()`` is one line naming the option and the path)."""


def current_umask() -> int:
    """The process umask (read from ``/proc`` where possible, so that other threads never see a changed umask)."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


def apply_umask(path: str | os.PathLike) -> None:
    """Give ``path`` (and, for a folder, everything below it) the permissions a plain ``open``/``mkdir`` would.

    Files become ``0o666 & ~umask``, folders ``0o777 & ~umask``; symbolic links are left alone.

    Args:
        path: A file or folder this process has just written.
    """
    umask = current_umask()
    root = Path(path)
    if root.is_symlink():
        return
    if not root.is_dir():
        root.chmod(0o666 & ~umask)
        return
    root.chmod(0o777 & ~umask)
    for folder, dirnames, filenames in os.walk(root):
        for name in dirnames:
            if not os.path.islink(os.path.join(folder, name)):
                os.chmod(os.path.join(folder, name), 0o777 & ~umask)
        for name in filenames:
            if not os.path.islink(os.path.join(folder, name)):
                os.chmod(os.path.join(folder, name), 0o666 & ~umask)


def _make_parents(directory: str) -> list[str]:
    """Create ``directory`` and its missing ancestors; returns the folders created, outermost first."""
    missing = []
    current = os.path.abspath(directory)
    while not os.path.lexists(current):
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    created = []
    for folder in reversed(missing):
        os.mkdir(folder)  # mode 0o777 & ~umask
        created.append(folder)
    return created


def _remove_created(created: list[str]) -> None:
    """Remove folders made by `_make_parents`, innermost first, as long as they are still empty."""
    for folder in reversed(created):
        try:
            os.rmdir(folder)
        except OSError:
            break


@contextmanager
def atomic_write(path: str | os.PathLike, encoding: str = "utf-8") -> Iterator[IO[str]]:
    """Open a text file that only replaces ``path`` once the block finishes without error.

    The text goes to a temporary file in the same folder, which is renamed over ``path`` at the end (or deleted on
    error, with any folder this call created), so readers never see a half-written file. The file gets the
    permissions ``0o666 & ~umask``. When ``path`` is a symbolic link, the file it points to is replaced.

    Args:
        path: The destination file (missing folders above it are created).
        encoding: The text encoding (lines end in ``\\n``).
    """
    path = os.path.realpath(os.fspath(path))
    created = _make_parents(os.path.dirname(path))
    try:
        handle, temp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=os.path.dirname(path))
    except BaseException:
        _remove_created(created)
        raise
    try:
        os.fchmod(handle, 0o666 & ~current_umask())
        with os.fdopen(handle, "w", encoding=encoding, newline="\n") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        if os.path.lexists(temp):
            os.unlink(temp)
        _remove_created(created)
        raise


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` with `atomic_write`."""
    with atomic_write(path, encoding=encoding) as stream:
        stream.write(text)


@contextmanager
def staged_files(paths: Sequence[str | os.PathLike]) -> Iterator[list[str]]:
    """Temporary siblings of several files, renamed over them together once the block finishes without error.

    For a group of files that must appear together or not at all (the outputs and reports of several languages): the
    block writes each temporary path (with any writer, atomic or not); on success they are renamed over their
    destinations in order, on error they are all deleted with the folders this call created, and no destination is
    touched. Only a failure of the final renames themselves (which do not copy data) can leave the group incomplete.
    Files get the permissions ``0o666 & ~umask``; a destination that is a symbolic link has its target replaced.

    Args:
        paths: The destination files (missing folders above them are created).

    Yields:
        One temporary path per destination, in the same order.
    """
    destinations = [os.path.realpath(os.fspath(path)) for path in paths]
    created: list[list[str]] = []
    temps: list[str] = []
    renamed = 0
    try:
        for path in destinations:
            created.append(_make_parents(os.path.dirname(path)))
            folder, name = os.path.split(path)
            handle, temp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
            temps.append(temp)
            try:
                os.fchmod(handle, 0o666 & ~current_umask())
            finally:
                os.close(handle)
        yield list(temps)
        for temp in temps:  # a writer may have put a file of its own there: the same permissions for all
            if os.path.lexists(temp):
                os.chmod(temp, 0o666 & ~current_umask())
        for temp, path in zip(temps, destinations):
            os.replace(temp, path)
            renamed += 1
    except BaseException:
        for temp in temps[renamed:]:
            if os.path.lexists(temp):
                os.unlink(temp)
        if not renamed:  # no destination was touched: the folders made here are empty again
            for folders in reversed(created):
                _remove_created(folders)
        raise


def make_temp_dir(parent: str | os.PathLike, prefix: str) -> Path:
    """A new folder ``<prefix><random>`` in ``parent`` with the permissions ``0o777 & ~umask`` (not 0700)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    folder.chmod(0o777 & ~current_umask())
    return folder


def _swap_folder(tmp: Path, dst: Path, replaceable: Callable[[Path], bool]) -> None:
    """Rename ``tmp`` to the existing folder ``dst``, whose old content is removed only if ``replaceable``."""
    old = make_temp_dir(dst.parent, f".{dst.name}.old-")
    os.rename(dst, old / dst.name)  # ``old`` is empty, so nothing is clobbered
    moved = old / dst.name
    try:
        if any(moved.iterdir()) and not replaceable(moved):  # checked again now that nobody can write into it
            raise FileExistsError(errno.ENOTEMPTY, "folder changed meanwhile and can no longer be replaced", str(dst))
        os.rename(tmp, dst)
    except BaseException:
        if not os.path.lexists(dst):
            os.rename(moved, dst)
        if not any(old.iterdir()):
            old.rmdir()
        raise
    shutil.rmtree(old)


@contextmanager
def atomic_folder(dst: str | os.PathLike, replaceable: Callable[[Path], bool] | None = None) -> Iterator[Path]:
    """Build a folder in a temporary sibling of ``dst`` and rename it to ``dst`` once the block succeeds.

    On error the temporary folder (and any parent folder this call created) is removed and ``dst`` is untouched.
    Files and folders written in the block get the permissions a plain ``open``/``mkdir`` would give.

    Args:
        dst: The folder to create. When it exists it must be an empty folder (replaced atomically), or a folder for
            which ``replaceable`` returns True (it is checked again just before being removed).
        replaceable: Whether an existing, non-empty ``dst`` may be replaced (`None`: never).

    Yields:
        The temporary folder to fill.

    Raises:
        FileExistsError: if ``dst`` exists and may not be replaced (at the time of the swap).
        OSError: if the folder cannot be written.
    """
    dst = Path(os.path.abspath(dst))
    created = _make_parents(str(dst.parent))
    try:
        tmp = make_temp_dir(dst.parent, f".{dst.name}.tmp-")
    except BaseException:
        _remove_created(created)
        raise
    try:
        yield tmp
        apply_umask(tmp)
        if os.path.isdir(dst) and not os.path.islink(dst) and replaceable is not None:
            _swap_folder(tmp, dst, replaceable)
        elif os.path.lexists(dst) and not (os.path.isdir(dst) and not os.path.islink(dst)):
            raise FileExistsError(errno.EEXIST, "exists and is not a folder", str(dst))
        else:
            try:
                os.rename(tmp, dst)  # replaces an empty folder; fails on a non-empty one
            except OSError as exc:
                if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                    raise FileExistsError(exc.errno, "exists and is not empty", str(dst)) from None
                raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        _remove_created(created)
        raise


def _nearest_existing(path: str) -> str:
    current = path
    while not os.path.lexists(current):
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    return current


def check_output_file(path: str | os.PathLike, option: str) -> None:
    """Check, before any heavy work, that ``path`` can be written as a file (without creating anything).

    The path must not be a folder or another non-regular file (a device, a pipe), and the nearest existing folder
    above it must be a writable folder (missing folders are created when the file is written).

    Args:
        path: The output file.
        option: The command-line option that named it (used in the message, e.g. ``--output_file``).

    Raises:
        OutputPathError: naming ``option`` and ``path`` when the file cannot be written.
    """
    name = os.fspath(path)
    if not name:
        raise OutputPathError(f"{option}: empty path")
    real = os.path.realpath(name)
    if os.path.isdir(real):
        raise OutputPathError(f"{option} {name}: is a folder, not a file")
    if os.path.exists(real) and not stat.S_ISREG(os.stat(real).st_mode):
        raise OutputPathError(f"{option} {name}: is not a regular file")
    ancestor = _nearest_existing(os.path.dirname(real))
    if not os.path.isdir(ancestor):
        raise OutputPathError(f"{option} {name}: {ancestor} is not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise OutputPathError(f"{option} {name}: cannot write in {ancestor} (permission denied)")
