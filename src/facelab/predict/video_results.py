"""The typed results of a video: one :class:`FrameResult` per analysed frame (each face with its
track id, raw and smoothed probabilities), and a :class:`VideoSummary` with one
:class:`TrackSummary` per face track. Each owns its views: ``to_dict`` (JSON, the REST API's body)
and ``to_pandas`` (tables); :func:`frames_table` is the per-frame table ``--out`` writes.

A model's outputs form a :class:`LabelGroup` (the shipped models: the 40 attributes, the 7
emotions); each group gives a face one label per frame from its *smoothed* probabilities — the
most probable emotion, ``Smiling`` / ``not Smiling``, or the attributes above their thresholds —
and a track's dominant label is the one it shows for the largest share of its time.

Example:
    >>> g = LabelGroup("fer", "multiclass", ["happy", "sad"])
    >>> g.label({"happy": 0.7, "sad": 0.3})
    'happy'
    >>> LabelGroup("smile", "binary", ["Smiling"]).label({"Smiling": 0.2})
    'not Smiling'
"""
from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..faces.detect import FaceBox


@dataclass(frozen=True)
class LabelGroup:
    """The outputs of one model and how they become a label."""

    name: str
    kind: str
    classes: list[str]
    thresholds: tuple[float, ...] | None = None

    def label(self, probabilities: dict[str, float], previous: str | None = None, hold: float = 0.0) -> str:
        """The label of ``probabilities``; with the track's ``previous`` label and ``hold`` > 0 it
        changes only past a margin (hysteresis): an output that is on stays on until its
        probability falls ``hold`` below its threshold, one that is off turns on ``hold`` above
        it; a multiclass label moves to another class once that class leads it by ``hold``.

        Example:
            >>> g = LabelGroup("m", "binary", ["Smiling"], (0.5,))
            >>> g.label({"Smiling": 0.45}), g.label({"Smiling": 0.45}, "Smiling", hold=0.1)
            ('not Smiling', 'Smiling')
            >>> g.label({"Smiling": 0.55}, "not Smiling", hold=0.1), g.label({"Smiling": 0.65}, "not Smiling", hold=0.1)
            ('not Smiling', 'Smiling')
        """
        p = [probabilities.get(c, math.nan) for c in self.classes]
        if any(math.isnan(v) for v in p):
            return ""
        if not previous:
            hold = 0.0
        if self.kind == "multiclass":
            best = int(np.argmax(p))
            if previous in self.classes and p[best] - p[self.classes.index(previous)] <= hold:
                return previous
            return self.classes[best]
        t = self.thresholds or (0.5,) * len(p)
        was = set(previous.split("+")) if previous else set()  # the outputs on ("not X": none)
        on = [c for c, v, th in zip(self.classes, p, t) if v >= (th - hold if c in was else th + hold)]
        if len(self.classes) == 1:
            return self.classes[0] if on else f"not {self.classes[0]}"
        return "+".join(on) or "none"


class TrackLabels:
    """Each track's labels over time, held (:meth:`LabelGroup.label` with the track's previous
    label and ``hold``); a face not on a track (``track <= 0``) is labelled on its own.

    Example:
        >>> held = TrackLabels([LabelGroup("m", "binary", ["Smiling"], (0.5,))], hold=0.1)
        >>> [held(1, {"Smiling": p})["m"] for p in (0.7, 0.45, 0.35)]
        ['Smiling', 'Smiling', 'not Smiling']
    """

    def __init__(self, groups: list[LabelGroup], hold: float = 0.0):
        self.groups, self.hold = groups, float(hold)
        self.last: dict[tuple[int, str], str] = {}  # (track, group) → its latest label

    def __call__(self, track: int, probabilities: dict[str, float]) -> dict[str, str]:
        if not probabilities:
            return {}
        out = {}
        for g in self.groups:
            key = (track, g.name)
            out[g.name] = g.label(probabilities, self.last.get(key) if track > 0 else None, self.hold)
            if track > 0:
                self.last[key] = out[g.name]
        return out


@dataclass
class TrackedFace:
    """One face of one frame: its track, box, probabilities (raw and smoothed) and the labels of
    the smoothed probabilities (one per :class:`LabelGroup`)."""

    track: int
    box: FaceBox
    probabilities: dict[str, float] = field(default_factory=dict)
    smoothed: dict[str, float] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    note: str | None = None

    def to_dict(self) -> dict:
        return {"track": self.track, "box": self.box.to_dict(),
                "probabilities": {k: float(v) for k, v in self.probabilities.items()},
                "smoothed": {k: float(v) for k, v in self.smoothed.items()},
                "labels": dict(self.labels), "note": self.note}


@dataclass
class FrameResult:
    """The faces of one analysed frame (``index`` counts every decoded frame; ``time`` in seconds)."""

    index: int
    time: float
    faces: list[TrackedFace] = field(default_factory=list)
    #: the frame's pixels (uint8 RGB), kept only when asked (``keep_images=True``, for drawing)
    image: np.ndarray | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        return {"frame": self.index, "time": round(self.time, 4), "faces": [f.to_dict() for f in self.faces]}


@dataclass
class TrackSummary:
    """One face track: when it was seen, its mean probabilities, and per label group the dominant
    label with its share of the track's frames."""

    track: int
    first: float
    last: float
    frames: int
    mean: dict[str, float]
    dominant: dict[str, str]
    share: dict[str, float]

    @property
    def duration(self) -> float:
        return self.last - self.first

    def to_dict(self) -> dict:
        return {"track": self.track, "first": round(self.first, 4), "last": round(self.last, 4),
                "duration": round(self.duration, 4), "frames": self.frames,
                "mean": {k: round(float(v), 5) for k, v in self.mean.items()},
                "dominant": dict(self.dominant), "share": {k: round(v, 4) for k, v in self.share.items()}}


@dataclass
class VideoSummary:
    """A whole video: what was read, how, and the face tracks."""

    source: str
    info: dict
    frames_decoded: int
    frames_analysed: int
    faces: int
    tracks: list[TrackSummary]
    classes: list[str]
    groups: list[LabelGroup]
    smooth: float
    every: int
    fps: float | None
    seconds: float
    note: str | None = None
    hold: float = 0.0

    def to_dict(self) -> dict:
        return {"source": self.source, "info": self.info, "frames_decoded": self.frames_decoded,
                "frames_analysed": self.frames_analysed, "faces": self.faces, "smooth": self.smooth,
                "hold": self.hold, "every": self.every, "fps": self.fps, "seconds": round(self.seconds, 3), "note": self.note,
                "tracks": [t.to_dict() for t in self.tracks]}

    def to_pandas(self) -> pd.DataFrame:
        """One row per track: ``track, first, last, duration, frames``, per group
        ``dominant_<group>`` and ``share_<group>``, then ``mean_<class>``."""
        rows = []
        for t in self.tracks:
            row = {"track": t.track, "first": t.first, "last": t.last, "duration": t.duration, "frames": t.frames}
            for g in self.groups:
                row[f"dominant_{g.name}"] = t.dominant.get(g.name)
                row[f"share_{g.name}"] = t.share.get(g.name)
            row.update({f"mean_{c}": t.mean.get(c, math.nan) for c in self.classes})
            rows.append(row)
        cols = ["track", "first", "last", "duration", "frames"] + \
            [f"{k}_{g.name}" for g in self.groups for k in ("dominant", "share")] + [f"mean_{c}" for c in self.classes]
        return pd.DataFrame(rows, columns=cols)


class TrackBook:
    """Collects frames into track summaries without keeping the frames (sums and counts only).

    Example:
        >>> book = TrackBook([LabelGroup("m", "binary", ["Smiling"])])
        >>> f = TrackedFace(1, FaceBox(0, 0, 9, 9, 1.0), {"Smiling": 0.9}, {"Smiling": 0.9}, {"m": "Smiling"})
        >>> book.add(FrameResult(0, 0.0, [f])); book.add(FrameResult(1, 0.5, [f]))
        >>> t = book.tracks()[0]; (t.track, t.duration, t.dominant, t.share)
        (1, 0.5, {'m': 'Smiling'}, {'m': 1.0})
    """

    def __init__(self, groups: list[LabelGroup]):
        self.groups = groups
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._n: Counter = Counter()
        self._sum: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self._labels: dict[tuple[int, str], Counter] = defaultdict(Counter)

    def add(self, frame: FrameResult) -> None:
        for f in frame.faces:
            if f.track < 0 or not f.probabilities:
                continue
            k = f.track
            self._first.setdefault(k, frame.time)
            self._last[k] = frame.time
            self._n[k] += 1
            for c, v in f.probabilities.items():
                self._sum[k][c] += v
            for g, lab in f.labels.items():
                self._labels[(k, g)][lab] += 1

    def tracks(self) -> list[TrackSummary]:
        out = []
        for k in sorted(self._n):
            n = self._n[k]
            dom, share = {}, {}
            for g in self.groups:
                counts = self._labels.get((k, g.name))
                if counts:
                    lab, m = counts.most_common(1)[0]
                    dom[g.name], share[g.name] = lab, m / n
            out.append(TrackSummary(k, self._first[k], self._last[k], n,
                                    {c: v / n for c, v in self._sum[k].items()}, dom, share))
        return out


def frames_table(frames, classes: list[str], groups: list[LabelGroup] | None = None) -> pd.DataFrame:
    """The per-frame table: one row per face per analysed frame.

    Columns: ``frame, time, track, x, y, w, h, angle, score, landmarks`` (JSON ``{"name": [x, y]}``),
    ``label_<group>`` (from the smoothed probabilities), ``p_<class>`` (raw), ``s_<class>``
    (smoothed), ``note``. A frame without faces has no row.

    Example:
        >>> f = TrackedFace(3, FaceBox(1, 2, 30, 30, 0.9), {"happy": 0.8}, {"happy": 0.7})
        >>> row = frames_table([FrameResult(5, 0.2, [f])], ["happy"]).iloc[0]
        >>> int(row.frame), int(row.track), float(row.p_happy), float(row.s_happy)
        (5, 3, 0.8, 0.7)
    """
    groups = groups or []
    rows = []
    for fr in frames:
        for f in fr.faces:
            b = f.box
            row = {"frame": fr.index, "time": round(fr.time, 4), "track": f.track, "x": round(b.x, 1),
                   "y": round(b.y, 1), "w": round(b.w, 1), "h": round(b.h, 1), "angle": round(b.angle, 1),
                   "score": round(b.score, 3),
                   "landmarks": json.dumps({k: [round(float(v[0]), 1), round(float(v[1]), 1)]
                                            for k, v in (b.landmarks or {}).items()}),
                   "note": f.note}
            row.update({f"label_{g.name}": f.labels.get(g.name) for g in groups})
            row.update({f"p_{c}": f.probabilities.get(c, math.nan) for c in classes})
            row.update({f"s_{c}": f.smoothed.get(c, math.nan) for c in classes})
            rows.append(row)
    cols = ["frame", "time", "track", "x", "y", "w", "h", "angle", "score", "landmarks"] + \
        [f"label_{g.name}" for g in groups] + [f"p_{c}" for c in classes] + [f"s_{c}" for c in classes] + ["note"]
    return pd.DataFrame(rows, columns=cols)
