"""The ``lexicon`` backend: word-by-word translation with a bilingual dictionary (Mayhew et al. 2017; Xie et al. 2018).

Entity tokens are copied unchanged; every other word is replaced by its dictionary translation when the
dictionary knows it (lookup on the lowercased word, then the source casing is restored), otherwise copied.
Labels carry over 1:1, so every pair is kept. Dictionaries use the MUSE format: one ``source target`` pair
per line; a source word may have several lines, the first one wins.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from concner.data.errors import DataError
from concner.translate.report import TranslatedPair


def load_dictionary(path: str | os.PathLike) -> dict[str, str]:
    """Read a MUSE dictionary into ``lowercased source word -> first translation``.

    Raises:
        DataError: the file is missing, not UTF-8, or a non-empty line does not have exactly two fields.
    """
    dictionary: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8") as handle:
            for lineno, line in enumerate(handle, start=1):
                fields = line.split()
                if not fields:
                    continue
                if len(fields) != 2:
                    raise DataError(f"expected 'source target', found {len(fields)} fields", file=path, line=lineno)
                dictionary.setdefault(fields[0].lower(), fields[1])
    except FileNotFoundError:
        raise DataError("dictionary file not found", file=path) from None
    except UnicodeDecodeError as err:
        raise DataError(f"not UTF-8 ({err.reason} at byte {err.start})", file=path) from None
    return dictionary


def restore_case(source: str, translation: str) -> str:
    """Give the translation the source word's casing: ALL CAPS (2+ letters) stays upper, Title stays title.

    A lowercase source keeps the dictionary's own casing (German nouns stay capitalised).
    """
    if len(source) > 1 and source.isupper():
        return translation.upper()
    if source[:1].isupper():
        return translation[:1].upper() + translation[1:]
    return translation


def translate_tokens(tokens: Sequence[str], tags: Sequence[str], dictionary: Mapping[str, str]) -> list[str]:
    """Translate the non-entity words of one sentence word by word.

    Args:
        tokens: source words.
        tags: their IOB2 tags; words tagged other than ``O`` are copied unchanged.
        dictionary: lowercased source word -> translation (see `load_dictionary`).

    Returns:
        One target word per source word.
    """
    out = []
    for token, tag in zip(tokens, tags, strict=True):
        if tag != "O":
            out.append(token)
            continue
        translation = dictionary.get(token.lower())
        out.append(token if translation is None else restore_case(token, translation))
    return out


def translate_lexicon(
    ids: Sequence[str],
    source_tokens: Sequence[Sequence[str]],
    source_tags: Sequence[Sequence[str]],
    dictionary: Mapping[str, str],
) -> list[TranslatedPair]:
    """Translate every sentence; target tags are the source tags (1:1 word mapping)."""
    pairs = []
    for pair_id, tokens, tags in zip(ids, source_tokens, source_tags, strict=True):
        pairs.append(
            TranslatedPair(
                id=pair_id,
                source_tokens=list(tokens),
                source_tags=list(tags),
                target_tokens=translate_tokens(tokens, tags, dictionary),
                target_tags=list(tags),
                method="lexicon",
            )
        )
    return pairs
