"""Where a dataset came from: its file and, after `sample_source`, which original rows it holds.

The record is one JSON line in ``dataset.info.description`` (prefixed with ``concner-provenance:``), because
``DatasetInfo`` survives ``select``, ``map``, ``filter``, ``save_to_disk`` and ``load_from_disk``. It lets
`pair_translations` name the files in its errors and pair a subsampled source with the full translation.
"""

from __future__ import annotations

import json
from typing import Any

from datasets import Dataset, DatasetInfo, Features

__all__ = ["get_provenance", "make_info", "set_provenance"]

_PREFIX = "concner-provenance: "


def _split(description: str | None) -> tuple[list[str], dict[str, Any]]:
    lines, record = [], {}
    for line in (description or "").splitlines():
        if line.startswith(_PREFIX):
            try:
                record = json.loads(line[len(_PREFIX) :])
            except json.JSONDecodeError:
                record = {}
        else:
            lines.append(line)
    return lines, record


def _join(lines: list[str], record: dict[str, Any]) -> str:
    return "\n".join([*lines, _PREFIX + json.dumps(record, separators=(",", ":"))])


def get_provenance(dataset: Dataset) -> dict[str, Any]:
    """The provenance record of a dataset (``{}`` when it has none).

    Keys: ``path`` (the file it was read from) and ``sample`` (``{"original_size": int, "indices": [...]}``,
    the original row positions, set by `sample_source`).

    Args:
        dataset: Any dataset.
    """
    return _split(dataset.info.description)[1]


def make_info(features: Features | None = None, **record: Any) -> DatasetInfo:
    """A fresh `DatasetInfo` carrying a provenance record.

    Args:
        features: The dataset's features (``Dataset.from_dict`` requires them to match its own).
        **record: The provenance keys (``path``, ``sample``).
    """
    return DatasetInfo(description=_join([], {k: v for k, v in record.items() if v is not None}), features=features)


def set_provenance(dataset: Dataset, **updates: Any) -> Dataset:
    """Update the provenance record in place (``None`` removes a key) and return the dataset.

    Call it only on a dataset you just created (e.g. the result of ``select``): ``select`` copies the info.

    Args:
        dataset: The dataset to annotate.
        **updates: Keys to set.
    """
    lines, record = _split(dataset.info.description)
    for key, value in updates.items():
        if value is None:
            record.pop(key, None)
        else:
            record[key] = value
    dataset.info.description = _join(lines, record)
    return dataset
