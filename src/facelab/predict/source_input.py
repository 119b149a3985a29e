"""What a predictor feeds a run for one detected face, when it is not the aligned crop.

Embed models (:mod:`facelab.models.embed`) take the face's dlib descriptor, computed from the
photo through dlib's own face chip — as their training descriptors were computed from the source
photos. A run names the detector that framed its faces (its ``framing`` record, or the
``detector`` of a cache aligned at prepare), so the predictor frames faces the same way.
"""
from __future__ import annotations

from typing import Callable

import numpy as np


def run_detector(input_spec: dict) -> str:
    """The detector a run's faces were framed with: its ``framing`` record's, else ``input.json``'s
    ``detector`` (aligned at prepare), else ``haar`` (runs framed by the Haar box keep it).

    Example:
        >>> run_detector({}), run_detector({"detector": "dlib"}), run_detector({"framing": {"detector": "mtcnn"}})
        ('haar', 'dlib', 'mtcnn')
    """
    rec = input_spec.get("framing")
    if isinstance(rec, dict) and rec.get("detector"):
        return str(rec["detector"])
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
