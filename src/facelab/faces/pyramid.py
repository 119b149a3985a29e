"""What MTCNN and facelab's proposal network share: the image pyramid, box suppression, sessions.

:class:`Halves` keeps an image and its successive halvings (each crop or pyramid level is resized
from the nearest one); :func:`nms` is greedy non-maximum suppression over MTCNN-style boxes
(1-based, inclusive pixels); :func:`session` builds each network's ONNX Runtime session once.
"""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from ..errors import DataError

_SESSIONS: dict = {}
_SESSIONS_LOCK = threading.Lock()


def session(path: Path, threads: int, what: str, fix: str):
    """The ONNX Runtime session of the network file ``path``, built once per file and thread count
    (``InferenceSession.run`` is thread-safe: every detector, one per request thread, shares it).

    Raises:
        DataError: the file is missing or ONNX Runtime cannot read it; the message names it as
            ``what`` (e.g. "the MTCNN network") and gives ``fix``.
    """
    import onnxruntime as ort

    path = Path(path)
    key = (str(path), int(threads))
    with _SESSIONS_LOCK:
        got = _SESSIONS.get(key)
        if got is not None:
            return got
        if not path.is_file():
            raise DataError(f"{what} {path.name} is missing", path=path, fix=fix)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            got = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # a truncated or foreign file
            raise DataError(f"ONNX Runtime cannot read {what} {path.name}: {str(e)[:200]}", path=path,
                            fix=fix) from None
        _SESSIONS[key] = got
        return got


def nms(boxes: np.ndarray, threshold: float, method: str = "union") -> np.ndarray:
    """Indices kept by greedy non-maximum suppression of ``boxes`` (rows x1, y1, x2, y2, score).

    ``method="min"`` divides the overlap by the smaller box (drops a box inside a larger one).
    Boxes are 1-based and inclusive (a box from 0 to 9 is 10 px wide), as in the original MTCNN.
    The union method runs in OpenCV (``cv2.dnn.NMSBoxes``, the same greedy rule).

    Example:
        >>> nms(np.array([[0, 0, 9, 9, .9], [1, 1, 10, 10, .8], [50, 50, 60, 60, .7]]), .5).tolist()
        [0, 2]
    """
    if len(boxes) == 0:
        return np.zeros(0, np.int64)
    x1, y1, x2, y2, s = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3], boxes[:, 4]
    if method == "union":
        import cv2

        rects = np.stack([x1, y1, x2 - x1 + 1, y2 - y1 + 1], 1).astype(np.float64)
        order = (s - s.min() + 1.0).astype(np.float64)  # the same order, every score above its 0 cut
        kept = cv2.dnn.NMSBoxes(rects.tolist(), order.tolist(), 0.0, float(threshold))
        return np.asarray(kept, np.int64).reshape(-1)
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(-s, kind="stable")
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        inter = w * h
        order = rest[inter / np.minimum(area[i], area[rest]) <= threshold]
    return np.asarray(keep, np.int64)


class Halves:
    """An image and its successive halvings by area averaging, made as they are asked for.

    Pixel ``(i, j)`` of level ``l`` is the mean of the ``2**l`` by ``2**l`` block of the image at
    ``(i * 2**l, j * 2**l)`` exactly (an odd last row or column is left out of the next level), so
    a box whose edges fall on multiples of ``2**l`` is cut from level ``l`` without any rounding.
    P-net's largest pyramid level and R-/O-net's crops are resized from the nearest level, so no
    resize reads many more pixels than it writes.

    Example:
        >>> h = Halves(np.zeros((101, 64, 3), np.uint8))
        >>> h.level(1).shape, h.pick(0.3)
        ((50, 32, 3), 1)
    """

    def __init__(self, image: np.ndarray):
        self.levels = [image]

    def level(self, i: int) -> np.ndarray:
        import cv2

        while len(self.levels) <= i:
            a = self.levels[-1]
            h, w = a.shape[0] // 2, a.shape[1] // 2
            self.levels.append(cv2.resize(a[:2 * h, :2 * w], (w, h), interpolation=cv2.INTER_AREA))
        return self.levels[i]

    def pick(self, scale: float, smallest: int = 12) -> int:
        """The most halved level still at least ``scale`` of the image (and ``smallest`` px)."""
        i = 0
        h, w = self.levels[0].shape[:2]
        while 0.5 ** (i + 1) >= scale and min(h, w) * 0.5 ** (i + 1) >= max(1, smallest):
            i += 1
        return i

    def resized(self, scale: float, size: tuple[int, int]) -> np.ndarray:
        """The image at ``scale`` (``size`` = (w, h)), by area averaging from the nearest level."""
        import cv2

        return cv2.resize(self.level(self.pick(scale)), size, interpolation=cv2.INTER_AREA)

    def snap(self, boxes: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray]:
        """Boxes (1-based, inclusive) grown to the pixel grid of the level each is cut from (the most
        halved one where it is still at least ``side`` px), and those levels. A box grows by less
        than ``2**level`` px a side, under 1/``side`` of its size."""
        h, w = self.levels[0].shape[:2]
        out, levels = boxes.copy(), np.zeros(len(boxes), np.int64)
        for k, (x1, y1, x2, y2) in enumerate(boxes[:, :4].astype(np.int64)):
            big = max(int(x2 - x1 + 1), int(y2 - y1 + 1))
            if big <= 0:
                continue
            lvl = self.pick(side / big, smallest=1)
            while lvl:
                m = 2 ** lvl
                X0, Y0 = (x1 - 1) // m * m, (y1 - 1) // m * m
                X1, Y1 = -(-x2 // m) * m, -(-y2 // m) * m
                if min(X1, w) <= w // m * m and min(Y1, h) <= h // m * m:  # inside what the level covers
                    out[k, :4] = (X0 + 1, Y0 + 1, X1, Y1)
                    break
                lvl -= 1
            levels[k] = lvl
        return out, levels


__all__ = ["Halves", "nms", "session"]
