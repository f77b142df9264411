"""Score a teacher ensemble itself: the argmax of the mean of the teachers' distributions, on labelled sets.

    python benchmarks/score_ensemble.py --teachers RUNS/500/1/En_Trans_LCL_TCL/es RUNS/500/2/En_Trans_LCL_TCL/es \\
        RUNS/500/3/En_Trans_LCL_TCL/es --test_files es=../shared/data/conll/es/test.txt --bf16 --output ens.json

This is the target that the benchmark's `ConCNER` student distils (`run_distill.py --teacher_ensemble`), scored
as a model of its own. It is not a shipped model (it runs every teacher per sentence) and it selects nothing: it
tells whether the student beats the ensemble it learns from, or only the single teachers.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from transformers import AutoTokenizer

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from concner.data import load_ner_dataset, tokenize_and_align  # noqa: E402
from concner.metrics import flatten_scores, ner_scores  # noqa: E402
from trainers.distillation_collator import TEACHER_LOGITS_COLUMN  # noqa: E402
from trainers.distillation_trainer import load_teacher  # noqa: E402
from trainers.teacher_cache import add_ensemble_teacher_logits  # noqa: E402


def ensemble_predictions(
    teachers: list[torch.nn.Module], tokenizer, sentences: list[list[str]], max_seq_length: int, bf16: bool
) -> list[list[str]]:
    """One tag per word: the argmax of the teachers' mean distribution at each word's first sub-word."""
    from datasets import Dataset

    dataset = Dataset.from_dict({"id": [str(i) for i in range(len(sentences))], "tokens": sentences})
    features = tokenize_and_align(dataset, tokenizer, None, max_seq_length)
    dtype = torch.bfloat16 if bf16 else None
    features = add_ensemble_teacher_logits(features, teachers, tokenizer, 64, "cpu", autocast_dtype=dtype)
    id2label = {int(k): str(v) for k, v in teachers[0].config.id2label.items()}
    tags = [["O"] * len(s) for s in sentences]
    for example, words, log_probs in zip(
        features["example_index"], features["word_index"], features[TEACHER_LOGITS_COLUMN]
    ):
        kept = [w for w in words if w >= 0]
        for word, label in zip(kept, np.asarray(log_probs).argmax(-1).tolist()):
            tags[example][word] = id2label[label]
    return tags


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teachers", nargs="+", required=True, help="teacher folders (same labels and tokenizer)")
    parser.add_argument("--test_files", nargs="+", required=True, help="lang=path, labelled CoNLL files")
    parser.add_argument("--max_seq_length", type=int, default=128)
    parser.add_argument("--bf16", action="store_true", help="run the teachers in bf16 autocast (as the cache does)")
    parser.add_argument("--output", type=Path, default=None, help="write the scores here as JSON")
    args = parser.parse_args(argv)
    torch.set_grad_enabled(False)
    teachers = [load_teacher(path) for path in args.teachers]
    tokenizer = AutoTokenizer.from_pretrained(args.teachers[0])
    result: dict[str, object] = {"teachers": args.teachers}
    for spec in args.test_files:
        lang, _, path = spec.partition("=")
        test = load_ner_dataset(path)
        predicted = ensemble_predictions(teachers, tokenizer, test["tokens"], args.max_seq_length, args.bf16)
        scores = flatten_scores(ner_scores(test["ner_tags"], predicted))
        result[lang] = scores
        print(f"{lang}: ensemble of {len(teachers)} F1 {100 * scores['f1']:.1f}", flush=True)
    if args.output:
        args.output.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
