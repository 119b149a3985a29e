"""The five-point template alignment: a face warped by a known similarity comes back to its frame."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from predict_support import crop_corr, face

from facelab.data.image import resize_box
from facelab.errors import ConfigError, DataError
from facelab.faces.align import align, align_template
from facelab.faces.detect import FaceBox
from facelab.faces.mtcnn import MtcnnDetector
from facelab.faces.template import (POINTS, frame_for, frame_points, framing_record, landmark_array,
                                    similarity, template_framing, to_frame)

CROP = [0.1, 0.2, 0.9, 0.86]


def _spec(frame="celeba", size=64, grey=False):
    return {"size": size, "grey": grey, "channels": 1 if grey else 3, "crop_box": CROP,
            "source_size": [178, 218], "layout": "celeba-kaggle",
            "framing": framing_record(frame, size=size, crop_box=CROP)}


def _warped(img: np.ndarray, angle: float, scale: float, shift=(500.0, 450.0), size=(1400, 1200)):
    """``img`` placed in a larger photo by a known similarity (returns the photo and the 2x3 matrix)."""
    a = math.radians(angle)
    m = np.array([[scale * math.cos(a), -scale * math.sin(a), shift[0]],
                  [scale * math.sin(a), scale * math.cos(a), shift[1]]])
    photo = cv2.warpAffine(img, m, size, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_CONSTANT,
                           borderValue=(90, 110, 120))
    return photo, m


def _moved(points: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Pixel-edge points through a matrix used by cv2.warpAffine (pixel centres at integers)."""
    c = points - 0.5
    return c @ m[:, :2].T + m[:, 2]  # pixel-centre coordinates, as a detector reports them


@pytest.mark.parametrize("angle,scale", [(0.0, 1.0), (25.0, 1.8), (-40.0, 2.5), (12.0, 0.8)])
def test_known_similarity_round_trip(angle, scale):
    src = face(3)
    spec = _spec()
    pts = frame_points(spec["framing"])
    photo, m = _warped(src, angle, scale)
    lm = dict(zip(POINTS, map(tuple, _moved(pts, m))))
    # the landmarks map back onto the template exactly
    back = to_frame(landmark_array(lm), spec["framing"])
    assert np.allclose(landmark_array(lm) @ back[:, :2].T + back[:, 2], pts, atol=1e-6)
    # and the aligned crop is the cache's crop of the original frame
    box = FaceBox(0, 0, 10, 10, 1.0, lm)
    crop = align(photo, box, spec)
    ref = resize_box(src, tuple(CROP), 64)
    assert crop.shape == (64, 64, 3)
    assert crop_corr(crop, ref) > 0.97


def test_detected_landmarks_reproduce_the_frame():
    src = face(4)
    photo, m = _warped(src, 30.0, 2.0)
    f = MtcnnDetector().detect(photo)[0]
    spec = _spec()
    direct = MtcnnDetector().detect(cv2.copyMakeBorder(src, 60, 60, 60, 60, cv2.BORDER_REFLECT))[0]
    direct = FaceBox(direct.x - 60, direct.y - 60, direct.w, direct.h, direct.score,
                     {k: (p[0] - 60, p[1] - 60) for k, p in direct.landmarks.items()})
    # the same face, found in the warped photo and in its own frame, aligns to the same crop
    assert crop_corr(align(photo, f, spec), align(src, direct, spec)) > 0.93
    assert abs(f.angle - 30.0) < 6


def test_grey_and_fer_frame():
    spec = _spec("fer2013", size=48, grey=True)
    assert frame_for({"layout": "fer2013-folders"}).name == "fer2013"
    pts = frame_points(spec["framing"])
    assert (pts > 0).all() and (pts < 48).all()
    lm = dict(zip(POINTS, map(tuple, pts * 4 + 50)))
    out = align_template(np.full((400, 400, 3), 90, np.uint8), FaceBox(0, 0, 1, 1, 1, lm), spec)
    assert out.shape == (48, 48, 1)


def test_snap_angle_keeps_small_tilts():
    rec = dict(framing_record("celeba", size=64, crop_box=CROP), snap_angle=10.0)
    pts = frame_points(rec)
    c = pts.mean(0)
    turn = np.radians(5.0)
    r = np.array([[math.cos(turn), -math.sin(turn)], [math.sin(turn), math.cos(turn)]])
    tilted = (pts - c) @ r.T + c
    m = to_frame(tilted, rec)
    assert abs(m[0, 1]) < 1e-9 and abs(m[1, 0]) < 1e-9  # not turned back
    rec["snap_angle"] = 0.0
    assert abs(to_frame(tilted, rec)[1, 0]) > 0.05


def test_records_and_errors():
    spec = _spec()
    assert template_framing(spec) is spec["framing"]
    assert template_framing({"framing": {"dx": 0.0}}) is None  # a box framing: not a template
    with pytest.raises(DataError, match="five landmarks"):
        align(np.zeros((100, 100, 3), np.uint8), FaceBox(10, 10, 50, 50, 1.0), spec)
    bad = dict(spec, framing=dict(spec["framing"], template="nope"))
    with pytest.raises(ConfigError, match="nope"):
        align(np.zeros((100, 100, 3), np.uint8), FaceBox(10, 10, 50, 50, 1.0, {k: (1.0, 2.0) for k in POINTS}), bad)
    a = np.random.default_rng(0).normal(size=(5, 2))
    assert np.allclose(similarity(a, a), [[1, 0, 0], [0, 1, 0]], atol=1e-9)
