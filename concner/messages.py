"""One-line messages: every error the package reports is a single line (`error: ...` in the scripts)."""

from __future__ import annotations

__all__ = ["one_line"]


def one_line(text: object) -> str:
    """`str(text)` (an exception, a message) with every run of whitespace, newlines included, made one space."""
    return " ".join(str(text).split())
