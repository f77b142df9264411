"""Data layer: readers, label schemes, source sampling and pairing, tokenisation with label alignment.

See the "Data contract" in DEVELOPERS.md: readers return ``id``/``tokens``/``ner_tags`` (IOB2 strings),
malformed input raises `DataError` naming file and line.
"""

from .conll_io import atomic_write, write_conll, write_jsonl, write_text
from .errors import DataError
from .labels import (
    LabelReconciliation,
    build_label_list,
    detect_scheme,
    entity_types,
    map_types_to_o,
    reconcile_label_sets,
    to_iob2,
)
from .pairing import PairingSummary, pair_translations, sample_source
from .provenance import source_file
from .readers import load_ner_dataset, load_text_dataset
from .tokenization import TokenizationSummary, sort_for_inference, tokenize_and_align, tokenize_and_align_with_summary

__all__ = [
    "DataError",
    "LabelReconciliation",
    "PairingSummary",
    "TokenizationSummary",
    "atomic_write",
    "build_label_list",
    "detect_scheme",
    "entity_types",
    "load_ner_dataset",
    "load_text_dataset",
    "map_types_to_o",
    "pair_translations",
    "reconcile_label_sets",
    "sort_for_inference",
    "sample_source",
    "source_file",
    "to_iob2",
    "tokenize_and_align",
    "tokenize_and_align_with_summary",
    "write_conll",
    "write_jsonl",
    "write_text",
]
