"""The fast serving path: raw image bodies, Server-Timing, queue depth, the fast photo path, the
ONNX Runtime auto backend — against a real uvicorn server on 127.0.0.1 with a tiny model."""
from __future__ import annotations

import io
import shutil
import threading
import time

import httpx
import numpy as np
import pytest

from facelab.faces.detect import box_iou, get_detector
from facelab.serve.app import create_app
from facelab.serve.settings import ServeSettings

from test_serve_support import TINY_RUN, blank_photo, face_photo, jpeg_bytes, running_server, tiny_run_dir


@pytest.fixture(scope="module")
def runs(prepared_celeba, tmp_path_factory):
    src = tiny_run_dir(prepared_celeba)
    runs = tmp_path_factory.mktemp("fast-runs")
    shutil.copytree(src / TINY_RUN, runs / TINY_RUN, ignore=shutil.ignore_patterns("model.onnx", "model.json"))
    return runs


@pytest.fixture(scope="module")
def server(runs):
    app = create_app(ServeSettings(runs=[TINY_RUN], runs_dir=runs, max_upload_mb=1, workers=2))
    with running_server(app) as url:
        yield url, app


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server[0], timeout=60) as c:
        yield c


def test_auto_backend_serves_with_onnxruntime(server, runs):
    pytest.importorskip("onnxruntime", reason="the onnx extra (onnxruntime) is not installed")
    predictor = server[1].state.store.runs[TINY_RUN].predictor
    assert predictor.backend == "onnx" and predictor.fast
    assert (runs / TINY_RUN / "model.onnx").is_file()  # exported at start-up, into the run


def test_auto_backend_serves_the_shipped_models_with_their_own_onnx_and_writes_nothing(tmp_path):
    pytest.importorskip("onnxruntime", reason="the onnx extra (onnxruntime) is not installed")
    from facelab.paths import home
    from facelab.pretrained import shipped_root
    from facelab.serve.store import RunStore

    def files():
        return sorted((str(p), p.stat().st_mtime) for root in (shipped_root(), home()) for p in root.rglob("*")
                      if p.is_file() and "onnx" in p.parts + (p.suffix,))

    before = files()
    store = RunStore.load(ServeSettings(runs=["fer-emotions"], runs_dir=tmp_path, workers=1))
    assert store.runs["fer-emotions"].predictor.backend == "onnx"
    assert files() == before  # nothing exported, nothing written: the package carries model.onnx


def test_an_export_of_other_weights_is_not_used(tmp_path):
    """A copy of a shipped model whose weights changed: its model.onnx is stale, so ``auto`` predicts
    with torch until it is exported again."""
    pytest.importorskip("onnxruntime", reason="the onnx extra (onnxruntime) is not installed")
    import shutil

    from safetensors.numpy import load_file, save_file

    from facelab.predict import Predictor
    from facelab.predict.export import export_onnx, fresh_onnx
    from facelab.pretrained import shipped_path

    run = shutil.copytree(shipped_path("fer-emotions"), tmp_path / "emotions")
    assert fresh_onnx(run) == run / "model.onnx"
    assert Predictor.from_run(run, backend="auto").backend == "onnx"
    weights = load_file(run / "model.safetensors")
    save_file({k: v * 1.01 if v.dtype.kind == "f" else v for k, v in weights.items()}, run / "model.safetensors")
    assert fresh_onnx(run) is None and Predictor.from_run(run, backend="auto").backend == "torch"
    export_onnx(run)
    assert fresh_onnx(run) == run / "model.onnx" and Predictor.from_run(run, backend="auto").backend == "onnx"


def test_a_damaged_export_is_named_and_auto_falls_back_to_torch(tmp_path, caplog):
    """A truncated model.onnx beside current weights: ``onnx`` refuses it naming the file and the
    fix; ``auto`` (predict and serve) warns and predicts with torch."""
    pytest.importorskip("onnxruntime", reason="the onnx extra (onnxruntime) is not installed")
    import shutil
    from types import SimpleNamespace

    from facelab.errors import RunError
    from facelab.predict import Predictor
    from facelab.pretrained import shipped_path
    from facelab.runs import Run
    from facelab.serve.backend import build_predictor

    run = shutil.copytree(shipped_path("fer-emotions"), tmp_path / "emotions")
    onnx = run / "model.onnx"
    onnx.write_bytes(onnx.read_bytes()[:1000])
    with pytest.raises(RunError, match="cannot load") as e:
        Predictor.from_run(run, backend="onnx")
    assert str(onnx) in str(e.value) and "facelab export" in str(e.value)
    with caplog.at_level("WARNING"):
        p = Predictor.from_run(run, backend="auto")
    assert p.backend == "torch" and "predicting with torch" in caplog.text
    served = build_predictor(Run.load(run), run, SimpleNamespace(backend="auto", home=tmp_path / "home"))
    assert served.backend == "torch"
    probs = p.predict(face_photo()).faces[0].probabilities
    assert probs == pytest.approx(served.predict(face_photo()).faces[0].probabilities, abs=1e-6)


def test_raw_image_body_gives_the_multipart_answer(client):
    raw = client.post("/v1/predict", content=face_photo(), params={"filename": "me.jpg"},
                      headers={"content-type": "image/jpeg"})
    assert raw.status_code == 200, raw.text
    multi = client.post("/v1/predict", files={"file": ("me.jpg", face_photo(), "image/jpeg")})
    a, b = raw.json(), multi.json()
    assert a["source"] == "me.jpg" and (a["width"], a["height"]) == (640, 480)
    fa, fb = a["predictions"][0]["faces"], b["predictions"][0]["faces"]
    assert len(fa) == len(fb) == 1
    assert fa[0]["box"] == fb[0]["box"]
    assert fa[0]["probabilities"] == pytest.approx(fb[0]["probabilities"], abs=1e-6)
    # the fast path's answer has the verdict and a 0-1 detector score, as the plain path's
    assert fa[0]["verdict"] and fa[0]["verdict"] == fb[0]["verdict"]
    assert 0.0 <= fa[0]["box"]["score"] <= 1.0
    # any image/* type and octet-stream are accepted; a nameless raw body is "the upload"
    png = client.post("/v1/predict", content=blank_photo(), headers={"content-type": "application/octet-stream"})
    assert png.status_code == 200 and png.json()["predictions"][0]["faces"] == []


@pytest.mark.parametrize("body, ctype, status, words", [
    (b"", "image/jpeg", 415, "the upload is empty"),
    (b"hello, this is text", "image/png", 415, "not an image"),
    (None, "image/jpeg", 415, "cut.jpg"),  # a truncated JPEG, named by ?filename=
    (b"hello", "text/plain", 415, "content type"),
])
def test_bad_raw_bodies_are_4xx_with_a_clear_message(client, body, ctype, status, words):
    if body is None:
        body = face_photo()[:300]
    r = client.post("/v1/predict", content=body, params={"filename": "cut.jpg"} if words == "cut.jpg" else None,
                    headers={"content-type": ctype})
    assert r.status_code == status, r.text
    assert words in r.json()["error"] and r.json()["fix"]


def test_oversized_raw_body_is_413(client):
    r = client.post("/v1/predict", content=b"\xff" * (1024 * 1024 + 10), headers={"content-type": "image/jpeg"})
    assert r.status_code == 413 and "limit of 1 MB" in r.json()["error"]


def test_raw_body_to_the_batch_endpoint_says_how_to_send_a_batch(client):
    r = client.post("/v1/predict/batch", content=face_photo(), headers={"content-type": "image/jpeg"})
    assert r.status_code == 415 and "multipart" in r.json()["error"]


def test_server_timing_header_names_every_stage(client):
    r = client.post("/v1/predict", files={"file": ("face.jpg", face_photo(), "image/jpeg")})
    assert r.status_code == 200
    parts = dict(p.strip().split(";dur=") for p in r.headers["server-timing"].split(","))
    assert list(parts) == ["decode", "detect", "align", "classify"]
    assert all(float(v) >= 0 for v in parts.values())
    assert float(parts["detect"]) > 0


def test_fast_path_matches_the_plain_path(runs):
    """Same faces (IoU >= 0.9) and probabilities within 0.01, photo by photo."""
    from facelab.app.samples import make_sample
    from facelab.predict import Predictor

    plain = Predictor.from_run(runs / TINY_RUN)
    fast = Predictor.from_run(runs / TINY_RUN, fast=True)
    assert fast.detector_name == {"haar": "haar-fast"}.get(plain.detector_name, plain.detector_name)
    photos = [face_photo(), blank_photo(), jpeg_bytes(make_sample("smiling-woman")[::-1].copy())]
    for data in photos:
        a, b = plain.predict(data), fast.predict(data)
        assert (a.width, a.height) == (b.width, b.height)
        assert len(a.faces) == len(b.faces)
        for fa, fb in zip(a.faces, b.faces):
            assert box_iou(fa.box, fb.box) >= 0.9
            assert 0.0 <= fb.box.score <= 1.0 and fb.box.score == pytest.approx(fa.box.score, abs=0.05)
            for k, v in fa.probabilities.items():
                assert abs(v - fb.probabilities[k]) <= 0.01


def test_fast_detector_same_boxes_on_synthetic_photos(synth_celeba):
    """The coarse-to-fine detector gives the default detector's boxes on real-size photos."""
    import cv2

    from facelab.data.image import load_image
    from facelab.faces import fast  # noqa: F401  (registers haar-fast)

    slow, quick = get_detector("haar"), get_detector("haar-fast")
    paths = sorted(synth_celeba.rglob("*.jpg"))[:12]
    compared = 0
    for p in paths:
        face = cv2.resize(load_image(p), (356, 436), interpolation=cv2.INTER_CUBIC)
        photo = np.full((480, 640, 3), 90, np.uint8)
        photo[22:458, 142:498] = face
        want, got = slow.detect(photo), quick.detect(photo)
        for w in want:
            assert max((box_iou(w, g) for g in got), default=0) >= 0.9
        compared += len(want)
    assert compared >= 6, "too few faces found to compare"


def test_large_jpeg_is_decoded_at_reduced_size_and_boxes_map_back():
    from PIL import Image

    from facelab.app.samples import make_sample
    from facelab.data.image import load_photo
    from facelab.predict.fastpath import prepare_photo
    from facelab.predict.predictor import Predictor

    big = Image.fromarray(make_sample("smiling-woman")).resize((2560, 1920), Image.BICUBIC)
    buf = io.BytesIO()
    big.save(buf, "JPEG", quality=90)
    rgb, k, size = load_photo(buf.getvalue(), need=1163)
    assert k == 0.5 and rgb.shape == (960, 1280, 3) and size == (2560, 1920)
    assert load_photo(buf.getvalue(), need=2000)[1:] == (1.0, (2560, 1920))  # not much larger: full size
    spec = {"size": 32, "channels": 3, "crop_box": [0, 0.09, 1, 0.91], "source_size": [178, 218],
            "layout": "celeba-kaggle"}
    pred = Predictor(input_spec=spec, kind="binary", classes=["Smiling"], fast=True,
                     classify=lambda x: np.full((len(x), 1), 0.5, np.float32))
    photo = prepare_photo(buf.getvalue(), "big.jpg", [pred])
    assert (photo.width, photo.height) == (2560, 1920)
    small = pred.predict(jpeg_bytes(make_sample("smiling-woman")))  # the same photo at 640x480
    [face] = photo.pending[0].result.faces
    assert box_iou(face.box, small.faces[0].box.scaled(4.0)) >= 0.8
    assert photo.pending[0].crops[0].shape == (32, 32, 3)


def test_health_reports_queue_depth_under_load(tmp_path):
    """A slow model: while requests wait for it, /v1/health counts them; afterwards 0."""
    from facelab.predict.predictor import Predictor
    from facelab.serve.store import RunStore, ServedRun

    def slow_model(x: np.ndarray) -> np.ndarray:
        if x.any():  # faces are slow; the health answer's blank-face probe is not, so it can poll often
            time.sleep(0.4)
        return np.full((len(x), 1), 0.7, np.float32)

    spec = {"size": 32, "channels": 3, "crop_box": [0, 0.09, 1, 0.91], "source_size": [178, 218],
            "layout": "celeba-kaggle"}
    pred = Predictor(input_spec=spec, kind="binary", classes=["Smiling"], classify=slow_model, fast=True)
    store = RunStore({"slow": ServedRun("slow", tmp_path, None, {"name": "slow", "target": "Smiling"}, pred)}, {})
    app = create_app(ServeSettings(runs=["slow"], runs_dir=tmp_path, workers=2, batch_window_ms=1), store=store)
    with running_server(app) as url:
        answers = []
        threads = [threading.Thread(target=lambda: answers.append(httpx.post(
            f"{url}/v1/predict", timeout=60, content=face_photo(), headers={"content-type": "image/jpeg"})))
            for _ in range(6)]
        for t in threads:
            t.start()
        seen = 0
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(t.is_alive() for t in threads):
            h = httpx.get(f"{url}/v1/health", timeout=10).json()
            assert h["queue_depth"] == h["queues"]["inference"] + sum(h["queues"]["batching"].values())
            seen = max(seen, h["queue_depth"])
            time.sleep(0.05)
        for t in threads:
            t.join()
        assert seen >= 2, "the health answer never saw a queue"
        assert all(a.status_code == 200 for a in answers)
        assert all(a.json()["predictions"][0]["faces"][0]["probabilities"]["Smiling"] == pytest.approx(0.7)
                   for a in answers)
        assert httpx.get(f"{url}/v1/health").json()["queue_depth"] == 0
        # the six requests' faces went through fewer model calls than requests
        assert app.state.batchers["slow"].batches < 6
