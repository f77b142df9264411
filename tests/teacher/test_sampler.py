"""PairedBatchSampler: pairs stay together, deterministic per seed and epoch, whole pairs per process."""

from __future__ import annotations

import pytest
import torch
from accelerate.data_loader import BatchSamplerShard, SkipBatchSampler

from trainers.sampler import PairedBatchSampler, build_units

# 6 sources (rows 0-5), their translations (rows 6-11, source 2 has none), 2 windows (-1) and a lone id 9.
PAIR_IDS = [0, 1, 2, 3, 4, 5, 0, 1, 3, 4, 5, -1, -1, 9]


def _check_whole_pairs(batches: list[list[int]], pair_ids: list[int]) -> None:
    for batch in batches:
        ids = [pair_ids[row] for row in batch if pair_ids[row] >= 0]
        for pair_id in set(ids):
            expected = sum(1 for p in pair_ids if p == pair_id)
            assert ids.count(pair_id) == expected, f"pair {pair_id} split in batch {batch}"


def test_build_units_groups_pairs_and_keeps_singles():
    units = build_units(PAIR_IDS)
    assert (0, 6) in units and (1, 7) in units and (5, 10) in units
    assert (2,) in units and (11,) in units and (12,) in units and (13,) in units
    assert sorted(row for unit in units for row in unit) == list(range(len(PAIR_IDS)))
    assert units[0] == (0, 6)  # ordered by first row


def test_build_units_rejects_triples():
    with pytest.raises(ValueError, match="pair id 1 occurs on more than two rows"):
        build_units([1, 1, 1])


def test_batches_hold_n_units_and_cover_every_row_once():
    sampler = PairedBatchSampler(PAIR_IDS, units_per_batch=3, seed=7)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 3  # 9 units / 3
    assert sorted(row for batch in batches for row in batch) == list(range(len(PAIR_IDS)))
    assert [len(build_units([PAIR_IDS[r] for r in b])) for b in batches] == [3, 3, 3]
    _check_whole_pairs(batches, PAIR_IDS)
    assert sampler.num_pairs == 5 and sampler.num_rows == len(PAIR_IDS)


def test_paired_batch_has_n_sources_and_n_translations():
    pair_ids = list(range(8)) + list(range(8))
    for batch in PairedBatchSampler(pair_ids, units_per_batch=4, seed=0):
        assert len(batch) == 8
        assert sorted(r for r in batch if r < 8) == sorted(r - 8 for r in batch if r >= 8)


def test_deterministic_for_a_seed_and_epoch():
    a = PairedBatchSampler(PAIR_IDS, 2, seed=3)
    b = PairedBatchSampler(PAIR_IDS, 2, seed=3)
    assert list(a) == list(b)
    a.set_epoch(1)
    b.set_epoch(1)
    assert list(a) == list(b)
    a.set_epoch(0)
    epoch0 = list(a)
    a.set_epoch(1)
    assert list(a) != epoch0  # a new shuffle every epoch
    assert list(PairedBatchSampler(PAIR_IDS, 2, seed=4)) != epoch0
    # seed + epoch: (seed 3, epoch 1) == (seed 4, epoch 0)
    assert list(a) == list(PairedBatchSampler(PAIR_IDS, 2, seed=4))


def test_no_shuffle_keeps_dataset_order_and_drop_last():
    sampler = PairedBatchSampler([0, 1, 0, 1, -1], 2, shuffle=False)
    assert list(sampler) == [[0, 2, 1, 3], [4]]
    dropping = PairedBatchSampler([0, 1, 0, 1, -1], 2, shuffle=False, drop_last=True)
    assert list(dropping) == [[0, 2, 1, 3]] and len(dropping) == 1


def test_unpaired_only_behaves_like_a_shuffled_batch_sampler():
    sampler = PairedBatchSampler([-1] * 10, 4, seed=1)
    batches = list(sampler)
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(r for b in batches for r in b) == list(range(10))


def test_rejects_bad_batch_size():
    with pytest.raises(ValueError, match="units_per_batch"):
        PairedBatchSampler(PAIR_IDS, 0)


@pytest.mark.parametrize("num_batches_units", [(4, 2), (5, 2), (3, 1)])
def test_two_simulated_processes_get_whole_pairs(num_batches_units):
    num_pairs, units_per_batch = num_batches_units
    pair_ids = list(range(num_pairs)) + list(range(num_pairs)) + [-1]
    sampler = PairedBatchSampler(pair_ids, units_per_batch, seed=11)
    shards = [BatchSamplerShard(sampler, num_processes=2, process_index=i, even_batches=True) for i in range(2)]
    per_process = [list(shard) for shard in shards]
    assert len(per_process[0]) == len(per_process[1]) == len(shards[0]) == len(shards[1])
    for batches in per_process:
        _check_whole_pairs(batches, pair_ids)
    seen = {row for batches in per_process for batch in batches for row in batch}
    assert seen == set(range(len(pair_ids)))  # nothing lost (even_batches may repeat whole batches)
    if len(sampler) % 2 == 0:  # no padding needed: the processes share the batches out
        assert not set(map(tuple, per_process[0])) & set(map(tuple, per_process[1]))


def test_skipping_batches_after_resume_replays_the_same_tail():
    sampler = PairedBatchSampler(PAIR_IDS, 2, seed=5)
    sampler.set_epoch(2)
    full = list(sampler)
    assert list(SkipBatchSampler(sampler, skip_batches=2)) == full[2:]


def test_group_by_length_keeps_pairs_and_cuts_padding():
    from trainers.sampler import PairedBatchSampler as Sampler

    gen = torch.Generator().manual_seed(0)
    pair_ids = [i // 2 for i in range(400)] + [-1] * 20
    base = torch.randint(5, 120, (210,), generator=gen)
    lengths = torch.stack([base, base + torch.randint(0, 6, (210,), generator=gen)], 1).flatten().tolist()
    plain = Sampler(pair_ids, units_per_batch=8, seed=3)
    grouped = Sampler(pair_ids, units_per_batch=8, seed=3, lengths=lengths, mega_batch_factor=10)
    batches = list(grouped)
    assert sorted(row for batch in batches for row in batch) == list(range(420))  # every row exactly once
    for batch in batches:  # partners stay together
        ids = [pair_ids[r] for r in batch if pair_ids[r] >= 0]
        assert all(ids.count(i) == 2 for i in ids)
    assert batches == list(Sampler(pair_ids, units_per_batch=8, seed=3, lengths=lengths, mega_batch_factor=10))

    def padded(bs):
        return sum(len(b) * max(lengths[r] for r in b) for b in bs)

    # grouped batches are nearly free of padding; random ones are not
    assert padded(batches) < 1.2 * sum(lengths) and padded(list(plain)) > 1.5 * sum(lengths)
    grouped.set_epoch(1)
    assert list(grouped) != batches
