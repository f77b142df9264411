"""The ``aligned`` backend: project source entities onto existing translations through word alignments.

Alignment files hold one line per sentence pair with space-separated ``i-j`` links (0-based source-token
index - target-token index, the Pharaoh / awesome-align format); an empty line is a pair without links.
Target tokens come from the translation file; its own labels are never used for projection.

Projection rules (see `concner.translate.projection`):

* gaps inside a projected entity are filled (target range ``[min j, max j]`` over the entity's links);
* an entity with no link is lost (``unaligned``);
* overlapping / crossing / merged projections: the longer target span wins, ties go to the earlier source
  entity, the other entity is lost (``conflict``);
* a pair that loses any entity is dropped (reason ``unaligned_entity`` before ``entity_conflict``) unless
  ``keep_partial=True``, in which case it is kept with the surviving entities; a pair whose translation has no
  tokens is dropped (``empty_translation``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from concner.data.errors import DataError
from concner.translate.projection import CONFLICT, UNALIGNED, project_spans
from concner.translate.report import TranslatedPair

EMPTY_TRANSLATION = "empty_translation"
UNALIGNED_ENTITY = "unaligned_entity"
ENTITY_CONFLICT = "entity_conflict"

Links = list[tuple[int, int]]


def parse_alignment_line(line: str, path: str | os.PathLike, lineno: int) -> Links:
    """Parse one line of ``i-j`` links.

    Args:
        line: the line (without or with its newline).
        path: file name, for error messages.
        lineno: 1-based line number, for error messages.

    Returns:
        The ``(source index, target index)`` links in file order.

    Raises:
        DataError: a link is not two non-negative integers joined by ``-``.
    """
    links: Links = []
    for item in line.split():
        left, sep, right = item.partition("-")
        if not sep or not left.isdigit() or not right.isdigit():
            raise DataError(
                f"malformed alignment link {item!r} (expected i-j with 0-based integers)", file=path, line=lineno
            )
        links.append((int(left), int(right)))
    return links


def read_alignment_file(path: str | os.PathLike) -> list[Links]:
    """Read an alignment file, one list of links per line (pair ``k`` is line ``k + 1``).

    Raises:
        DataError: the file is missing, not UTF-8, or a link is malformed.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().split("\n")
    except FileNotFoundError:
        raise DataError("alignment file not found", file=path) from None
    except UnicodeDecodeError as err:
        raise DataError(f"not UTF-8 ({err.reason} at byte {err.start})", file=path) from None
    if lines and lines[-1] == "":
        lines.pop()
    return [parse_alignment_line(line, path, k + 1) for k, line in enumerate(lines)]


def check_links(links: Links, n_source: int, n_target: int, path: str | os.PathLike, lineno: int) -> None:
    """Raise `DataError` naming the line when a link points outside either sentence."""
    for i, j in links:
        if i >= n_source or j >= n_target:
            raise DataError(
                f"alignment link {i}-{j} out of range (source has {n_source} tokens, target has {n_target})",
                file=path,
                line=lineno,
            )


def project_pair(
    pair_id: str,
    source_tokens: Sequence[str],
    source_tags: Sequence[str],
    target_tokens: Sequence[str],
    links: Links,
    keep_partial: bool = False,
) -> TranslatedPair:
    """Project one pair (links already range-checked).

    Args:
        pair_id: id of the source row.
        source_tokens: source words.
        source_tags: source IOB2 tags.
        target_tokens: translated words.
        links: ``(source index, target index)`` links.
        keep_partial: keep pairs that lost entities (with the surviving ones) instead of dropping them.

    Returns:
        The `TranslatedPair` (kept or with its drop reason).
    """
    projection = project_spans(source_tags, links, len(target_tokens))
    pair = TranslatedPair(
        id=pair_id,
        source_tokens=list(source_tokens),
        source_tags=list(source_tags),
        target_tokens=list(target_tokens),
        target_tags=projection.target_tags,
        entities_lost=projection.dropped,
        method="alignment",
    )
    if not target_tokens:
        pair.drop_reason = EMPTY_TRANSLATION
    elif not keep_partial and projection.dropped[UNALIGNED]:
        pair.drop_reason = UNALIGNED_ENTITY
    elif not keep_partial and projection.dropped[CONFLICT]:
        pair.drop_reason = ENTITY_CONFLICT
    return pair


def translate_aligned(
    ids: Sequence[str],
    source_tokens: Sequence[Sequence[str]],
    source_tags: Sequence[Sequence[str]],
    target_tokens: Sequence[Sequence[str]],
    alignments: Sequence[Links],
    alignment_file: str | os.PathLike = "<alignments>",
    line_numbers: Sequence[int] | None = None,
    keep_partial: bool = False,
) -> list[TranslatedPair]:
    """Project every pair; all sequences are parallel (pair ``k`` = ``source k`` ↔ ``target k`` ↔ ``alignments k``).

    Args:
        ids: source row ids.
        source_tokens: source words per sentence.
        source_tags: source IOB2 tags per sentence.
        target_tokens: translated words per sentence.
        alignments: links per sentence pair.
        alignment_file: file name used in error messages.
        line_numbers: 1-based alignment-file line of each pair (default ``k + 1``), used in error messages.
        keep_partial: see `project_pair`.

    Returns:
        One `TranslatedPair` per input pair, in order.

    Raises:
        DataError: the sequences differ in length, or a link is out of range.
    """
    n = len(ids)
    if not (len(source_tokens) == len(source_tags) == len(target_tokens) == n):
        raise ValueError("ids, source tokens, source tags and target tokens must have the same length")
    if len(alignments) != n:
        raise DataError(f"{len(alignments)} alignment lines for {n} sentence pairs", file=alignment_file)
    pairs = []
    for k in range(n):
        lineno = line_numbers[k] if line_numbers is not None else k + 1
        check_links(alignments[k], len(source_tokens[k]), len(target_tokens[k]), alignment_file, lineno)
        pairs.append(
            project_pair(ids[k], source_tokens[k], source_tags[k], target_tokens[k], alignments[k], keep_partial)
        )
    return pairs
