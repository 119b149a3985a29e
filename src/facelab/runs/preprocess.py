"""The run's input preprocessing: :func:`facelab.models.inputs.to_float`, the single definition
used by training, evaluation, :meth:`facelab.runs.Run.predict_proba` and the ONNX export.

Example:
    >>> import torch
    >>> to_float(torch.zeros(1, 8, 8, 1, dtype=torch.uint8), mean=[0.5], std=[0.5]).shape
    torch.Size([1, 1, 8, 8])
"""
from __future__ import annotations

from ..models.inputs import to_float

__all__ = ["to_float"]
