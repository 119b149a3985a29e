"""Face detection: typed boxes, rotation, many faces, odd inputs."""
from __future__ import annotations

import numpy as np
import pytest

from facelab.errors import ConfigError, DataError
from facelab.faces.detect import DETECTORS, Detector, FaceBox, HaarDetector, box_iou, get_detector
from predict_support import face, paste


@pytest.fixture(scope="module")
def det():
    return get_detector("haar")


def test_registry_and_protocol(det):
    assert "haar" in DETECTORS.list()
    assert isinstance(det, Detector)
    with pytest.raises(ConfigError, match="haar"):
        get_detector("haarr")


def test_finds_a_pasted_face_where_it_is(det):
    photo = paste([face(1)], scale=1.5, seed=1)
    boxes = det.detect(photo)
    assert len(boxes) == 1
    b = boxes[0]
    assert isinstance(b, FaceBox) and b.score > 0
    # the face was pasted centred: the box centre is near the photo centre, its size near the face's
    assert abs(b.center[0] - 400) < 25 and abs(b.center[1] - 300) < 40
    assert 100 < b.w < 220
    assert b.landmarks is not None and b.landmarks["left_eye"][0] < b.landmarks["right_eye"][0]
    assert b.angle == 0.0
    d = b.to_dict()
    assert set(d) == {"x", "y", "w", "h", "score", "landmarks", "angle"}


@pytest.mark.parametrize("angle", [20.0, -20.0, 35.0])
def test_in_plane_rotation_is_measured(det, angle):
    photo = paste([face(3)], scale=1.5, angle=angle, seed=2)
    boxes = det.detect(photo)
    assert boxes, f"no face at {angle}°"
    # cv2 rotates counter-clockwise for a positive angle; FaceBox.angle is clockwise-positive
    assert abs(boxes[0].angle + angle) < 8
    # the box is that of the upright face, not the larger extent of the tilted one
    assert boxes[0].w < 1.15 * det.detect(paste([face(3)], scale=1.5, seed=2))[0].w


def test_no_face_and_tiny_images(det):
    rng = np.random.default_rng(0)
    assert det.detect(rng.integers(0, 255, (300, 400, 3), dtype=np.uint8)) == []
    assert det.detect(np.zeros((5, 5, 3), np.uint8)) == []


def test_many_faces(det):
    faces = [face(s) for s in (10, 11, 12)]
    photo = paste(faces, size=(1200, 500), scale=1.0, positions=[(60, 100), (500, 120), (900, 90)], seed=3)
    boxes = HaarDetector(max_side=640).detect(photo)  # faces ~9% of the width: a larger detection copy
    assert len(boxes) == 3
    xs = sorted(b.center[0] for b in boxes)
    assert xs[0] < 300 < xs[1] < 800 < xs[2]
    assert all(box_iou(a, b) == 0 for i, a in enumerate(boxes) for b in boxes[i + 1:])


def test_grey_rgba_and_large_inputs(det):
    photo = paste([face(4)], scale=1.5, seed=4)
    grey = (photo @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)
    assert len(det.detect(grey)) == 1
    assert len(det.detect(grey[:, :, None])) == 1
    rgba = np.concatenate([photo, np.full(photo.shape[:2] + (1,), 255, np.uint8)], axis=2)
    assert len(det.detect(rgba)) == 1
    # a big photo is downscaled before detecting; boxes come back in full-resolution pixels
    import cv2

    big = cv2.resize(photo, None, fx=4, fy=4)
    b_big, b = det.detect(big)[0], det.detect(photo)[0]
    assert abs(b_big.center[0] / 4 - b.center[0]) < 12 and abs(b_big.w / 4 - b.w) < 0.25 * b.w


def test_bad_arrays_raise_data_errors(det):
    with pytest.raises(DataError):
        det.detect(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(DataError):
        det.detect(np.zeros((10, 10, 5), np.uint8))
    with pytest.raises(DataError):
        det.detect("photo.jpg")  # type: ignore[arg-type]


def test_box_helpers():
    a = FaceBox(0, 0, 10, 10, 1.0)
    assert box_iou(a, a) == 1.0 and box_iou(a, FaceBox(20, 20, 5, 5, 1.0)) == 0.0
    s = FaceBox(2, 4, 10, 10, 1.0, {"left_eye": (4.0, 6.0), "right_eye": (8.0, 6.0)}).scaled(2)
    assert (s.x, s.w, s.landmarks["right_eye"]) == (4, 20, (16.0, 12.0))


def test_large_face_fallback_finds_what_the_first_cascade_misses():
    photo = paste([face(1)], scale=1.5, seed=1)
    ref = HaarDetector().detect(photo)[0]
    # a first cascade that cannot fire (10,000 neighbours) leaves only the fallback
    strict = dict(min_neighbors=10_000, rotations=(), profile=False)
    assert HaarDetector(fallback=None, **strict).detect(photo) == []
    boxes = HaarDetector(**strict).detect(photo)
    assert len(boxes) == 1
    b = boxes[0]
    assert abs(b.center[0] - ref.center[0]) < 0.1 * ref.w and abs(b.center[1] - ref.center[1]) < 0.1 * ref.w
    assert 0.85 < b.w / ref.w < 1.15  # shrunk to alt2's scale, so the framing fits
    # large faces only: the same face at a quarter of the size is left to the other passes
    small = paste([face(1)], size=(1600, 1200), scale=0.6, seed=1)
    assert HaarDetector(max_side=1600, **strict).detect(small) == []
    # and noise still has no face
    rng = np.random.default_rng(0)
    assert HaarDetector().detect(rng.integers(0, 255, (300, 400, 3), dtype=np.uint8)) == []
