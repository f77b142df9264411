"""Sample the labelled source set and pair it with its translation (the TCL positives).

Index pairing never shifts silently: when sentences are paired by position, the source file and the
translation file must have the same number of sentences (a missing or extra sentence anywhere would
misalign every later pair, the failure mode of MulDA-style translate-train data).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from datasets import Dataset

from .errors import DataError
from .labels import entity_counts
from .parsing import parse_conll, parse_jsonl, read_text
from .provenance import mark_sample, original_positions, original_size, source_file

__all__ = ["PairingSummary", "pair_translations", "sample_source"]


def sample_source(dataset: Dataset, max_samples: int | None, seed: int) -> Dataset:
    """A seeded random subset of ``max_samples`` rows, kept in their original order.

    The rows are the first ``max_samples`` entries of ``numpy.random.default_rng(seed).permutation(len(dataset))``,
    then sorted back into file order. The subset depends only on the dataset size, ``max_samples`` and
    ``seed``, and a smaller sample is contained in a larger one with the same seed (500 ⊂ 1000 ⊂ 2000).
    Each kept row's position in the file goes into an int column ``orig_index`` (a sample of a sample keeps the
    file positions) and the file's size into ``info.splits`` (see `concner.data.provenance`), so that
    `pair_translations` can find each row's translation in the full translation file.

    Args:
        dataset: The labelled source dataset.
        max_samples: How many rows to keep; ``None`` (or at least ``len(dataset)``) keeps all rows.
        seed: Seed of the permutation.

    Returns:
        The subset, with the extra column ``orig_index`` (the dataset itself when all rows are kept).

    Raises:
        ValueError: If ``max_samples`` is smaller than 1.
    """
    size = len(dataset)
    if max_samples is None or max_samples >= size:
        return dataset
    if max_samples < 1:
        raise ValueError(f"max_samples must be at least 1, got {max_samples}")
    chosen = np.sort(np.random.default_rng(seed).permutation(size)[:max_samples])
    return mark_sample(dataset, chosen.tolist())


@dataclass
class PairingSummary:
    """What happened to each source sentence when pairing it with its translation.

    Attributes:
        kept: Pairs kept for the translation contrastive loss.
        dropped_missing: Source sentences without a translation.
        dropped_empty: Source sentences whose translation has no token.
        dropped_entity_mismatch: Pairs whose entity-type multisets differ.
        by: How sentences were matched: ``"id"`` or ``"index"``.
        entity_check: Whether entity-type multisets were compared.
    """

    kept: int = 0
    dropped_missing: int = 0
    dropped_empty: int = 0
    dropped_entity_mismatch: int = 0
    by: str = "id"
    entity_check: bool = True

    @property
    def total(self) -> int:
        """Number of source sentences."""
        return self.kept + self.dropped_missing + self.dropped_empty + self.dropped_entity_mismatch

    def __str__(self) -> str:
        mismatch = str(self.dropped_entity_mismatch) if self.entity_check else "not checked"
        return "\n".join(
            [
                f"translation pairs (matched by {self.by}): {self.total} source sentences",
                f"  kept for TCL:                      {self.kept}",
                f"  dropped, no translation:           {self.dropped_missing}",
                f"  dropped, empty translation:        {self.dropped_empty}",
                f"  dropped, entity types differ:      {mismatch}",
            ]
        )


def _index_ids(size: int) -> list[str]:
    return [str(i) for i in range(size)]


def _sentence_line(path: str | None, index: int) -> int | None:
    """Start line of sentence ``index`` (or the file's last line when it has fewer sentences); error path only."""
    if path is None:
        return None
    try:
        text = read_text(path)
        parsed = parse_jsonl(text, path, require_tags=False) if path.endswith(".jsonl") else None
        if parsed is None and not path.endswith((".json", ".parquet")):
            parsed = parse_conll(text, path, tag_column=None)
    except (DataError, OSError):
        return None
    if parsed is None or not parsed.lines:
        return None
    if index < len(parsed.lines):
        return parsed.lines[index]
    return text.rstrip("\n").count("\n") + 1


def _check_unique(ids: list[str], dataset: Dataset, what: str) -> dict[str, int]:
    rows: dict[str, int] = {}
    for row, sentence_id in enumerate(ids):
        if sentence_id in rows:
            path = source_file(dataset)
            raise DataError(f"duplicate {what} id {sentence_id!r} (rows {rows[sentence_id]} and {row})", path)
        rows[sentence_id] = row
    return rows


def _match_by_index(source: Dataset, translation: Dataset) -> list[int | None]:
    """Translation row of each source row by position in the original source file."""
    size = original_size(source)
    if size != len(translation):
        source_path = source_file(source) or "the source"
        path = source_file(translation)
        where = "ends here" if len(translation) < size else f"sentence {size + 1} starts here"
        raise DataError(
            f"translation has {len(translation)} sentences but {source_path} has {size}; pairing by index "
            f"needs equal counts (the translation {where}); give both files matching ids to pair by id",
            path,
            _sentence_line(path, min(len(translation), size)),
        )
    return list(original_positions(source))


def _match_by_id(source_ids: list[str], translation_rows: dict[str, int], translation: Dataset) -> list[int | None]:
    matches = [translation_rows.get(sentence_id) for sentence_id in source_ids]
    if source_ids and all(m is None for m in matches):
        example = next(iter(translation_rows), "-")
        raise DataError(
            f"no source id occurs in the translation (source id {source_ids[0]!r}, translation id {example!r}); "
            "pair by index instead",
            source_file(translation),
        )
    return matches


def pair_translations(
    source: Dataset, translation: Dataset, *, by: str = "auto", check_entity_types: bool = True
) -> tuple[Dataset, Dataset, PairingSummary]:
    """Pair each source sentence with its translation.

    Matching (``by``): ``"id"`` matches equal ``id`` values; ``"index"`` matches sentence i of the source
    *file* with sentence i of the translation (after `sample_source`, each kept row keeps its original
    position), and needs equal sentence counts. ``"auto"`` pairs by index when the translation's ids are
    just its sentence indices (a file without ids), else by id.

    A pair is kept when the translation exists, is non-empty and, if ``check_entity_types`` (and both sides
    carry ``ner_tags``), has the same multiset of entity types as its source.

    Args:
        source: The (possibly subsampled) labelled source dataset.
        translation: The translation dataset (full file).
        by: ``"auto"``, ``"id"`` or ``"index"``.
        check_entity_types: Drop pairs whose entity-type multisets differ.

    Returns:
        ``(source, translations, summary)``: every source row with an int ``pair_id`` (its row number in
        ``source`` when kept, -1 when dropped); the kept translation rows, in source order, with the same
        ``pair_id``; and a `PairingSummary`.

    Raises:
        DataError: On duplicate ids, a sentence-count mismatch under index pairing, or no common id.
        ValueError: On an unknown ``by``.
    """
    if by not in ("auto", "id", "index"):
        raise ValueError(f"by must be 'auto', 'id' or 'index', got {by!r}")
    source_ids, translation_ids = source["id"][:], translation["id"][:]
    _check_unique(source_ids, source, "source")
    translation_rows = _check_unique(translation_ids, translation, "translation")
    if by == "auto":
        by = "index" if translation_ids == _index_ids(len(translation)) else "id"
    if by == "index":
        matches = _match_by_index(source, translation)
    else:
        matches = _match_by_id(source_ids, translation_rows, translation)

    check = check_entity_types and "ner_tags" in source.column_names and "ner_tags" in translation.column_names
    source_tags = source["ner_tags"][:] if check else None
    translation_tokens = translation["tokens"][:]
    translation_tags = translation["ner_tags"][:] if check else None
    summary = PairingSummary(by=by, entity_check=check)
    pair_ids: list[int] = []
    kept_rows: list[int] = []
    for row, match in enumerate(matches):
        if match is None:
            summary.dropped_missing += 1
        elif len(translation_tokens[match]) == 0:
            summary.dropped_empty += 1
        elif check and entity_counts(source_tags[row]) != entity_counts(translation_tags[match]):
            summary.dropped_entity_mismatch += 1
        else:
            summary.kept += 1
            pair_ids.append(row)
            kept_rows.append(match)
            continue
        pair_ids.append(-1)

    def with_pair_id(dataset: Dataset, values: list[int]) -> Dataset:
        if "pair_id" in dataset.column_names:
            dataset = dataset.remove_columns("pair_id")
        return dataset.add_column("pair_id", values)

    kept_translations = with_pair_id(translation.select(kept_rows), [p for p in pair_ids if p >= 0])
    return with_pair_id(source, pair_ids), kept_translations, summary
