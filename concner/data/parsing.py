"""Plain-Python parsers for CoNLL-style text, plain text and JSON/JSON Lines, with line numbers.

The parsers only split files into sentences and check their structure; tag validity, scheme
conversion and duplicate ids are checked by `concner.data.readers` for every format alike.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Any

from .errors import DataError, one_line

__all__ = [
    "ParsedFile",
    "decode_utf8",
    "detect_text_format",
    "looks_like_conll",
    "parse_conll",
    "parse_json",
    "parse_jsonl",
    "parse_plain_text",
    "read_text",
    "split_lines",
    "tag_values_error",
    "tokens_error",
]

DOCSTART = "-DOCSTART-"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def split_lines(text: str) -> list[str]:
    """Split text into lines at ``\\n``, ``\\r\\n`` or a lone ``\\r`` (old Mac), like ``str.split("\\n")``.

    Other characters `str.splitlines` breaks at (form feed, ``\\x85``, ``\\u2028``, ...) stay inside a line, so
    line numbers match what editors and ``wc -l`` show.

    Args:
        text: The text.
    """
    return _LINE_BREAK.split(text) if "\r" in text else text.split("\n")


def _unix_line_ends(text: str) -> str:
    """``text`` with ``\\r\\n`` and lone ``\\r`` line ends replaced by ``\\n``."""
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


@dataclass
class ParsedFile:
    """Sentences read from one file (or dataset).

    Attributes:
        path: The file (or dataset name) used in error messages.
        tokens: One token list per sentence.
        tags: One raw tag list per sentence (strings), or ``None`` for unlabelled input.
        ids: One id per sentence when the input has ids, else ``None``.
        lines: 1-based start line of each sentence, or ``None`` when the format has no lines (Arrow).
        tag_lines: First line (or row when ``lines`` is ``None``) where each distinct tag occurs.
    """

    path: str
    tokens: list[list[str]]
    tags: list[list[str]] | None = None
    ids: list[str] | None = None
    lines: list[int] | None = None
    tag_lines: dict[str, int] = field(default_factory=dict)

    def location(self, index: int) -> tuple[str, int | None, str]:
        """``(file, line, prefix)`` for an error about sentence ``index``; prefix names the row without lines."""
        if self.lines is not None:
            return self.path, self.lines[index], ""
        return self.path, None, f"row {index}: "


def decode_utf8(data: bytes, path: str) -> str:
    """Decode UTF-8 (a leading BOM is dropped), naming the line of the first invalid byte.

    Args:
        data: The file's bytes.
        path: The file, for the error message.

    Raises:
        DataError: On invalid UTF-8 (its line counts ``\\n``, ``\\r\\n`` and ``\\r`` line breaks).
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + before.count(b"\r") - before.count(b"\r\n") + 1
        column = exc.start - (max(before.rfind(b"\n"), before.rfind(b"\r")) + 1) + 1
        raise DataError(
            f"not valid UTF-8: byte 0x{data[exc.start]:02x} at column {column} (convert the file to UTF-8)", path, line
        ) from None
    return text[1:] if text.startswith("\ufeff") else text


def read_text(path: str | os.PathLike) -> str:
    """Read a whole file as UTF-8 text (see `decode_utf8`), with ``\\r\\n`` and lone ``\\r`` line ends as ``\\n``.

    Args:
        path: The file.

    Raises:
        DataError: If the file cannot be opened or read (a directory, no permission, ...) or is not UTF-8.
    """
    name = os.fspath(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except IsADirectoryError:
        raise DataError("is a directory, not a file", name) from None
    except OSError as exc:
        detail = exc.strerror or one_line(exc) or "unknown error"
        raise DataError(f"cannot read the file ({type(exc).__name__}: {detail})", name) from None
    return _unix_line_ends(decode_utf8(data, name))


def _empty_error(path: str) -> DataError:
    return DataError("file is empty (no sentences)", path, 1)


def parse_conll(text: str, path: str, *, tag_column: int | None = -1) -> ParsedFile:
    """Parse CoNLL-style text: one token per line, whitespace-separated columns, blank line between sentences.

    The token is the first column; ``-DOCSTART-`` lines are skipped (and end the current sentence). Every
    non-blank line must have the same number of columns.

    Args:
        text: The file's text.
        path: The file, for error messages.
        tag_column: Index of the tag column (negative counts from the end); ``None`` reads tokens only.

    Raises:
        DataError: On inconsistent column counts, a missing tag column or an empty file.
    """
    tokens: list[list[str]] = []
    tags: list[list[str]] = []
    starts: list[int] = []
    tag_lines: dict[str, int] = {}
    sentence_tokens: list[str] = []
    sentence_tags: list[str] = []
    n_columns = 0
    labelled = tag_column is not None
    for number, line in enumerate(split_lines(text), 1):
        fields = line.split()
        if not fields or fields[0] == DOCSTART:
            if sentence_tokens:
                tokens.append(sentence_tokens)
                tags.append(sentence_tags)
                sentence_tokens, sentence_tags = [], []
            continue
        if len(fields) != n_columns:
            if n_columns:
                raise DataError(f"expected {n_columns} columns, got {len(fields)}", path, number)
            n_columns = len(fields)
            if labelled:
                if n_columns < 2:
                    raise DataError("expected a token column and a tag column, got 1 column", path, number)
                if not -n_columns <= tag_column < n_columns or tag_column % n_columns == 0:
                    message = f"tag column {tag_column} is not a tag column of a {n_columns}-column line"
                    raise DataError(message, path, number)
        if not sentence_tokens:
            starts.append(number)
        sentence_tokens.append(fields[0])
        if labelled:
            tag = fields[tag_column]
            sentence_tags.append(tag)
            if tag not in tag_lines:
                tag_lines[tag] = number
    if sentence_tokens:
        tokens.append(sentence_tokens)
        tags.append(sentence_tags)
    if not tokens:
        raise _empty_error(path)
    return ParsedFile(path, tokens, tags if labelled else None, None, starts, tag_lines)


def looks_like_conll(text: str, probe_lines: int = 5) -> bool:
    """Guess whether text is CoNLL-style: its first non-blank lines have the same 2+ columns and end in a tag.

    Args:
        text: The file's text.
        probe_lines: How many non-blank lines to look at.
    """
    from .labels import is_valid_tag

    n_columns, seen = None, 0
    for line in split_lines(text):
        fields = line.split()
        if not fields or fields[0] == DOCSTART:
            continue
        if len(fields) < 2 or (n_columns is not None and len(fields) != n_columns) or not is_valid_tag(fields[-1]):
            return False
        n_columns, seen = len(fields), seen + 1
        if seen >= probe_lines:
            break
    return seen > 0


def detect_text_format(text: str, path: str) -> str:
    """Tell one-column CoNLL blocks from plain text in unlabelled text: ``"conll"`` or ``"text"``.

    CoNLL-style when `looks_like_conll`, or when every non-blank line is a single token and blank lines (or
    ``-DOCSTART-`` lines) split the file into several blocks, one of them longer than a line. Plain text when a
    line holds several tokens, or when every line is a lone token on its own (both readings then agree).

    Args:
        text: The file's text.
        path: The file, for the error message.

    Raises:
        DataError: When it cannot be told: every line is a single token and no blank line separates them (one
            sentence per line, or one sentence of one token per line).
    """
    if looks_like_conll(text):
        return "conll"
    blocks: list[int] = []
    size, separated, first = 0, False, None
    for number, line in enumerate(split_lines(text), 1):
        fields = line.split()
        if not fields or fields[0] == DOCSTART:
            separated = separated or bool(fields)
            if size:
                blocks.append(size)
                size = 0
            continue
        if len(fields) != 1:
            return "text"
        first = first or number
        size += 1
    if size:
        blocks.append(size)
    if separated or (len(blocks) > 1 and max(blocks) > 1):
        return "conll"
    if not blocks or max(blocks) == 1:
        return "text"
    raise DataError(
        f"cannot tell the text format: all {blocks[0]} lines hold a single token and no blank line separates "
        "sentences; set text_format to 'text' (one sentence per line) or 'conll' (one token per line, blank line "
        "between sentences), e.g. --text_format text",
        path,
        first,
    )


def parse_plain_text(text: str, path: str) -> ParsedFile:
    """Parse plain text: one sentence per line, tokens separated by whitespace, blank lines skipped.

    Args:
        text: The file's text.
        path: The file, for error messages.
    """
    tokens, starts = [], []
    for number, line in enumerate(split_lines(text), 1):
        words = line.split()
        if words:
            tokens.append(words)
            starts.append(number)
    if not tokens:
        raise _empty_error(path)
    return ParsedFile(path, tokens, None, None, starts)


def _describe(value: Any) -> str:
    """A value's JSON-ish type and a short repr, for error messages: ``int 7``, ``float 0.0``, ``NoneType None``."""
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


def _is_int_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def tokens_error(words: Any, *, allow_empty: bool = False) -> str | None:
    """What is wrong with one sentence's ``tokens`` value (a list of strings), or ``None`` when it is fine.

    Args:
        words: The value of the ``tokens`` field of one record or row.
        allow_empty: Whether empty-string tokens are accepted.
    """
    if not isinstance(words, list):
        return f"field 'tokens' must be a list of strings, got {_describe(words)}"
    for position, word in enumerate(words):
        if not isinstance(word, str):
            return f"field 'tokens' must hold strings, got {_describe(word)} at position {position}"
        if not word and not allow_empty:
            return f"field 'tokens' must hold non-empty strings, got '' at position {position}"
    return None


def tag_values_error(tags: Any) -> str | None:
    """What is wrong with one sentence's ``ner_tags`` value, or ``None`` when it is all strings or all integer ids.

    Args:
        tags: The value of the ``ner_tags`` field of one record or row.
    """
    if not isinstance(tags, list):
        return f"field 'ner_tags' must be a list of tag strings or integer ids, got {_describe(tags)}"
    if all(isinstance(t, str) for t in tags) or all(_is_int_id(t) for t in tags):
        return None
    for position, tag in enumerate(tags):
        if not isinstance(tag, str) and not _is_int_id(tag):
            expected = "tag strings or integer ids"
            return f"field 'ner_tags' must hold {expected}, got {_describe(tag)} at position {position}"
    position = next(i for i, t in enumerate(tags) if isinstance(t, str) != isinstance(tags[0], str))
    return (
        f"field 'ner_tags' mixes tag strings and integer ids ({_describe(tags[0])} at position 0, "
        f"{_describe(tags[position])} at position {position})"
    )


def _label_list_from(obj: dict[str, Any]) -> list[str] | None:
    """A label list stored in a JSON object: ``label_list``/``labels``, or HF ``features`` ClassLabel names."""
    for key in ("label_list", "labels"):
        value = obj.get(key)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    features = obj.get("features")
    if isinstance(features, dict):
        node: Any = features.get("ner_tags")
        while isinstance(node, dict):
            if isinstance(node.get("names"), list):
                return list(node["names"])
            node = node.get("feature")
    return None


def _records_to_parsed(
    records: list[Any], lines: list[int] | None, path: str, label_list: list[str] | None, require_tags: bool
) -> ParsedFile:
    """Check JSON records (``tokens``, optional ``ner_tags`` and ``id``) and gather them column-wise."""
    parsed = ParsedFile(path, [], [], [], lines, {})
    has_ids = has_tags = None
    for index, record in enumerate(records):
        file, line, row = parsed.location(index)
        if not isinstance(record, dict):
            raise DataError(f"{row}expected a JSON object, got {type(record).__name__}", file, line)
        if "tokens" not in record:
            raise DataError(f"{row}no field 'tokens'", file, line)
        words = record["tokens"]
        problem = tokens_error(words)
        if problem:
            raise DataError(f"{row}{problem}", file, line)
        if has_ids is None:
            has_ids, has_tags = "id" in record, "ner_tags" in record
        if ("id" in record) != has_ids:
            problem = "missing" if has_ids else "unexpected"
            raise DataError(f"{row}{problem} 'id' (other records differ)", file, line)
        if ("ner_tags" in record) != has_tags:
            problem = "missing" if has_tags else "unexpected"
            raise DataError(f"{row}{problem} 'ner_tags' (other records differ)", file, line)
        parsed.tokens.append(words)
        if has_ids:
            parsed.ids.append(str(record["id"]))
        if has_tags:
            tags = record["ner_tags"]
            problem = tag_values_error(tags)
            if problem:
                raise DataError(f"{row}{problem}", file, line)
            if len(tags) != len(words):
                raise DataError(f"{row}{len(words)} tokens but {len(tags)} ner_tags", file, line)
            if tags and _is_int_id(tags[0]):
                if label_list is None:
                    raise DataError(f"{row}ner_tags are integer ids but no label list was given or found", file, line)
                bad = [t for t in tags if not 0 <= t < len(label_list)]
                if bad:
                    message = f"tag id {bad[0]} is outside the label list (0..{len(label_list) - 1})"
                    raise DataError(f"{row}{message}", file, line)
                tags = [label_list[t] for t in tags]
            parsed.tags.append(tags)
            for tag in tags:
                if tag not in parsed.tag_lines:
                    parsed.tag_lines[tag] = line if line is not None else index
    if not parsed.tokens:
        raise _empty_error(path)
    if not has_tags:
        if require_tags:
            raise DataError("records have no 'ner_tags'", path, lines[0] if lines else None)
        parsed.tags = None
    if not has_ids:
        parsed.ids = None
    return parsed


def parse_jsonl(text: str, path: str, *, label_list: list[str] | None = None, require_tags: bool = True) -> ParsedFile:
    """Parse JSON Lines: one record per line (``tokens``, ``ner_tags`` strings or ids, optional ``id``).

    A line holding a ``label_list`` (or HF ``features``) and no ``tokens`` supplies the label list for
    integer tags; an explicit ``label_list`` argument takes precedence.

    Args:
        text: The file's text.
        path: The file, for error messages.
        label_list: Names for integer ``ner_tags``.
        require_tags: Whether records must carry ``ner_tags``.
    """
    records, lines = [], []
    file_labels = None
    for number, line in enumerate(split_lines(text), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"invalid JSON: {exc.msg} (column {exc.colno})", path, number) from None
        if isinstance(record, dict) and "tokens" not in record and _label_list_from(record) is not None:
            file_labels = _label_list_from(record)
            continue
        records.append(record)
        lines.append(number)
    return _records_to_parsed(records, lines, path, label_list or file_labels, require_tags)


def _top_level_list_lines(text: str, path: str) -> tuple[list[Any], list[int]]:
    """Decode a top-level JSON array element by element, keeping each element's start line."""
    decoder = json.JSONDecoder()
    position = text.index("[") + 1
    items, lines = [], []
    length = len(text)
    while True:
        while position < length and text[position] in " \t\r\n,":
            position += 1
        if position >= length or text[position] == "]":
            return items, lines
        try:
            item, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            raise DataError(f"invalid JSON: {exc.msg}", path, exc.lineno) from None
        items.append(item)
        lines.append(text.count("\n", 0, position) + 1)
        position = end


def parse_json(text: str, path: str, *, label_list: list[str] | None = None, require_tags: bool = True) -> ParsedFile:
    """Parse a JSON file: a list of records, or an object with ``data`` records (and a ``label_list``/``features``),
    or an object of columns (``{"tokens": [[...], ...], "ner_tags": [[...], ...]}``).

    Args:
        text: The file's text.
        path: The file, for error messages.
        label_list: Names for integer ``ner_tags`` (takes precedence over one in the file).
        require_tags: Whether records must carry ``ner_tags``.
    """
    text = _unix_line_ends(text)  # json counts lines at "\n" only
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if not text.strip():
            raise _empty_error(path) from None
        raise DataError(f"invalid JSON: {exc.msg} (column {exc.colno})", path, exc.lineno) from None
    if isinstance(data, list):
        records, lines = _top_level_list_lines(text, path)
        return _records_to_parsed(records, lines, path, label_list, require_tags)
    if not isinstance(data, dict):
        raise DataError(f"expected a JSON list or object, got {type(data).__name__}", path, 1)
    labels = label_list or _label_list_from(data)
    if isinstance(data.get("data"), list):
        return _records_to_parsed(data["data"], None, path, labels, require_tags)
    if isinstance(data.get("tokens"), list):
        columns = {k: v for k, v in data.items() if k in ("id", "tokens", "ner_tags") and isinstance(v, list)}
        sizes = {len(v) for v in columns.values()}
        if len(sizes) != 1:
            lengths = ", ".join(f"{k}={len(v)}" for k, v in columns.items())
            raise DataError(f"columns have different lengths: {lengths}", path)
        records = [{k: v[i] for k, v in columns.items()} for i in range(sizes.pop())]
        return _records_to_parsed(records, None, path, labels, require_tags)
    raise DataError("JSON object has neither a 'data' list nor a 'tokens' column", path, 1)
