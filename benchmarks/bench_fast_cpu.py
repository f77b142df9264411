"""One e5-small teacher train step under each attention kernel × optimizer × precision (the fast CPU setting).

    python benchmarks/bench_fast_cpu.py              # README "Speed": the table of the fast CPU setting
    python benchmarks/bench_fast_cpu.py --rounds 5

A step is forward (CE + LCL + TCL) + backward + AdamW on 64 rows of 40 tokens (32 pairs), word embeddings frozen,
as in the cpu preset. Per optimizer, the four attention × precision settings are timed interleaved (order reversed
every other round) after a warm-up step each; the medians are printed. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="offline:e5-small")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    import torch

    from concner.encoders import resolve_model_name_or_path
    from modeling_concner import ConCNERConfig, ConCNERForTokenClassification

    path = str(resolve_model_name_or_path(args.model))
    rows, length = 64, 40
    generator = torch.Generator().manual_seed(0)
    batch = {
        "input_ids": torch.randint(5, 1000, (rows, length), generator=generator),
        "attention_mask": torch.ones(rows, length, dtype=torch.long),
        "labels": torch.randint(0, 9, (rows, length), generator=generator),
        "pair_ids": torch.arange(rows) % (rows // 2),
    }
    settings = [(attn, bf16) for attn in ("sdpa", "eager") for bf16 in (False, True)]
    print("| attention | optimizer | fp32 | bf16 autocast |\n|---|---|---:|---:|")
    for fused in (False, True):
        models = {}
        for attn in ("sdpa", "eager"):
            config = ConCNERConfig.from_pretrained(path, num_labels=9)
            model = ConCNERForTokenClassification.from_pretrained(path, config=config, attn_implementation=attn)
            model.bert.embeddings.word_embeddings.weight.requires_grad_(False)
            trainable = [p for p in model.parameters() if p.requires_grad]
            models[attn] = (model, torch.optim.AdamW(trainable, lr=1e-5, fused=fused))

        def step(attn: str, bf16: bool) -> float:
            model, optimizer = models[attn]
            start = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss = model(**batch).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            return time.perf_counter() - start

        for setting in settings:
            step(*setting)
        times: dict[tuple[str, bool], list[float]] = {s: [] for s in settings}
        for i in range(args.rounds):
            for setting in settings if i % 2 == 0 else settings[::-1]:
                times[setting].append(step(*setting))
        name = "fused AdamW" if fused else "AdamW (torch's CPU default loop)"
        for attn in ("sdpa", "eager"):
            fp32, bf16 = (statistics.median(times[(attn, b)]) for b in (False, True))
            print(f"| {attn} | {name} | {fp32:.2f} s | {bf16:.2f} s |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
