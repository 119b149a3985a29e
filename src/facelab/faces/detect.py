"""Face detection: typed face boxes behind a small protocol; the Haar cascade detector.

The default detector (:data:`DEFAULT_DETECTOR`) is MTCNN (:mod:`facelab.faces.mtcnn`): boxes,
five landmarks and a face probability. The Haar detector here needs no download: it uses the
cascades that ship with ``opencv-python-headless``. It finds frontal faces on a downscaled grey copy of the photo, then
looks for the two eyes in the upper part of each face to estimate the in-plane rotation (the
``angle`` of :class:`FaceBox`). When nothing is found it retries on copies rotated by ±30° and
finally with the profile cascade (both directions), so that tilted and turned faces are not lost.

Other detectors plug in by registering a class in :data:`DETECTORS`.

Example:
    >>> import numpy as np
    >>> from facelab.data.synth.faces import render_face
    >>> face, _ = render_face({"Smiling": 1}, rng=np.random.default_rng(1))
    >>> photo = np.full((480, 640, 3), 128, np.uint8); photo[100:318, 200:378] = face
    >>> det = get_detector("haar")
    >>> faces = det.detect(photo)
    >>> len(faces), 0.0 <= faces[0].score <= 1.0
    (1, True)
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from ..errors import ConfigError, DataError
from ..registry import Registry


@dataclass(frozen=True)
class FaceBox:
    """One detected face, in pixels of the (EXIF-upright) photo.

    ``(x, y, w, h)`` is the axis-aligned box the detector reported, mapped back to the photo.
    ``score`` is the detector's confidence in 0–1 (Haar: :func:`haar_score`; a face given as
    aligned input: 1.0). ``angle`` is the face's in-plane rotation in degrees: the angle of the line from the eye on
    the image's left to the eye on the image's right, y pointing down (positive = the face leans
    clockwise on screen). ``landmarks`` holds what the detector gives: MTCNN's ``left_eye``,
    ``right_eye``, ``nose``, ``mouth_left``, ``mouth_right`` (image left / right), the Haar
    detector's two eyes when it found them, dlib's ``dlib_0`` … ``dlib_4``.

    Example:
        >>> b = FaceBox(10, 20, 100, 100, 3.5)
        >>> b.center
        (60.0, 70.0)
    """

    x: float
    y: float
    w: float
    h: float
    score: float
    landmarks: dict[str, tuple[float, float]] | None = None
    angle: float = 0.0

    @property
    def center(self) -> tuple[float, float]:
        return (self.x + self.w / 2.0, self.y + self.h / 2.0)

    @property
    def size(self) -> float:
        """The side of the box (Haar boxes are square; the mean side otherwise)."""
        return (self.w + self.h) / 2.0

    def to_dict(self) -> dict:
        d = asdict(self)
        if self.landmarks is not None:
            d["landmarks"] = {k: [float(v[0]), float(v[1])] for k, v in self.landmarks.items()}
        return d

    def scaled(self, k: float) -> "FaceBox":
        """The same box in an image scaled by ``k`` (used to map from the detection copy)."""
        lm = None if self.landmarks is None else {n: (p[0] * k, p[1] * k) for n, p in self.landmarks.items()}
        return FaceBox(self.x * k, self.y * k, self.w * k, self.h * k, self.score, lm, self.angle)


@runtime_checkable
class Detector(Protocol):
    """Anything with ``detect(rgb) -> list[FaceBox]`` (rgb: uint8 HxWx3 or HxWx1)."""

    def detect(self, image: np.ndarray) -> list[FaceBox]: ...


DETECTORS: Registry[type] = Registry("detector")

#: The detector used wherever none is named (prepare, predict, serve, collect, review, galleries).
DEFAULT_DETECTOR = "mtcnn"


def get_detector(name: str | None = None, **params) -> Detector:
    """Build a registered detector by name.

    Example:
        >>> get_detector("haar").detect(np.zeros((100, 100, 3), np.uint8))
        []
    """
    name = name or DEFAULT_DETECTOR
    factory = DETECTORS.get(name)
    try:
        return factory(**params)
    except TypeError as e:  # a setting this detector does not have
        raise ConfigError(f"the {name} detector does not take {sorted(params)}: {e}",
                          fix="drop the option, or choose the detector it belongs to (--detector haar)") from None


def to_grey(image: np.ndarray) -> np.ndarray:
    """uint8 HxW grey from HxW, HxWx1, HxWx3 (RGB) or HxWx4; anything else → DataError."""
    import cv2

    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise DataError(
            f"expected a uint8 image array HxW or HxWxC, got {getattr(image, 'dtype', type(image))} "
            f"{getattr(image, 'shape', '')}",
            fix="decode the photo with facelab.data.image.load_image first",
        )
    if image.ndim == 2:
        return image
    c = image.shape[2]
    if c == 1:
        return image[:, :, 0]
    if c == 3:
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    if c == 4:
        return cv2.cvtColor(image, cv2.COLOR_RGBA2GRAY)
    raise DataError(f"an image with {c} channels cannot be read as a photo",
                    fix="give an RGB, RGBA or grey image")


def _rotation(center: tuple[float, float], angle: float) -> np.ndarray:
    import cv2

    return cv2.getRotationMatrix2D(center, angle, 1.0)


@DETECTORS.register("haar")
@dataclass
class HaarDetector:
    """OpenCV Haar cascades: frontal face, eyes for the angle, rotated/profile retries.

    Args:
        max_side: the photo is downscaled so that its longest side is at most this before
            detecting (speed; faces far smaller than the photo are still found down to
            ``min_size`` pixels of the downscaled copy).
        scale_factor, min_neighbors: the cascade's search step and how many overlapping hits a
            face needs (tuned for recall on LFW photos; see bench/predict.py).
        min_size: the smallest face searched for, in pixels of the downscaled copy.
        rotations: angles (degrees) tried, in order, when the upright search finds nothing.
        fallback: a second frontal cascade tried after the rotations, for large faces only
            (``fallback_min_fraction`` of the photo's shorter side) with ``fallback_min_neighbors``:
            OpenCV's ``default`` cascade finds about half of what ``alt2`` misses on aligned
            CelebA (sunglasses, hats, turned heads) — 96.7% → 98% found. Its boxes are 3% larger
            than alt2's on the same faces (median over 377 CelebA and 277 LFW faces, offsets
            below 0.5%), so they are shrunk by that before alignment.
        profile: also try the profile cascade (both directions) when all else fails.
        eyes: estimate the in-plane angle from the eyes.
        snap_angle: eye angles smaller than this (degrees) are set to 0: on upright faces the
            eye estimate is noise, and re-aligning with it lowers crop fidelity (bench/align_fit.py).

    Example:
        >>> HaarDetector(max_side=480).detect(np.zeros((480, 640, 3), np.uint8))
        []
    """

    max_side: int = 320
    scale_factor: float = 1.1
    min_neighbors: int = 4
    min_size: int = 20
    rotations: tuple[float, ...] = (30.0, -30.0)
    fallback: str | None = "haarcascade_frontalface_default.xml"
    fallback_min_neighbors: int = 3
    fallback_min_fraction: float = 0.25
    fallback_box_scale: float = 1 / 1.03
    profile: bool = True
    eyes: bool = True
    snap_angle: float = 6.0
    cascade: str = "haarcascade_frontalface_alt2.xml"
    _cascades: dict = field(default_factory=dict, init=False, repr=False)

    # cv2 cascades are not thread-safe to share; each detector instance loads its own.
    def _load(self, name: str):
        c = self._cascades.get(name)
        if c is None:
            import cv2

            c = cv2.CascadeClassifier(cv2.data.haarcascades + name)
            if c.empty():
                raise DataError(f"OpenCV could not load its cascade {name}",
                                path=cv2.data.haarcascades + name,
                                fix="reinstall opencv-python-headless<5")
            self._cascades[name] = c
        return c

    def _run(self, grey: np.ndarray, name: str, min_size: int,
             min_neighbors: int | None = None) -> list[tuple[np.ndarray, float]]:
        rects, _, weights = self._load(name).detectMultiScale3(
            grey, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors if min_neighbors is None else min_neighbors,
            minSize=(min_size, min_size), outputRejectLevels=True)
        if len(rects) == 0:
            return []
        return [(np.asarray(r, float), haar_score(s)) for r, s in zip(rects, np.ravel(weights))]

    def _eyes(self, grey: np.ndarray, r: np.ndarray) -> dict[str, tuple[float, float]] | None:
        """Both eye centres inside face ``r`` (x, y, w, h), or None when no plausible pair.

        The eye cascade only finds near-upright eyes, so when the upright search fails the face
        is searched again turned by ±15° (a tilted head is the usual reason it failed).
        """
        tries = [("haarcascade_eye.xml", t) for t in (0.0, 15.0, -15.0)]
        tries.append(("haarcascade_eye_tree_eyeglasses.xml", 0.0))  # glasses hide eyes from the first
        for cascade, turn in tries:
            lm = self._eyes_at(grey, r, turn, cascade)
            if lm is not None:
                return lm
        return None

    def _eyes_at(self, grey: np.ndarray, r: np.ndarray, turn: float,
                 cascade: str) -> dict[str, tuple[float, float]] | None:
        import cv2

        x, y, w, h = (float(v) for v in r)
        side = 120  # the face resampled to 120 px: eyes of ~20 px, where the cascade works well
        k = side / w
        m = cv2.getRotationMatrix2D((x + w / 2, y + h / 2), turn, k)
        m[:, 2] += (side / 2 - (x + w / 2), side / 2 - (y + h / 2))
        y0, y1 = int(0.18 * side), int(0.58 * side)
        m[1, 2] -= y0
        roi = cv2.warpAffine(grey, m, (side, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        found = self._load(cascade).detectMultiScale(
            roi, scaleFactor=1.1, minNeighbors=3, minSize=(14, 14), maxSize=(54, 54))
        if len(found) < 2:
            return None
        cx = side / 2
        pts = [(ex + ew / 2, ey + eh / 2, ew) for ex, ey, ew, eh in found]
        left = [p for p in pts if p[0] < cx]
        right = [p for p in pts if p[0] >= cx]
        # the pair closest to symmetric about the face's vertical centre line
        best, best_cost = None, math.inf
        for lp in left:
            for rp in right:
                dist = math.hypot(rp[0] - lp[0], rp[1] - lp[1])
                if not (0.25 * side <= dist <= 0.7 * side) or abs(rp[1] - lp[1]) > 0.5 * dist:
                    continue  # too close, too far or too steep (over ~27°): a false eye
                cost = abs((lp[0] + rp[0]) / 2 - cx) / side + abs(lp[2] - rp[2]) / side
                if cost < best_cost:
                    best, best_cost = (lp, rp), cost
        if best is None:
            return None
        inv = cv2.invertAffineTransform(m)
        le, re = (tuple(float(v) for v in inv @ np.array([p[0], p[1], 1.0])) for p in best)
        return {"left_eye": le, "right_eye": re}  # type: ignore[dict-item]

    def _upright(self, grey: np.ndarray, c: tuple[float, float, float], angle: float,
                 name: str) -> tuple[float, float, float]:
        """Centre and side of a tilted face's box, measured on a copy rotated upright.

        Falls back to shrinking the tilted box by the factor a rotation grows it by.
        """
        import cv2

        cx, cy, s = c
        half = int(round(s))  # a 2s x 2s window around the face
        m = cv2.getRotationMatrix2D((cx, cy), angle, 1.0)  # counter-clockwise by `angle`: upright
        m[:, 2] += (half - cx, half - cy)
        roi = cv2.warpAffine(grey, m, (2 * half, 2 * half), borderMode=cv2.BORDER_REPLICATE)
        # the same search settings as the first pass, so tilted and upright faces get boxes of
        # the same scale (the framings are fitted on first-pass boxes)
        rects = self._load(name).detectMultiScale(
            roi, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
            minSize=(int(0.5 * s), int(0.5 * s)), maxSize=(int(1.1 * s) + 1, int(1.1 * s) + 1))
        a = math.radians(angle)
        if len(rects) == 0:
            return cx, cy, s / (abs(math.cos(a)) + abs(math.sin(a)))
        best = min(rects, key=lambda q: math.hypot(q[0] + q[2] / 2 - half, q[1] + q[3] / 2 - half))
        inv = cv2.invertAffineTransform(m)
        nx, ny = inv @ np.array([best[0] + best[2] / 2, best[1] + best[3] / 2, 1.0])
        return float(nx), float(ny), float(best[2])

    def _boxes(self, grey: np.ndarray, rot: float, name: str, flip: bool, min_size: int,
               min_neighbors: int | None = None) -> list[FaceBox]:
        """Detect on ``grey`` rotated by ``rot`` degrees (and mirrored if ``flip``); map back."""
        import cv2

        h, w = grey.shape
        m = None
        img = grey
        if rot:
            m = _rotation((w / 2.0, h / 2.0), rot)
            img = cv2.warpAffine(grey, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
        if flip:
            img = img[:, ::-1]
        out = []
        for r, score in self._run(np.ascontiguousarray(img), name, min_size, min_neighbors):
            if flip:
                r = np.array([w - r[0] - r[2], r[1], r[2], r[3]])
            lm = self._eyes(img if not flip else np.ascontiguousarray(img[:, ::-1]), r) if self.eyes else None
            angle = 0.0
            if lm is not None:
                (lx, ly), (rx, ry) = lm["left_eye"], lm["right_eye"]
                angle = math.degrees(math.atan2(ry - ly, rx - lx))
                # on an upright search a small eye angle is noise; on a turned copy it is the
                # (real) rest of the tilt the turn did not take away
                if abs(angle) < self.snap_angle and not rot:
                    angle = 0.0
            cx, cy = r[0] + r[2] / 2, r[1] + r[3] / 2
            if abs(angle) >= self.snap_angle:
                # A tilted face gets a box that is too large (it holds the rotated face's extent)
                # and the framings are fitted on upright boxes: detect again on an upright copy.
                cx, cy, side = self._upright(np.ascontiguousarray(img[:, ::-1]) if flip else img,
                                             (cx, cy, float(r[2])), angle, name)
                r = np.array([cx - side / 2, cy - side / 2, side, side])
            if m is not None:  # back to the upright photo: invert the rotation
                inv = cv2.invertAffineTransform(m)
                cx, cy = inv @ np.array([cx, cy, 1.0])
                if lm is not None:
                    lm = {k: tuple(float(v) for v in inv @ np.array([p[0], p[1], 1.0])) for k, p in lm.items()}
                # cv2 turned the photo counter-clockwise by `rot`, which takes `rot` off a
                # clockwise-positive angle: add it back
                angle += rot
            out.append(FaceBox(float(cx - r[2] / 2), float(cy - r[3] / 2), float(r[2]), float(r[3]),
                               score, lm, float(angle)))
        return out

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        """All faces in ``image`` (uint8 HxWx3 RGB, HxWx1 or HxW), largest first."""
        import cv2

        grey = to_grey(image)
        h, w = grey.shape
        k = min(1.0, self.max_side / max(h, w))
        small = cv2.resize(grey, (max(1, round(w * k)), max(1, round(h * k))),
                           interpolation=cv2.INTER_AREA) if k < 1.0 else grey
        small = cv2.equalizeHist(small)
        min_size = self.min_size
        if min(small.shape) < min_size:
            return []
        faces = self._boxes(small, 0.0, self.cascade, False, min_size)
        for rot in self.rotations if not faces else ():
            faces = self._boxes(small, rot, self.cascade, False, min_size)
            if faces:
                break
        if not faces and self.fallback:
            big = max(min_size, int(self.fallback_min_fraction * min(small.shape)))
            faces = [_rescaled(f, self.fallback_box_scale)
                     for f in self._boxes(small, 0.0, self.fallback, False, big, self.fallback_min_neighbors)]
        if not faces and self.profile:
            for flip in (False, True):
                faces = self._boxes(small, 0.0, "haarcascade_profileface.xml", flip, min_size)
                if faces:
                    break
        faces = suppress(faces)
        faces.sort(key=lambda f: -f.w * f.h)
        return [f.scaled(1.0 / k) if k < 1.0 else f for f in faces]


#: Raw cascade weights are divided by this before the logistic (see :func:`haar_score`).
HAAR_SCORE_SCALE = 10.0


def haar_score(weight: float) -> float:
    """A Haar cascade's raw level weight squashed into 0–1: ``1 / (1 + exp(-weight / 10))``.

    OpenCV reports the sum of the last stage's weak classifiers (unbounded; about 55 for a
    clear frontal face). The logistic keeps the order of the weights (so the strongest of
    overlapping boxes still wins), gives 0.5 at a weight of 0 and about 1.0 for a clear face. It is
    a confidence for ranking and thresholding boxes, not a calibrated probability.

    Example:
        >>> round(haar_score(0.0), 2), round(haar_score(10.0), 2), round(haar_score(56.8), 3)
        (0.5, 0.73, 0.997)
    """
    return float(1.0 / (1.0 + math.exp(-float(weight) / HAAR_SCORE_SCALE)))


def _rescaled(f: FaceBox, k: float) -> FaceBox:
    """``f`` with its side multiplied by ``k`` about the same centre."""
    cx, cy = f.center
    return FaceBox(cx - f.w * k / 2, cy - f.h * k / 2, f.w * k, f.h * k, f.score, f.landmarks, f.angle)


def suppress(faces: list[FaceBox], iou: float = 0.3) -> list[FaceBox]:
    """Drop boxes overlapping a higher-scoring one (cascades can report a face twice)."""
    keep: list[FaceBox] = []
    for f in sorted(faces, key=lambda f: -f.score):
        if all(box_iou(f, g) < iou for g in keep):
            keep.append(f)
    return keep


def box_iou(a: FaceBox, b: FaceBox) -> float:
    """Intersection over union of two boxes.

    Example:
        >>> box_iou(FaceBox(0, 0, 10, 10, 1), FaceBox(5, 0, 10, 10, 1))
        0.3333333333333333
    """
    ix = max(0.0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))
    iy = max(0.0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
    inter = ix * iy
    union = a.w * a.h + b.w * b.h - inter
    return inter / union if union > 0 else 0.0

