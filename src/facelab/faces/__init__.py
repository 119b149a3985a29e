"""Face detection (:mod:`.detect`) and alignment to a run's training geometry (:mod:`.align`)."""
from __future__ import annotations

from .align import Framing, align, crop_aligned, framing_for
from . import fast  # noqa: F401  registers haar-fast: the package's import fills its registry
from .detect import DETECTORS, Detector, FaceBox, HaarDetector, get_detector
from .mtcnn import MtcnnDetector


@DETECTORS.register("dlib")
def dlib_detector(**params) -> Detector:
    """dlib HOG / MMOD CNN with 5 landmarks (``facelab[dlib]``; see :mod:`facelab.faces.dlibface`).

    Imported on use, so a bare install lists it and explains how to install it when chosen
    (registered here, not in :mod:`.detect`, which :mod:`.dlibface` itself imports).
    """
    from .dlibface import DlibDetector

    return DlibDetector(**params)


__all__ = ["DETECTORS", "Detector", "FaceBox", "Framing", "HaarDetector", "MtcnnDetector", "align", "crop_aligned",
           "framing_for", "get_detector"]
