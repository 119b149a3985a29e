"""One photo through decode → detect → align, once for several runs, timed per stage.

The :class:`~facelab.predict.predictor.Predictor` built with ``fast=True`` and the REST API use
this path: the photo is decoded once (a large JPEG at reduced size, :func:`facelab.data.image.
load_photo`), its faces found once with the coarse-to-fine detector (``haar-fast``) and then
aligned from that decoded image for each run's input geometry. Classification is left to the
caller: :meth:`Predictor.predict` (one photo) or the server's micro-batching queue
(:mod:`facelab.serve.batching`), which classifies the crops of concurrent requests together.

Example:
    >>> import io
    >>> from PIL import Image
    >>> from facelab.predict import Predictor
    >>> predictor = Predictor.from_run("fer-emotions", fast=True)
    >>> buf = io.BytesIO(); Image.new("RGB", (640, 480), "grey").save(buf, "JPEG")
    >>> photo = prepare_photo(buf.getvalue(), "photo.jpg", [predictor])
    >>> sorted(photo.timings_ms), (photo.width, photo.height)
    (['align', 'decode', 'detect'], (640, 480))
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..data.image import load_photo, read_bytes
from ..errors import FacelabError
from ..faces.fast import needed_side
from .pending import Pending, check_array
from .results import PhotoResult

#: the fast detector used in place of each plain one
FAST_DETECTORS = {"haar": "haar-fast"}


@dataclass
class PreparedPhoto:
    """A photo decoded, detected and aligned for each of several predictors.

    ``pending[i]`` belongs to ``predictors[i]`` (a ``Pending``: result + crops + slots);
    ``error`` is the decode/detect failure message, when there was one (every pending then
    carries it too). ``timings_ms`` / ``cpu_ms`` hold wall and thread-CPU time per stage.
    """

    pending: list
    width: int = 0
    height: int = 0
    error: str | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    cpu_ms: dict[str, float] = field(default_factory=dict)


class _Clock:
    """Wall and thread-CPU time per stage (the thread's CPU is what the photo costs a core)."""

    def __init__(self):
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._t = time.perf_counter()
        self._c = time.thread_time()

    def lap(self, stage: str) -> None:
        t, c = time.perf_counter(), time.thread_time()
        self.wall[stage] = self.wall.get(stage, 0.0) + 1000 * (t - self._t)
        self.cpu[stage] = self.cpu.get(stage, 0.0) + 1000 * (c - self._c)
        self._t, self._c = t, c


def _decode(src, name: str, need: int) -> tuple[np.ndarray, float, tuple[int, int]]:
    if isinstance(src, np.ndarray):
        a = check_array(src)
        return a, 1.0, (a.shape[1], a.shape[0])
    if not isinstance(src, (bytes, bytearray, memoryview)):
        src = read_bytes(src)
    return load_photo(bytes(src), need=need, name=name)


def prepare_photo(src, name: str, predictors: list) -> PreparedPhoto:
    """Decode, detect and align one photo for every predictor in ``predictors`` (thread-safe).

    Args:
        src: the file's bytes, a path, or a uint8 array.
        name: how messages name the photo.
        predictors: :class:`~facelab.predict.predictor.Predictor` objects; the first one's
            detector finds the faces for all of them (the server builds them all alike).

    Returns:
        a :class:`PreparedPhoto`; an unreadable photo gives ``error`` (no exception).
    """
    clock = _Clock()
    need = max(needed_side(p.input_spec) for p in predictors)
    try:
        image, k, (w, h) = _decode(src, name, need)
    except FacelabError as e:
        clock.lap("decode")
        return PreparedPhoto([Pending(PhotoResult(name, 0, 0, error=e.message), [], []) for _ in predictors],
                             error=e.message, timings_ms=clock.wall, cpu_ms=clock.cpu)
    clock.lap("decode")
    try:
        found = predictors[0].detector.detect(image)
    except FacelabError as e:
        clock.lap("detect")
        return PreparedPhoto([Pending(PhotoResult(name, w, h, error=e.message), [], []) for _ in predictors],
                             w, h, e.message, clock.wall, clock.cpu)
    clock.lap("detect")
    pending = [p.frame_faces(image, found, PhotoResult(name, w, h), to_photo=1.0 / k) for p in predictors]
    clock.lap("align")
    return PreparedPhoto(pending, w, h, None, clock.wall, clock.cpu)


__all__ = ["FAST_DETECTORS", "PreparedPhoto", "prepare_photo"]
