"""Where a dataset's rows came from, kept where ``datasets`` itself keeps such facts.

- The file (or Hub dataset) read: ``dataset.info.dataset_name``, set by the readers (`source_file`).
- The rows kept by `concner.data.sample_source`: an int column ``orig_index``, each row's position in that file
  (``select`` keeps it, so a sample of a sample still names positions in the file), and the file's sentence count
  in ``dataset.info.splits`` (``num_examples``, which ``select`` leaves unchanged, as it does for any split).
  Without the column, row i is sentence i of a file of ``len(dataset)`` sentences.

``DatasetInfo`` and columns survive ``select``, ``map``, ``filter``, ``save_to_disk`` and ``load_from_disk``. The
readers' own columns stay ``id``/``tokens``/``ner_tags``; ``orig_index`` never reaches model features, since
`concner.data.tokenize_and_align` keeps none of its input columns but ``pair_id``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from datasets import Dataset, DatasetInfo, Features, SplitDict, SplitInfo

__all__ = [
    "ORIG_INDEX",
    "get_provenance",
    "mark_sample",
    "original_positions",
    "original_size",
    "source_file",
    "source_info",
]

ORIG_INDEX = "orig_index"


def source_info(path: str, features: Features) -> DatasetInfo:
    """The `DatasetInfo` the readers give a dataset read from ``path`` (a file or a Hub dataset name).

    Args:
        path: The file or Hub dataset, as named in error messages.
        features: The dataset's features (``Dataset.from_dict`` requires them to match its own).
    """
    return DatasetInfo(dataset_name=path, features=features)


def source_file(dataset: Dataset) -> str | None:
    """The file (or Hub dataset) a dataset was read from; ``None`` if it was not read by `concner.data`'s readers.

    ``datasets``' own builders (``load_dataset``, ``Dataset.from_parquet``, ...) also set ``dataset_name``, to the
    builder's name (``"json"``, ``"parquet"``), which names no file: a name counts only in an info without a builder.

    Args:
        dataset: A dataset returned by one of the readers (or derived from one).
    """
    info = dataset.info
    return info.dataset_name if info.dataset_name and info.builder_name is None else None


def original_positions(dataset: Dataset) -> Sequence[int]:
    """Each row's position in the file it was read from (the ``orig_index`` column, else the row numbers).

    Args:
        dataset: Any dataset.
    """
    if ORIG_INDEX in dataset.column_names:
        return dataset[ORIG_INDEX][:]
    return range(len(dataset))


def original_size(dataset: Dataset) -> int:
    """The number of sentences in the file the rows were sampled from (``len(dataset)`` when not sampled).

    Args:
        dataset: Any dataset.
    """
    if ORIG_INDEX in dataset.column_names and dataset.info.splits:
        return sum(split.num_examples for split in dataset.info.splits.values())
    return len(dataset)


def mark_sample(dataset: Dataset, rows: Sequence[int]) -> Dataset:
    """``dataset.select(rows)`` with each kept row's original position in ``orig_index`` (see the module docstring).

    Args:
        dataset: The dataset sampled from (itself possibly a sample).
        rows: Its rows to keep.
    """
    if ORIG_INDEX in dataset.column_names:  # already a sample: select keeps the positions and the file size
        return dataset.select(rows)
    size = len(dataset)
    subset = dataset.add_column(ORIG_INDEX, list(range(size))).select(rows)
    name = str(dataset.split or "train")
    subset.info.splits = SplitDict({name: SplitInfo(name=name, num_examples=size)})
    return subset


def get_provenance(dataset: Dataset) -> dict[str, Any]:
    """The dataset's origin as one record (``{}`` when it has none): a view of the fields above.

    Keys: ``path`` (`source_file`) and, for a sample, ``sample`` (``{"original_size": int, "indices": [...]}``).

    Args:
        dataset: Any dataset.
    """
    record: dict[str, Any] = {}
    path = source_file(dataset)
    if path is not None:
        record["path"] = path
    if ORIG_INDEX in dataset.column_names:
        record["sample"] = {"original_size": original_size(dataset), "indices": list(original_positions(dataset))}
    return record
