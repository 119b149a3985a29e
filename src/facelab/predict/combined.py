"""Several runs on the same faces: ``facelab predict photo.jpg`` with no run applies every model
shipped with facelab (the 40 CelebA attributes and the 7 FER2013 emotions) and reports one row
per face with all their outputs.

The photo is decoded once and its faces found once per detector in use (the shipped models share
one), so every model sees the same faces in the same order; each model then frames the faces
with its own training geometry (a CelebA crop is tighter than a FER2013 one, RGB against grey).

Example: docs/python.md#several-models-on-one-photo.
"""
from __future__ import annotations

import os
import threading
from typing import Iterable, Iterator

import numpy as np

from ..errors import ConfigError
from .predictor import Predictor
from .results import PhotoResult


class CombinedPredictor:
    """Apply several :class:`Predictor` s to the same photos and merge their outputs per face.

    Args:
        predictors: their class names must not overlap (an attribute and an emotion never share
            a name). Models framed by the same detector share one search of each photo; each
            model frames the faces with its own framing.
    """

    kind = "combined"

    def __init__(self, predictors: list[Predictor]):
        if not predictors:
            raise ConfigError("a combined predictor needs at least one run")
        names = [c for p in predictors for c in p.classes]
        dup = sorted({c for c in names if names.count(c) > 1})
        if dup:
            raise ConfigError(f"the runs share output names {dup}: their probabilities would overwrite each other",
                              fix="predict with one run at a time")
        self.predictors = list(predictors)
        self.classes = names
        self.name = "+".join(p.name for p in predictors)
        self.backend = predictors[0].backend
        self._classify_lock = threading.Lock()

    @classmethod
    def shipped(cls, names: Iterable[str] | None = None, **kw) -> "CombinedPredictor":
        """The models shipped with facelab (all of them by default), each through
        :meth:`Predictor.from_run` with the same keywords (``backend``, ``detector``, ``min_face`` ...)."""
        from ..pretrained import shipped_names, shipped_path

        return cls([Predictor.from_run(shipped_path(n), **kw) for n in (names or shipped_names())])

    def explain_outputs(self, explain) -> list[str]:
        """The outputs ``explain`` names across the models (checked, as
        :meth:`Predictor.explain_outputs`); ``top`` is each model's most probable output."""
        if not explain:
            return []
        from ..explain.outputs import resolve_outputs

        wanted = resolve_outputs(self.classes, explain)
        for p in self.predictors:
            p.explain_outputs(self._share(p, wanted))
        return wanted

    @staticmethod
    def _share(p: Predictor, wanted: list[str]) -> list[str] | None:
        """The part of ``wanted`` that model ``p`` explains (None: nothing)."""
        return [w for w in wanted if w == "top" or w in p.classes] or None

    @staticmethod
    def _merge(results: list[PhotoResult]) -> PhotoResult:
        """The first model's faces, each with the outputs of the other models' face at the same
        place (the same box when they share a detector; the most overlapping one otherwise)."""
        from ..faces.detect import box_iou

        first = results[0]
        for other in results[1:]:
            free = list(other.faces)
            for f in first.faces:
                g = max(free, key=lambda g: box_iou(f.box, g.box), default=None)
                if g is None or box_iou(f.box, g.box) < 0.3:
                    continue
                free.remove(g)
                f.probabilities.update(g.probabilities)
                f.labels.extend(g.labels)
                f.explain.extend(g.explain)
                if g.verdict:  # one verdict per model, e.g. "not Smiling 0.88; happy 0.70"
                    f.verdict = f"{f.verdict}; {g.verdict}" if f.verdict else g.verdict
            if free:  # a face only the other model's detector found
                first.note = (first.note + "; " if first.note else "") + \
                    f"a second model found {len(free)} face(s) the first did not: their outputs are left out"
        return first

    def predict(self, image_or_path, *, aligned: bool = False, keep_crops: bool = False,
                explain=None) -> PhotoResult:
        """Like :meth:`Predictor.predict`, with every model's outputs on each face. A photo is
        decoded once and searched once per detector in use (:func:`~facelab.predict.fastpath.
        prepare_photo`); ``aligned`` files are decoded by each model, as each frames them with its
        own crop. ``explain`` names outputs to explain across the models (``all``, ``top``)."""
        wanted = self.explain_outputs(explain)
        if aligned:
            return self._merge([p.predict(image_or_path, aligned=True, keep_crops=keep_crops and i == 0,
                                          explain=self._share(p, wanted))
                                for i, p in enumerate(self.predictors)])
        from .fastpath import prepare_photo

        src = image_or_path
        name = "<array>" if isinstance(src, np.ndarray) else \
            "<bytes>" if isinstance(src, (bytes, bytearray, memoryview)) else str(src)
        photo = prepare_photo(src, name, self.predictors)
        with self._classify_lock:  # the models run one photo at a time; searches run in parallel
            for i, (p, pending) in enumerate(zip(self.predictors, photo.pending)):
                p._finish([pending], keep_crops and i == 0, self._share(p, wanted))
        return self._merge([pending.result for pending in photo.pending])

    def predict_faces_many(self, items: list, *, name: str = "<frame>") -> list[PhotoResult]:
        """Every model on the faces ``boxes`` of each ``(image, boxes)`` (found once, elsewhere)."""
        with self._classify_lock:
            per_model = [p.predict_faces_many(items, name=name) for p in self.predictors]
        return [self._merge(list(results)) for results in zip(*per_model)]

    def predict_video(self, source, **kw):
        """Like :meth:`Predictor.predict_video`, with every model's outputs on each face."""
        from .video_predict import VideoPrediction

        return VideoPrediction(self, source, **kw)

    def predict_batch(self, sources: Iterable, **kw) -> Iterator[PhotoResult]:
        """Like :meth:`Predictor.predict_batch`: one result per source, in order. With one
        detector for all models, ``workers`` threads each decode and search a photo once."""
        sources = list(sources)
        wanted = self.explain_outputs(kw.pop("explain", None))
        if not kw.get("aligned"):
            yield from self._batch_detect_once(sources, workers=kw.get("workers"),
                                               progress=kw.get("progress", False),
                                               keep_crops=kw.get("keep_crops", False), explain=wanted)
            return
        streams = [p.predict_batch(sources, **{**kw, "progress": kw.get("progress", False) and i == 0},
                                   explain=self._share(p, wanted))
                   for i, p in enumerate(self.predictors)]
        for results in zip(*streams):
            yield self._merge(list(results))

    def _batch_detect_once(self, sources: list, *, workers: int | None, progress: bool,
                           keep_crops: bool, explain: list[str] | None = None) -> Iterator[PhotoResult]:
        from concurrent.futures import ThreadPoolExecutor

        from tqdm.auto import tqdm

        workers = workers or min(4, os.cpu_count() or 1)
        with ThreadPoolExecutor(max_workers=workers) as pool, \
                tqdm(total=len(sources), unit="photo", desc="predict", disable=None if progress else True) as bar:
            window = workers * 4  # bounded look-ahead
            futures = [pool.submit(self.predict, s, keep_crops=keep_crops, explain=explain)
                       for s in sources[:window]]
            for i in range(len(sources)):
                if i + window < len(sources):
                    futures.append(pool.submit(self.predict, sources[i + window], keep_crops=keep_crops,
                                               explain=explain))
                res = futures[i].result()
                futures[i] = None  # type: ignore[call-overload]
                bar.update(1)
                yield res

    def __repr__(self) -> str:
        return f"CombinedPredictor({[p.name for p in self.predictors]})"


__all__ = ["CombinedPredictor"]
