"""One e5-small teacher train step under each attention kernel × optimizer × precision (the fast CPU setting).

    python benchmarks/bench_fast_cpu.py              # README "Speed": the table of the fast CPU setting
    python benchmarks/bench_fast_cpu.py --rounds 5
    python benchmarks/bench_fast_cpu.py --dropout    # the shipped setting: torch's dropout vs the fast kernel
    python benchmarks/bench_fast_cpu.py --compile    # the shipped setting vs the same under torch.compile

A step is forward (CE + LCL + TCL) + backward + AdamW on 64 rows of 40 tokens (32 pairs), word embeddings frozen,
as in the cpu preset. Per optimizer, the four attention × precision settings are timed interleaved (order reversed
every other round) after a warm-up step each; the medians are printed. Run it on an otherwise idle machine.

`--dropout` times the shipped setting (eager attention, fused AdamW, bf16 autocast) with torch's dropout and with
`trainers.fast_dropout` (`--dropout_kernel native` / `fast`), interleaved in the same way, and prints the ratio.

`--compile` times the shipped setting against `torch.compile` of the same model (inductor, what transformers'
`--torch_compile` does), with torch's dropout (inductor fuses its random draws) and with the fast kernel. Batches
cycle through several lengths, as length-grouped batches do, so that recompilation is paid and counted: the first
pass over the lengths is reported apart (the compile cost), then the interleaved medians of later passes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def step_batch(length: int = 40) -> dict:
    """64 rows of `length` random tokens (32 pairs) with random labels, seeded."""
    import torch

    rows = 64
    generator = torch.Generator().manual_seed(0)
    return {
        "input_ids": torch.randint(5, 1000, (rows, length), generator=generator),
        "attention_mask": torch.ones(rows, length, dtype=torch.long),
        "labels": torch.randint(0, 9, (rows, length), generator=generator),
        "pair_ids": torch.arange(rows) % (rows // 2),
    }


def build(path: str, attn: str, fused: bool) -> tuple:
    """The teacher in training mode (word embeddings frozen, as in the cpu preset) and its AdamW."""
    import torch

    from modeling_concner import ConCNERConfig, ConCNERForTokenClassification

    config = ConCNERConfig.from_pretrained(path, num_labels=9)
    model = ConCNERForTokenClassification.from_pretrained(path, config=config, attn_implementation=attn)
    model.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    model.train()  # `from_pretrained` gives a model in evaluation mode: no dropout, unlike a real training step
    trainable = [p for p in model.parameters() if p.requires_grad]
    return model, torch.optim.AdamW(trainable, lr=1e-5, fused=fused)


def train_step(model, optimizer, batch: dict, bf16: bool) -> float:
    """Seconds of one forward + backward + optimizer step."""
    import torch

    start = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        loss = model(**batch).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return time.perf_counter() - start


def interleaved(steps: dict, rounds: int, warm_up: bool = True) -> dict:
    """Median seconds of each of `steps` (name -> callable), after a warm-up call each (unless the caller made its
    own), order reversed every other round."""
    names = list(steps)
    for name in names if warm_up else []:
        steps[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for i in range(rounds):
        for name in names if i % 2 == 0 else names[::-1]:
            times[name].append(steps[name]())
    return {name: statistics.median(values) for name, values in times.items()}


def dropout_kernels(model_name: str, rounds: int) -> int:
    """The shipped setting's step with torch's dropout and with the fast kernel; prints both and their ratio."""
    from concner.encoders import resolve_model_name_or_path
    from trainers.fast_dropout import use_fast_dropout

    path = str(resolve_model_name_or_path(model_name))
    batch = step_batch()
    native = build(path, "eager", fused=True)
    fast = build(path, "eager", fused=True)
    use_fast_dropout(fast[0])
    medians = interleaved(
        {"native": lambda: train_step(*native, batch, True), "fast": lambda: train_step(*fast, batch, True)}, rounds
    )
    print("| dropout kernel | step (eager, fused AdamW, bf16) |\n|---|---:|")
    for name, seconds in medians.items():
        print(f"| {name} | {seconds:.3f} s |")
    print(f"fast / native: {medians['fast'] / medians['native']:.3f} (medians of {rounds} interleaved rounds)")
    return 0


def compiled_steps(model_name: str, rounds: int, lengths: tuple[int, ...] = (24, 32, 40, 48, 64)) -> int:
    """The shipped step against `torch.compile`d models over batches of several lengths; prints the compile cost
    (the first pass over the lengths) and the medians of a pass over the lengths, interleaved, and their ratios."""
    import torch

    from concner.encoders import resolve_model_name_or_path
    from trainers.fast_dropout import use_fast_dropout

    path = str(resolve_model_name_or_path(model_name))
    batches = [step_batch(length) for length in lengths]
    shipped, native, fast = (build(path, "eager", fused=True) for _ in range(3))
    use_fast_dropout(shipped[0])
    use_fast_dropout(fast[0])
    settings = {
        "shipped": shipped,
        "compiled, torch's dropout": (torch.compile(native[0]), native[1]),
        "compiled, fast dropout": (torch.compile(fast[0]), fast[1]),
    }

    def one_pass(name: str) -> float:
        return sum(train_step(*settings[name], batch, True) for batch in batches)

    first = {name: one_pass(name) for name in settings}  # the warm-up pass: it compiles, and is reported apart
    medians = interleaved({name: (lambda name=name: one_pass(name)) for name in settings}, rounds, warm_up=False)
    print(f"| setting (eager, fused AdamW, bf16) | first pass over lengths {lengths} | later passes (median) | "
          "ratio to shipped |\n|---|---:|---:|---:|")  # fmt: skip
    for name in settings:
        ratio = medians[name] / medians["shipped"]
        print(f"| {name} | {first[name]:.1f} s | {medians[name]:.2f} s | {ratio:.3f} |")
    print(f"(medians of {rounds} interleaved rounds of {len(lengths)} steps each)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="offline:e5-small")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dropout", action="store_true", help="torch's dropout vs the fast kernel, shipped setting")
    parser.add_argument("--compile", action="store_true", help="the shipped setting vs torch.compile of it")
    args = parser.parse_args(argv)
    if args.compile:
        return compiled_steps(args.model, args.rounds)
    if args.dropout:
        return dropout_kernels(args.model, args.rounds)

    from concner.encoders import resolve_model_name_or_path

    path = str(resolve_model_name_or_path(args.model))
    batch = step_batch()
    print("| attention | optimizer | fp32 | bf16 autocast |\n|---|---|---:|---:|")
    for fused in (False, True):
        models = {attn: build(path, attn, fused) for attn in ("sdpa", "eager")}
        steps = {
            (attn, bf16): (lambda attn=attn, bf16=bf16: train_step(*models[attn], batch, bf16))
            for attn in ("sdpa", "eager")
            for bf16 in (False, True)
        }
        medians = interleaved(steps, args.rounds)
        name = "fused AdamW" if fused else "AdamW (torch's CPU default loop)"
        for attn in ("sdpa", "eager"):
            print(f"| {attn} | {name} | {medians[(attn, False)]:.2f} s | {medians[(attn, True)]:.2f} s |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
