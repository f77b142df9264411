"""Why a student does (not) beat its teacher, measured on D_U itself: no test labels are read.

    python benchmarks/diagnose_student.py --teacher RUN/En_Trans_LCL_TCL/es --student RUN/ConCNER/es \\
        --unlabeled_file ../shared/data/conll/es/train.txt --unlabeled_max_samples 2000 --seed 1

On the same D_U sample that `run_distill.py` draws (`--unlabeled_max_samples`, `--seed`), at first sub-words:

1. the teacher's confidence: mean max-probability and mean entropy (nats) on the words it tags as an entity and
   on the words it tags `O`;
2. where eq. 9's signal sits: the share of the total squared error ||p_teacher - u||^2 against a uniform student
   `u` (what an encoder-initialised student starts from) carried by `O` words and by entity words, beside their
   share of the words;
3. with `--student`: agreement of the student's argmax with the teacher's, overall and per entity type of the
   teacher's tag (recall of the teacher's tags), and per type of the student's tag (precision).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def word_probabilities(model_dir: str, dataset, batch_size: int = 64):
    """Per sentence, the `(words, labels)` softmax at first sub-words of every word the tokenizer kept."""
    import numpy as np
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    import modeling_concner  # noqa: F401  (registers the concner model type)
    from concner.data.tokenization import tokenize_and_align
    from trainers.teacher_cache import add_teacher_logits

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForTokenClassification.from_pretrained(model_dir).eval()
    features = tokenize_and_align(dataset, tokenizer, None, 128)
    features = add_teacher_logits(features, model, tokenizer, batch_size, "cpu", column="logits")
    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    out = []
    for row, words in zip(features["logits"], features["word_index"]):
        logits = torch.tensor(np.asarray(row, dtype=np.float32))
        out.append(torch.softmax(logits, dim=-1).numpy() if len(row) else np.zeros((0, len(labels))))
        del words
    return out, labels


def diagnose(teacher_probs, labels, student_probs=None) -> dict:
    import numpy as np

    p = np.concatenate([x for x in teacher_probs if len(x)])
    top = p.argmax(-1)
    entity = np.array([labels[i] != "O" for i in top])
    maxp = p.max(-1)
    entropy = -(p * np.log(np.clip(p, 1e-12, 1))).sum(-1)
    uniform = np.full(p.shape[1], 1.0 / p.shape[1])
    sq = ((p - uniform) ** 2).sum(-1)
    result = {
        "words": int(len(p)),
        "teacher_entity_words": int(entity.sum()),
        "teacher_confidence": {
            "entity_mean_max_prob": float(maxp[entity].mean()) if entity.any() else None,
            "o_mean_max_prob": float(maxp[~entity].mean()) if (~entity).any() else None,
            "entity_share_max_prob_over_0.9": float((maxp[entity] > 0.9).mean()) if entity.any() else None,
            "entity_mean_entropy": float(entropy[entity].mean()) if entity.any() else None,
            "o_mean_entropy": float(entropy[~entity].mean()) if (~entity).any() else None,
        },
        "mse_signal_vs_uniform_student": {
            "o_share_of_words": float((~entity).mean()),
            "o_share_of_squared_error": float(sq[~entity].sum() / sq.sum()),
            "entity_share_of_squared_error": float(sq[entity].sum() / sq.sum()),
        },
    }
    if student_probs is not None:
        q = np.concatenate([x for x in student_probs if len(x)])
        stop = q.argmax(-1)
        types = lambda ids: [labels[i][2:] if labels[i] != "O" else "O" for i in ids]  # noqa: E731
        t_types, s_types = types(top), types(stop)
        agree = top == stop
        per_type, per_student_type = {}, {}
        for name in sorted(set(t_types)):
            mask = np.array([t == name for t in t_types])
            per_type[name] = {"words": int(mask.sum()), "student_agrees": float(agree[mask].mean())}
        for name in sorted(set(s_types)):
            mask = np.array([s == name for s in s_types])
            per_student_type[name] = {"words": int(mask.sum()), "teacher_agrees": float(agree[mask].mean())}
        result["student"] = {
            "agreement_all_words": float(agree.mean()),
            "agreement_teacher_entity_words": float(agree[entity].mean()) if entity.any() else None,
            "by_teacher_type": per_type,
            "by_student_type": per_student_type,
            "student_entity_mean_max_prob": float(q.max(-1)[np.array([s != "O" for s in s_types])].mean())
            if any(s != "O" for s in s_types)
            else None,
            "tag_counts": {"teacher": dict(Counter(t_types)), "student": dict(Counter(s_types))},
        }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teacher", required=True)
    parser.add_argument("--student", default=None)
    parser.add_argument("--unlabeled_file", required=True)
    parser.add_argument("--unlabeled_max_samples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)

    import datasets

    from concner.data import load_text_dataset

    datasets.disable_progress_bars()
    dataset = load_text_dataset(args.unlabeled_file)
    dataset = dataset.remove_columns([c for c in dataset.column_names if c not in ("id", "tokens")])
    if args.unlabeled_max_samples and args.unlabeled_max_samples < len(dataset):
        dataset = dataset.shuffle(seed=args.seed).select(range(args.unlabeled_max_samples))  # as run_distill.py
    teacher, labels = word_probabilities(args.teacher, dataset)
    student = word_probabilities(args.student, dataset)[0] if args.student else None
    result = diagnose(teacher, labels, student)
    text = json.dumps(result, indent=2)
    print(text)
    if args.output:
        args.output.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
