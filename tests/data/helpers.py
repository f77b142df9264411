"""Helpers shared by the data tests."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def fixture(name: str) -> str:
    """Path of a fixture file as a string."""
    return str(FIXTURES / name)
