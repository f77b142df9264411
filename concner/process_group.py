"""Ending a torchrun job cleanly."""

from __future__ import annotations

import sys


def destroy_process_group() -> None:
    """Tear the torch.distributed process group down before the interpreter exits, if one was set up.

    Left to interpreter shutdown, a gloo run sometimes aborts after all its work is done ("terminate called
    without an active exception", SIGABRT), and torchrun then reports the whole job as failed. A run that never
    imported torch (a usage error) has nothing to tear down and does not import it here.
    """
    dist = sys.modules.get("torch.distributed")
    if dist is not None and dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
