"""Speed of the lexicon backend: translating 1,000 sentences must take <= 2 s (dictionary loading reported apart).

Usage:
    python benchmarks/bench_lexicon.py [--source_file ../shared/data/conll/en/train.txt]
        [--dictionary_file ../shared/data/muse/en-de.txt] [--num_sentences 1000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from concner.data import load_ner_dataset
from concner.translate.lexicon import load_dictionary, translate_lexicon

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
TARGET_SECONDS = 2.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source_file", default=str(SHARED / "conll" / "en" / "train.txt"))
    parser.add_argument("--dictionary_file", default=str(SHARED / "muse" / "en-de.txt"))
    parser.add_argument("--num_sentences", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    start = time.perf_counter()
    dictionary = load_dictionary(args.dictionary_file)
    load_seconds = time.perf_counter() - start

    rows = load_ner_dataset(args.source_file).select(range(args.num_sentences))
    ids, tokens, tags = rows["id"], rows["tokens"], rows["ner_tags"]
    n_tokens = sum(len(t) for t in tokens)

    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        pairs = translate_lexicon(ids, tokens, tags, dictionary)
        times.append(time.perf_counter() - start)
    changed = sum(s != t for p in pairs for s, t in zip(p.source_tokens, p.target_tokens))

    print(f"dictionary: {args.dictionary_file} ({len(dictionary)} entries) loaded in {load_seconds:.3f} s")
    print(f"sentences: {len(pairs)} ({n_tokens} tokens, {changed} translated words)")
    print(
        f"translation time over {args.repeats} runs: median {statistics.median(times):.4f} s, "
        f"max {max(times):.4f} s (target <= {TARGET_SECONDS} s, dictionary loading excluded)"
    )
    print(f"incl. dictionary loading: {load_seconds + max(times):.3f} s")
    print("PASS" if max(times) <= TARGET_SECONDS else "FAIL")


if __name__ == "__main__":
    main()
