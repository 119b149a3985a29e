"""facelab's face proposal network: MTCNN's first stages in one small network.

MTCNN's P-net searches a fine pyramid (a step of 0.709) with a 12 px window, and R-net sorts its
many candidates; together they cost three quarters of a detection. The proposal network
(``proposer.onnx`` beside this module: 11,612 parameters, 48 kB, trained by
``bench/train_proposer.py`` on MTCNN's own faces; its card is ``proposer.md``) is one fully
convolutional pass per octave: on each level of a pyramid that halves, it marks the centres of
faces whose side is 12–24 px there (a score on a grid of 4 px) and regresses each centre's offset
and the face's side. Its peaks, mapped back to the photo, are square boxes that MTCNN's O-net then
scores and fits with the five landmarks, as it does R-net's boxes
(:class:`facelab.faces.mtcnn.MtcnnDetector`, ``first_stage="proposer"``).

The pyramid starts where the smallest searched face is 12 px, as P-net's does, and ends when
the image is under 12 px, so the same faces are searched for: from the detector's smallest face
to the whole frame.

Example:
    >>> import numpy as np
    >>> Proposer().propose(np.zeros((120, 160, 3), np.uint8), 20.0).shape
    (0, 5)
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .pyramid import Halves, nms, session

#: the shipped network
PROPOSER_FILE = Path(__file__).with_name("proposer.onnx")
STRIDE = 4
SMALLEST = 12.0  # the smallest face side proposed at a level, in that level's pixels
#: the lowest peak score proposed: on the validation photos and composites the cheapest with the
#: best recall (bench/train_proposer.py --tune)
THRESHOLD = 0.3
#: what a missing or broken proposer.onnx asks the user to do
FIX = ("reinstall facelab (pip install --force-reinstall facelab), or use MTCNN's own first stages: "
       "MtcnnDetector(first_stage='pnet')")


class Proposer:
    """Square face boxes from the proposal network, for O-net to judge.

    Args:
        path: the ONNX file (default: the shipped ``proposer.onnx``).
        threshold: the lowest peak score proposed (:data:`THRESHOLD`).
        top_k: at most this many proposals a photo, best first.
        nms_iou: proposals overlapping a better one by more than this are dropped.
        threads: ONNX Runtime intra-op threads.
    """

    def __init__(self, path: str | Path | None = None, threshold: float = THRESHOLD, top_k: int = 24,
                 nms_iou: float = 0.5, threads: int = 1):
        self.path = Path(path) if path is not None else PROPOSER_FILE
        self.threshold, self.top_k, self.nms_iou = float(threshold), int(top_k), float(nms_iou)
        self.session = session(self.path, threads, "the face proposal network", FIX)
        self._input = self.session.get_inputs()[0].name

    @staticmethod
    def scales(shape: tuple[int, int], min_side: float) -> list[float]:
        """The pyramid's scales: the smallest face at 12 px, then octaves down to a 12 px image."""
        s, out = SMALLEST / float(min_side), []
        while min(shape[:2]) * s >= SMALLEST:
            out.append(s)
            s *= 0.5
        return out

    def propose(self, image, min_side: float) -> np.ndarray:
        """Boxes ``[x1, y1, x2, y2, score]`` (MTCNN's 1-based inclusive pixels, square), best first,
        for faces of at least ``min_side`` px. ``image``: RGB uint8, or its
        :class:`~facelab.faces.pyramid.Halves`."""
        import cv2

        halves = image if isinstance(image, Halves) else Halves(image)
        h, w = halves.level(0).shape[:2]
        found = []
        prev = None
        for s in self.scales((h, w), min_side):
            sw, sh = max(1, int(math.ceil(w * s))), max(1, int(math.ceil(h * s)))
            level = prev = (halves.resized(s, (sw, sh)) if prev is None
                            else cv2.resize(prev, (sw, sh), interpolation=cv2.INTER_AREA))
            x = ((level.astype(np.float32) - 127.5) * 0.0078125).transpose(2, 0, 1)[None]
            out = self.session.run(None, {self._input: x})[0][0]
            score = 1.0 / (1.0 + np.exp(-np.clip(out[0], -30.0, 30.0)))
            peak = (score >= self.threshold) & (score >= cv2.dilate(score, np.ones((3, 3), np.uint8)))
            iy, ix = np.nonzero(peak)
            if not len(iy):
                continue
            kx, ky = sw / w, sh / h
            side = 16.0 * np.exp(out[3, iy, ix])
            cx = (ix * STRIDE + (STRIDE - 1) / 2.0 + out[1, iy, ix] * side) / kx
            cy = (iy * STRIDE + (STRIDE - 1) / 2.0 + out[2, iy, ix] * side) / ky
            side = side / math.sqrt(kx * ky)
            found.append(np.stack([cx - side / 2 + 1, cy - side / 2 + 1, cx + side / 2, cy + side / 2,
                                   score[iy, ix]], 1))
        if not found:
            return np.zeros((0, 5))
        b = np.vstack(found)
        b = b[nms(b, self.nms_iou)]
        b = b[np.argsort(-b[:, 4], kind="stable")][: self.top_k]
        return b
