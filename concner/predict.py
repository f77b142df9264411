"""`concner-predict`: tag a file with a trained ConCNER teacher or student.

Input is CoNLL-style text (`.txt`, `.conll`; token first, tag last — tags optional), JSON Lines (`tokens`, optional
`ner_tags`) or plain text with one sentence per line (`--input_format text`). Sentences are tokenised with
`tokenize_and_align`, so a sentence longer than `--max_seq_length` is split into windows at word boundaries and
every word gets a tag (its first sub-word's prediction). Output is CoNLL (`token TAG`) or JSON Lines with
`tokens`, `ner_tags` and entity spans with scores, written atomically::

    concner-predict --model_name_or_path runs/student-de --input_file de.txt --input_format text \\
        --output_file de.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from concner.cli import OneLineArgumentParser, UsageError, run_cli
from concner.data.errors import DataError, one_line
from concner.io_utils import OutputPathError, atomic_write, check_output_file

INPUT_FORMATS = ("auto", "conll", "jsonl", "text")
OUTPUT_FORMATS = ("auto", "conll", "jsonl")
# A Hub model id (`name` or `namespace/name`); anything else is taken as a local folder.
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?")


@dataclass
class TaggedSentence:
    """Predictions for one input sentence.

    Attributes:
        id: the input row's id.
        tokens: the words.
        tags: the predicted IOB2 tag of each word (`O` for a word with no sub-word piece).
        scores: the probability of each predicted tag (0.0 for a word with no piece).
        gold: the input's tags, when it had them.
    """

    id: str
    tokens: list[str]
    tags: list[str]
    scores: list[float]
    gold: list[str] | None = None


# ---------------------------------------------------------------------------------------------- input


def resolve_input_format(path: str, input_format: str) -> str:
    """`auto` → `jsonl` for `.jsonl`/`.json`, else `conll`; other values are returned unchanged."""
    if input_format != "auto":
        return input_format
    return "jsonl" if Path(path).suffix.lower() in (".jsonl", ".json") else "conll"


def _conll_has_tags(path: str) -> bool:
    """Whether the first token line of a CoNLL-style file has a tag column (2+ fields)."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            fields = line.split()
            if fields and fields[0] != "-DOCSTART-":
                return len(fields) >= 2
    return False


def _jsonl_has_tags(path: str) -> bool:
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if line.strip():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    return True  # let the reader report the malformed line
                return isinstance(record, dict) and record.get("ner_tags") is not None
    return False


def read_input(path: str, input_format: str = "auto") -> Any:
    """Read the sentences to tag as a `datasets.Dataset` (`id`, `tokens`, and `ner_tags` when the input has tags).

    Args:
        path: the input file.
        input_format: `auto`, `conll`, `jsonl` or `text` (one sentence per line, whitespace-separated words).

    Raises:
        DataError: on a missing or malformed file.
    """
    from concner.data.readers import load_ner_dataset, load_text_dataset

    if not os.path.isfile(path):
        raise DataError("no such file", path)
    fmt = resolve_input_format(path, input_format)
    if fmt == "text":
        return load_text_dataset(path, text_format="text")
    if fmt == "jsonl":
        if Path(path).suffix.lower() not in (".jsonl", ".json"):
            raise DataError("JSON Lines input must end in .jsonl or .json", path)
        return load_ner_dataset(path) if _jsonl_has_tags(path) else load_text_dataset(path)
    if Path(path).suffix.lower() in (".jsonl", ".json", ".parquet"):
        raise DataError(f"--input_format {fmt} does not fit a {Path(path).suffix} file", path)
    if not _conll_has_tags(path):
        return load_text_dataset(path, text_format="conll")
    try:
        return load_ner_dataset(path)
    except DataError as exc:
        raise DataError(f"{exc} (for one sentence per line use --input_format text)") from None


# ---------------------------------------------------------------------------------------------- model


def load_model(model_name_or_path: str, device: str | None = None) -> tuple[Any, Any]:
    """Load a token classifier (plain BERT student, exported teacher or ConCNER teacher) and its fast tokenizer.

    Raises:
        UsageError: when the folder holds no loadable model or tokenizer, or the tokenizer is not a fast one.
    """
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    import modeling_concner  # noqa: F401  (registers the `concner` model type, so teachers load without remote code)

    local = model_name_or_path.startswith((".", "/", "~")) or not _HUB_ID.fullmatch(model_name_or_path)
    if local and not os.path.isdir(os.path.expanduser(model_name_or_path)):
        raise UsageError(f"{model_name_or_path}: no such model folder")
    try:
        model = AutoModelForTokenClassification.from_pretrained(model_name_or_path)
        tokenizer = AutoTokenizer.from_pretrained(model_name_or_path)
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot load the model {model_name_or_path}: {one_line(exc)}") from None
    if not getattr(tokenizer, "is_fast", False):
        raise UsageError(f"{model_name_or_path}: a fast tokenizer (tokenizer.json) is needed")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device).eval()
    return model, tokenizer


def _batches(n: int, size: int) -> list[range]:
    return [range(start, min(start + size, n)) for start in range(0, n, size)]


def predict_sentences(
    model: Any, tokenizer: Any, dataset: Any, batch_size: int = 32, max_seq_length: int = 128
) -> list[TaggedSentence]:
    """Tag every sentence of `dataset`: one tag and one probability per word, windows stitched back together.

    Args:
        model: a token classifier whose `config.id2label` names the tags.
        tokenizer: its fast tokenizer.
        dataset: columns `tokens` (and optionally `id`, `ner_tags`).
        batch_size: feature rows (windows) per forward pass.
        max_seq_length: maximum tokens per window, special tokens included.
    """
    import torch

    from concner.data.tokenization import sort_for_inference, tokenize_and_align
    from concner.metrics import scatter_to_words

    # Longest rows first keeps padding low; results are written back by example/word index, so order is free.
    features = sort_for_inference(
        tokenize_and_align(dataset.select_columns(["tokens"]), tokenizer, None, max_seq_length)
    )
    id2label = {int(k): v for k, v in model.config.id2label.items()}
    tokens = dataset["tokens"][:]
    ids = dataset["id"][:] if "id" in dataset.column_names else [str(i) for i in range(len(tokens))]
    gold = dataset["ner_tags"][:] if "ner_tags" in dataset.column_names else None
    label_ids: list[list[int]] = [[-1] * len(words) for words in tokens]
    scores = [[0.0] * len(words) for words in tokens]
    inputs = [c for c in ("input_ids", "attention_mask", "token_type_ids") if c in features.column_names]
    device = next(model.parameters()).device
    for rows in _batches(len(features), batch_size):
        batch = features.select(rows)
        padded = tokenizer.pad({c: batch[c][:] for c in inputs}, return_tensors="pt")
        with torch.no_grad():
            logits = model(**{k: v.to(device) for k, v in padded.items()}).logits
        best, best_ids = torch.softmax(logits.float(), dim=-1).max(dim=-1)
        example_index, word_index = batch["example_index"][:], batch["word_index"][:]
        scatter_to_words(best_ids.cpu().numpy(), example_index, word_index, label_ids)
        scatter_to_words(best.cpu().numpy(), example_index, word_index, scores)
    tags = [[id2label[i] if i >= 0 else "O" for i in sentence] for sentence in label_ids]
    return [
        TaggedSentence(str(ids[i]), list(tokens[i]), tags[i], scores[i], list(gold[i]) if gold is not None else None)
        for i in range(len(tokens))
    ]


def entity_spans(tokens: Sequence[str], tags: Sequence[str], scores: Sequence[float]) -> list[dict[str, Any]]:
    """Entities of one sentence: `{"start", "end" (exclusive), "type", "text", "score" (mean tag probability)}`."""
    from concner.translate.projection import extract_spans

    return [
        {
            "start": span.start,
            "end": span.end,
            "type": span.label,
            "text": " ".join(tokens[span.start : span.end]),
            "score": round(float(np.mean(scores[span.start : span.end])), 6),
        }
        for span in extract_spans(tags)
    ]


# ---------------------------------------------------------------------------------------------- output


def resolve_output_format(path: str, output_format: str) -> str:
    """`auto` → `jsonl` for `.jsonl`/`.json`, else `conll`."""
    if output_format != "auto":
        return output_format
    return "jsonl" if Path(path).suffix.lower() in (".jsonl", ".json") else "conll"


def write_predictions(sentences: Sequence[TaggedSentence], path: str, output_format: str = "auto") -> None:
    """Write predictions atomically: CoNLL `token TAG` lines, or JSON Lines with `entities`."""
    fmt = resolve_output_format(path, output_format)
    with atomic_write(path) as stream:
        for sentence in sentences:
            if fmt == "jsonl":
                record = {
                    "id": sentence.id,
                    "tokens": sentence.tokens,
                    "ner_tags": sentence.tags,
                    "entities": entity_spans(sentence.tokens, sentence.tags, sentence.scores),
                }
                stream.write(json.dumps(record, ensure_ascii=False) + "\n")
            elif sentence.tokens:
                for word, tag in zip(sentence.tokens, sentence.tags):
                    if not word or any(c.isspace() for c in word):
                        raise DataError(f"sentence {sentence.id}: token {word!r} cannot be written as CoNLL", path)
                    stream.write(f"{word} {tag}\n")
                stream.write("\n")


def format_scores(scores: dict[str, Any]) -> str:
    """seqeval scores as a small text table (overall, then per type)."""
    lines = [f"{'type':<10}{'precision':>10}{'recall':>10}{'f1':>10}{'number':>8}"]
    lines.append(f"{'overall':<10}{scores['precision']:>10.4f}{scores['recall']:>10.4f}{scores['f1']:>10.4f}")
    for name, values in sorted(scores["per_type"].items()):
        lines.append(
            f"{name:<10}{values['precision']:>10.4f}{values['recall']:>10.4f}{values['f1']:>10.4f}{values['number']:>8d}"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineArgumentParser(prog="concner-predict", description="Tag a file with a ConCNER teacher or student.")
    parser.add_argument("--model_name_or_path", required=True, help="model folder (student, teacher or exported)")
    parser.add_argument("--input_file", required=True, help="CoNLL (.txt/.conll), JSON Lines, or plain text")
    parser.add_argument(
        "--output_file",
        required=True,
        help="predictions: .conll/.txt (CoNLL) or .jsonl (written atomically; missing folders are created)",
    )
    parser.add_argument("--input_format", choices=INPUT_FORMATS, default="auto", help="text = one sentence per line")
    parser.add_argument("--output_format", choices=OUTPUT_FORMATS, default="auto")
    parser.add_argument("--batch_size", type=int, default=32, help="windows per forward pass")
    parser.add_argument("--max_seq_length", type=int, default=128, help="tokens per window, special tokens included")
    parser.add_argument("--evaluate", action="store_true", help="print seqeval scores against the input's tags")
    parser.add_argument("--device", default=None, help="torch device (default: cuda when available, else cpu)")
    return parser


def run(argv: list[str] | None = None) -> dict[str, Any] | None:
    """Parse arguments, tag the file, write the output; returns the scores when `--evaluate` was given."""
    from concner.metrics import ner_scores

    args = build_parser().parse_args(argv)
    if args.batch_size < 1:
        raise UsageError(f"--batch_size must be >= 1, got {args.batch_size}")
    if os.path.realpath(args.input_file) == os.path.realpath(args.output_file):
        raise UsageError("--output_file must differ from --input_file")
    try:
        check_output_file(args.output_file, "--output_file")  # before reading the input or loading the model
    except OutputPathError as exc:
        raise UsageError(str(exc)) from None
    dataset = read_input(args.input_file, args.input_format)
    if args.evaluate and "ner_tags" not in dataset.column_names:
        raise UsageError(f"--evaluate needs gold tags, but {args.input_file} has none")
    model, tokenizer = load_model(args.model_name_or_path, args.device)
    if args.max_seq_length < tokenizer.num_special_tokens_to_add(pair=False) + 1:
        raise UsageError(f"--max_seq_length {args.max_seq_length} leaves no room for a word")
    positions = getattr(model.config, "max_position_embeddings", None)
    if positions is not None and args.max_seq_length > positions:
        raise UsageError(f"--max_seq_length {args.max_seq_length} exceeds the model's {positions} positions")
    sentences = predict_sentences(model, tokenizer, dataset, args.batch_size, args.max_seq_length)
    try:
        write_predictions(sentences, args.output_file, args.output_format)
    except OSError as exc:
        raise UsageError(f"--output_file {args.output_file}: cannot write: {exc.strerror or exc}") from None
    n_entities = sum(len(entity_spans(s.tokens, s.tags, s.scores)) for s in sentences)
    print(f"tagged {len(sentences)} sentences ({n_entities} entities) -> {args.output_file}")
    if not args.evaluate:
        return None
    scores = ner_scores([s.gold for s in sentences], [s.tags for s in sentences])
    print(format_scores(scores))
    return scores


def main(argv: list[str] | None = None) -> int:
    """Console entry point (`concner-predict`); returns the exit status (2 on bad arguments or input)."""
    return run_cli(lambda: run(argv))


if __name__ == "__main__":
    sys.exit(main())
