"""The fast path for one photo: coarse-to-fine Haar detection and reduced-size JPEG decoding.

:class:`FastHaarDetector` (registered as ``haar-fast``) gives the boxes of
:class:`~facelab.faces.detect.HaarDetector` at a fraction of its cost. Most of the default
detector's time goes into scanning the smallest windows of its 320 px copy. The fast detector
first scans a copy half that size (``coarse_side``), where the same cascade finds the faces of
twice the smallest size at a fraction of the cost; then it runs the default detector's upright
pass on the 320 px copy, searching only windows at least half as large as the smallest face the
coarse pass found. The cascade's search scales do not depend on the smallest window, so every
face in that range gets the same box, eyes and angle as from the default detector (measured on
the LFW photos by ``bench/predict.py --only fastpath``). When the coarse pass finds nothing, or
the fine pass does not confirm it, the photo goes through the default detector unchanged
(rotated copies, the fallback and profile cascades): the fast path stops early only when it is
sure there is a face.

What it gives up: a face smaller than half the smallest face of the coarse pass is not searched
for (a small face in the background of a portrait). Alone in a photo it is still found, by
the fallback to the default detector.

:func:`needed_side` is the long side a photo must keep for the detector and a run's crop:
:func:`facelab.data.image.load_photo` decodes a larger JPEG at 1/2, 1/4 or 1/8 of its size
(libjpeg's DCT scaling, via Pillow's ``draft``), so a 12-megapixel upload is decoded at about
1000x750 instead of 4000x3000. Boxes found on it are mapped back to the photo's own pixels.

Example:
    >>> import numpy as np
    >>> from facelab.faces.fast import FastHaarDetector
    >>> FastHaarDetector().detect(np.zeros((480, 640, 3), np.uint8))
    []
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .detect import DETECTORS, FaceBox, HaarDetector, suppress, to_grey


@DETECTORS.register("haar-fast")
@dataclass
class FastHaarDetector(HaarDetector):
    """:class:`HaarDetector` searched coarse-to-fine (the same boxes, a fraction of the time).

    Args:
        coarse_side: the longest side of the coarse copy (half of ``max_side`` by default).
        coarse_min_neighbors: hits a coarse face needs; lower than ``min_neighbors`` so that the
            coarse pass misses less (a false coarse face only makes the fine pass search smaller
            windows: slower, never wrong).
        window: the fine pass searches windows down to ``1/window`` of the smallest coarse face.
        (the other arguments: :class:`HaarDetector`)

    Example:
        >>> FastHaarDetector(coarse_side=160).coarse_side
        160
    """

    coarse_side: int = 160
    coarse_scale_factor: float = 1.2
    coarse_min_neighbors: int = 2
    window: float = 2.0
    _max: int | None = field(default=None, init=False, repr=False)

    def _run(self, grey: np.ndarray, name: str, min_size: int,
             min_neighbors: int | None = None) -> list[tuple[np.ndarray, float]]:
        if self._max is None:
            return super()._run(grey, name, min_size, min_neighbors)
        # the fine pass: the default detector's search, without the windows far above the faces
        rects, _, weights = self._load(name).detectMultiScale3(
            grey, scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors if min_neighbors is None else min_neighbors,
            minSize=(min_size, min_size), maxSize=(self._max, self._max), outputRejectLevels=True)
        if len(rects) == 0:
            return []
        return [(np.asarray(r, float), float(s)) for r, s in zip(rects, np.ravel(weights))]

    def _coarse(self, small: np.ndarray) -> list[float]:
        """Sides of the faces found on a copy ``coarse_side`` long, in ``small``'s pixels."""
        import cv2

        h, w = small.shape
        c = self.coarse_side / max(h, w)
        tiny = cv2.resize(small, (max(1, round(w * c)), max(1, round(h * c))), interpolation=cv2.INTER_AREA)
        if min(tiny.shape) < self.min_size:
            return []
        rects = self._load(self.cascade).detectMultiScale(
            tiny, scaleFactor=self.coarse_scale_factor, minNeighbors=self.coarse_min_neighbors,
            minSize=(self.min_size, self.min_size))
        return [float(r[2]) / c for r in rects]

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        """All faces in ``image`` (uint8 HxWx3 RGB, HxWx1 or HxW), largest first."""
        import cv2

        grey = to_grey(image)
        h, w = grey.shape
        k = min(1.0, self.max_side / max(h, w))
        if max(h, w) * k < 1.5 * self.coarse_side:
            return super().detect(image)  # too small for a coarse pass to save anything
        small = cv2.resize(grey, (max(1, round(w * k)), max(1, round(h * k))),
                           interpolation=cv2.INTER_AREA) if k < 1.0 else grey
        small = cv2.equalizeHist(small)  # as the default detector: the same pixels
        if min(small.shape) < self.min_size:
            return []
        sides = self._coarse(small)
        if not sides:  # not sure: the default detector's full search and its retries
            return super().detect(image)
        # The default detector's upright pass on the same copy, minus the smallest windows: the
        # cascade's scales do not depend on minSize, so every face above it gets the same box.
        smallest = max(self.min_size, int(min(sides) / self.window))
        self._max = int(math.ceil(max(sides) * self.window))
        try:
            faces = self._boxes(small, 0.0, self.cascade, False, smallest)
        finally:
            self._max = None
        if not faces:
            return super().detect(image)
        faces = suppress(faces)
        faces.sort(key=lambda f: -f.w * f.h)
        return [f.scaled(1.0 / k) if k < 1.0 else f for f in faces]


def needed_side(input_spec: dict, *, max_side: int = 320, min_size: int = 20) -> int:
    """The long side a photo must keep so the smallest detectable face still gets >= 2 photo
    pixels per pixel of the run's crop (the alignment then area-averages, as on a full decode).

    Example:
        >>> needed_side({"size": 64, "crop_box": [0, 0.09, 1, 0.91], "source_size": [178, 218],
        ...              "layout": "celeba-kaggle"})
        1163
    """
    from .align import crop_geometry, framing_for

    size, _, (x0, _, x1, _) = crop_geometry(input_spec)
    frame = framing_for(input_spec).width * max(1e-3, x1 - x0)  # crop width in face sides
    return max(2 * max_side, math.ceil(2 * size * max_side / (min_size * frame)))


__all__ = ["FastHaarDetector", "needed_side"]
