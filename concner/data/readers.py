"""Read NER corpora and unlabelled text into `datasets.Dataset` objects.

Every NER reader returns the columns ``id`` (str), ``tokens`` (list[str]) and ``ner_tags`` (list[str], IOB2);
`load_text_dataset` returns ``id`` and ``tokens``. Malformed input raises `DataError` naming file and line.
The file (or Hub dataset) read is recorded in ``dataset.info.dataset_name`` (`concner.data.provenance.source_file`).
Parquet, ``save_to_disk`` folders and Hub datasets are read by ``datasets``; text, JSON and JSON Lines by the
line-numbered parsers of `concner.data.parsing`.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from pathlib import Path

import datasets
from datasets import ClassLabel, Dataset, DatasetDict, Features, List, Value

from .errors import DataError, one_line
from .labels import SCHEMES, detect_scheme, is_valid_tag, scheme_prefixes, to_iob2
from .parsing import (
    ParsedFile,
    detect_text_format,
    parse_conll,
    parse_json,
    parse_jsonl,
    parse_plain_text,
    read_text,
    tag_values_error,
    tokens_error,
)
from .provenance import source_info

__all__ = ["NER_FEATURES", "TEXT_FEATURES", "load_ner_dataset", "load_text_dataset"]

NER_FEATURES = Features({"id": Value("string"), "tokens": List(Value("string")), "ner_tags": List(Value("string"))})
TEXT_FEATURES = Features({"id": Value("string"), "tokens": List(Value("string"))})

_PATH_SUFFIXES = {".txt", ".conll", ".conllu", ".tsv", ".iob", ".iob2", ".bio", ".json", ".jsonl", ".parquet"}


def _looks_like_path(spec: str) -> bool:
    """Whether a missing ``spec`` was meant as a local path rather than a Hub dataset name."""
    return spec.startswith(("/", "./", "../", "~", ".\\")) or Path(spec).suffix.lower() in _PATH_SUFFIXES


def _path_kind(path: Path, name: str) -> str:
    """``"dir"``, ``"file"`` or ``"missing"``; anything else that exists (a FIFO, a device) is a `DataError`."""
    try:
        if path.is_dir():
            return "dir"
        if path.is_file():
            return "file"
        exists = path.exists()
    except OSError as exc:  # e.g. PermissionError on a folder above it
        detail = exc.strerror or one_line(exc)
        raise DataError(f"cannot access the path ({type(exc).__name__}: {detail})", name) from None
    if exists:
        raise DataError("not a regular file or a directory", name)
    return "missing"


def _load_from_disk(path: Path, name: str) -> Dataset | DatasetDict:
    try:
        return datasets.load_from_disk(os.fspath(path))
    except Exception as exc:
        detail = one_line(exc)
        raise DataError(f"is a directory but not a dataset saved with save_to_disk ({detail})", name) from None


def _check_tags(parsed: ParsedFile, scheme: str) -> str:
    """Validate the tags of ``parsed`` and resolve ``scheme`` (``"auto"`` -> detected)."""

    def where(tag: str) -> tuple[str, int | None, str]:
        position = parsed.tag_lines.get(tag)
        if parsed.lines is None:
            return parsed.path, None, f"row {position}: " if position is not None else ""
        return parsed.path, position, ""

    for tag in parsed.tag_lines:
        if not is_valid_tag(tag):
            file, line, row = where(tag)
            raise DataError(f"{row}invalid tag {tag!r} (expected O or B-/I-/E-/S-/L-/U-<TYPE>)", file, line)
    if scheme == "auto":
        try:
            return detect_scheme(parsed.tags or [])
        except ValueError as exc:
            first = min((t for t in parsed.tag_lines if t[0] in "LU"), key=lambda t: parsed.tag_lines[t])
            file, line, row = where(first)
            raise DataError(f"{row}{exc}", file, line) from None
    if scheme not in SCHEMES:
        raise ValueError(f"unknown tagging scheme {scheme!r}; expected 'auto' or one of {', '.join(SCHEMES)}")
    allowed = scheme_prefixes(scheme)
    for tag in parsed.tag_lines:
        if tag != "O" and tag[0] not in allowed:
            file, line, row = where(tag)
            raise DataError(f"{row}tag {tag!r} is not allowed in the {scheme} scheme", file, line)
    return scheme


def _check_ids(parsed: ParsedFile) -> list[str]:
    """The sentence ids (the file's, else the sentence index as a string); duplicates are an error."""
    if parsed.ids is None:
        return [str(i) for i in range(len(parsed.tokens))]
    first: dict[str, int] = {}
    for index, sentence_id in enumerate(parsed.ids):
        if sentence_id in first:
            file, line, row = parsed.location(index)
            earlier = parsed.location(first[sentence_id])
            at = f"line {earlier[1]}" if earlier[1] is not None else f"row {first[sentence_id]}"
            raise DataError(f"{row}duplicate id {sentence_id!r} (first used at {at})", file, line)
        first[sentence_id] = index
    return parsed.ids


def _to_dataset(parsed: ParsedFile, scheme: str, labelled: bool) -> Dataset:
    ids = _check_ids(parsed)
    if not labelled:
        info = source_info(parsed.path, TEXT_FEATURES)
        return Dataset.from_dict({"id": ids, "tokens": parsed.tokens}, features=TEXT_FEATURES, info=info)
    if parsed.tags is None:
        line = parsed.lines[0] if parsed.lines else None
        raise DataError("no NER tags found (an unlabelled file?)", parsed.path, line)
    resolved = _check_tags(parsed, scheme)
    tags = [to_iob2(sentence, resolved) for sentence in parsed.tags]
    info = source_info(parsed.path, NER_FEATURES)
    return Dataset.from_dict({"id": ids, "tokens": parsed.tokens, "ner_tags": tags}, features=NER_FEATURES, info=info)


def _tag_names(feature: object) -> list[str] | None:
    """ClassLabel names of a ``ner_tags`` feature (``List(ClassLabel)``), if any."""
    inner = getattr(feature, "feature", None)
    return list(inner.names) if isinstance(inner, ClassLabel) else None


def _parsed_from_arrow(
    dataset: Dataset, name: str, label_list: Sequence[str] | None, require_tags: bool
) -> ParsedFile:
    """Columns of an Arrow dataset (Hub, ``save_to_disk``, Parquet) as a `ParsedFile` (rows, no lines)."""
    columns = dataset.column_names
    if "tokens" not in columns:
        raise DataError(f"no 'tokens' column (columns: {', '.join(columns)})", name)
    inner = getattr(dataset.features["tokens"], "feature", None)
    string_typed = isinstance(inner, Value) and inner.dtype in ("string", "large_string")
    tokens = dataset["tokens"][:]
    for row, words in enumerate(tokens):
        if string_typed and isinstance(words, list) and None not in words:
            continue  # the common case, checked without a Python loop over the words
        problem = tokens_error(words, allow_empty=True)
        if problem:
            raise DataError(f"row {row}: {problem}", name)
    parsed = ParsedFile(name, [list(t) for t in tokens])
    if "id" in columns:
        parsed.ids = [str(i) for i in dataset["id"][:]]
    if "ner_tags" in columns:
        names = _tag_names(dataset.features["ner_tags"]) or (list(label_list) if label_list else None)
        tags: list[list[str]] = []
        for row, (words, sentence) in enumerate(zip(parsed.tokens, dataset["ner_tags"][:])):
            problem = tag_values_error(sentence)
            if problem:
                raise DataError(f"row {row}: {problem}", name)
            if len(sentence) != len(words):
                raise DataError(f"row {row}: {len(words)} tokens but {len(sentence)} ner_tags", name)
            if sentence and not isinstance(sentence[0], str):
                if names is None:
                    raise DataError(f"row {row}: ner_tags are integer ids but no label list was given or found", name)
                bad = [t for t in sentence if not 0 <= t < len(names)]
                if bad:
                    message = f"row {row}: tag id {bad[0]} is outside the label list (0..{len(names) - 1})"
                    raise DataError(message, name)
                sentence = [names[t] for t in sentence]
            tags.append(list(sentence))
            for tag in sentence:
                parsed.tag_lines.setdefault(tag, row)
        parsed.tags = tags
    elif require_tags:
        raise DataError(f"no 'ner_tags' column (columns: {', '.join(columns)})", name)
    if not parsed.tokens:
        raise DataError("dataset is empty (no sentences)", name)
    return parsed


def _pick_split(loaded: Dataset | DatasetDict, split: str, name: str) -> Dataset:
    if isinstance(loaded, DatasetDict):
        if split not in loaded:
            raise DataError(f"no split {split!r} (splits: {', '.join(loaded)})", name)
        return loaded[split]
    return loaded


def _load_hub(spec: str, config_name: str | None, split: str) -> Dataset:
    try:
        return datasets.load_dataset(spec, config_name, split=split)
    except Exception as exc:  # offline, unknown name, missing config: all reported as one line
        detail = one_line(exc)[:300]
        raise DataError(
            f"not a local file or directory, and loading it from the Hub failed: {type(exc).__name__}: {detail}", spec
        ) from None


def _load_parquet(name: str) -> Dataset:
    """A Parquet file through ``datasets.load_dataset("parquet")`` (its ``features`` metadata names ClassLabel ids)."""
    try:  # the path is a data_files pattern: escape glob characters ("[", "*") in file and folder names
        return datasets.load_dataset("parquet", data_files=glob.escape(os.path.abspath(name)), split="train")
    except Exception as exc:
        raise DataError(f"cannot read Parquet: {one_line(exc)}", name) from None


def _parse_file(
    path: Path, *, tag_column: int, label_list: Sequence[str] | None, labelled: bool, text_format: str = "auto"
) -> ParsedFile:
    """Parse a local file by its extension; any other extension is CoNLL-style text (or plain text)."""
    name = os.fspath(path)
    if text_format not in ("auto", "text", "conll"):
        raise ValueError(f"unknown text format {text_format!r}; expected 'auto', 'text' or 'conll'")
    suffix = path.suffix.lower()
    labels = list(label_list) if label_list else None
    if suffix == ".parquet":
        return _parsed_from_arrow(_load_parquet(name), name, labels, labelled)
    # JSON and JSON Lines keep their own parsers: ``load_dataset("json")`` names no line in its errors (a malformed
    # JSON Lines record is "row 1" of a block), stores mixed-type tokens as ``Json`` values and reads the label-list
    # record of a JSON Lines file as a row.
    text = read_text(path)
    if suffix == ".jsonl":
        return parse_jsonl(text, name, label_list=labels, require_tags=labelled)
    if suffix == ".json":
        return parse_json(text, name, label_list=labels, require_tags=labelled)
    if labelled:
        return parse_conll(text, name, tag_column=tag_column)
    if text_format == "auto":
        text_format = detect_text_format(text, name)
    if text_format == "conll":
        return parse_conll(text, name, tag_column=None)
    return parse_plain_text(text, name)


def load_ner_dataset(
    spec: str | os.PathLike,
    *,
    config_name: str | None = None,
    split: str = "train",
    tag_column: int = -1,
    label_list: list[str] | None = None,
    scheme: str = "auto",
) -> Dataset:
    """Load a labelled NER corpus as IOB2.

    ``spec`` is, in this order: a directory written by ``save_to_disk`` (a ``DatasetDict`` is indexed by
    ``split``); a ``.json``/``.jsonl`` file (records with ``tokens`` and ``ner_tags`` as strings, or as
    integer ids named by ``label_list`` or by a ``label_list``/``features`` entry in the file; optional
    ``id``); a ``.parquet`` file; any other existing file, read as CoNLL-style text (token in the first
    column, tag in ``tag_column``, blank line between sentences, ``-DOCSTART-`` skipped; ``\\n``, ``\\r\\n``
    or ``\\r`` line ends); otherwise a Hub
    dataset loaded with ``datasets.load_dataset(spec, config_name, split=split)`` (e.g.
    ``unimelb-nlp/wikiann`` with config ``"zh"``, ``eriktks/conll2003``, ``google/xtreme`` with
    ``"PAN-X.de"``), whose ``ClassLabel`` ids are mapped to their names. Other columns are dropped.

    Args:
        spec: Path or Hub dataset name.
        config_name: Hub configuration (e.g. a WikiAnn language).
        split: Split of a Hub dataset or of a saved ``DatasetDict``.
        tag_column: Column holding the tag in CoNLL text (default: the last).
        label_list: Names of integer tag ids, when the input does not name them itself.
        scheme: ``"auto"`` (detect) or the input's scheme: ``IOB1``, ``IOB2``, ``IOBES``, ``BILOU``.

    Returns:
        A dataset with columns ``id`` (the input's ids, else the sentence index as a string),
        ``tokens`` and ``ner_tags`` (IOB2 strings).

    Raises:
        DataError: On malformed input (wrong column count, invalid tag, empty file, invalid UTF-8,
            duplicate ids, tokens/tags length mismatch, non-string tokens, tags that are neither strings nor
            integer ids, a file that cannot be read, unreadable or unknown dataset).
    """
    if scheme != "auto" and scheme not in SCHEMES:
        raise ValueError(f"unknown tagging scheme {scheme!r}; expected 'auto' or one of {', '.join(SCHEMES)}")
    path = Path(os.path.expanduser(os.fspath(spec)))
    name = os.fspath(spec)
    kind = _path_kind(path, name)
    if kind == "dir":
        parsed = _parsed_from_arrow(_pick_split(_load_from_disk(path, name), split, name), name, label_list, True)
    elif kind == "file":
        parsed = _parse_file(path, tag_column=tag_column, label_list=label_list, labelled=True)
    elif _looks_like_path(name):
        raise DataError("no such file or directory", name)
    else:
        parsed = _parsed_from_arrow(_load_hub(name, config_name, split), name, label_list, True)
    return _to_dataset(parsed, scheme, labelled=True)


def load_text_dataset(spec: str | os.PathLike, *, text_format: str = "auto") -> Dataset:
    """Load unlabelled text (columns ``id``, ``tokens``).

    Accepts plain text (one sentence per line, whitespace-separated tokens, blank lines skipped) or any
    input `load_ner_dataset` reads (its labels are dropped; ``ner_tags`` are optional in JSON/Arrow).
    Line ends may be ``\\n``, ``\\r\\n`` or ``\\r``. With ``text_format="auto"`` a text file is read as CoNLL
    when its first lines have the same 2+ columns ending in a tag, or when it is one token per line in
    blank-line-separated blocks (see `concner.data.parsing.detect_text_format`).

    Args:
        spec: Path (file or ``save_to_disk`` directory, whose ``train`` split is used if it is a
            ``DatasetDict``) or Hub dataset name (its ``train`` split).
        text_format: For text files: ``"auto"``, ``"text"`` (one sentence per line) or ``"conll"``
            (one token per line, first column, blank line between sentences).

    Returns:
        A dataset with columns ``id`` and ``tokens``.

    Raises:
        DataError: On malformed input (empty file, invalid UTF-8, duplicate ids, non-string tokens, a file
            that cannot be read, one token per line with no blank line so that ``"auto"`` cannot tell
            sentences apart, ...).
        ValueError: On an unknown ``text_format``.
    """
    path = Path(os.path.expanduser(os.fspath(spec)))
    name = os.fspath(spec)
    if text_format not in ("auto", "text", "conll"):
        raise ValueError(f"unknown text format {text_format!r}; expected 'auto', 'text' or 'conll'")
    kind = _path_kind(path, name)
    if kind == "dir":
        parsed = _parsed_from_arrow(_pick_split(_load_from_disk(path, name), "train", name), name, None, False)
    elif kind == "file":
        parsed = _parse_file(path, tag_column=-1, label_list=None, labelled=False, text_format=text_format)
    elif _looks_like_path(name):
        raise DataError("no such file or directory", name)
    else:
        parsed = _parsed_from_arrow(_load_hub(name, None, "train"), name, None, False)
    return _to_dataset(parsed, "auto", labelled=False)
