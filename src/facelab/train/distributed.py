"""The training loop's side of multi-process (DDP) training: which process this is.

The launcher (:mod:`facelab.scale.ddp`, a layer above train) joins the process group and passes
a :class:`Dist` to :func:`facelab.train.trainer.train` (``dist=``); the loop
(:mod:`facelab.train.loop`), when it is given one, trains on its shard, wraps the model in DDP and
agrees on the clock, and the run :class:`~facelab.runs.lifecycle.Lifecycle` leaves the writing to
rank 0. Single-process training passes None. Nothing here is module state: the job travels as an
argument.

Example:
    >>> Dist(rank=1, world=2).is_writer
    False
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
