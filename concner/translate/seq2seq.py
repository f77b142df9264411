"""The ``seq2seq`` backend: translate with any Hugging Face translation model, carrying entities via markers.

EasyProject-style marker projection (Chen et al. 2023):

1. Each source entity is wrapped in markers (``[ Peter Smith ] visited [ Berlin ] .``; sentences are the
   source tokens joined by single spaces) and the marked sentence is translated.
2. The translation is tokenized (`tokenize_text`) and scanned for marker pairs; every ``open ... close`` with
   no other ``open`` in between gives one span, stray markers are ignored and removed from the target tokens.
3. Spans are matched to source entities by `difflib` similarity of the span text to the entity's separate
   translation (or to the entity itself, for names that are copied). When there are as many spans as
   entities every entity takes one span (best similarity first, ties by position); otherwise only matches at
   or above ``fuzzy_threshold`` are accepted.
4. Entities still without a span (markers lost, mangled or merged) are searched in the marker-free
   translation: the best window of words (entity length -2 ... +2) by `difflib` ratio against the entity's
   translation or the entity itself, at or above ``fuzzy_threshold``, not overlapping spans already taken.
5. A pair is kept only when every source entity was recovered, i.e. the entity-type multisets of source and
   target are equal; otherwise it is dropped (``entities_not_recovered``). Empty translations are dropped
   (``empty_translation``). Sentences without entities are translated without markers.

The translation function is any callable ``list[str] -> list[str]``; `load_hf_translator` builds one from a
MarianMT, NLLB (``src_lang``/``tgt_lang`` codes such as ``eng_Latn``/``deu_Latn``, forced BOS) or M2M100
(``en``/``de``) checkpoint, batched and on GPU when available.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from concner.translate.projection import Span, extract_spans, resolve_overlaps, spans_to_tags, type_counts
from concner.translate.report import TranslatedPair

TranslateFn = Callable[[list[str]], list[str]]

OPEN_MARKER = "["
CLOSE_MARKER = "]"
EMPTY_TRANSLATION = "empty_translation"
NOT_RECOVERED = "entities_not_recovered"
NOT_FOUND = "not_found"

_TOKEN_RE = re.compile(r"\d+(?:[.,:]\d+)+|\w+(?:[-'’]\w+)*|[^\w\s]")


def tokenize_text(text: str) -> list[str]:
    """Split translated text into words: numbers with inner ``.,:``, words with inner ``-'’``, single symbols."""
    return _TOKEN_RE.findall(text)


def mark_entities(
    tokens: Sequence[str], spans: Sequence[Span], open_marker: str = OPEN_MARKER, close_marker: str = CLOSE_MARKER
) -> str:
    """Join the source words with spaces, wrapping every entity in markers: ``[ Peter Smith ] visited [ Berlin ]``."""
    starts = {span.start for span in spans}
    ends = {span.end for span in spans}
    words: list[str] = []
    for i, token in enumerate(tokens):
        if i in ends:
            words.append(close_marker)
        if i in starts:
            words.append(open_marker)
        words.append(token)
    if len(tokens) in ends:
        words.append(close_marker)
    return " ".join(words)


@dataclass
class MarkerParse:
    """Target words with markers removed, and the ``[start, end)`` ranges the marker pairs enclosed."""

    tokens: list[str]
    spans: list[tuple[int, int]]


def parse_markers(text: str, open_marker: str = OPEN_MARKER, close_marker: str = CLOSE_MARKER) -> MarkerParse:
    """Recover marked spans from a translation (see step 2 of the module doc).

    Args:
        text: the translated sentence.
        open_marker: opening marker string.
        close_marker: closing marker string.

    Returns:
        A `MarkerParse`; empty marker pairs give no span.
    """
    pieces = re.split(f"({re.escape(open_marker)}|{re.escape(close_marker)})", text)
    tokens: list[str] = []
    spans: list[tuple[int, int]] = []
    start: int | None = None
    for piece in pieces:
        if piece == open_marker:
            start = len(tokens)
        elif piece == close_marker:
            if start is not None and len(tokens) > start:
                spans.append((start, len(tokens)))
            start = None
        else:
            tokens.extend(tokenize_text(piece))
    return MarkerParse(tokens, spans)


def similarity(a: str, b: str) -> float:
    """`difflib.SequenceMatcher` ratio of the lowercased strings (1.0 = identical)."""
    return difflib.SequenceMatcher(None, a.lower(), b.lower()).ratio()


def _best_similarity(text: str, queries: Sequence[str]) -> float:
    return max((similarity(text, q) for q in queries), default=0.0)


def assign_spans(
    queries: Sequence[Sequence[str]], span_texts: Sequence[str], threshold: float | None
) -> dict[int, int]:
    """Match entities to marker spans greedily by similarity.

    Args:
        queries: per entity, the strings it may appear as (its translation, itself).
        span_texts: text of each recovered span.
        threshold: minimum similarity for a match; ``None`` accepts every match (used when the numbers of spans
            and entities are equal).

    Returns:
        entity index -> span index.
    """
    scored = [
        (-_best_similarity(text, entity_queries), abs(e - s), e, s)
        for e, entity_queries in enumerate(queries)
        for s, text in enumerate(span_texts)
    ]
    assignment: dict[int, int] = {}
    used: set[int] = set()
    for neg_score, _, e, s in sorted(scored):
        if e in assignment or s in used or (threshold is not None and -neg_score < threshold):
            continue
        assignment[e] = s
        used.add(s)
    return assignment


def fuzzy_find(
    tokens: Sequence[str], queries: Sequence[str], blocked: set[int], threshold: float
) -> tuple[int, int] | None:
    """Best window of ``tokens`` matching any query (see step 4 of the module doc).

    Args:
        tokens: marker-free target words.
        queries: strings the entity may appear as.
        blocked: target positions already taken by other entities.
        threshold: minimum similarity.

    Returns:
        ``(start, end)`` of the best window, or ``None`` when nothing reaches the threshold.
    """
    best: tuple[float, int, int] | None = None
    for query in queries:
        size = max(1, len(tokenize_text(query)))
        for length in range(max(1, size - 2), size + 3):
            for start in range(0, len(tokens) - length + 1):
                if any(i in blocked for i in range(start, start + length)):
                    continue
                score = similarity(" ".join(tokens[start : start + length]), query)
                if score >= threshold and (best is None or score > best[0]):
                    best = (score, start, start + length)
    return None if best is None else (best[1], best[2])


def recover_entities(
    source_spans: Sequence[Span],
    entity_queries: Sequence[Sequence[str]],
    parse: MarkerParse,
    threshold: float,
) -> tuple[list[Span], str]:
    """Place the source entities on the marker-free target words (steps 3-4 of the module doc).

    Args:
        source_spans: the source entities.
        entity_queries: per entity, the strings it may appear as.
        parse: the parsed translation.
        threshold: fuzzy-match threshold.

    Returns:
        ``(target spans sorted by start, method)`` with method ``markers``, ``fuzzy``, ``markers+fuzzy``
        (or ``none`` when no entity was placed).
    """
    span_texts = [" ".join(parse.tokens[s:e]) for s, e in parse.spans]
    exact = len(parse.spans) == len(source_spans)
    assignment = assign_spans(entity_queries, span_texts, None if exact else threshold)
    placed: dict[int, tuple[int, int]] = {e: parse.spans[s] for e, s in assignment.items()}
    blocked = {i for s, e in placed.values() for i in range(s, e)}
    fuzzy = 0
    for e, queries in enumerate(entity_queries):
        if e in placed:
            continue
        found = fuzzy_find(parse.tokens, queries, blocked, threshold)
        if found is not None:
            placed[e] = found
            blocked.update(range(*found))
            fuzzy += 1
    candidates = [Span(s, e, source_spans[k].label) for k, (s, e) in sorted(placed.items())]
    kept, _ = resolve_overlaps(candidates)
    from_markers = len(placed) - fuzzy
    method = "markers+fuzzy" if from_markers and fuzzy else "markers" if from_markers else "fuzzy" if fuzzy else "none"
    return kept, method


def _needs_entity_translations(n_entities: int, parse: MarkerParse) -> bool:
    """Entity strings are translated separately only when the spans cannot be assigned without them."""
    return bool(parse.tokens) and (n_entities > 1 or (n_entities == 1 and len(parse.spans) != 1))


def translate_with_markers(
    ids: Sequence[str],
    source_tokens: Sequence[Sequence[str]],
    source_tags: Sequence[Sequence[str]],
    translate: TranslateFn,
    fuzzy_threshold: float = 0.6,
    open_marker: str = OPEN_MARKER,
    close_marker: str = CLOSE_MARKER,
) -> list[TranslatedPair]:
    """Translate sentences and carry their entities over (the whole procedure of the module doc).

    Args:
        ids: source row ids.
        source_tokens: source words per sentence.
        source_tags: source IOB2 tags per sentence.
        translate: ``list[str] -> list[str]`` translation function (called once for the marked sentences and
            once for the entity strings that need a separate translation).
        fuzzy_threshold: minimum `difflib` similarity for fuzzy matches.
        open_marker: opening marker.
        close_marker: closing marker.

    Returns:
        One `TranslatedPair` per sentence, in order.
    """
    all_spans = [extract_spans(tags) for tags in source_tags]
    marked = [
        mark_entities(tokens, spans, open_marker, close_marker) for tokens, spans in zip(source_tokens, all_spans)
    ]
    outputs = _call(translate, marked)
    parses = [parse_markers(text, open_marker, close_marker) for text in outputs]

    entity_strings = [
        [" ".join(tokens[s.start : s.end]) for s in spans] for tokens, spans in zip(source_tokens, all_spans)
    ]
    wanted = sorted(
        {
            text
            for strings, parse in zip(entity_strings, parses)
            if _needs_entity_translations(len(strings), parse)
            for text in strings
        }
    )
    translated_entities: Mapping[str, str] = dict(zip(wanted, _call(translate, wanted))) if wanted else {}

    pairs = []
    for k, (spans, strings, parse) in enumerate(zip(all_spans, entity_strings, parses)):
        queries = [[q for q in (translated_entities.get(text), text) if q] for text in strings]
        target_spans, method = recover_entities(spans, queries, parse, fuzzy_threshold) if spans else ([], "plain")
        pair = TranslatedPair(
            id=ids[k],
            source_tokens=list(source_tokens[k]),
            source_tags=list(source_tags[k]),
            target_tokens=parse.tokens,
            target_tags=spans_to_tags(target_spans, len(parse.tokens)),
            method=method,
        )
        lost = sum((type_counts(spans) - type_counts(target_spans)).values())
        if lost:
            pair.entities_lost = Counter({NOT_FOUND: lost})
        if not parse.tokens:
            pair.drop_reason = EMPTY_TRANSLATION
        elif type_counts(spans) != type_counts(target_spans):
            pair.drop_reason = NOT_RECOVERED
        pairs.append(pair)
    return pairs


def _call(translate: TranslateFn, texts: list[str]) -> list[str]:
    outputs = list(translate(texts))
    if len(outputs) != len(texts):
        raise ValueError(f"the translation function returned {len(outputs)} outputs for {len(texts)} inputs")
    return outputs


def load_hf_translator(
    model_name_or_path: str,
    src_lang: str | None = None,
    tgt_lang: str | None = None,
    batch_size: int = 16,
    max_new_tokens: int = 256,
    num_beams: int = 1,
    device: str | None = None,
) -> TranslateFn:
    """Build a batched translation function from a Hugging Face seq2seq checkpoint.

    Args:
        model_name_or_path: Hub name or local folder (MarianMT, NLLB, M2M100, ...).
        src_lang: source language code for multilingual tokenizers (``eng_Latn`` for NLLB, ``en`` for M2M100).
        tgt_lang: target language code; its token is forced as the first generated token.
        batch_size: sentences per `generate` call (inputs are sorted by length to limit padding).
        max_new_tokens: generation limit per sentence.
        num_beams: beam size.
        device: torch device; default ``cuda`` when available, else ``cpu``.

    Returns:
        A function ``list[str] -> list[str]``.
    """
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    tokenizer = AutoTokenizer.from_pretrained(model_name_or_path)
    model = AutoModelForSeq2SeqLM.from_pretrained(model_name_or_path).to(device).eval()
    if src_lang is not None:
        tokenizer.src_lang = src_lang
    generate_kwargs: dict[str, int] = {"max_new_tokens": max_new_tokens, "num_beams": num_beams}
    if tgt_lang is not None:
        lang_id = tokenizer.get_lang_id(tgt_lang) if hasattr(tokenizer, "get_lang_id") else None
        if lang_id is None:
            lang_id = tokenizer.convert_tokens_to_ids(tgt_lang)
        if lang_id is None or lang_id == tokenizer.unk_token_id:
            raise ValueError(f"target language code {tgt_lang!r} is not a token of this tokenizer")
        generate_kwargs["forced_bos_token_id"] = lang_id

    @torch.inference_mode()
    def translate(texts: list[str]) -> list[str]:
        order = sorted(range(len(texts)), key=lambda k: len(texts[k]))
        outputs: list[str] = [""] * len(texts)
        for begin in range(0, len(order), batch_size):
            chunk = order[begin : begin + batch_size]
            batch = tokenizer(
                [texts[k] for k in chunk],
                return_tensors="pt",
                padding=True,
                truncation=True,
                return_token_type_ids=False,
            )
            generated = model.generate(**batch.to(device), **generate_kwargs)
            for k, text in zip(chunk, tokenizer.batch_decode(generated, skip_special_tokens=True)):
                outputs[k] = text
        return outputs

    return translate
