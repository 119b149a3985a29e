"""``POST /v1/predict?explain=Smiling``: a saliency PNG per face from a server that predicts with
ONNX Runtime (the torch model is loaded on the first explain request)."""
from __future__ import annotations

import base64
import shutil

import cv2
import httpx
import numpy as np
import pytest

from facelab.serve.app import create_app
from facelab.serve.settings import ServeSettings
from test_serve_support import TINY_RUN, face_photo, running_server, tiny_run_dir


@pytest.fixture(scope="module")
def client(prepared_celeba, tmp_path_factory):
    runs = tmp_path_factory.mktemp("explain-served")
    shutil.copytree(tiny_run_dir(prepared_celeba) / TINY_RUN, runs / TINY_RUN)
    app = create_app(ServeSettings(runs=[TINY_RUN], runs_dir=runs, workers=1, backend="auto"))
    with running_server(app) as url, httpx.Client(base_url=url, timeout=120) as c:
        yield c


JPEG = {"content-type": "image/jpeg"}


def test_explain_returns_a_heat_map_png_per_face(client):
    r = client.post("/v1/predict", params={"explain": "Smiling"}, content=face_photo(), headers=JPEG)
    assert r.status_code == 200, r.text
    faces = r.json()["predictions"][0]["faces"]
    assert faces and faces[0]["probabilities"]
    (e,) = faces[0]["explain"]
    assert e["output"] == "Smiling" and e["method"] == "integrated-gradients" and np.array(e["map"]).shape == (16, 16)
    png = cv2.imdecode(np.frombuffer(base64.b64decode(e["png"]), np.uint8), cv2.IMREAD_COLOR)
    assert png.shape == (128, 128, 3)  # the 32 px aligned face, 4x


def test_explain_in_a_json_body_and_top(client):
    body = {"image": base64.b64encode(face_photo()).decode(), "explain": "top"}
    r = client.post("/v1/predict", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["predictions"][0]["faces"][0]["explain"][0]["output"] == "Smiling"


def test_no_explain_no_maps_and_an_unknown_output_is_a_400(client):
    r = client.post("/v1/predict", content=face_photo(), headers=JPEG)
    assert r.json()["predictions"][0]["faces"][0]["explain"] is None
    r = client.post("/v1/predict", params={"explain": "Smilng"}, content=face_photo(), headers=JPEG)
    assert r.status_code == 400 and "did you mean 'Smiling'" in r.json()["error"], r.text
