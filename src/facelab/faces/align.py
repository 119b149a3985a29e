"""Alignment: map a detected face to the framing of the training data, as the cache cropped it.

A run's ``input.json`` records the cache geometry: ``source_size`` (the dataset's framing, e.g.
CelebA's aligned 178×218), ``crop_box`` (fractions of that frame) and ``size``/``grey``. A
:class:`Framing` says where that source frame lies relative to a detected face box, in units of
the box side and in the face's own (rotated) axes. :func:`align` places the frame on the photo
(rotated by the eye angle), applies ``crop_box`` and resamples to ``size`` in one
``cv2.warpAffine`` (after an area-averaged shrink when the face is much larger than the output,
as the cache shrinks with area averaging — a bare warp would alias).

The framings are FITTED by ``bench/align_fit.py``: the default Haar detector run on the datasets'
own images (aligned CelebA, FER2013 crops, LFW photos), the frame regressed on the detected box.

Example:
    >>> import numpy as np
    >>> from facelab.data.synth.faces import render_face
    >>> from facelab.faces import get_detector
    >>> face, _ = render_face({"Smiling": 1}, rng=np.random.default_rng(1))
    >>> photo = np.full((480, 640, 3), 128, np.uint8); photo[100:318, 200:378] = face
    >>> box = get_detector("haar").detect(photo)[0]
    >>> spec = {"size": 64, "grey": False, "crop": "face", "source_size": [178, 218],
    ...         "crop_box": [0.107, 0.220, 0.893, 0.862], "layout": "celeba-official"}
    >>> align(photo, box, spec).shape
    (64, 64, 3)
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from .detect import FaceBox
from .template import invert, landmark_array, template_framing, to_frame


@dataclass(frozen=True)
class Framing:
    """Where a dataset's source frame lies relative to a detected face box.

    With ``s`` the box side and ``(cx, cy)`` its centre, in the face's axes (x along the eye line,
    y down the face): the frame's centre is ``(cx + dx*s, cy + dy*s)`` and its width ``width*s``;
    its height follows the source aspect ratio.
    """

    dx: float
    dy: float
    width: float
    source_size: tuple[int, int]


# Fitted by `bench/align_fit.py --n 1200` with the default HaarDetector: medians of the per-image
# solution over a fit half, checked on the other half (figures: check half; IQR: spread of the fit).
#: CelebA aligned 178x218: face found in 96.8% of 1,200 real images; IQR dx .019, dy .025, width .18;
#: re-aligned vs true frame: median IoU 0.88, corner offset 8.5 px; 64 px crop correlation 0.91.
CELEBA = Framing(dx=0.0, dy=-0.139, width=1.762, source_size=(178, 218))
#: FER2013 48x48 grey (upscaled 4x and padded to detect): found in 83.8%; IQR dx .032, dy .034,
#: width .16; median IoU 0.80, corner offset 4.8 px (of 48); crop correlation 0.74.
FER2013 = Framing(dx=0.0, dy=0.009, width=1.061, source_size=(48, 48))
#: LFW 250x250 photos (people/), the face nearest the centre: found in 99.3%; IQR dx .027, dy .018,
#: width .21; median IoU 0.88, corner offset 11.5 px; crop correlation 0.89. The default for
#: folder datasets of photos with a roughly centred face.
LFW = Framing(dx=-0.007, dy=0.004, width=2.294, source_size=(250, 250))


def framing_for(input_spec: dict) -> Framing:
    """The framing that matches a run's ``input.json`` (by layout, else by source size).

    Example:
        >>> framing_for({"layout": "celeba-kaggle", "source_size": [178, 218]}).width > 1
        True
    """
    layout = str(input_spec.get("layout") or "").lower()
    size = tuple(int(v) for v in input_spec.get("source_size") or ()) or None
    if "fer" in layout:
        base = FER2013
    elif "celeba" in layout or size == CELEBA.source_size:
        base = CELEBA
    elif size is not None and size[0] == size[1] and size[0] <= 64:
        base = FER2013  # small square grey crops are FER-like: tight around the face
    else:
        base = LFW
    if size is not None and size != base.source_size:
        # same face framing, the dataset's own aspect ratio
        base = Framing(base.dx, base.dy, base.width, size)
    return base


def crop_geometry(input_spec: dict) -> tuple[int, bool, tuple[float, float, float, float]]:
    """``(size, grey, crop_box)`` of a run's ``input.json``, checked (a bad spec is named)."""
    try:
        size = int(input_spec["size"])
    except (KeyError, TypeError, ValueError):
        raise ConfigError("the run's input geometry has no 'size'",
                          fix="pass the run's input.json (Run.input) as input_spec") from None
    grey = bool(input_spec.get("grey")) or int(input_spec.get("channels", 3)) == 1
    box = tuple(float(v) for v in (input_spec.get("crop_box") or (0.0, 0.0, 1.0, 1.0)))
    return size, grey, box  # type: ignore[return-value]


def frame_corners(box: FaceBox, framing: Framing) -> np.ndarray:
    """The source frame's corners (top-left, top-right, bottom-right, bottom-left) in the photo.

    Example:
        >>> frame_corners(FaceBox(0, 0, 100, 100, 1), Framing(0, 0, 2.0, (100, 100)))[0].tolist()
        [-50.0, -50.0]
    """
    s = box.size
    cx, cy = box.center
    a = math.radians(box.angle)
    u = np.array([math.cos(a), math.sin(a)])  # along the eye line
    v = np.array([-math.sin(a), math.cos(a)])  # down the face
    wf = framing.width * s
    hf = wf * framing.source_size[1] / framing.source_size[0]
    c = np.array([cx, cy]) + framing.dx * s * u + framing.dy * s * v
    return np.array([c + sx * wf / 2 * u + sy * hf / 2 * v for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1))])


def _warp(image: np.ndarray, origin: np.ndarray, ex: np.ndarray, ey: np.ndarray,
          size: int, grey: bool) -> np.ndarray:
    """Resample: output pixel centre (i+.5, j+.5) ↦ photo point origin + (i+.5)·ex + (j+.5)·ey."""
    import cv2

    if image.ndim == 2:
        image = image[:, :, None]
    if grey and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[:, :, None]
    elif grey and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_RGBA2GRAY)[:, :, None]
    elif image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_RGBA2RGB)
    elif not grey and image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    step = float(np.hypot(*ex))  # photo pixels per output pixel
    h, w = image.shape[:2]
    if step > 2.0:
        # Shrink the region of interest by area averaging first (what the cache does when it
        # shrinks by 2x or more), then warp at about one photo pixel per output pixel.
        corners = np.array([origin + a * ex + b * ey for a in (0, size) for b in (0, size)])
        x0, y0 = np.floor(corners.min(0)).astype(int) - 2
        x1, y1 = np.ceil(corners.max(0)).astype(int) + 2
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            k = 1.0 / step
            roi = image[y0:y1, x0:x1]
            nw, nh = max(1, round((x1 - x0) * k)), max(1, round((y1 - y0) * k))
            image = cv2.resize(roi, (nw, nh), interpolation=cv2.INTER_AREA)
            kx, ky = nw / (x1 - x0), nh / (y1 - y0)
            origin = np.array([(origin[0] - x0) * kx, (origin[1] - y0) * ky])
            ex = ex * np.array([kx, ky])
            ey = ey * np.array([kx, ky])
            if image.ndim == 2:
                image = image[:, :, None]
    # dst→src matrix with cv2's pixel-centre-at-integer convention (hence the -0.5 shifts)
    m = np.array([[ex[0], ey[0], origin[0] + 0.5 * ex[0] + 0.5 * ey[0] - 0.5],
                  [ex[1], ey[1], origin[1] + 0.5 * ex[1] + 0.5 * ey[1] - 0.5]])
    out = cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                         borderMode=cv2.BORDER_REPLICATE)
    if out.ndim == 2:
        out = out[:, :, None]
    return np.ascontiguousarray(out)


def align_template(image: np.ndarray, box: FaceBox, input_spec: dict, record: dict | None = None) -> np.ndarray:
    """Crop a face by the similarity that takes its five landmarks onto the template placed in the
    run's frame (``input_spec["framing"]``, :mod:`facelab.faces.template`), then cut the frame by
    ``crop_box`` and resize, as the cache did.

    Example:
        >>> from facelab.faces.template import POINTS, framing_record, frame_points
        >>> spec = {"size": 32, "crop_box": [0, 0, 1, 1], "framing": framing_record("celeba", size=32,
        ...         crop_box=[0, 0, 1, 1])}
        >>> lm = {k: tuple(p - 0.5) for k, p in zip(POINTS, frame_points(spec["framing"]))}
        >>> align_template(np.zeros((218, 178, 3), np.uint8), FaceBox(50, 90, 80, 80, 1, lm), spec).shape
        (32, 32, 3)
    """
    rec = record or template_framing(input_spec)
    if rec is None:
        raise ConfigError("the run's input has no template framing", fix="pass a run framed by a face template")
    size, grey, (x0, y0, x1, y1) = crop_geometry(input_spec)
    back = invert(to_frame(landmark_array(box.landmarks), rec))  # frame pixels → photo pixels
    a, b = back[:, :2], back[:, 2]
    fw, fh = (float(v) for v in rec["source_size"])
    origin = a @ np.array([x0 * fw, y0 * fh]) + b
    ex = a @ np.array([(x1 - x0) * fw / size, 0.0])
    ey = a @ np.array([0.0, (y1 - y0) * fh / size])
    return _warp(image, origin, ex, ey, size, grey)


def align(image: np.ndarray, box: FaceBox, input_spec: dict, *, framing: Framing | None = None) -> np.ndarray:
    """Crop a detected face exactly as the run's cache cropped its training images.

    A spec with a template ``framing`` (:mod:`facelab.faces.template`) is aligned by the face's
    five landmarks (:func:`align_template`); any other by the fitted box :class:`Framing`.

    Args:
        image: the photo, uint8 HxWx3 RGB (or HxWx1 / HxW grey), EXIF-upright.
        box: a detected face.
        input_spec: the run's ``input.json`` (``size``, ``grey``/``channels``, ``crop_box``,
            ``source_size``, ``layout``).
        framing: override the fitted framing (default: :func:`framing_for` the spec).

    Returns:
        uint8 ``(size, size, 3)`` RGB, or ``(size, size, 1)`` for grey runs.

    Example:
        >>> spec = {"size": 64, "grey": False, "crop_box": [0, 0.09, 1, 0.91],
        ...         "source_size": [178, 218], "layout": "celeba-kaggle"}
        >>> align(np.zeros((480, 640, 3), np.uint8), FaceBox(300, 200, 100, 100, 1), spec).shape
        (64, 64, 3)
    """
    if framing is None and template_framing(input_spec) is not None:
        return align_template(image, box, input_spec)
    size, grey, (x0, y0, x1, y1) = crop_geometry(input_spec)
    fr = framing or framing_for(input_spec)
    tl, tr, _, bl = frame_corners(box, fr)
    ux, uy = tr - tl, bl - tl  # the frame's full width / height vectors
    origin = tl + x0 * ux + y0 * uy
    return _warp(image, origin, (x1 - x0) * ux / size, (y1 - y0) * uy / size, size, grey)


def crop_aligned(image: np.ndarray, input_spec: dict) -> np.ndarray:
    """An image already framed like the dataset (``--aligned``): crop_box and resize, as the cache.

    Example:
        >>> spec = {"size": 32, "channels": 1, "crop_box": [0, 0, 1, 1]}
        >>> crop_aligned(np.zeros((48, 48, 1), np.uint8), spec).shape
        (32, 32, 1)
    """
    import cv2

    from ..data.image import resize_box

    size, grey, box = crop_geometry(input_spec)
    if image.ndim == 2:
        image = image[:, :, None]
    if grey and image.shape[2] != 1:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY if image.shape[2] == 3 else cv2.COLOR_RGBA2GRAY)[:, :, None]
    elif not grey and image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    elif not grey and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_RGBA2RGB)
    return np.ascontiguousarray(resize_box(image, box, size))
