"""Face tracks across video frames, and each track's probabilities smoothed over time.

:class:`FaceTracker` is ByteTrack (Zhang et al., 2022): a constant-velocity Kalman filter per
track predicts where each face will be; confident boxes are matched to the predictions first
(Hungarian assignment on IoU, :func:`scipy.optimize.linear_sum_assignment`; IoU by
``supervision.box_iou_batch``), weak boxes then keep the remaining tracks alive, and confident
boxes still unmatched may continue a track whose predicted or last-seen centre is near enough
(``max_jump`` face sizes, widening while the track is unseen: fast motion, detector misses). A
track that is not seen keeps its id ``lost_seconds``, so a face hidden for a moment by another
face gets its own id back. As in ByteTrack, a face appearing after the first frame gets its id
when it is seen a second time in a row (one-frame false detections get none). Times are the
frames' own (seconds), so ``--every``, ``--fps`` and variable frame rates predict the same motion.

(supervision ≥ 0.27 moved its ByteTrack into the ``trackers`` package, which requires the GUI
build of OpenCV and so conflicts with ``opencv-python-headless``; the algorithm is small enough to
keep here on scipy and supervision's IoU.)

:class:`TrackSmoother` averages each track's probabilities exponentially with time constant
``smooth`` seconds (``0``: off): ``s ← s + (1 − e^(−Δt/τ)) (p − s)``.

Example:
    >>> from facelab.faces.detect import FaceBox
    >>> t = FaceTracker()
    >>> t.update([FaceBox(10, 10, 50, 50, 0.9), FaceBox(200, 10, 50, 50, 0.9)], 0.0)
    [1, 2]
    >>> t.update([FaceBox(205, 12, 50, 50, 0.9), FaceBox(14, 11, 50, 50, 0.9)], 0.04)
    [2, 1]
    >>> t.update([FaceBox(208, 12, 50, 50, 0.9), FaceBox(16, 11, 50, 50, 0.9), FaceBox(99, 150, 40, 40, 0.9)], 0.08)
    [2, 1, -1]
    >>> t.update([FaceBox(101, 151, 40, 40, 0.9)], 0.12)
    [3]
    >>> s = TrackSmoother(smooth=1.0)
    >>> s.update(1, {"happy": 1.0}, 0.0), s.update(1, {"happy": 0.0}, 1.0)["happy"] > 0.3
    ({'happy': 1.0}, True)
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..faces.detect import FaceBox

# Kalman noise as fractions of the face's height (ByteTrack's values, per second at 25 fps)
_STD_POS, _STD_VEL = 1.0 / 20, 1.0 / 160 * 25


@dataclass
class _Track:
    id: int
    mean: np.ndarray  # cx, cy, w, h, vx, vy, vw, vh (pixels, pixels per second)
    cov: np.ndarray
    last_seen: float
    lost: bool = False
    hits: int = 1
    seen_at: np.ndarray | None = None  # cx, cy, w, h where it was last seen

    def box(self) -> np.ndarray:
        cx, cy, w, h = self.mean[:4]
        return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


def _xyah(b: FaceBox) -> np.ndarray:
    return np.array([b.x + b.w / 2, b.y + b.h / 2, b.w, b.h], np.float64)


@dataclass
class FaceTracker:
    """ByteTrack over face boxes: :meth:`update` gives each box of a frame its track id.

    Args:
        high: boxes scoring at least this are matched first and may start tracks.
        low: boxes below this are ignored; between ``low`` and ``high`` they only extend tracks.
        match_iou: the least IoU (box vs. the track's predicted box) for a match.
        lost_seconds: how long an unseen track keeps its id.
        max_jump: a box left unmatched by IoU may still continue a track whose predicted (or last
            seen) centre is within this many face sizes (fast faces, sparse ``--every``) ...
        jump_per_second: ... plus this many face sizes per second the track has not been seen,
            up to ``max_gate`` face sizes (a face entering elsewhere does not take the id of one
            that left).
        min_hits: frames in a row a new face must be seen before it gets an id (not on the
            first frame).
    """

    high: float = 0.5
    low: float = 0.1
    match_iou: float = 0.2
    lost_seconds: float = 4.0
    max_jump: float = 1.0
    jump_per_second: float = 1.5
    max_gate: float = 3.0
    min_hits: int = 2
    tracks: list[_Track] = field(default_factory=list)
    next_id: int = 1
    time: float | None = None

    def update(self, boxes: list[FaceBox], t: float) -> list[int]:
        """Track ids for ``boxes`` (a frame at time ``t`` seconds); ``-1`` for a box that has no
        id (yet): a weak box extending no track, a new face seen once."""
        first = self.time is None
        dt = 0.0 if first else max(0.0, t - self.time)
        self.time = t
        for tr in self.tracks:
            self._predict(tr, dt)
        ids = [-1] * len(boxes)
        matched: set[int] = set()
        high = [i for i, b in enumerate(boxes) if b.score >= self.high]
        weak = [i for i, b in enumerate(boxes) if self.low <= b.score < self.high]
        free = self._match(boxes, high, list(range(len(self.tracks))), ids, matched, t, self.match_iou)
        free = self._match(boxes, weak, [k for k in free if not self.tracks[k].lost], ids, matched, t, 0.5) + \
            [k for k in free if self.tracks[k].lost]
        free = self._match(boxes, [i for i in high if i not in matched], free, ids, matched, t, 0.0, by="distance")
        for k in free:
            self.tracks[k].lost = True
        # a tentative track missed once is dropped; a confirmed one waits lost_seconds
        self.tracks = [tr for tr in self.tracks if t - tr.last_seen <= self.lost_seconds
                       and not (tr.id < 0 and tr.lost)]
        for i in high:
            if i not in matched:
                ids[i] = self._start(boxes[i], t, confirmed=first or self.min_hits <= 1)
        return ids

    def _match(self, boxes, dets: list[int], tracks: list[int], ids: list[int], matched: set[int], t: float,
               min_iou: float, by: str = "iou") -> list[int]:
        """Assign ``dets`` to ``tracks`` (Hungarian on IoU, or on the distance between centres in
        face sizes); return the tracks left unmatched."""
        if not dets or not tracks:
            return tracks
        from scipy.optimize import linear_sum_assignment
        from supervision import box_iou_batch

        det_xyxy = np.array([[boxes[i].x, boxes[i].y, boxes[i].x + boxes[i].w, boxes[i].y + boxes[i].h]
                             for i in dets])
        trk_xyxy = np.stack([self.tracks[k].box() for k in tracks])
        if by == "iou":
            score = box_iou_batch(trk_xyxy, det_xyxy)
        else:  # a fast face, a sparse --every or a face missed a while: no overlap with the prediction
            score = self._distance_score(tracks, det_xyxy, t)
        rows, cols = linear_sum_assignment(-score)
        used = set()
        for r, c in zip(rows, cols):
            if score[r, c] >= min_iou and (by == "iou" or score[r, c] > 0):
                tr = self.tracks[tracks[r]]
                tr.seen_at = _xyah(boxes[dets[c]])
                self._correct(tr, tr.seen_at)
                tr.last_seen, tr.lost, tr.hits = t, False, tr.hits + 1
                if tr.id < 0 and tr.hits >= self.min_hits:
                    tr.id, self.next_id = self.next_id, self.next_id + 1
                ids[dets[c]] = tr.id
                matched.add(dets[c])
                used.add(r)
        return [k for j, k in enumerate(tracks) if j not in used]

    def _distance_score(self, tracks: list[int], det_xyxy: np.ndarray, t: float) -> np.ndarray:
        """1 − d / (2 gate) for centres within the gate, −1 beyond: d is the distance, in face
        sizes, from the predicted centre or the last seen one (whichever is nearer); the gate
        widens by ``jump_per_second`` for each second the track has not been seen."""
        det_c = (det_xyxy[:, :2] + det_xyxy[:, 2:]) / 2
        out = np.full((len(tracks), len(det_c)), -1.0)
        for r, k in enumerate(tracks):
            tr = self.tracks[k]
            seen = tr.seen_at if tr.seen_at is not None else tr.mean[:4]
            size = float(np.mean(seen[2:4]))
            d = np.minimum(np.linalg.norm(det_c - tr.mean[:2], axis=1), np.linalg.norm(det_c - seen[:2], axis=1)) / size
            gate = min(self.max_gate, self.max_jump + self.jump_per_second * max(0.0, t - tr.last_seen))
            out[r] = np.where(d <= gate, 1.0 - d / (2 * gate), -1.0)
        return out

    def _start(self, b: FaceBox, t: float, confirmed: bool) -> int:
        z = _xyah(b)
        std = np.r_[[2 * _STD_POS * z[3]] * 4, [10 * _STD_VEL * z[3]] * 4]
        tid = -1
        if confirmed:
            tid, self.next_id = self.next_id, self.next_id + 1
        self.tracks.append(_Track(tid, np.r_[z, np.zeros(4)], np.diag(std ** 2), t, seen_at=z))
        return tid

    @staticmethod
    def _predict(tr: _Track, dt: float) -> None:
        if dt <= 0:
            return
        f = np.eye(8)
        f[:4, 4:] = np.eye(4) * dt
        h = tr.mean[3]
        q = np.r_[[_STD_POS * h * math.sqrt(dt * 25)] * 4, [_STD_VEL * h * math.sqrt(dt * 25)] * 4] ** 2
        tr.mean = f @ tr.mean
        tr.cov = f @ tr.cov @ f.T + np.diag(q)
        tr.mean[2:4] = np.maximum(tr.mean[2:4], 1.0)

    @staticmethod
    def _correct(tr: _Track, z: np.ndarray) -> None:
        hm = np.eye(4, 8)
        r = np.diag(np.full(4, (_STD_POS * z[3]) ** 2))
        s = hm @ tr.cov @ hm.T + r
        k = np.linalg.solve(s, hm @ tr.cov).T
        tr.mean = tr.mean + k @ (z - hm @ tr.mean)
        tr.cov = (np.eye(8) - k @ hm) @ tr.cov


@dataclass
class TrackSmoother:
    """Exponential smoothing of each track's probabilities over time.

    Args:
        smooth: the time constant in seconds; ``0`` returns the probabilities unchanged.
    """

    smooth: float = 1.0
    state: dict[int, tuple[float, dict[str, float]]] = field(default_factory=dict)

    def update(self, track: int, probabilities: dict[str, float], t: float) -> dict[str, float]:
        """The smoothed probabilities of ``track`` after observing ``probabilities`` at ``t``."""
        if self.smooth <= 0 or track < 0 or not probabilities:
            return dict(probabilities)
        last = self.state.get(track)
        if last is None:
            new = dict(probabilities)
        else:
            t0, s = last
            a = 1.0 - math.exp(-max(0.0, t - t0) / self.smooth)
            new = {k: s.get(k, v) + a * (v - s.get(k, v)) for k, v in probabilities.items()}
        self.state[track] = (t, new)
        return dict(new)
