"""Fixtures of the teacher tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.teacher.helpers import paired_dataset, write_conll


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> dict[str, Path]:
    """Source (16 sentences), its translation (sentence i <-> i), a dev set and a 'de' test set as CoNLL files."""
    directory = tmp_path_factory.mktemp("synthetic")
    rows = list(paired_dataset(num_pairs=16, num_single=0, seed=2))
    dev = list(paired_dataset(num_pairs=6, num_single=0, seed=3))
    return {
        "train": write_conll(directory / "train.txt", rows[:16]),
        "translation": write_conll(directory / "translation.txt", rows[16:]),
        "dev": write_conll(directory / "dev.txt", dev[:6]),
        "test_de": write_conll(directory / "test_de.txt", dev[6:]),
    }
