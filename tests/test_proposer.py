"""facelab's face proposal network (MTCNN's first stages in one network) on generated photos:
it proposes the faces, MTCNN with it gives the faces and landmarks MTCNN's own first stages give,
its pyramid covers the smallest face to the whole frame, and a missing or broken file is named."""
from __future__ import annotations

import math

import numpy as np
import pytest
from predict_support import face, paste

from facelab.errors import ConfigError, DataError
from facelab.faces.detect import box_iou
from facelab.faces.mtcnn import LANDMARKS, MtcnnDetector
from facelab.faces.proposer import PROPOSER_FILE, Proposer


@pytest.fixture(scope="module")
def both():
    return MtcnnDetector(first_stage="proposer"), MtcnnDetector(first_stage="pnet")


def test_the_shipped_network_is_small_and_loads():
    assert PROPOSER_FILE.is_file() and PROPOSER_FILE.stat().st_size < 1_000_000
    assert PROPOSER_FILE.with_suffix(".md").is_file()  # its model card
    assert MtcnnDetector().first_stage == "proposer"


def test_proposes_each_face_near_its_centre():
    photo = paste([face(s) for s in range(3)], size=(900, 400), scale=0.9, positions=[(30, 60), (330, 80), (620, 50)])
    boxes = Proposer().propose(photo, 20.0)
    assert 3 <= len(boxes) <= 24
    assert (np.diff(boxes[:, 4]) <= 0).all()  # best first
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    for x0 in (30, 330, 620):
        centre = x0 + 0.9 * 178 / 2
        assert np.min(np.abs(cx - centre)) < 30, (x0, cx)


def test_scales_run_from_the_smallest_face_to_a_12_px_image():
    s = Proposer.scales((480, 640), 40.0)
    assert s[0] == pytest.approx(0.3) and all(b == pytest.approx(a / 2) for a, b in zip(s, s[1:]))
    assert 480 * s[-1] >= 12 > 480 * s[-1] / 2
    assert Proposer.scales((10, 10), 20.0) == []
    assert Proposer().propose(np.zeros((11, 40, 3), np.uint8), 20.0).shape == (0, 5)


@pytest.mark.parametrize("kind", ["one", "tilted", "small"])
def test_mtcnn_with_proposals_finds_what_its_own_first_stages_find(both, kind):
    prop, pnet = both
    if kind == "one":
        photo = paste([face(0)], size=(640, 480), scale=1.2)
    elif kind == "tilted":
        photo = paste([face(1)], size=(640, 480), scale=1.2, angle=30.0)
    else:  # faces of about 25 px on a 320x240 canvas
        photo = paste([face(2), face(3)], size=(320, 240), scale=0.22, positions=[(40, 60), (200, 100)])
    a, b = prop.detect(photo), pnet.detect(photo)
    assert len(a) == len(b) >= 1
    for f in a:
        g = max(b, key=lambda g: box_iou(f, g))
        assert box_iou(f, g) > 0.7
        iod = math.dist(g.landmarks["left_eye"], g.landmarks["right_eye"])
        shift = max(math.dist(f.landmarks[k], g.landmarks[k]) for k in LANDMARKS)
        assert shift < max(0.1 * iod, 2.0), (kind, shift, iod)  # a pixel or two on 25 px faces


def test_blank_photos_give_no_proposal_that_survives_onet(both):
    prop, _ = both
    assert prop.detect(np.zeros((480, 640, 3), np.uint8)) == []
    noise = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    assert prop.detect(noise) == []


def test_missing_or_corrupt_proposer_file_is_named(tmp_path):
    with pytest.raises(DataError, match="missing") as e:
        MtcnnDetector(proposer_file=str(tmp_path / "proposer.onnx"))
    assert "first_stage='pnet'" in (e.value.fix or "")
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not a network")
    with pytest.raises(DataError, match="broken.onnx"):
        Proposer(bad)
    with pytest.raises(ConfigError, match="first stage"):
        MtcnnDetector(first_stage="rnet")
