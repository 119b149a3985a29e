"""Predictor API: EXIF-rotated photos, no face, many faces, small faces, bad files, all task kinds."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from facelab.errors import ConfigError, RunError
from facelab.predict import FaceResult, PhotoResult, Predictor
from predict_support import face, paste, save_with_exif_rotation, trained_run

ATTRS = ["Smiling", "Male", "Eyeglasses", "Wearing_Hat"]


@pytest.fixture(scope="module")
def multi_run(prepared_celeba):
    return trained_run(prepared_celeba.path, target=ATTRS, name="pred-multi")


@pytest.fixture(scope="module")
def predictor(multi_run):
    return Predictor.from_run(multi_run)


def test_exif_rotated_tilted_photo_is_found_and_classified_like_the_original(predictor, tmp_path):
    """A synthetic face pasted into a larger noisy photo, turned 15°, stored sideways with an EXIF
    Orientation tag: found, turned back, and classified like the original image.

    The test model is a pixel logistic regression trained in seconds: brittle to small framing
    differences, so agreement is asserted over ten faces (and against a no-alignment control)."""
    found, agree, diffs, naive = 0, 0, [], []
    for seed in range(60, 70):
        img = face(seed, Wearing_Hat=seed % 2, Male=1)
        path = save_with_exif_rotation(paste([img], scale=1.6, angle=15.0, seed=seed), tmp_path / f"{seed}.jpg")
        r = predictor.predict(path, keep_crops=True)
        assert r.ok and (r.width, r.height) == (800, 600)  # EXIF honoured: landscape again
        orig = predictor.predict(img)
        if len(r.faces) != 1:
            continue
        found += 1
        f, o = r.faces[0], orig.faces[0]
        assert abs(f.box.angle + 15.0) < 8  # cv2 turned it counter-clockwise by 15°
        assert f.crop is not None and f.crop.shape == (32, 32, 3)
        assert set(f.probabilities) == set(ATTRS) and all(0 <= v <= 1 for v in f.probabilities.values())
        agree += ("Wearing_Hat" in f.labels) == ("Wearing_Hat" in o.labels)
        diffs.append(np.mean([abs(f.probabilities[a] - o.probabilities[a]) for a in ATTRS]))
        squashed = predictor.predict(path, aligned=True).faces[0]  # the photo as if it were aligned
        naive.append(np.mean([abs(squashed.probabilities[a] - o.probabilities[a]) for a in ATTRS]))
    assert found >= 9
    assert agree >= found - 2 and np.mean(diffs) < 0.15, (agree, found, diffs)
    assert np.mean(naive) > 2 * np.mean(diffs), (naive, diffs)
    # control: the stored pixels really are sideways (only EXIF makes the photo landscape)
    stored = np.asarray(Image.open(tmp_path / "60.jpg"))  # np.asarray ignores the orientation tag
    assert stored.shape[:2] == (800, 600)


def test_labels_follow_thresholds_and_kinds(predictor):
    r = predictor.predict(face(61, Eyeglasses=1), aligned=True)
    f = r.faces[0]
    assert f.note == "aligned input" and f.box.w == 178
    assert f.labels == [a for a in ATTRS if f.probabilities[a] >= 0.5]
    d = r.to_dict()
    assert d["faces"][0]["probabilities"].keys() == set(ATTRS) and d["error"] is None


def test_no_face_is_reported_not_guessed(predictor):
    noise = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    r = predictor.predict(noise)
    assert r.ok and r.faces == [] and r.note == "no face found"


def test_many_faces_and_too_small_faces(multi_run):
    photo = paste([face(s) for s in (1, 2, 3)], size=(1200, 500), scale=1.0,
                  positions=[(60, 100), (500, 120), (900, 90)], seed=3)
    r = Predictor.from_run(multi_run, max_side=640).predict(photo)  # small faces: a larger detection copy
    assert len(r.faces) == 3 and all(f.classified for f in r.faces)
    assert [f.index for f in r.faces] == [0, 1, 2]
    strict = Predictor.from_run(multi_run, min_face=400, max_side=640)
    r = strict.predict(photo)
    assert len(r.faces) == 3 and not any(f.classified for f in r.faces)
    assert all("too small" in f.note for f in r.faces) and "too small" in r.note


def test_bad_files_give_errors_not_exceptions(predictor, tmp_path):
    (tmp_path / "notes.jpg").write_text("not an image")
    good = tmp_path / "good.jpg"
    Image.fromarray(paste([face(5)], seed=5)).save(good)
    (tmp_path / "cut.jpg").write_bytes(good.read_bytes()[:2000])
    for name in ("notes.jpg", "cut.jpg", "missing.jpg"):
        r = predictor.predict(tmp_path / name)
        assert not r.ok and r.faces == [] and name in str(tmp_path / name)
        assert r.error
    r = predictor.predict(np.zeros((10, 10, 3), np.float32))  # arrays are checked too
    assert not r.ok and "uint8" in r.error and r.source == "<array>"


def test_odd_image_modes(predictor, tmp_path):
    img = Image.fromarray(paste([face(7)], seed=7))
    for mode, ext in (("L", "png"), ("RGBA", "png"), ("CMYK", "jpg"), ("I;16", "png")):
        p = tmp_path / f"x_{mode.replace(';', '')}.{ext}"
        if mode == "I;16":  # a real 16-bit scan: values over the full 0..65535 range
            Image.fromarray(np.asarray(img.convert("L")).astype(np.uint16) * 257).save(p)
        else:
            img.convert(mode).save(p)
        r = predictor.predict(p)
        assert r.ok, (mode, r.error)
        assert len(r.faces) == 1, mode


def test_batch_keeps_order_and_continues_past_bad_files(predictor, tmp_path):
    paths = []
    for i in range(6):
        p = tmp_path / f"{i}.jpg"
        Image.fromarray(paste([face(40 + i)], seed=i)).save(p)
        paths.append(p)
    (tmp_path / "3.jpg").write_bytes(b"\xff\xd8\xff garbage")
    out = list(predictor.predict_batch(paths, workers=2, batch_size=2))
    assert [r.source for r in out] == [str(p) for p in paths]
    assert not out[3].ok and all(r.ok for i, r in enumerate(out) if i != 3)
    single = predictor.predict(paths[0])
    assert out[0].faces[0].probabilities == pytest.approx(single.faces[0].probabilities, abs=1e-5)


def test_multiclass_grey_run(prepared_fer):
    run = trained_run(prepared_fer.path, name="pred-fer")
    p = Predictor.from_run(run)
    assert p.kind == "multiclass" and p.input_spec["channels"] == 1
    r = p.predict(paste([face(9)], seed=9))
    f = r.faces[0]
    assert len(f.labels) == 1 and f.labels[0] == max(f.probabilities, key=f.probabilities.get)
    assert sum(f.probabilities.values()) == pytest.approx(1.0, abs=1e-4)
    assert p.predict(np.zeros((48, 48, 1), np.uint8), aligned=True).faces[0].classified


def test_from_run_errors(multi_run, tmp_path):
    with pytest.raises(RunError):
        Predictor.from_run(tmp_path / "nope")
    with pytest.raises(ConfigError):
        Predictor.from_run(multi_run, backend="tflite")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        Predictor.from_run(multi_run, detector="retinaface")  # not registered
    with pytest.raises(RunError, match="export"):
        Predictor.from_run(multi_run, backend="onnx")  # not exported yet


def test_result_types():
    r = PhotoResult("a.jpg", 10, 10, [FaceResult(0, __import__("facelab").FaceBox(1, 2, 3, 4, 0.5))])
    assert r.to_dict()["faces"][0]["box"]["w"] == 3 and not r.faces[0].classified


def test_aligned_files_reproduce_the_training_cache_exactly(predictor, prepared_celeba):
    paths = list(prepared_celeba.table["path"][:5])
    for i, r in enumerate(predictor.predict_batch(paths, aligned=True, keep_crops=True, workers=2)):
        assert (r.width, r.height) == (178, 218)
        np.testing.assert_array_equal(r.faces[0].crop, prepared_celeba.images[i])


def test_decompression_bomb_is_refused_per_file(predictor, tmp_path, monkeypatch):
    p = tmp_path / "huge.png"
    Image.fromarray(paste([face(8)], seed=8)).save(p)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # this 800x600 photo now counts as a bomb
    out = list(predictor.predict_batch([p, p], workers=1))
    assert all(not r.ok and "too large" in r.error for r in out)
