"""A photo between detection and classification, shared by the plain and the fast path.

:class:`Pending` is what :class:`~facelab.predict.predictor.Predictor` and
:func:`facelab.predict.fastpath.prepare_photo` hand to classification (the predictor's batches,
or the server's micro-batching queue); :func:`check_array` is the one check of a photo passed as
an array.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DataError
from .results import PhotoResult


@dataclass
class Pending:
    """A photo decoded, detected and aligned, waiting for its crops to be classified."""

    result: PhotoResult
    crops: list[np.ndarray]
    slots: list[int]  # index into result.faces of each crop


def check_array(a: np.ndarray) -> np.ndarray:
    """A photo given as an array, as uint8 HxWx3 (or HxWx1); anything else is a DataError."""
    if a.dtype != np.uint8 or a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (1, 3, 4)):
        raise DataError(f"expected a uint8 image HxW, HxWx1, HxWx3 or HxWx4, got {a.dtype} {a.shape}",
                        fix="decode photos with facelab.load_image, or pass the file path")
    if a.ndim == 2:
        a = a[:, :, None]
    if a.shape[2] == 4:
        import cv2

        a = cv2.cvtColor(a, cv2.COLOR_RGBA2RGB)
    return a


__all__ = ["Pending", "check_array"]
