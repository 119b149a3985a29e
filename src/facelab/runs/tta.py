"""Test-time mirroring: a model wrapper that averages the logits of a face and of its mirror.

Faces are left-right symmetric in every label facelab trains on, so the mirrored face is a free
second opinion; averaging the two usually gains a few tenths of a point of accuracy, at twice the
inference cost. A run trained with ``tta: true`` is evaluated, served and exported through this
wrapper (the ONNX graph contains the flip), so every path predicts the same numbers.

Example:
    >>> import torch
    >>> net = FlipAverage(torch.nn.Conv2d(1, 1, 1))
    >>> net(torch.zeros(2, 1, 4, 4)).shape
    torch.Size([2, 1, 4, 4])
"""
from __future__ import annotations

import torch
from torch import nn


def for_inference(model: nn.Module, tta: bool, temperature: float = 1.0) -> nn.Module:
    """The module that predicts for a run: ``model`` itself, or wrapped when the run mirrors and
    when its logits are divided by a fitted temperature (``calibrate.Temperature``)."""
    if temperature != 1.0:  # inside the mirror: (z1/T + z2/T)/2 is the same as ((z1 + z2)/2)/T
        from .calibrate import Temperature

        model = Temperature(model, temperature).eval()
    return FlipAverage(model).eval() if tta else model


class FlipAverage(nn.Module):
    """``(net(x) + net(mirror(x))) / 2`` for logits and for :meth:`features`."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.net(x) + self.net(x.flip(3))) / 2

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return (self.net.features(x) + self.net.features(x.flip(3))) / 2
