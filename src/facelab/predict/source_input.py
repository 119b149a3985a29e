"""What a predictor feeds a run for one detected face, when it is not the aligned crop.

Embed models (:mod:`facelab.models.embed`) take the face's dlib descriptor, computed from the
photo through dlib's own face chip — as their training descriptors were computed from the source
photos. Runs trained on a cache aligned at prepare (``--crop detect``) name the detector that
framed their faces, so the predictor frames faces the same way.
"""
from __future__ import annotations

from typing import Callable

import numpy as np


def run_detector(input_spec: dict) -> str:
    """The detector a run's faces were framed with (``input.json`` ``detector``), else ``haar``."""
    return str(input_spec.get("detector") or "haar")


def source_face_input(estimator, min_face: int) -> Callable | None:
    """``(photo, box) -> descriptor`` for a model (:class:`~facelab.models.adapter.Adapter`) that
    takes descriptors; None for the others."""
    if not estimator.takes_descriptors:
        return None
    from ..faces.dlibface import FaceEmbedder

    fe = FaceEmbedder(min_face=min_face)

    def face_input(img: np.ndarray, box) -> np.ndarray:
        return fe.embed(img, box)

    return face_input
