"""One canonical five-point face template, the datasets' frames expressed with it, and the
similarity transform that takes a detected face's landmarks onto it.

CelebA's ``img_align_celeba`` images were made by a landmark similarity transform, and FER2013's
crops are roughly aligned faces: each dataset's frame is therefore *the template placed in that
frame* (a scale and an offset). A photo warped by ``similarity(landmarks → template in the
frame)`` and then cut by the cache's ``crop_box`` and resized reproduces the training crops of
a run prepared from that dataset, whatever detector framed its faces before.

:data:`TEMPLATE` is the median of MTCNN's landmarks (:class:`~facelab.faces.mtcnn.MtcnnDetector`)
on real aligned CelebA images, in the 178×218 frame; the FER2013 frame is fitted the same way on
upscaled FER crops. Both are fitted by ``bench/template_fit.py`` (fit half / check half).

The framing a cache and a run record (``meta.json`` / ``input.json`` key ``framing``) is the
plain dict of :func:`~facelab.data.framing.framing_record` (the template and frames are plain data in
:mod:`facelab.data.framing`, so that the data layer records them): the detector, the template's name, the frame and where
the template lies in it, and the crop geometry.

Example:
    >>> rec = framing_record("celeba", size=64, crop_box=[0, 0.09, 1, 0.91])
    >>> rec["detector"], rec["template"], rec["source_size"]
    ('mtcnn', 'mtcnn5-celeba-v1', [178, 218])
    >>> frame_points(rec).shape
    (5, 2)
"""
from __future__ import annotations

import numpy as np

from ..data.framing import (FRAMES, TEMPLATE, TEMPLATE_DETECTOR, TEMPLATE_NAME, TEMPLATES, Frame, frame_for,
                            framing_record)
from ..errors import ConfigError, DataError

#: the template's landmark order (MTCNN's: image left/right on an upright face)
POINTS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


def template_framing(input_spec: dict) -> dict | None:
    """The spec's ``framing`` when it is a template framing (the record of :func:`framing_record`),
    else None (runs framed by a detector's box keep :func:`facelab.faces.align.framing_for`)."""
    rec = input_spec.get("framing")
    if isinstance(rec, dict) and rec.get("template"):
        return rec
    return None


def frame_points(record: dict) -> np.ndarray:
    """The template's five points in the recorded frame's pixels."""
    name = record.get("template")
    if name not in TEMPLATES:
        raise ConfigError(f"unknown face template {name!r} in the framing record",
                          fix=f"this facelab knows {sorted(TEMPLATES)}: upgrade facelab, or prepare the data again")
    return float(record.get("scale", 1.0)) * TEMPLATES[name] + np.asarray(record.get("offset", (0.0, 0.0)), float)


def landmark_array(landmarks: dict | None) -> np.ndarray:
    """The five landmarks as a (5, 2) array in template order, in pixel-edge coordinates (pixel
    ``i`` spans ``[i, i+1]``, as the template and the warp use; detectors report pixel centres
    at integers, hence ``+ 0.5``). DataError when any is missing.

    Example:
        >>> landmark_array({k: (0.0, 0.0) for k in POINTS})[0].tolist()
        [0.5, 0.5]
    """
    if not landmarks or any(k not in landmarks for k in POINTS):
        raise DataError("this face has no five landmarks to align it with the face template",
                        fix="detect faces with the mtcnn detector (--detector mtcnn)")
    return np.array([landmarks[k] for k in POINTS], float) + 0.5


def similarity(src: np.ndarray, dst: np.ndarray, rotate: bool = True) -> np.ndarray:
    """The least-squares similarity (rotation, uniform scale, shift; no reflection) taking the
    points ``src`` onto ``dst`` (Umeyama 1991), as a 2x3 matrix; ``rotate=False``: scale and
    shift only.

    Example:
        >>> a = np.array([[0., 0.], [1., 0.], [0., 1.]])
        >>> (np.round(similarity(a, 2 * a + 3), 6) + 0.0).tolist()
        [[2.0, 0.0, 3.0], [0.0, 2.0, 3.0]]
    """
    src, dst = np.asarray(src, float), np.asarray(dst, float)
    ms, md = src.mean(0), dst.mean(0)
    s, d = src - ms, dst - md
    if not rotate:  # scale and shift only
        var = (s ** 2).sum()
        k = float((s * d).sum() / var) if var > 0 else 1.0
        return np.array([[k, 0.0, md[0] - k * ms[0]], [0.0, k, md[1] - k * ms[1]]])
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    e = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        e[1, 1] = -1
    r = u @ e @ vt
    var = (s ** 2).sum() / len(src)
    k = float(np.trace(np.diag(sig) @ e) / var) if var > 0 else 1.0
    m = np.zeros((2, 3))
    m[:, :2] = k * r
    m[:, 2] = md - k * r @ ms
    return m


def to_frame(landmarks: np.ndarray, record: dict) -> np.ndarray:
    """The 2x3 similarity taking a face's landmarks (:func:`landmark_array`) into the recorded
    frame: onto the template there, without the turn when it is under the record's ``snap_angle``.

    Example:
        >>> rec = framing_record("celeba", size=64, crop_box=[0, 0, 1, 1])
        >>> pts = frame_points(rec)
        >>> bool(np.allclose(to_frame(pts, rec), [[1, 0, 0], [0, 1, 0]]))
        True
    """
    dst = frame_points(record)
    m = similarity(landmarks, dst)
    snap = float(record.get("snap_angle", 0.0))
    if snap > 0 and abs(np.degrees(np.arctan2(m[1, 0], m[0, 0]))) < snap:
        m = similarity(landmarks, dst, rotate=False)
    return m


def invert(m: np.ndarray) -> np.ndarray:
    """The inverse of a 2x3 affine matrix."""
    a = np.linalg.inv(m[:, :2])
    return np.hstack([a, (-a @ m[:, 2])[:, None]])


__all__ = ["FRAMES", "POINTS", "TEMPLATE", "TEMPLATE_DETECTOR", "TEMPLATE_NAME", "Frame", "frame_for",
           "frame_points", "framing_record", "invert", "landmark_array", "similarity", "template_framing", "to_frame"]
