"""Label-preserving translation of the source set (D_SRC -> D_TGT): ``aligned``, ``seq2seq`` and ``lexicon`` backends.

See `concner.translate.cli` for the ``concner-translate`` command. The backends are pure functions over token and
tag lists returning `TranslatedPair` objects; `build_report` aggregates them.
"""

from __future__ import annotations

from concner.translate.aligned import parse_alignment_line, read_alignment_file, translate_aligned
from concner.translate.lexicon import load_dictionary, translate_lexicon, translate_tokens
from concner.translate.projection import Projection, Span, extract_spans, project_spans, spans_to_tags
from concner.translate.report import TranslatedPair, build_report, format_summary, label_agreement
from concner.translate.seq2seq import load_hf_translator, translate_with_markers

__all__ = [
    "Projection",
    "Span",
    "TranslatedPair",
    "build_report",
    "extract_spans",
    "format_summary",
    "label_agreement",
    "load_dictionary",
    "load_hf_translator",
    "parse_alignment_line",
    "project_spans",
    "read_alignment_file",
    "spans_to_tags",
    "translate_aligned",
    "translate_lexicon",
    "translate_tokens",
    "translate_with_markers",
]
