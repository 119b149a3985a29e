"""The training loop's side of multi-process (DDP) training: which process this is.

The launcher (:mod:`facelab.scale.ddp`, a layer above train) joins the process group and sets
the current :class:`Dist` with :func:`joined`; the loop (:mod:`facelab.train.loop`) asks
:func:`current` and, when it is one of several, trains on its shard, wraps the model in DDP,
agrees on the clock, and leaves the writing to rank 0. Single-process training sees None.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

_CURRENT: "Dist | None" = None


@dataclass
class Dist:
    """This process's place in a DDP job (set by the worker entry point, read by the loop)."""

    rank: int
    world: int

    @property
    def is_writer(self) -> bool:
        return self.rank == 0

    def batches(self, images, rows: np.ndarray, y: np.ndarray, batch_size: int):
        """This process's shard of the training rows, in batches of its share of ``batch_size``."""
        from .data import Batches

        rows, y = np.asarray(rows), np.asarray(y)
        usable = len(rows) - len(rows) % self.world
        take = np.arange(self.rank, usable, self.world)
        return Batches(images, rows[take], y[take], max(1, int(batch_size) // self.world))

    def wrap(self, model):
        """The model in DDP (gradients averaged across processes); parameters start from rank 0's."""
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(model)

    def agree(self, seconds: float) -> float:
        """The largest of every process's ``seconds``: one clock for the time budget."""
        import torch
        import torch.distributed as dist

        t = torch.tensor([float(seconds)], dtype=torch.float64)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return float(t.item())


def current() -> Dist | None:
    """The DDP job this process belongs to, or None (single-process training)."""
    return _CURRENT


@contextmanager
def joined(d: Dist):
    """Make ``d`` the current DDP job while the block runs (the process group is the caller's)."""
    global _CURRENT
    _CURRENT = d
    try:
        yield d
    finally:
        _CURRENT = None
