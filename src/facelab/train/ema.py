"""A running exponential moving average of the weights (and BatchNorm statistics).

Why: on 10–30k noisy-labelled faces a small network's validation accuracy swings from epoch to
epoch and starts to over-fit early; evaluating the average of the recent weights instead of the
latest ones smooths both (Polyak averaging, as in timm's ``ModelEmaV2``). It costs one
in-place ``lerp`` per step and nothing at inference: the average *is* the saved model.

The decay ramps up from 0 as ``min(decay, (1 + n) / (10 + n))`` so that the average does not
remember the random initialisation for thousands of steps.

Example:
    >>> import torch
    >>> net = torch.nn.Linear(2, 1)
    >>> ema = WeightAverage(net, decay=0.99)
    >>> ema.update(net)
    >>> torch.equal(ema.module.weight, net.weight)
    True
"""
from __future__ import annotations

import copy

import torch


class WeightAverage:
    """Holds ``module``, a copy of the model whose tensors follow the trained model's average."""

    def __init__(self, model: torch.nn.Module, decay: float, updates: int = 0):
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.decay = float(decay)
        self.updates = int(updates)

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        ours, theirs = [], []
        for a, b in zip(self.module.state_dict().values(), model.state_dict().values()):
            if a.dtype.is_floating_point:
                ours.append(a)
                theirs.append(b.detach())
            else:  # BatchNorm's num_batches_tracked
                a.copy_(b)
        torch._foreach_lerp_(ours, theirs, 1.0 - d)
