"""The typed results of prediction: one :class:`PhotoResult` per photo, one :class:`FaceResult`
per face. A result owns its views: :meth:`PhotoResult.to_dict` (JSON, the REST API's body),
:meth:`PhotoResult.to_pandas` (a table, one row per face) and :meth:`PhotoResult.draw`.

Example:
    >>> r = PhotoResult("a.jpg", 10, 10, note="no face found")
    >>> r.to_dict()["note"], r.to_pandas(["Smiling"]).status[0]
    ('no face found', 'no face')
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable

import numpy as np
import pandas as pd

from ..faces.detect import FaceBox

if TYPE_CHECKING:
    from PIL import Image


@dataclass
class FaceResult:
    """One face of a photo. ``probabilities`` is empty (and ``note`` says why) when the face was
    found but not classified, e.g. too small."""

    index: int
    box: FaceBox
    probabilities: dict[str, float] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)
    note: str | None = None
    #: the decision in words with its probability: "Smiling 0.93", "not Smiling 0.88", "happy 0.71"
    verdict: str | None = None
    #: the aligned crop the model saw (only kept when asked: ``keep_crops=True``)
    crop: np.ndarray | None = field(default=None, repr=False, compare=False)
    #: saliency maps, one :class:`~facelab.explain.faces.FaceExplanation` per explained output
    #: (only when asked: ``explain=[...]``)
    explain: list = field(default_factory=list, repr=False, compare=False)

    @property
    def classified(self) -> bool:
        return bool(self.probabilities)

    def to_dict(self) -> dict:
        d = {"index": self.index, "box": self.box.to_dict(),
             "probabilities": {k: float(v) for k, v in self.probabilities.items()},
             "labels": list(self.labels), "verdict": self.verdict, "note": self.note}
        if self.explain:
            d["explain"] = [e.to_dict() for e in self.explain]
        return d


@dataclass
class PhotoResult:
    """Everything found in one photo. ``error`` is set when the photo could not be read (nothing
    else is then meaningful); ``note`` says e.g. that no face was found."""

    source: str
    width: int
    height: int
    faces: list[FaceResult] = field(default_factory=list)
    error: str | None = None
    note: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict:
        """Plain JSON-ready data: what ``--format json`` writes and the REST API answers with."""
        return {"source": self.source, "width": self.width, "height": self.height,
                "faces": [f.to_dict() for f in self.faces], "error": self.error, "note": self.note}

    def to_pandas(self, classes: list[str] | None = None) -> pd.DataFrame:
        """One row per face (see :func:`results_table`); ``classes`` default to the faces' outputs."""
        if classes is None:
            classes = list(dict.fromkeys(c for f in self.faces for c in f.probabilities))
        return results_table([self], classes)

    def draw(self, image: np.ndarray) -> "Image.Image":
        """``image`` (the photo these results are for) with each face's box, index and top labels.

        Example:
            >>> PhotoResult("a.jpg", 100, 80).draw(np.zeros((80, 100, 3), np.uint8)).size
            (100, 80)
        """
        from .draw import draw_faces

        return draw_faces(image, self.faces)

    plot = draw


#: up to this many outputs, a multilabel face with no output above its threshold names each one
#: ("not Smiling 0.88, not Male 0.61"); with more (``--target all``) one phrase says so
VERDICT_NEGATIVES = 3


def verdict(probabilities: dict[str, float], kind: str, thresholds: Iterable[float] | None = None) -> str:
    """A face's decision in words, each with the probability of what it says.

    A binary output below its threshold reads "not <name>" with ``1 - p`` (the probability of that
    statement), never an empty label list.

    Example:
        >>> verdict({"Smiling": 0.12}, "binary")
        'not Smiling 0.88'
        >>> verdict({"Smiling": 0.93, "Male": 0.2}, "multilabel")
        'Smiling 0.93'
        >>> verdict({"angry": 0.1, "happy": 0.7, "sad": 0.2}, "multiclass")
        'happy 0.70'
    """
    if not probabilities:
        return ""
    names, p = list(probabilities), [float(v) for v in probabilities.values()]
    if kind == "multiclass":
        i = int(np.argmax(p))
        return f"{names[i]} {p[i]:.2f}"
    t = list(thresholds) if thresholds is not None else [0.5] * len(names)
    pos = [f"{n} {v:.2f}" for n, v, th in zip(names, p, t) if v >= th]
    if pos:
        return ", ".join(pos)
    if len(names) <= VERDICT_NEGATIVES:
        return ", ".join(f"not {n} {1 - v:.2f}" for n, v in zip(names, p))
    return f"none of the {len(names)} outputs above its threshold"


def _status(r: PhotoResult, f=None) -> str:
    if r.error:
        return "error"
    if f is None:
        return "no face"
    return "ok" if f.classified else "too small"


def results_table(results: Iterable[PhotoResult], classes: list[str]) -> pd.DataFrame:
    """One row per face (and one per photo without a face or with an error).

    Columns: ``file, face, status, x, y, w, h, angle, score`` (the detector's, 0–1), ``labels``
    (``;``-joined outputs above their threshold), ``verdict`` (e.g. ``not Smiling 0.88``),
    ``p_<class>`` per output, ``width, height, message``.

    Example:
        >>> results_table([PhotoResult("a.jpg", 10, 10, note="no face found")], ["Smiling"]).status[0]
        'no face'
    """
    rows = []
    for r in results:
        base = {"file": r.source, "width": r.width, "height": r.height}
        if r.error or not r.faces:
            rows.append({**base, "face": None, "status": _status(r), "message": r.error or r.note})
            continue
        for f in r.faces:
            b = f.box
            row = {**base, "face": f.index, "status": _status(r, f), "x": round(b.x, 1), "y": round(b.y, 1),
                   "w": round(b.w, 1), "h": round(b.h, 1), "angle": round(b.angle, 1), "score": round(b.score, 3),
                   "labels": ";".join(f.labels), "verdict": f.verdict, "message": f.note}
            for c in classes:
                row[f"p_{c}"] = f.probabilities.get(c, math.nan)
            rows.append(row)
    cols = ["file", "face", "status", "x", "y", "w", "h", "angle", "score", "labels", "verdict"] + \
        [f"p_{c}" for c in classes] + ["width", "height", "message"]
    df = pd.DataFrame(rows, columns=cols)
    df["face"] = df["face"].astype("Int64")
    return df
