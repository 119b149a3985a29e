"""Several runs on the same faces: ``facelab predict photo.jpg`` with no run applies every model
shipped with facelab (the 40 CelebA attributes and the 7 FER2013 emotions) and reports one row
per face with all their outputs.

The photo is decoded once and its faces found once (when the models use the same detector
with the same settings, as the shipped ones do), so every model sees the same faces in the same
order; each model then frames the faces with its own training geometry (a CelebA crop is
tighter than a FER2013 one, RGB against grey).

Example:
    >>> p = CombinedPredictor.shipped()                       # doctest: +SKIP
    >>> face = p.predict("photo.jpg").faces[0]                # doctest: +SKIP
    >>> face.probabilities["Smiling"], face.probabilities["happy"]   # doctest: +SKIP
    (0.97, 0.91)
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
        predictors: built with the same detector and settings; their class names must not
            overlap (an attribute and an emotion never share a name).
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
        first = results[0]
        for other in results[1:]:
            if len(other.faces) != len(first.faces):  # cannot happen with one detector; say so if it does
                first.note = (first.note + "; " if first.note else "") + \
                    f"a second model found {len(other.faces)} faces, not {len(first.faces)}: its outputs are left out"
                continue
            for f, g in zip(first.faces, other.faces):
                f.probabilities.update(g.probabilities)
                f.labels.extend(g.labels)
                f.explain.extend(g.explain)
                if g.verdict:  # one verdict per model, e.g. "not Smiling 0.88; happy 0.70"
                    f.verdict = f"{f.verdict}; {g.verdict}" if f.verdict else g.verdict
        return first

    def predict(self, image_or_path, *, aligned: bool = False, keep_crops: bool = False,
                explain=None) -> PhotoResult:
        """Like :meth:`Predictor.predict`, with every model's outputs on each face. A photo file
        (or its bytes) is decoded once and the pixels handed to every model; ``aligned`` files are
        decoded by each model, as each frames them with its own crop."""
        wanted = self.explain_outputs(explain)
        src, name = image_or_path, None
        if not aligned and not isinstance(src, np.ndarray):
            from ..data.image import load_image
            from ..errors import FacelabError

            name = "<bytes>" if isinstance(src, (bytes, bytearray, memoryview)) else str(src)
            try:
                src = load_image(src)  # what Predictor.predict would do, once instead of per model
            except FacelabError as e:
                return PhotoResult(name, 0, 0, error=e.message)
        if not aligned and self._one_detector():
            result = self._detect_once(src, keep_crops, wanted)
        else:
            result = self._merge([p.predict(src, aligned=aligned, keep_crops=keep_crops and i == 0,
                                            explain=self._share(p, wanted))
                                  for i, p in enumerate(self.predictors)])
        if name is not None:
            result.source = name
        return result

    def _one_detector(self) -> bool:
        """Whether every model finds faces the same way (then the photo is searched once)."""
        first = self.predictors[0]
        return all(p.detector_name == first.detector_name and p.detector_params == first.detector_params
                   and not p.fast for p in self.predictors)

    def _detect_once(self, src, keep_crops: bool, wanted: list[str] | None = None) -> PhotoResult:
        from ..errors import FacelabError
        from .pending import check_array

        try:
            img = check_array(src)
        except FacelabError as e:  # as Predictor.predict answers a wrong array
            return PhotoResult("<array>", 0, 0, error=e.message)
        try:
            boxes = self.predictors[0].detector.detect(img)
        except FacelabError as e:
            return PhotoResult("<array>", img.shape[1], img.shape[0], error=e.message)
        with self._classify_lock:  # the models run one photo at a time; searches run in parallel
            return self._merge([p.predict_faces(img, boxes, keep_crops=keep_crops and i == 0,
                                                explain=self._share(p, wanted or []))
                                for i, p in enumerate(self.predictors)])

    def predict_batch(self, sources: Iterable, **kw) -> Iterator[PhotoResult]:
        """Like :meth:`Predictor.predict_batch`: one result per source, in order. With one
        detector for all models, ``workers`` threads each decode and search a photo once."""
        sources = list(sources)
        wanted = self.explain_outputs(kw.pop("explain", None))
        if not kw.get("aligned") and self._one_detector():
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
                tqdm(total=len(sources), unit="photo", desc="predict", disable=not progress) as bar:
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
