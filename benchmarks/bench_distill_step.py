"""Cost of a distillation step relative to a plain fine-tuning step, on the same batch, with a real encoder.

Three steps are timed on one fixed batch (32 sentences of CoNLL-2002/2003 text, or of random words when the shared
data is absent), each = `Trainer.training_step` (forward, loss, backward) + `optimizer.step()` + `zero_grad()`:

- `plain`: a `Trainer` fine-tuning the student with cross-entropy on gold labels;
- `on-the-fly`: a `DistillationTrainer` whose frozen teacher (same architecture) runs under `no_grad` every step;
- `cached`: the same `DistillationTrainer` reading the teacher's logits from the batch (`add_teacher_logits`).

Steps are interleaved (the order rotates every round) after warm-up, and the reported figure is the median over
rounds of the per-round ratio to `plain`, on wall-clock time and on this process's CPU time (`time.process_time`,
less sensitive to other work on a shared machine; cleanest with `--threads 1`). Targets: on the fly ≤ 1.35,
cached ≤ 1.05. Not a test: run it by hand:

    python benchmarks/bench_distill_step.py [--rounds 15] [--batch-size 32] [--threads N] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import random
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

import datasets
import torch
import transformers

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from transformers import AutoTokenizer, BertForTokenClassification, Trainer  # noqa: E402

from concner.data import load_ner_dataset, tokenize_and_align  # noqa: E402
from concner.encoders import locate_minilm  # noqa: E402
from trainers.distillation_collator import DataCollatorForDistillation  # noqa: E402
from trainers.distillation_trainer import DistillationArguments, DistillationTrainer  # noqa: E402
from trainers.teacher_cache import add_teacher_logits  # noqa: E402

LABELS = ["O", "B-LOC", "B-MISC", "B-ORG", "B-PER", "I-LOC", "I-MISC", "I-ORG", "I-PER"]
SHARED = REPO.parent / "shared" / "data" / "conll" / "de" / "train.txt"


def _sentences(n: int, seed: int):
    from datasets import Dataset

    if SHARED.is_file():
        data = load_ner_dataset(SHARED)
        return data.shuffle(seed=seed).select(range(n)), str(SHARED)
    rng = random.Random(seed)
    words = "der die das und Berlin Paris Peter Mary Kommission Union sagte hat in mit von".split()
    rows = []
    for i in range(n):
        tokens = [rng.choice(words) for _ in range(rng.randint(8, 30))]
        rows.append({"id": str(i), "tokens": tokens, "ner_tags": [rng.choice(LABELS) for _ in tokens]})
    return Dataset.from_list(rows), "random words"


def _model(path: Path, seed: int) -> BertForTokenClassification:
    torch.manual_seed(seed)
    return BertForTokenClassification.from_pretrained(
        path, num_labels=len(LABELS), id2label=dict(enumerate(LABELS)), label2id={v: i for i, v in enumerate(LABELS)}
    )


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="timed rounds (each times all three steps)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed rounds first")
    parser.add_argument("--batch-size", type=int, default=32, help="sentences per batch (paper: 32)")
    parser.add_argument("--max-seq-length", type=int, default=128)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    transformers.utils.logging.set_verbosity_error()
    datasets.utils.logging.set_verbosity_error()
    datasets.disable_progress_bars()

    encoder = locate_minilm()
    tokenizer = AutoTokenizer.from_pretrained(encoder)
    label2id = {v: i for i, v in enumerate(LABELS)}
    sentences, source = _sentences(args.batch_size, seed=0)
    features = tokenize_and_align(sentences, tokenizer, label2id, args.max_seq_length)
    teacher = _model(encoder, seed=1).eval()
    cached_features = add_teacher_logits(features, teacher, tokenizer, batch_size=args.batch_size)
    collator = DataCollatorForDistillation(tokenizer)
    rows = list(features)
    plain_batch = {
        k: v for k, v in collator(rows).items() if k in ("input_ids", "attention_mask", "token_type_ids", "labels")
    }
    distill_batch = {k: v for k, v in collator(rows).items() if k != "labels"}
    cached_batch = {k: v for k, v in collator(list(cached_features)).items() if k != "labels"}

    with tempfile.TemporaryDirectory() as tmp:
        targs = DistillationArguments(
            output_dir=tmp, report_to=[], use_cpu=True, learning_rate=5e-5, max_steps=10**6, disable_tqdm=True
        )
        runners = {}
        for name in ("plain", "on-the-fly", "cached"):
            student = _model(encoder, seed=2)
            if name == "plain":
                trainer = Trainer(model=student, args=targs)
                batch = plain_batch
            else:
                trainer = DistillationTrainer(model=student, teacher_model=teacher, args=targs)
                batch = distill_batch if name == "on-the-fly" else cached_batch
            trainer.create_optimizer_and_scheduler(num_training_steps=10**6)
            trainer.current_gradient_accumulation_steps = 1
            runners[name] = (trainer, batch)

        def step(name: str) -> tuple[float, float]:
            trainer, batch = runners[name]
            wall, cpu = time.perf_counter(), time.process_time()
            trainer.training_step(trainer.model, dict(batch))
            trainer.optimizer.step()
            trainer.optimizer.zero_grad(set_to_none=True)
            return time.perf_counter() - wall, time.process_time() - cpu

        names = list(runners)
        times: dict[str, dict[str, list[float]]] = {"wall": {n: [] for n in names}, "cpu": {n: [] for n in names}}
        for r in range(args.warmup + args.rounds):
            order = names[r % 3 :] + names[: r % 3]
            measured = {n: step(n) for n in order}
            if r >= args.warmup:
                for n in names:
                    times["wall"][n].append(measured[n][0])
                    times["cpu"][n].append(measured[n][1])

    def ratios(clock: str, name: str) -> list[float]:
        return [t / p for t, p in zip(times[clock][name], times[clock]["plain"])]

    tokens = int(plain_batch["attention_mask"].sum())
    result = {
        "command": "python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *(argv or sys.argv[1:])]),
        "encoder": str(encoder),
        "data": source,
        "batch": f"{args.batch_size} sentences, {tokens} tokens, padded to {plain_batch['input_ids'].shape[1]}",
        "threads": torch.get_num_threads(),
        "rounds": args.rounds,
        "targets": {"on-the-fly": 1.35, "cached": 1.05},
    }
    for clock in ("wall", "cpu"):
        result[f"median_step_s_{clock}"] = {n: round(statistics.median(t), 4) for n, t in times[clock].items()}
        result[f"median_ratio_to_plain_{clock}"] = {
            n: round(statistics.median(ratios(clock, n)), 3) for n in ("on-the-fly", "cached")
        }
        result[f"ratio_per_round_{clock}"] = {
            n: [round(v, 3) for v in ratios(clock, n)] for n in ("on-the-fly", "cached")
        }
    print(json.dumps(result, indent=2))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
