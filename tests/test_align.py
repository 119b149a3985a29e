"""Alignment reproduces the cache's framing from a detected face (identity, rotation, scale)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from facelab.errors import ConfigError
from facelab.faces.align import CELEBA, FER2013, LFW, Framing, align, crop_aligned, frame_corners, framing_for
from facelab.faces.detect import FaceBox, get_detector
from predict_support import crop_corr, face, paste

SPEC = {"size": 48, "channels": 3, "grey": False, "crop": "square", "crop_box": [0.0, 0.091743, 1.0, 0.908257],
        "source_size": [178, 218], "layout": "celeba-official"}


def exact_box(fr: Framing, cx=89.0, cy=109.0, scale=1.0, angle=0.0) -> FaceBox:
    """The box whose framing is exactly a 178x218 frame centred at (cx, cy), scaled, turned."""
    s = 178 * scale / fr.width
    a = np.radians(angle)
    ox, oy = fr.dx * s, fr.dy * s  # frame centre offset, in the face's axes
    bx = cx - (ox * np.cos(a) - oy * np.sin(a))
    by = cy - (ox * np.sin(a) + oy * np.cos(a))
    return FaceBox(bx - s / 2, by - s / 2, s, s, 1.0, None, angle)


def test_identity_reproduces_the_cache_crop():
    img = face(5)
    box = exact_box(CELEBA)
    np.testing.assert_allclose(frame_corners(box, CELEBA)[[0, 2]], [[0, 0], [178, 218]], atol=1e-6)
    got, want = align(img, box, SPEC), crop_aligned(img, SPEC)
    assert got.shape == want.shape == (48, 48, 3) and got.dtype == np.uint8
    assert crop_corr(got, want) > 0.99
    assert np.abs(got.astype(int) - want.astype(int)).mean() < 6


@pytest.mark.parametrize("angle", [15.0, -25.0])
def test_rotation_is_undone(angle):
    img = face(6)
    canvas = cv2.copyMakeBorder(img, 100, 100, 100, 100, cv2.BORDER_REFLECT)
    # cv2 turns counter-clockwise by +angle; the face then leans by -angle (clockwise-positive)
    m = cv2.getRotationMatrix2D((189.0, 209.0), angle, 1.0)
    turned = cv2.warpAffine(canvas, m, canvas.shape[1::-1], flags=cv2.INTER_CUBIC)
    got = align(turned, exact_box(CELEBA, 189.0, 209.0, angle=-angle), SPEC)
    assert crop_corr(got, crop_aligned(img, SPEC)) > 0.95
    # and ignoring the angle would be clearly worse: the test can tell
    flat = align(turned, exact_box(CELEBA, 189.0, 209.0, angle=0.0), SPEC)
    assert crop_corr(flat, crop_aligned(img, SPEC)) < crop_corr(got, crop_aligned(img, SPEC)) - 0.05


def test_large_faces_are_shrunk_without_aliasing():
    img = face(7)
    big = cv2.resize(img, None, fx=6, fy=6, interpolation=cv2.INTER_CUBIC)
    got = align(big, exact_box(CELEBA, 89 * 6, 109 * 6, scale=6), SPEC)
    assert crop_corr(got, crop_aligned(img, SPEC)) > 0.98


def test_grey_runs_rgba_and_grey_inputs():
    img = face(8)
    grey_spec = {**SPEC, "grey": True, "channels": 1}
    box = exact_box(CELEBA)
    g = align(img, box, grey_spec)
    assert g.shape == (48, 48, 1)
    rgba = np.concatenate([img, np.full(img.shape[:2] + (1,), 255, np.uint8)], 2)
    assert align(rgba, box, SPEC).shape == (48, 48, 3)
    grey_img = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    assert align(grey_img, box, SPEC).shape == (48, 48, 3)
    assert crop_aligned(grey_img, SPEC).shape == (48, 48, 3)
    assert crop_aligned(img, grey_spec).shape == (48, 48, 1)
    assert crop_corr(g, align(grey_img, box, grey_spec)) > 0.99


def test_framing_by_layout_and_bad_spec():
    assert framing_for({"layout": "celeba-kaggle", "source_size": [178, 218]}) == CELEBA
    assert framing_for({"layout": "fer2013-csv", "source_size": [48, 48]}) == FER2013
    assert framing_for({"layout": "folder", "source_size": [250, 250]}) == LFW
    other = framing_for({"layout": "folder", "source_size": [200, 300]})
    assert other.width == LFW.width and other.source_size == (200, 300)
    with pytest.raises(ConfigError, match="size"):
        align(face(1), exact_box(CELEBA), {"crop_box": [0, 0, 1, 1]})


def test_detected_face_in_a_photo_is_framed_like_the_original():
    """Detection + alignment commute with pasting, scaling and turning: the crop from the photo
    matches the crop from the original aligned image (both via detection)."""
    det = get_detector()
    corrs, naive = [], []
    for seed in (20, 21, 22):
        img = face(seed)
        photo = paste([img], scale=1.7, angle=12.0, seed=seed)
        ref = align(img, det.detect(img)[0], SPEC)
        got = align(photo, det.detect(photo)[0], SPEC)
        # the face region only: beyond the pasted image's edges the photo has its own background
        corrs.append(crop_corr(got[8:40, 8:40], ref[8:40, 8:40]))
        naive.append(crop_corr(crop_aligned(photo, SPEC)[8:40, 8:40], ref[8:40, 8:40]))  # for contrast
    assert min(corrs) > 0.6 and np.mean(corrs) > np.mean(naive) + 0.4, (corrs, naive)
