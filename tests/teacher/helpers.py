"""Shared helpers of the teacher tests: small paired datasets and data slices."""

from __future__ import annotations

import random
from pathlib import Path

from datasets import Dataset

from tests.conftest import LABELS, SHARED_DATA

WORDS = {
    "PER": ["Peter", "John", "Mary"],
    "LOC": ["London", "Berlin", "Paris", "Madrid"],
    "ORG": ["Reuters", "EU", "Bank"],
    "O": ["the", "said", "in", "with", "der", "und", "ist", "von"],
}


def paired_dataset(num_pairs: int = 12, num_single: int = 4, seed: int = 0) -> Dataset:
    """Random labelled sentences: `num_pairs` sources, their "translations" (same tags) and unpaired rows."""
    rng = random.Random(seed)

    def sentence() -> tuple[list[str], list[str]]:
        tokens, tags = [], []
        for _ in range(rng.randint(3, 7)):
            kind = rng.choice(["PER", "LOC", "ORG", "O", "O", "O"])
            tokens.append(rng.choice(WORDS[kind]))
            tags.append("O" if kind == "O" else f"B-{kind}")
        return tokens, tags

    sources = [sentence() for _ in range(num_pairs)]
    rows = [{"id": f"s{i}", "tokens": t, "ner_tags": g, "pair_id": i} for i, (t, g) in enumerate(sources)]
    for i, (tokens, tags) in enumerate(sources):
        order = list(range(len(tokens)))
        rng.shuffle(order)
        rows.append(
            {"id": f"t{i}", "tokens": [tokens[j] for j in order], "ner_tags": [tags[j] for j in order], "pair_id": i}
        )
    for i in range(num_single):
        tokens, tags = sentence()
        rows.append({"id": f"u{i}", "tokens": tokens, "ner_tags": tags, "pair_id": -1})
    return Dataset.from_list(rows)


def label2id() -> dict[str, int]:
    return {label: i for i, label in enumerate(LABELS)}


def write_slice(source: Path, target: Path, num_sentences: int) -> Path:
    """The first `num_sentences` sentences of a CoNLL-style file (blank-line separated)."""
    lines, count = [], 0
    with open(source, encoding="utf-8") as handle:
        for line in handle:
            lines.append(line)
            if not line.strip():
                count += 1
                if count == num_sentences:
                    break
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("".join(lines), encoding="utf-8")
    return target


def data_slices(directory: Path, train: int = 64, dev: int = 32) -> dict[str, Path]:
    """Slices of the shared corpora: English train + its German translation, English and German dev."""
    return {
        "train": write_slice(SHARED_DATA / "conll/en/train.txt", directory / "en_train.txt", train),
        "translation": write_slice(SHARED_DATA / "translate_train/de/train.txt", directory / "de_train.txt", train),
        "dev": write_slice(SHARED_DATA / "conll/en/dev.txt", directory / "en_dev.txt", dev),
        "test_de": write_slice(SHARED_DATA / "conll/de/dev.txt", directory / "de_dev.txt", dev),
    }


def write_conll(path: Path, rows) -> Path:
    """Write rows with `tokens`/`ner_tags` as a `token TAG` file, blank line after each sentence."""
    path.write_text("".join("".join(f"{t} {g}\n" for t, g in zip(r["tokens"], r["ner_tags"])) + "\n" for r in rows))
    return path


def run_argv(files: dict[str, Path], model: Path, output: Path, *extra: str) -> list[str]:
    """run_concner.py arguments for the tiny model on `files` (train, translation, dev, test_de)."""
    return [
        "--model_name_or_path", str(model),
        "--train_file", str(files["train"]),
        "--translation_file", str(files["translation"]),
        "--validation_file", str(files["dev"]),
        "--test_files", f"de={files['test_de']}",
        "--output_dir", str(output),
        "--per_device_train_batch_size", "4",
        "--per_device_eval_batch_size", "16",
        "--learning_rate", "2e-3",
        "--max_seq_length", "128",
        "--logging_steps", "1",
        "--disable_tqdm", "true",
        "--seed", "1",
        *extra,
    ]  # fmt: skip
