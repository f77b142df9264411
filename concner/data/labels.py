"""Tagging schemes, conversion to IOB2, label lists and entity-type reconciliation.

All readers hand out IOB2 tags (``B-X`` opens every entity, ``I-X`` continues it). The functions here
recognise IOB1, IOB2, IOBES (``S-``/``E-``) and BILOU (``U-``/``L-``) input and convert it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from datasets import Dataset

__all__ = [
    "SCHEMES",
    "LabelReconciliation",
    "build_label_list",
    "detect_scheme",
    "entity_counts",
    "entity_types",
    "is_valid_tag",
    "map_types_to_o",
    "reconcile_label_sets",
    "scheme_prefixes",
    "split_tag",
    "to_iob2",
]

SCHEMES = ("IOB1", "IOB2", "IOBES", "BILOU")
_PREFIXES = {"IOB1": "BI", "IOB2": "BI", "IOBES": "BIES", "BILOU": "BILU"}
_BEGIN = {"B": "B", "S": "B", "U": "B", "I": "I", "E": "I", "L": "I"}
_ENDS_ENTITY = {"E", "S", "L", "U"}


def is_valid_tag(tag: object) -> bool:
    """Whether ``tag`` is ``O`` or ``P-TYPE`` with ``P`` in B/I/E/S/L/U and a non-empty type.

    Args:
        tag: The candidate tag.
    """
    if not isinstance(tag, str):
        return False
    if tag == "O":
        return True
    return len(tag) > 2 and tag[0] in "BIESLU" and tag[1] == "-" and not any(c.isspace() for c in tag)


def split_tag(tag: str) -> tuple[str, str | None]:
    """Split a tag into ``(prefix, type)``; ``("O", None)`` for the outside tag.

    Args:
        tag: A tag such as ``"B-PER"`` or ``"O"``.

    Raises:
        ValueError: If the tag is not valid (see `is_valid_tag`).
    """
    if not isinstance(tag, str):
        raise ValueError(f"invalid tag {tag!r} (expected a string)")
    return _split_tag_cached(tag)


@lru_cache(maxsize=65536)
def _split_tag_cached(tag: str) -> tuple[str, str | None]:
    if not is_valid_tag(tag):
        raise ValueError(f"invalid tag {tag!r} (expected O or B-/I-/E-/S-/L-/U- followed by a type)")
    if tag == "O":
        return "O", None
    return tag[0], tag[2:]


def scheme_prefixes(scheme: str) -> str:
    """The entity prefixes a scheme allows, e.g. ``"BIES"`` for IOBES.

    Args:
        scheme: One of `SCHEMES`.
    """
    if scheme not in _PREFIXES:
        raise ValueError(f"unknown tagging scheme {scheme!r}; expected one of {', '.join(SCHEMES)}")
    return _PREFIXES[scheme]


def detect_scheme(tag_sequences: Iterable[Sequence[str]]) -> str:
    """Guess the tagging scheme of some tag sequences.

    ``E-``/``S-`` means IOBES, ``L-``/``U-`` means BILOU. With only ``B-``/``I-``, a span that opens
    with ``I-`` (at the sentence start, after ``O`` or after another type) means IOB1, else IOB2.
    IOB1 and "IOB2 with a few spans opened by ``I-``" convert identically, so that guess is harmless.

    Args:
        tag_sequences: One sequence of tag strings per sentence.

    Returns:
        ``"IOB1"``, ``"IOB2"``, ``"IOBES"`` or ``"BILOU"``.

    Raises:
        ValueError: On an invalid tag or when IOBES and BILOU prefixes are mixed.
    """
    prefixes: set[str] = set()
    opens_with_inside = False
    seen: set[str] = set()
    for tags in tag_sequences:
        previous_type = None
        for tag in tags:
            if tag not in seen:
                split_tag(tag)  # validates
                seen.add(tag)
            if tag == "O":
                previous_type = None
                continue
            prefix, entity_type = tag[0], tag[2:]
            prefixes.add(prefix)
            if prefix == "I" and previous_type != entity_type:
                opens_with_inside = True
            previous_type = entity_type
    iobes, bilou = prefixes & {"E", "S"}, prefixes & {"L", "U"}
    if iobes and bilou:
        raise ValueError(
            f"tags mix IOBES prefixes ({'/'.join(sorted(iobes))}) with BILOU prefixes ({'/'.join(sorted(bilou))})"
        )
    if iobes:
        return "IOBES"
    if bilou:
        return "BILOU"
    return "IOB1" if opens_with_inside else "IOB2"


def to_iob2(tags: Sequence[str], scheme: str) -> list[str]:
    """Convert one tag sequence to IOB2.

    ``S-``/``U-`` become ``B-``, ``E-``/``L-`` become ``I-``, and an ``I-X`` that does not continue an
    entity of type X (sentence start, after ``O``, after another type, or after an entity's end tag)
    becomes ``B-X``. For IOB1 this is the IOB1 -> IOB2 conversion; for IOB2 input it only repairs spans
    opened by ``I-``, exactly as conlleval and seqeval (default mode) read them.

    Args:
        tags: The tags of one sentence.
        scheme: The scheme of ``tags``: one of `SCHEMES`.

    Returns:
        The IOB2 tags (a new list).

    Raises:
        ValueError: On an invalid tag or a prefix the scheme does not allow (e.g. ``E-`` in IOB2).
    """
    allowed = scheme_prefixes(scheme)
    out: list[str] = []
    previous_type = None
    for tag in tags:
        if tag == "O":
            out.append(tag)
            previous_type = None
            continue
        prefix, entity_type = split_tag(tag)
        if prefix not in allowed:
            raise ValueError(f"tag {tag!r} is not allowed in the {scheme} scheme (prefixes {'/'.join(allowed)})")
        new_prefix = _BEGIN[prefix]
        if new_prefix == "I" and previous_type != entity_type:
            new_prefix = "B"
        out.append(tag if new_prefix == prefix else f"{new_prefix}-{entity_type}")
        previous_type = None if prefix in _ENDS_ENTITY else entity_type
    return out


def _iter_tags(source: object) -> Iterable[str]:
    if isinstance(source, Dataset):
        if "ner_tags" not in source.column_names:
            raise ValueError(f"dataset has no 'ner_tags' column (columns: {', '.join(source.column_names)})")
        for tags in source["ner_tags"]:
            yield from tags
        return
    for item in source:  # type: ignore[union-attr]
        if isinstance(item, str):
            yield item
        else:
            yield from item


def build_label_list(*sources: Dataset | Iterable[str] | Iterable[Sequence[str]]) -> list[str]:
    """The label list ``["O", *sorted(other tags)]`` over one or more datasets or tag iterables.

    Every entity type gets both its ``B-`` and its ``I-`` tag, even if one of them never occurs, so that
    a label list built on one split also covers another split of the same tag set.

    Args:
        *sources: Datasets with an IOB2 ``ner_tags`` column, iterables of tags, or iterables of tag
            sequences (e.g. ``dataset["ner_tags"]``).

    Returns:
        For CoNLL: ``["O", "B-LOC", "B-MISC", "B-ORG", "B-PER", "I-LOC", "I-MISC", "I-ORG", "I-PER"]``.

    Raises:
        ValueError: On an invalid tag or a non-IOB2 prefix.
    """
    types: set[str] = set()
    seen: set[str] = set()
    for source in sources:
        for tag in _iter_tags(source):
            if tag in seen:
                continue
            seen.add(tag)
            prefix, entity_type = split_tag(tag)
            if prefix not in ("O", "B", "I"):
                raise ValueError(f"tag {tag!r} is not IOB2; convert it with to_iob2 first")
            if entity_type is not None:
                types.add(entity_type)
    return ["O", *sorted({f"{p}-{t}" for t in types for p in "BI"})]


def entity_types(label_list: Iterable[str]) -> list[str]:
    """The sorted entity types named by a label list (``O`` ignored).

    Args:
        label_list: Tags such as ``["O", "B-PER", "I-PER"]``; bare types such as ``"PER"`` are accepted too.
    """
    types = set()
    for label in label_list:
        if label == "O":
            continue
        types.add(split_tag(label)[1] if is_valid_tag(label) else label)
    return sorted(types)


def entity_counts(tags: Sequence[str]) -> Counter:
    """The multiset of entity types of one IOB2 tag sequence (one count per ``B-`` tag).

    Args:
        tags: IOB2 tags of one sentence.
    """
    return Counter(tag[2:] for tag in tags if tag.startswith("B-"))


def map_types_to_o(dataset: Dataset, types: Iterable[str]) -> Dataset:
    """Replace every tag of the given entity types by ``O``.

    Args:
        dataset: A dataset with an IOB2 ``ner_tags`` column.
        types: Entity types to remove, e.g. ``["MISC"]``.

    Returns:
        The dataset with those entities removed (unchanged if ``types`` is empty).
    """
    drop = set(types)
    if not drop:
        return dataset

    def _map(batch: dict) -> dict:
        return {"ner_tags": [[("O" if t != "O" and t[2:] in drop else t) for t in tags] for tags in batch["ner_tags"]]}

    return dataset.map(_map, batched=True, desc=f"Mapping {', '.join(sorted(drop))} to O")


@dataclass
class LabelReconciliation:
    """How a source and a target label set are made comparable.

    Attributes:
        scored_types: Entity types kept (and scored) on both sides.
        source_only: Types of the source that are mapped to ``O``.
        target_only: Types of the target that are mapped to ``O``.
        label_list: The IOB2 label list over ``scored_types``.
    """

    scored_types: list[str]
    source_only: list[str] = field(default_factory=list)
    target_only: list[str] = field(default_factory=list)
    label_list: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = f"scored entity types: {', '.join(self.scored_types)}"
        if self.source_only:
            text += f"; mapped to O in the source: {', '.join(self.source_only)}"
        if self.target_only:
            text += f"; mapped to O in the target: {', '.join(self.target_only)}"
        return text


def reconcile_label_sets(
    source_labels: Iterable[str], target_labels: Iterable[str], map_to_o: bool
) -> LabelReconciliation:
    """Check that source and target use the same entity types, or plan mapping the extra ones to ``O``.

    Args:
        source_labels: The source label list (or entity types).
        target_labels: The target label list (or entity types).
        map_to_o: Allow different type sets: types that only one side has are mapped to ``O``
            (apply with `map_types_to_o`) and only the shared types are scored.

    Returns:
        A `LabelReconciliation` naming the scored types and the types to map to ``O`` on each side.

    Raises:
        ValueError: If the type sets differ and ``map_to_o`` is false, or if they share no type.
    """
    source_types, target_types = set(entity_types(source_labels)), set(entity_types(target_labels))
    shared = sorted(source_types & target_types)
    source_only, target_only = sorted(source_types - target_types), sorted(target_types - source_types)
    if (source_only or target_only) and not map_to_o:
        raise ValueError(
            f"entity types differ: source {'/'.join(sorted(source_types))} vs target {'/'.join(sorted(target_types))}"
            f" (source only: {', '.join(source_only) or '-'}; target only: {', '.join(target_only) or '-'}); "
            f"enable mapping the extra types to O to train and score on {', '.join(shared) or 'nothing'}"
        )
    if not shared:
        raise ValueError(
            f"source ({', '.join(sorted(source_types)) or 'no types'}) and target "
            f"({', '.join(sorted(target_types)) or 'no types'}) share no entity type"
        )
    return LabelReconciliation(
        scored_types=shared,
        source_only=source_only,
        target_only=target_only,
        label_list=["O", *sorted(f"{p}-{t}" for t in shared for p in "BI")],
    )
