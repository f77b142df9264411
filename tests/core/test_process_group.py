"""The scripts tear their process group down before exiting."""

from __future__ import annotations

import torch.distributed as dist

from concner.process_group import destroy_process_group


def test_destroy_process_group_ends_an_initialised_group_and_is_a_no_op_otherwise(tmp_path):
    destroy_process_group()  # nothing set up: nothing happens
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    assert dist.is_initialized()
    destroy_process_group()
    assert not dist.is_initialized()
