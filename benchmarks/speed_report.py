"""One command, four speed ratios, each measured in one run (interleaved, medians).

    python benchmarks/speed_report.py                       # all-MiniLM-L6-v2 on the CPU (default)
    python benchmarks/speed_report.py --model offline:e5-small

1. teacher step (ConCNER: CE + LCL + TCL) vs a plain `BertForTokenClassification` step   (bench_teacher_step.py)
2. distillation step (on the fly and with cached teacher logits) vs a plain step          (bench_distill_step.py)
3. student inference vs plain BERT inference (the exported student is a plain BERT token classifier; the ConCNER
   teacher class is timed beside them)
4. data preparation: reading + tokenising + aligning conll/en/train.txt (14,041 sentences)  (bench_data.py)
5. test-set evaluation pass (conll/es/test.txt, 1,517 sentences) in dataset order vs longest rows first
   (`concner.data.sort_for_inference`, what run_concner.py / run_distill.py do)

    python benchmarks/speed_report.py --whole_runs /tmp/speed_runs   # whole runs only, fp32 vs bf16 (~20 min)

6. whole cpu-preset runs, the fast setting (`cpu`: bf16 autocast, eager attention, fused AdamW, fast dropout) vs
   the fp32 setting before it (`cpu_fp32`): a `concner` teacher on 500 pairs and a teacher-initialised student on 2,000
   unlabelled sentences (wall time, command to exit)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))


def inference_ratio(model_name: str, rounds: int, warmup: int, num_pairs: int, max_length: int) -> dict:
    """Median per-round ratio of a forward pass: exported student and ConCNER teacher vs plain BERT."""
    import tempfile

    import torch
    from bench_teacher_step import build_models, paper_batch, resolve_model
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from concner.export import export_plain_bert

    path = resolve_model(model_name)
    tokenizer = AutoTokenizer.from_pretrained(path)
    batch, labels = paper_batch(tokenizer, num_pairs, max_length)
    teacher, plain = build_models(path, labels)
    inputs = {k: batch[k] for k in ("input_ids", "attention_mask")}
    with tempfile.TemporaryDirectory() as tmp:
        teacher.save_pretrained(f"{tmp}/teacher")
        tokenizer.save_pretrained(f"{tmp}/teacher")
        student = AutoModelForTokenClassification.from_pretrained(export_plain_bert(f"{tmp}/teacher", f"{tmp}/bert"))
    models = {"student": student.eval(), "bert": plain.eval(), "concner_teacher": teacher.eval()}

    def forward(model) -> float:
        start = time.perf_counter()
        with torch.inference_mode():
            model(**inputs)
        return time.perf_counter() - start

    for _ in range(warmup):
        for model in models.values():
            forward(model)
    times: dict[str, list[float]] = {name: [] for name in models}
    for i in range(rounds):
        for name in list(models) if i % 2 == 0 else list(models)[::-1]:
            times[name].append(forward(models[name]))
    return {
        "batch_rows": int(inputs["input_ids"].shape[0]),
        "batch_length": int(inputs["input_ids"].shape[1]),
        "median_s": {name: statistics.median(t) for name, t in times.items()},
        "median_ratio_student_to_bert": statistics.median(s / b for s, b in zip(times["student"], times["bert"])),
        "median_ratio_teacher_to_bert": statistics.median(
            t / b for t, b in zip(times["concner_teacher"], times["bert"])
        ),
    }


def data_preparation(max_seq_length: int) -> dict:
    from bench_data import DEFAULT_DATA, load_tokenizer

    from concner.data import build_label_list, load_ner_dataset
    from concner.data.tokenization import tokenize_and_align

    tokenizer = load_tokenizer("xlmr")
    start = time.perf_counter()
    dataset = load_ner_dataset(str(DEFAULT_DATA))
    read = time.perf_counter() - start
    label2id = {label: i for i, label in enumerate(build_label_list(dataset))}
    features = tokenize_and_align(dataset, tokenizer, label2id, max_seq_length, load_from_cache_file=False)
    total = time.perf_counter() - start
    return {"sentences": len(dataset), "rows": len(features), "read_s": read, "total_s": total}


def evaluation_order(model_name: str, rounds: int, batch_size: int = 64, max_seq_length: int = 128) -> dict:
    """Wall time of one forward pass over a test set: rows in dataset order vs longest first (interleaved)."""
    import torch
    from bench_data import DEFAULT_DATA
    from bench_teacher_step import resolve_model
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from concner.data import load_ner_dataset, sort_for_inference
    from concner.data.tokenization import tokenize_and_align

    path = resolve_model(model_name)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForTokenClassification.from_pretrained(path, num_labels=9).eval()
    test = load_ner_dataset(str(DEFAULT_DATA.parent.parent / "es" / "test.txt"))
    features = tokenize_and_align(test, tokenizer, None, max_seq_length, load_from_cache_file=False)
    orders = {"dataset": features, "longest_first": sort_for_inference(features)}
    columns = [c for c in ("input_ids", "attention_mask", "token_type_ids") if c in features.column_names]
    batches = {}
    for name, rows in orders.items():
        table = rows[:]  # column -> list, in this order
        batches[name] = [
            tokenizer.pad({c: table[c][i : i + batch_size] for c in columns}, return_tensors="pt")
            for i in range(0, len(rows), batch_size)
        ]

    def run(name: str) -> float:
        start = time.perf_counter()
        with torch.inference_mode():
            for batch in batches[name]:
                model(**batch)
        return time.perf_counter() - start

    run("longest_first")  # warm-up
    times: dict[str, list[float]] = {name: [] for name in orders}
    for i in range(rounds):
        for name in list(orders) if i % 2 == 0 else list(orders)[::-1]:
            times[name].append(run(name))
    return {
        "sentences": len(test),
        "padded_tokens": {n: int(sum(b["input_ids"].numel() for b in bs)) for n, bs in batches.items()},
        "median_s": {name: statistics.median(t) for name, t in times.items()},
        "median_ratio_dataset_to_sorted": statistics.median(
            d / s for d, s in zip(times["dataset"], times["longest_first"])
        ),
    }


def whole_runs(lang: str, seed: int, work: Path) -> dict:
    """Wall time of whole runs, fp32 (the `cpu_fp32` preset) against the fast setting (the `cpu` preset), interleaved.

    Order: teacher fp32, teacher bf16, student bf16, student fp32 (an A-B-B-A pattern, so a slow drift of the
    machine's speed does not favour one precision). Both students distil the fp32 teacher on the same 2,000
    unlabelled sentences and start from it (the benchmark's `ConCNER` student without the other seeds' teachers), so
    they differ only in precision. The teacher is the `concner` variant on 500 CoNLL-en pairs. Each run is the
    reproduction harness's own command (`reproduce.teacher_cmd` / `student_cmd`).
    """
    import subprocess

    import reproduce

    from concner.encoders import resolve_model_name_or_path

    model = str(resolve_model_name_or_path("offline:e5-small"))
    paths = {lang: reproduce.data_paths("conll", lang, None)}
    presets = {"fp32": reproduce.PRESETS["cpu_fp32"], "bf16": reproduce.PRESETS["cpu"]}
    presets = {k: replace(v, languages=[lang]) for k, v in presets.items()}
    results: dict[str, dict] = {}

    def timed(name: str, cmd: list[str], out: Path) -> None:
        start = time.perf_counter()
        with (work / f"{name}.log").open("w") as log:
            proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=reproduce.REPO)
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"error: {name} failed (exit {proc.returncode}), log {work / f'{name}.log'}")
        metrics = json.loads((out / "all_results.json").read_text())
        results[name] = {
            "wall_s": round(seconds, 1),
            "train_runtime_s": metrics.get("train_runtime"),
            "en_dev_f1": metrics.get("eval_f1"),
            f"test_{lang}_f1": metrics.get(f"test_{lang}_f1"),
        }
        print(f"{name}: {results[name]}", flush=True)

    teacher = {}
    for precision in ("fp32", "bf16"):
        out = work / f"teacher_{precision}"
        teacher[precision] = out
        cmd = reproduce.teacher_cmd(presets[precision], model, "En+Trans+LCL+TCL", lang, 500, seed, out, paths)
        timed(f"teacher_{precision}", cmd, out)
    for precision in ("bf16", "fp32"):
        out = work / f"student_{precision}"
        cmd = reproduce.student_cmd(presets[precision], model, teacher["fp32"], lang, seed, out, paths, "teacher")
        timed(f"student_{precision}", cmd, out)
    for role in ("teacher", "student"):
        results[f"{role}_ratio_bf16_to_fp32"] = results[f"{role}_bf16"]["wall_s"] / results[f"{role}_fp32"]["wall_s"]
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="minilm", help="minilm (default), offline:e5-small, or a folder")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=32)
    parser.add_argument("--max_length", type=int, default=128)
    parser.add_argument("--output", type=Path, default=None, help="also write every figure as JSON here")
    parser.add_argument(
        "--whole_runs",
        type=Path,
        default=None,
        metavar="WORK_DIR",
        help="only time whole runs, `cpu_fp32` vs the `cpu` preset (bf16, eager attention, fused AdamW, fast "
        "dropout): a concner teacher on 500 pairs, a student on 2,000 sentences; about 20 minutes on 2 cores",
    )
    parser.add_argument("--lang", default="es", help="target language of --whole_runs")
    parser.add_argument("--seed", type=int, default=1, help="seed of --whole_runs")
    args = parser.parse_args(argv)

    if args.whole_runs is not None:
        args.whole_runs.mkdir(parents=True, exist_ok=True)
        runs = whole_runs(args.lang, args.seed, args.whole_runs)
        print("\n| measurement | ratio | target |\n|---|---:|---:|")
        for role, what in (("teacher", "concner teacher, 500 pairs"), ("student", "student, 2,000 sentences")):
            print(f"| whole run, fast / fp32 ({what}) | {runs[f'{role}_ratio_bf16_to_fp32']:.3f} | <= 0.5 |")
        if args.output:
            args.output.write_text(json.dumps(runs, indent=2))
        return 0

    import bench_distill_step
    import datasets
    from bench_teacher_step import bench_step

    datasets.disable_progress_bars()
    report = {"model": args.model}
    report["teacher_step"] = bench_step(args.model, args.warmup, args.rounds, args.pairs, args.max_length)
    distill_argv = ["--rounds", str(args.rounds), "--warmup", str(args.warmup)]
    if args.model != "minilm":
        print("note: the distillation benchmark always uses all-MiniLM-L6-v2", file=sys.stderr)
    report["distillation_step"] = bench_distill_step.main(distill_argv)
    report["inference"] = inference_ratio(args.model, 3 * args.rounds, args.warmup, args.pairs, args.max_length)
    report["data_preparation"] = data_preparation(args.max_length)
    report["evaluation_order"] = evaluation_order(args.model, max(3, args.rounds // 2))

    d = report["distillation_step"]["median_ratio_to_plain_wall"]
    print("\n| measurement | ratio / time | target |\n|---|---:|---:|")
    print(f"| teacher step / plain BERT step | {report['teacher_step']['median_ratio']:.3f} | <= 1.05 |")
    print(f"| distillation step (on the fly) / plain step | {d['on-the-fly']:.3f} | <= 1.35 |")
    print(f"| distillation step (cached teacher) / plain step | {d['cached']:.3f} | <= 1.05 |")
    inf = report["inference"]
    print(f"| student inference / plain BERT inference | {inf['median_ratio_student_to_bert']:.3f} | ~1 |")
    print(f"| (ConCNER teacher inference / plain BERT inference) | {inf['median_ratio_teacher_to_bert']:.3f} | |")
    prep = report["data_preparation"]
    print(
        f"| data preparation, {prep['sentences']} sentences (read + tokenise + align) | {prep['total_s']:.2f} s"
        " | <= 10 s |"
    )
    order = report["evaluation_order"]
    print(
        f"| test-set pass ({order['sentences']} sentences), dataset order / longest first"
        f" | {order['median_ratio_dataset_to_sorted']:.2f} | > 1 |"
    )
    if args.output:
        args.output.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
