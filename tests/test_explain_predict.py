"""Explanations through prediction: ``Predictor.predict(explain=...)``, ``facelab predict --explain``,
the JSON field, the heat-map files and the refusals (unknown output, ONNX only, a face too small)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from facelab.errors import ConfigError
from facelab.faces.detect import FaceBox
from facelab.predict import Predictor
from explain_support import A_BOX, held_out, inside, squares_run
from train_helpers import run_cli


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return squares_run(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def predictor(run):
    return Predictor.from_run(run, min_face=8)


@pytest.fixture(scope="module")
def faces():
    return held_out(6, seed=11)


def test_predict_explains_each_face_with_the_method_named(predictor, faces):
    x, a, _ = faces
    i = int(np.argmax(a))  # a face with A
    r = predictor.predict(x[i], aligned=True, explain="A")
    (e,) = r.faces[0].explain
    assert (e.output, e.method) == ("A", "integrated-gradients") and e.map.shape == (32, 32)
    assert e.probability == pytest.approx(r.faces[0].probabilities["A"])
    assert inside(e.map[None], A_BOX) > 2
    d = r.to_dict()["faces"][0]["explain"][0]
    assert d["output"] == "A" and d["method"] == "integrated-gradients" and np.array(d["map"]).shape == (16, 16)
    json.dumps(r.to_dict())
    # without explain, the JSON has no explain field
    assert "explain" not in predictor.predict(x[i], aligned=True).to_dict()["faces"][0]


def test_all_and_top(predictor, faces):
    x, a, b = faces
    r = predictor.predict(x[0], aligned=True, explain="all")
    assert [e.output for e in r.faces[0].explain] == ["A", "B"]
    r = predictor.predict(x[0], aligned=True, explain="top")
    top = max(r.faces[0].probabilities, key=r.faces[0].probabilities.get)
    assert [e.output for e in r.faces[0].explain] == [top]
    results = list(predictor.predict_batch(list(x), aligned=True, explain=["B"], workers=1))
    assert all(len(res.faces[0].explain) == 1 for res in results)


def test_an_unknown_output_is_refused_with_the_list_and_a_close_match(predictor, faces):
    with pytest.raises(ConfigError) as e:
        predictor.predict(faces[0][0], aligned=True, explain="a")
    assert "did you mean 'A'" in e.value.message and "A, B" in e.value.fix


def test_an_onnx_only_predictor_says_explanations_need_torch(run, faces):
    onnx_like = Predictor(input_spec=run.input, kind=run.task.kind, classes=run.task.classes,
                          classify=run.predict_proba, backend="onnx", name=run.name)
    assert onnx_like.predict(faces[0][0], aligned=True).faces[0].classified  # predicting works
    with pytest.raises(ConfigError) as e:
        onnx_like.predict(faces[0][0], aligned=True, explain="A")
    assert "torch" in e.value.message and "--backend torch" in e.value.fix


def test_a_face_too_small_to_explain_is_noted(predictor, faces):
    photo = np.zeros((120, 160, 3), np.uint8)
    photo[10:22, 10:22] = 200
    r = predictor.predict_faces(photo, [FaceBox(10, 10, 12, 12, 1.0)], explain="A")
    f = r.faces[0]
    assert f.classified and f.explain[0].map is None
    assert "too small to explain" in f.explain[0].note and "12 px < 16 px" in f.explain[0].note
    assert f.to_dict()["explain"][0]["note"] == f.explain[0].note


def _photos(folder, x):
    folder.mkdir()
    for i, im in enumerate(x):
        Image.fromarray(im).save(folder / f"img{i}.png")
    return folder


def test_cli_writes_heat_maps_beside_the_annotated_copies_and_json(run, faces, tmp_path, capsys):
    photos = _photos(tmp_path / "photos", faces[0][:3])
    ann = tmp_path / "ann"
    code, out, err = run_cli(["predict", run.path, photos, "--aligned", "--explain", "A,B", "--annotate", ann,
                              "--json", "--no-progress"], capsys)
    assert code == 0, err
    names = sorted(p.name for p in ann.iterdir())
    assert "img0.face0.explain-A.png" in names and "img2.face0.explain-B.png" in names and "img1.jpg" in names
    with Image.open(ann / "img0.face0.explain-A.png") as im:
        assert im.size == (128, 128)
    data = json.loads(out)
    ex = data["photos"][0]["faces"][0]["explain"]
    assert [e["output"] for e in ex] == ["A", "B"] and ex[0]["file"] == "img0.face0.explain-A.png"
    assert np.array(ex[1]["map"]).shape == (16, 16) and ex[0]["method"] == "integrated-gradients"


def test_cli_refuses_an_unknown_output_before_predicting(run, faces, tmp_path, capsys):
    photos = _photos(tmp_path / "photos", faces[0][:1])
    code, out, err = run_cli(["predict", run.path, photos, "--aligned", "--explain", "Smiling"], capsys)
    assert code == 2 and "cannot explain 'Smiling'" in err and "A, B" in err, err
