"""One photo path for runs of different framings: a run framed by the five-point template (MTCNN)
and a run framed by the Haar box, predicted together — each sees its own detector's faces and
its own crops — and a run without a framing record predicting exactly as the Haar path did."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from predict_support import face, paste, trained_run

from facelab.faces.align import align
from facelab.faces.detect import DEFAULT_DETECTOR, HaarDetector, box_iou, get_detector
from facelab.faces.mtcnn import MtcnnDetector
from facelab.predict import Predictor
from facelab.predict.combined import CombinedPredictor
from facelab.predict.fastpath import prepare_photo


@pytest.fixture(scope="module")
def two_runs(prepared_celeba, tmp_path_factory):
    """A template-framed run (its cache records the framing) and the same run without the
    record (an old run: Haar box framing)."""
    run = trained_run(prepared_celeba, target="Smiling", name="framing-new", params={"n_components": 8})
    root = tmp_path_factory.mktemp("framing-runs")
    new, old = root / "new-run", root / "old-run"
    shutil.copytree(run.path, new)
    shutil.copytree(run.path, old)
    spec = json.loads((old / "input.json").read_text())
    spec.pop("framing", None)
    spec.pop("detector", None)
    (old / "input.json").write_text(json.dumps(spec))
    return root, new, old


@pytest.fixture(scope="module")
def photo():
    return paste([face(1), face(2)], size=(800, 500), scale=1.1, positions=[(60, 90), (450, 120)])


def test_the_default_detector_is_mtcnn():
    assert DEFAULT_DETECTOR == "mtcnn" and isinstance(get_detector(), MtcnnDetector)


def test_cache_and_run_record_the_framing(prepared_celeba, two_runs):
    rec = prepared_celeba.meta["framing"]
    assert rec["detector"] == "mtcnn" and rec["frame"] == "celeba" and rec["size"] == prepared_celeba.meta["size"]
    _, new, old = two_runs
    assert Predictor.from_run(new).detector_name == "mtcnn"
    assert Predictor.from_run(old).detector_name == "haar"


def test_old_run_predicts_as_the_haar_path(two_runs, photo):
    _, _, old = two_runs
    p = Predictor.from_run(old)
    r = p.predict(photo, keep_crops=True)
    boxes = HaarDetector().detect(photo)
    assert len(r.faces) == len(boxes) == 2
    for f, b in zip(r.faces, boxes):
        assert (f.box.x, f.box.y, f.box.w) == (b.x, b.y, b.w)
        assert np.array_equal(f.crop, align(photo, b, p.input_spec))
        proba = np.ravel(p.classify(align(photo, b, p.input_spec)[None]))
        assert f.probabilities["Smiling"] == pytest.approx(float(proba[0]), abs=1e-6)


def test_each_run_sees_its_own_framing(two_runs, photo):
    _, new, old = two_runs
    pn, po = Predictor.from_run(new), Predictor.from_run(old)
    prepared = prepare_photo(photo, "two.jpg", [pn, po, Predictor.from_run(new)])
    new_faces = prepared.pending[0].result.faces
    old_faces = prepared.pending[1].result.faces
    assert len(new_faces) == len(old_faces) == 2
    mt = MtcnnDetector().detect(photo)
    assert [f.box.landmarks for f in new_faces] == [b.landmarks for b in mt]  # MTCNN boxes, landmarks
    assert all(f.box.landmarks is None or "nose" not in f.box.landmarks for f in old_faces)  # Haar boxes
    # the two models of one detector share its search: the same boxes
    assert [f.box for f in prepared.pending[2].result.faces] == [f.box for f in new_faces]
    # each framed with its own framing: the template crop is not the Haar box crop
    a, b = prepared.pending[0].crops[0], prepared.pending[1].crops[0]
    assert a.shape == b.shape and not np.array_equal(a, b)
    # a combined prediction puts both models' outputs on the same faces
    both = CombinedPredictor([pn, _renamed(Predictor.from_run(old))])
    r = both.predict(photo)
    assert len(r.faces) == 2 and all({"Smiling", "Smiling (old)"} <= set(f.probabilities) for f in r.faces)
    for f, m in zip(r.faces, mt):
        assert box_iou(f.box, m) > 0.99


def _renamed(p: Predictor) -> Predictor:
    p.classes = [c + " (old)" for c in p.classes]
    return p


def test_served_side_by_side(two_runs, photo):
    from fastapi.testclient import TestClient

    from facelab.serve.app import create_app
    from facelab.serve.settings import ServeSettings
    from test_serve_support import jpeg_bytes

    root, new, old = two_runs
    app = create_app(ServeSettings(runs=[new.name, old.name], runs_dir=root, workers=1, backend="torch"))
    with TestClient(app) as client:
        r = client.post("/v1/predict", files={"file": ("two.jpg", jpeg_bytes(photo), "image/jpeg")})
    assert r.status_code == 200, r.text
    preds = {p["run"]: p for p in r.json()["predictions"]}
    new_boxes = [f["box"] for f in preds[new.name]["faces"]]
    old_boxes = [f["box"] for f in preds[old.name]["faces"]]
    assert len(new_boxes) == len(old_boxes) == 2
    assert all(set(b["landmarks"]) >= {"nose", "mouth_left"} for b in new_boxes)
    assert all(not b.get("landmarks") or "nose" not in b["landmarks"] for b in old_boxes)
    assert [b["w"] for b in new_boxes] != [b["w"] for b in old_boxes]
