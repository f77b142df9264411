"""Entity spans over IOB2 tags and their projection onto a target sentence through word alignments.

Pure functions over token/tag lists; no file access. A span is a half-open token range ``[start, end)``
with an entity type. Resolution rules (used by the ``aligned`` backend):

* **Gaps**: a source entity is projected to the contiguous target range from the smallest to the largest
  target index aligned to any of its tokens; target tokens in between are filled even when they are
  unaligned or aligned elsewhere (a split entity "Peter ... Smith" becomes one span covering the middle).
* **Unaligned entities**: an entity none of whose tokens has a link is dropped (reason ``unaligned``).
* **Overlaps**: when projected spans share a target token (two entities merged into one target word,
  crossing or nested projections) the longer span wins; on equal length the earlier source entity wins.
  The loser is dropped (reason ``conflict``). Spans are decided greedily in that order, so the result
  never overlaps.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

UNALIGNED = "unaligned"
CONFLICT = "conflict"


class Span(NamedTuple):
    """A half-open token range ``[start, end)`` labelled with an entity type."""

    start: int
    end: int
    label: str


def extract_spans(tags: Sequence[str]) -> list[Span]:
    """Read entity spans from IOB2 tags.

    An ``I-X`` that follows ``O`` or a tag of another type opens a new span (as seqeval's default mode reads it).

    Args:
        tags: one tag per token (``O``, ``B-X``, ``I-X``).

    Returns:
        The spans in order of their start.
    """
    spans: list[Span] = []
    start, label = -1, None
    for i, tag in enumerate(tags):
        prefix, _, kind = tag.partition("-")
        continues = prefix == "I" and label == kind
        if label is not None and not continues:
            spans.append(Span(start, i, label))
            label = None
        if prefix in ("B", "I") and not continues:
            start, label = i, kind
    if label is not None:
        spans.append(Span(start, len(tags), label))
    return spans


def spans_to_tags(spans: Iterable[Span], length: int) -> list[str]:
    """Write non-overlapping spans as IOB2 tags.

    Args:
        spans: spans inside ``[0, length)``; they must not overlap.
        length: number of tokens.

    Returns:
        ``length`` tags.
    """
    tags = ["O"] * length
    for span in spans:
        if not 0 <= span.start < span.end <= length:
            raise ValueError(f"span {span} outside a sentence of {length} tokens")
        if any(tag != "O" for tag in tags[span.start : span.end]):
            raise ValueError(f"span {span} overlaps another span")
        tags[span.start] = f"B-{span.label}"
        for i in range(span.start + 1, span.end):
            tags[i] = f"I-{span.label}"
    return tags


def type_counts(spans: Iterable[Span]) -> Counter[str]:
    """Count spans per entity type (the entity-type multiset of a sentence)."""
    return Counter(span.label for span in spans)


def fill_gaps(target_indices: Iterable[int]) -> tuple[int, int] | None:
    """The contiguous range ``[min, max + 1)`` covering all aligned target indices, or ``None`` if there are none."""
    indices = list(target_indices)
    if not indices:
        return None
    return min(indices), max(indices) + 1


def resolve_overlaps(candidates: Sequence[Span]) -> tuple[list[Span], list[int]]:
    """Keep a non-overlapping subset of projected spans: longer first, then earlier candidate first.

    Args:
        candidates: projected spans, in source-entity order.

    Returns:
        ``(kept spans sorted by start, indices into candidates of the dropped spans)``.
    """
    order = sorted(range(len(candidates)), key=lambda k: (-(candidates[k].end - candidates[k].start), k))
    taken: set[int] = set()
    kept: list[Span] = []
    dropped: list[int] = []
    for k in order:
        span = candidates[k]
        cells = set(range(span.start, span.end))
        if cells & taken:
            dropped.append(k)
            continue
        taken |= cells
        kept.append(span)
    return sorted(kept), sorted(dropped)


@dataclass
class Projection:
    """The result of projecting one sentence's entities onto its translation.

    Attributes:
        source_spans: entity spans of the source sentence.
        target_spans: projected, non-overlapping spans on the target sentence (sorted by start).
        target_tags: IOB2 tags of the target sentence.
        dropped: reason (``unaligned`` / ``conflict``) -> number of source entities lost for that reason.
    """

    source_spans: list[Span]
    target_spans: list[Span]
    target_tags: list[str]
    dropped: Counter[str] = field(default_factory=Counter)

    @property
    def complete(self) -> bool:
        """Whether every source entity survived with its type (equal entity-type multisets)."""
        return type_counts(self.source_spans) == type_counts(self.target_spans)


def project_spans(source_tags: Sequence[str], links: Iterable[tuple[int, int]], target_length: int) -> Projection:
    """Project source entities through word-alignment links (gap filling, overlap resolution; see module doc).

    Args:
        source_tags: IOB2 tags of the source sentence.
        links: ``(source index, target index)`` pairs, 0-based, already checked to be in range.
        target_length: number of target tokens.

    Returns:
        A `Projection` with the target tags and the per-reason count of lost entities.
    """
    by_source: dict[int, list[int]] = {}
    for i, j in links:
        by_source.setdefault(i, []).append(j)
    source_spans = extract_spans(source_tags)
    dropped: Counter[str] = Counter()
    candidates: list[Span] = []
    for span in source_spans:
        covered = fill_gaps(j for i in range(span.start, span.end) for j in by_source.get(i, ()))
        if covered is None:
            dropped[UNALIGNED] += 1
            continue
        candidates.append(Span(covered[0], covered[1], span.label))
    kept, lost = resolve_overlaps(candidates)
    if lost:
        dropped[CONFLICT] += len(lost)
    return Projection(source_spans, kept, spans_to_tags(kept, target_length), dropped)
