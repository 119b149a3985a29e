"""What every network sees: uint8 NHWC faces → normalised float NCHW, logits → probabilities.

The single definition used by training, evaluation, :meth:`facelab.runs.Run.predict_proba`, the
model contract (:mod:`.adapter`) and the ONNX export (which bakes it into the graph).

Example:
    >>> import torch
    >>> x = torch.zeros(4, 64, 64, 3, dtype=torch.uint8)
    >>> to_float(x, mean=[0.5] * 3, std=[0.25] * 3).shape
    torch.Size([4, 3, 64, 64])
    >>> probabilities(torch.zeros(1, 2), "multiclass").tolist()
    [[0.5, 0.5]]
"""
from __future__ import annotations

from typing import Sequence

import torch


def to_float(x_u8: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """uint8 NHWC → normalised float32 NCHW (channels-last memory, which CPU convolutions like).

    Args:
        x_u8: (N, H, W, C) uint8 tensor.
        mean, std: per-channel normalisation in [0, 1] units (from the run's ``input.json``).
    """
    x = x_u8.permute(0, 3, 1, 2).float()  # a view of NHWC memory: already channels_last
    m = torch.as_tensor(mean, dtype=torch.float32).view(1, -1, 1, 1) * 255.0
    s = torch.as_tensor(std, dtype=torch.float32).view(1, -1, 1, 1) * 255.0
    return (x - m) / s


def probabilities(logits: torch.Tensor, kind: str) -> torch.Tensor:
    """Logits → probabilities: softmax for a multiclass task, a sigmoid per output otherwise."""
    return logits.softmax(1) if kind == "multiclass" else logits.sigmoid()
