"""Paired batching: each training batch holds N source sentences together with their N translations."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler

UNPAIRED = -1


def build_units(pair_ids: Sequence[int], max_rows: int | None = 2) -> list[tuple[int, ...]]:
    """Group feature rows into units: the rows sharing a pair id, or a single row.

    With one target language a unit is a source row and its translation (two rows). With several
    (`run_concner.py --translation_files`) a unit is a source row and its translations in every language.

    A row with `pair_id == -1` (unpaired, e.g. a window of a long sentence) is a unit of its own, and so is a row
    whose pair id occurs only once (its partner was dropped). Units are listed in the order of their first row, and
    the rows of a unit in dataset order (the source row first when sources precede translations).

    Args:
        pair_ids (`Sequence[int]` of length `rows`): the `pair_id` column of the training features.
        max_rows (`int`, *optional*, defaults to 2): the most rows a unit may have; `None` for no limit.

    Returns:
        A list of tuples of row indices, each of length 1 to `max_rows`, covering every row exactly once.

    Raises:
        ValueError: a pair id occurs on more than `max_rows` rows.
    """
    rows_of: dict[int, list[int]] = {}
    order: list[tuple[int, int]] = []  # (first row, key); key < 0 marks a single unpaired row
    for row, pair_id in enumerate(pair_ids):
        pair_id = int(pair_id)
        if pair_id < 0:
            order.append((row, -(row + 1)))
            continue
        rows = rows_of.setdefault(pair_id, [])
        if not rows:
            order.append((row, pair_id))
        elif max_rows is not None and len(rows) == max_rows:
            shown = ", ".join(map(str, rows))
            what = "two" if max_rows == 2 else str(max_rows)
            raise ValueError(f"pair id {pair_id} occurs on more than {what} rows (rows {shown}, {row})")
        rows.append(row)
    return [(-key - 1,) if key < 0 else tuple(rows_of[key]) for _, key in order]


class PairedBatchSampler(Sampler[list[int]]):
    """Yields batches of `units_per_batch` units (a unit = a translation pair or a single row), shuffled per epoch.

    With N = `units_per_batch` and every row paired, a batch holds 2N rows: N source sentences and their N
    translations, as the paper's teacher needs for TCL (eq. 6-7). Unpaired rows are allowed (they are all there is
    when training on one language only).

    The order depends only on `seed + epoch` (a dedicated `torch.Generator`), so a run resumed from a checkpoint sees
    the same batches as an uninterrupted one. `set_epoch` is called by the `Trainer` at the start of every epoch.

    Several target languages: a unit may hold a source row and its translations in L languages (rows sharing a
    pair id, the source first). Each epoch, every such unit contributes its source row and *one* of its
    translations, drawn uniformly with seed `seed + epoch` (`drawn_rows`). A batch therefore still holds N source
    sentences and N translations, and TCL (eq. 6-7) still sees exact pairs; over the epochs every translation is
    used. The epoch costs what a one-language epoch costs.

    Distributed training: `accelerate` wraps a custom batch sampler in `BatchSamplerShard`, which hands whole batches
    to the processes in turn. Because this sampler reports `batch_size = None` (its batches vary in rows), the shard
    treats batches as indivisible lists and, with `even_batches`, completes the last round by repeating *whole*
    batches from the start, so every process always receives complete pairs.

    Args:
        pair_ids (`Sequence[int]`): the `pair_id` of every feature row (-1 for unpaired rows).
        units_per_batch (`int`): N, the number of units per batch (`per_device_train_batch_size`).
        seed (`int`, defaults to 0): base seed; epoch `e` is shuffled with `seed + e`.
        shuffle (`bool`, defaults to `True`): shuffle the units; `False` keeps dataset order.
        drop_last (`bool`, defaults to `False`): drop a last batch with fewer than N units.
        lengths (`Sequence[int]`, *optional*): the length of every row. When given
            (`--train_sampling_strategy group_by_length`), the shuffled units are cut into mega-batches of
            `mega_batch_factor * N` units, each sorted by unit length (the longer row of a pair) before it is cut into
            batches, and the batches are then shuffled: far less padding, the same pairs together, still
            deterministic for a seed (as transformers' `LengthGroupedSampler`).
        mega_batch_factor (`int`, defaults to 50): batches per mega-batch when grouping by length.
    """

    # No fixed number of rows per batch: tells `accelerate.BatchSamplerShard` to move whole batches around.
    batch_size = None

    def __init__(
        self,
        pair_ids: Sequence[int],
        units_per_batch: int,
        seed: int = 0,
        shuffle: bool = True,
        drop_last: bool = False,
        lengths: Sequence[int] | None = None,
        mega_batch_factor: int = 50,
    ) -> None:
        if not isinstance(units_per_batch, int) or units_per_batch < 1:
            raise ValueError(f"`units_per_batch` must be a positive integer, got {units_per_batch!r}")
        self.units = build_units(pair_ids, max_rows=None)
        self.units_per_batch = units_per_batch
        self.seed = int(seed)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.epoch = 0
        if lengths is not None and len(lengths) != len(pair_ids):
            raise ValueError(f"{len(lengths)} lengths for {len(pair_ids)} rows")
        self.unit_lengths = None if lengths is None else [max(lengths[row] for row in unit) for unit in self.units]
        self.mega_batch_factor = mega_batch_factor

    @property
    def num_rows(self) -> int:
        """Number of feature rows yielded per epoch (a source and one translation per paired unit)."""
        return sum(min(len(unit), 2) for unit in self.units)

    @property
    def num_pairs(self) -> int:
        """Number of units that are complete translation pairs (a source with at least one translation)."""
        return sum(len(unit) >= 2 for unit in self.units)

    def drawn_rows(self, epoch: int | None = None) -> list[tuple[int, ...]]:
        """The rows each unit contributes in `epoch` (default: the current one).

        A unit of one or two rows gives them all; a source with translations in several languages gives its source
        row and one translation, drawn with seed `seed + epoch` (the same draw on resume).
        """
        epoch = self.epoch if epoch is None else int(epoch)
        if all(len(unit) <= 2 for unit in self.units):
            return list(self.units)
        generator = torch.Generator()
        generator.manual_seed(self.seed + epoch + 2_000_003)
        draws = torch.rand(len(self.units), generator=generator).tolist()
        return [
            unit if len(unit) <= 2 else (unit[0], unit[1 + int(draw * (len(unit) - 1))])
            for unit, draw in zip(self.units, draws)
        ]

    def set_epoch(self, epoch: int) -> None:
        """Select the shuffling of epoch `epoch` (seed `seed + epoch`)."""
        self.epoch = int(epoch)

    def unit_order(self, epoch: int | None = None) -> list[int]:
        """The permutation of unit indices used in `epoch` (default: the current one)."""
        if not self.shuffle:
            return list(range(len(self.units)))
        generator = torch.Generator()
        generator.manual_seed(self.seed + (self.epoch if epoch is None else int(epoch)))
        return torch.randperm(len(self.units), generator=generator).tolist()

    def batches(self) -> list[list[int]]:
        """The unit indices of every batch of the current epoch."""
        order = self.unit_order()
        n = self.units_per_batch
        if self.unit_lengths is not None and self.shuffle:
            mega = n * self.mega_batch_factor
            order = [
                unit
                for start in range(0, len(order), mega)
                for unit in sorted(order[start : start + mega], key=lambda u: -self.unit_lengths[u])
            ]
        chunks = [order[start : start + n] for start in range(0, len(order), n)]
        if self.drop_last and chunks and len(chunks[-1]) < n:
            chunks.pop()
        if self.unit_lengths is not None and self.shuffle and len(chunks) > 1:
            generator = torch.Generator()
            generator.manual_seed(self.seed + self.epoch + 1_000_003)
            chunks = [chunks[i] for i in torch.randperm(len(chunks), generator=generator).tolist()]
        return chunks

    def __iter__(self) -> Iterator[list[int]]:
        rows = self.drawn_rows()
        for chosen in self.batches():
            yield [row for unit in chosen for row in rows[unit]]

    def __len__(self) -> int:
        if self.drop_last:
            return len(self.units) // self.units_per_batch
        return -(-len(self.units) // self.units_per_batch)


__all__ = ["PairedBatchSampler", "UNPAIRED", "build_units"]
