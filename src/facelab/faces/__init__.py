"""Face detection (:mod:`.detect`) and alignment to a run's training geometry (:mod:`.align`)."""
from __future__ import annotations

from .align import Framing, align, crop_aligned, framing_for
from .detect import DETECTORS, Detector, FaceBox, HaarDetector, get_detector

__all__ = ["DETECTORS", "Detector", "FaceBox", "Framing", "HaarDetector", "align", "crop_aligned",
           "framing_for", "get_detector"]
