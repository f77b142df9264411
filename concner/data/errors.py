"""The single exception type raised for malformed input data."""

from __future__ import annotations

import os

from concner.messages import one_line

__all__ = ["DataError", "one_line"]


class DataError(Exception):
    """Malformed or inconsistent input data.

    ``str()`` is always one line naming the file and line when they are known, e.g.
    ``data/train.txt:17: expected 2 columns, got 3``. Command-line scripts catch it, print
    ``error: <message>`` to stderr and exit with status 2.

    Args:
        message: What is wrong (one line; newlines are replaced by spaces).
        file: The offending file, if known.
        line: The 1-based line number in ``file``, if known.
    """

    def __init__(self, message: str, file: str | os.PathLike | None = None, line: int | None = None) -> None:
        self.message = one_line(message)
        self.file = os.fspath(file) if file is not None else None
        self.line = line
        super().__init__(self.message, self.file, self.line)

    def __str__(self) -> str:
        location = ""
        if self.file is not None:
            location = self.file if self.line is None else f"{self.file}:{self.line}"
        elif self.line is not None:
            location = f"line {self.line}"
        return f"{location}: {self.message}" if location else self.message

    def __reduce__(self):  # keep pickling (datasets.map with num_proc) working with the keyword arguments
        return (type(self), (self.message, self.file, self.line))
