"""The photo path: one photo through decode → detect → align, once for several runs, timed per stage.

Every prediction from a photo goes through :func:`prepare_photo` — ``facelab predict``,
:meth:`Predictor.predict <facelab.predict.predictor.Predictor.predict>` and ``predict_batch``,
:class:`~facelab.predict.combined.CombinedPredictor`, the REST API and Spark's batch prediction:
the photo is decoded once, its faces are found once per detector in use (runs framed by the same
detector with the same settings share the search) and then aligned from that decoded image for
each run, with the run's own framing. Classification is left to the caller:
:meth:`Predictor.predict` (one photo), its batches, or the server's micro-batching queue
(:mod:`facelab.serve.batching`), which classifies the crops of concurrent requests together.

A ``fast`` predictor (``Predictor(fast=True)``, what ``facelab serve`` builds) also decodes a large
JPEG at reduced size (:func:`facelab.data.image.load_photo`) and searches with the fast variant of
its detector where there is one (``haar`` → ``haar-fast``); the others decode the whole photo.

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

from ..data.image import load_image, load_photo, read_bytes
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


def _decode(src, name: str, need: int | None) -> tuple[np.ndarray, float, tuple[int, int]]:
    if isinstance(src, np.ndarray):
        a = check_array(src)
        return a, 1.0, (a.shape[1], a.shape[0])
    if need is None:  # the whole photo, as the cache decodes it
        a = load_image(src)
        return a, 1.0, (a.shape[1], a.shape[0])
    if not isinstance(src, (bytes, bytearray, memoryview)):
        src = read_bytes(src)
    return load_photo(bytes(src), need=need, name=name)


def detector_key(predictor) -> tuple:
    """What decides which faces a predictor sees: its detector's name and settings."""
    return predictor.detector_name, tuple(sorted((k, repr(v)) for k, v in predictor.detector_params.items()))


def prepare_photo(src, name: str, predictors: list) -> PreparedPhoto:
    """Decode, detect and align one photo for every predictor in ``predictors`` (thread-safe).

    Args:
        src: the file's bytes, a path, or a uint8 array.
        name: how messages name the photo.
        predictors: :class:`~facelab.predict.predictor.Predictor` objects; each detector in use
            searches the photo once, and each predictor frames the faces of its own detector.

    Returns:
        a :class:`PreparedPhoto`; an unreadable photo gives ``error`` (no exception).
    """
    clock = _Clock()
    fast = all(getattr(p, "fast", False) for p in predictors)
    need = max(needed_side(p.input_spec) for p in predictors) if fast else None
    try:
        image, k, (w, h) = _decode(src, name, need)
    except FacelabError as e:
        clock.lap("decode")
        return PreparedPhoto([Pending(PhotoResult(name, 0, 0, error=e.message), [], []) for _ in predictors],
                             error=e.message, timings_ms=clock.wall, cpu_ms=clock.cpu)
    clock.lap("decode")
    found: dict[tuple, list | str] = {}
    for p in predictors:
        key = detector_key(p)
        if key not in found:
            try:
                found[key] = p.detector.detect(image)
            except FacelabError as e:
                found[key] = e.message
    clock.lap("detect")
    pending, error = [], None
    for p in predictors:
        boxes = found[detector_key(p)]
        if isinstance(boxes, str):
            error = boxes
            pending.append(Pending(PhotoResult(name, w, h, error=boxes), [], []))
        else:
            pending.append(p.frame_faces(image, boxes, PhotoResult(name, w, h), to_photo=1.0 / k))
    clock.lap("align")
    return PreparedPhoto(pending, w, h, error, clock.wall, clock.cpu)


__all__ = ["FAST_DETECTORS", "PreparedPhoto", "detector_key", "prepare_photo"]
