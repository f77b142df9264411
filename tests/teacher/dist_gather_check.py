"""Run with `torchrun --nproc_per_node 2`.

Checks that with `contrastive_gather`, LCL/TCL (and their gradients) on two processes equal one process given the
combined batch, and that a process without a complete pair does not deadlock the others. Rank 0 writes the
comparison as JSON to the path in argv[1].

Used by tests/teacher/test_distributed.py (not collected by pytest itself).
"""

from __future__ import annotations

import json
import sys

import torch
import torch.distributed as dist

from modeling_concner import ConCNERConfig, ConCNERForTokenClassification
from tests.conftest import tiny_bert_config


def global_batch(vocab_size: int) -> dict[str, torch.Tensor]:
    """8 rows: pairs 0-3 as (source, translation) rows, different lengths, labels on some positions."""
    generator = torch.Generator().manual_seed(0)
    rows, length = 8, 12
    input_ids = torch.randint(5, vocab_size, (rows, length), generator=generator)
    attention_mask = torch.ones(rows, length, dtype=torch.long)
    for row, used in enumerate([12, 9, 10, 12, 7, 11, 12, 8]):
        attention_mask[row, used:] = 0
        input_ids[row, used:] = 0
    labels = torch.randint(0, 9, (rows, length), generator=generator)
    labels[attention_mask == 0] = -100
    labels[:, 0] = -100
    pair_ids = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels, "pair_ids": pair_ids}


def grads(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])


def main(out_path: str) -> None:
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    base = tiny_bert_config(300).to_dict()
    torch.manual_seed(0)
    # CE off: its local mean is not a global mean; the contrastive terms are the subject here.
    gathered = ConCNERForTokenClassification(
        ConCNERConfig(**base, ce_weight=0.0, lcl_weight=1.0, tcl_weight=1.0, contrastive_gather=True)
    )
    batch = global_batch(300)
    per_rank = len(batch["pair_ids"]) // world
    local = {k: v[rank * per_rank : (rank + 1) * per_rank] for k, v in batch.items()}
    out = gathered(**local)
    (out.lcl_loss + out.tcl_loss).backward()
    local_grads = grads(gathered)
    dist.all_reduce(local_grads)
    local_grads /= world  # what DDP does
    values = torch.tensor([out.lcl_loss.item(), out.tcl_loss.item()], dtype=torch.float64)
    all_values = [torch.zeros_like(values) for _ in range(world)]
    dist.all_gather(all_values, values)
    result = {}
    if rank == 0:
        single = ConCNERForTokenClassification(
            ConCNERConfig(**base, ce_weight=0.0, lcl_weight=1.0, tcl_weight=1.0, contrastive_gather=False)
        )
        single.load_state_dict(gathered.state_dict())
        single.zero_grad()
        ref = single(**batch)
        (ref.lcl_loss + ref.tcl_loss).backward()
        ref_grads = grads(single)
        # without gathering, each process only contrasts its own half
        local_only = ConCNERForTokenClassification(
            ConCNERConfig(**base, ce_weight=0.0, lcl_weight=1.0, tcl_weight=1.0, contrastive_gather=False)
        )
        local_only.load_state_dict(gathered.state_dict())
        half = local_only(**local)
        result = {
            "world_size": world,
            "per_rank_lcl": [float(v[0]) for v in all_values],
            "per_rank_tcl": [float(v[1]) for v in all_values],
            "single_lcl": ref.lcl_loss.item(),
            "single_tcl": ref.tcl_loss.item(),
            "local_only_lcl": half.lcl_loss.item(),
            "local_only_tcl": half.tcl_loss.item(),
            "grad_max_abs_diff": float((local_grads - ref_grads).abs().max()),
            "grad_max_abs": float(ref_grads.abs().max()),
        }
    # Rank 1 has no complete pair: it must still join TCL's gather (sending zero rows), so nobody deadlocks and
    # both ranks compute TCL over rank 0's pairs alone.
    lonely = dict(local, pair_ids=local["pair_ids"] if rank == 0 else torch.tensor([5, -1, 6, -1]))
    partial = gathered(**lonely)
    value = partial.tcl_loss.item() if partial.tcl_loss is not None else float("nan")
    tcl = torch.tensor([value], dtype=torch.float64)
    all_tcl = [torch.zeros_like(tcl) for _ in range(world)]
    dist.all_gather(all_tcl, tcl)
    if rank == 0:
        rank0_pairs = {k: v[:per_rank] for k, v in batch.items()}
        single_partial = ConCNERForTokenClassification(
            ConCNERConfig(**base, ce_weight=0.0, lcl_weight=1.0, tcl_weight=1.0, contrastive_gather=False)
        )
        single_partial.load_state_dict(gathered.state_dict())
        result["partial_tcl"] = [float(v[0]) for v in all_tcl]
        result["partial_tcl_reference"] = single_partial(**rank0_pairs).tcl_loss.item()
    if rank == 0:
        with open(out_path, "w") as handle:
            json.dump(result, handle)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
