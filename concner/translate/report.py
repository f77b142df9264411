"""Translated pairs and the projection report: pairs kept, pairs dropped and why, entity counts per type."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from concner.translate.projection import extract_spans, type_counts


@dataclass
class TranslatedPair:
    """One source sentence and its label-projected translation.

    Attributes:
        id: the source row's id (the translation row gets the same id).
        source_tokens: source words.
        source_tags: source IOB2 tags.
        target_tokens: translated words (empty when translation failed).
        target_tags: projected IOB2 tags, one per target word.
        drop_reason: ``None`` when the pair is kept, otherwise why it was dropped.
        entities_lost: reason -> number of source entities that could not be carried over.
        method: how the entities were recovered (backend specific, e.g. ``markers`` / ``fuzzy``), for the report.
    """

    id: str
    source_tokens: list[str]
    source_tags: list[str]
    target_tokens: list[str]
    target_tags: list[str]
    drop_reason: str | None = None
    entities_lost: Counter[str] = field(default_factory=Counter)
    method: str | None = None

    @property
    def kept(self) -> bool:
        return self.drop_reason is None


def _sorted_counts(counter: Counter[str]) -> dict[str, int]:
    return {key: counter[key] for key in sorted(counter)}


def build_report(pairs: Sequence[TranslatedPair], backend: str, **settings: Any) -> dict[str, Any]:
    """Aggregate translated pairs into a JSON-serialisable report.

    Args:
        pairs: every pair the backend produced, kept or dropped.
        backend: backend name.
        **settings: extra fields copied into the report (input paths, options).

    Returns:
        A dict with ``pairs`` (total / kept / dropped / dropped_by_reason / kept_by_method), ``entities``
        (per type: ``source_all``, ``source_kept``, ``target_kept``; ``lost_by_reason``) and ``dropped_ids``.
    """
    kept = [p for p in pairs if p.kept]
    dropped = [p for p in pairs if not p.kept]
    dropped_ids: dict[str, list[str]] = {}
    for pair in dropped:
        dropped_ids.setdefault(pair.drop_reason, []).append(pair.id)
    lost: Counter[str] = Counter()
    for pair in pairs:
        lost.update(pair.entities_lost)
    return {
        "backend": backend,
        **settings,
        "pairs": {
            "total": len(pairs),
            "kept": len(kept),
            "dropped": len(dropped),
            "dropped_by_reason": _sorted_counts(Counter(p.drop_reason for p in dropped)),
            "kept_by_method": _sorted_counts(Counter(p.method for p in kept if p.method)),
        },
        "entities": {
            "source_all": _sorted_counts(_entity_counts(p.source_tags for p in pairs)),
            "source_kept": _sorted_counts(_entity_counts(p.source_tags for p in kept)),
            "target_kept": _sorted_counts(_entity_counts(p.target_tags for p in kept)),
            "lost_by_reason": _sorted_counts(lost),
        },
        "dropped_ids": {reason: dropped_ids[reason] for reason in sorted(dropped_ids)},
    }


def _entity_counts(tag_lists: Iterable[Sequence[str]]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for tags in tag_lists:
        counts.update(type_counts(extract_spans(tags)))
    return counts


def label_agreement(predicted: Sequence[Sequence[str]], reference: Sequence[Sequence[str]]) -> dict[str, float | int]:
    """Token- and entity-level agreement between projected tags and reference tags of the same target tokens.

    Args:
        predicted: projected IOB2 tags per sentence.
        reference: reference IOB2 tags per sentence (same lengths).

    Returns:
        ``sentences``, ``tokens``, ``token_agreement`` (fraction of equal tags), ``entity_precision``,
        ``entity_recall``, ``entity_f1`` (exact span and type) and ``sentence_exact`` (fraction of sentences
        whose tags are all equal).
    """
    tokens = equal = exact = matched = n_pred = n_ref = 0
    for pred, ref in zip(predicted, reference, strict=True):
        if len(pred) != len(ref):
            raise ValueError(f"sentence lengths differ: {len(pred)} predicted vs {len(ref)} reference tags")
        tokens += len(ref)
        same = sum(p == r for p, r in zip(pred, ref))
        equal += same
        exact += same == len(ref)
        pred_spans, ref_spans = set(extract_spans(pred)), set(extract_spans(ref))
        matched += len(pred_spans & ref_spans)
        n_pred += len(pred_spans)
        n_ref += len(ref_spans)
    precision = matched / n_pred if n_pred else 0.0
    recall = matched / n_ref if n_ref else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "sentences": len(reference),
        "tokens": tokens,
        "token_agreement": equal / tokens if tokens else 0.0,
        "entity_precision": precision,
        "entity_recall": recall,
        "entity_f1": f1,
        "sentence_exact": exact / len(reference) if len(reference) else 0.0,
    }


def format_summary(report: dict[str, Any]) -> str:
    """A few human-readable lines summarising a report (printed by the command line)."""
    pairs, entities = report["pairs"], report["entities"]
    lines = [
        f"backend: {report['backend']}",
        f"pairs: {pairs['kept']} kept / {pairs['total']} ({pairs['dropped']} dropped)",
    ]
    for reason, count in pairs["dropped_by_reason"].items():
        lines.append(f"  dropped ({reason}): {count}")
    for method, count in pairs["kept_by_method"].items():
        lines.append(f"  kept via {method}: {count}")
    for side in ("source_all", "source_kept", "target_kept"):
        counts = " ".join(f"{k} {v}" for k, v in entities[side].items()) or "none"
        lines.append(f"entities {side}: {counts} (total {sum(entities[side].values())})")
    if entities["lost_by_reason"]:
        lines.append("entities lost: " + " ".join(f"{k} {v}" for k, v in entities["lost_by_reason"].items()))
    agreement = report.get("reference_agreement")
    if agreement:
        lines.append(
            f"agreement with the translation file's labels (kept pairs): tokens {agreement['token_agreement']:.4f}, "
            f"entity F1 {agreement['entity_f1']:.4f}"
        )
    return "\n".join(lines)


def write_json_atomic(data: dict[str, Any], path: str | os.PathLike) -> None:
    """Write JSON through a temporary file in the same folder, renamed over ``path`` (`concner.data.atomic_write`)."""
    from concner.data import atomic_write

    with atomic_write(path) as handle:
        json.dump(data, handle, indent=2, ensure_ascii=False)
        handle.write("\n")
