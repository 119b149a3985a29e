"""The REST API against a real uvicorn server on 127.0.0.1 with a tiny model trained here."""
from __future__ import annotations

import base64
import json
import logging
import os
import shutil
import threading
import time

import httpx
import pytest

from facelab.errors import ConfigError, RunError
from facelab.serve.app import create_app
from facelab.serve.settings import ServeSettings
from facelab.runs import resolve_name
from facelab.serve.store import RunStore

from test_serve_support import TINY_RUN, blank_photo, face_photo, running_server, tiny_run_dir


@pytest.fixture(scope="module")
def runs(prepared_celeba, tmp_path_factory):
    """A runs folder with the tiny run, a copy of it, and a corrupt run."""
    src = tiny_run_dir(prepared_celeba)
    runs = tmp_path_factory.mktemp("served-runs")
    shutil.copytree(src / TINY_RUN, runs / TINY_RUN)
    shutil.copytree(src / TINY_RUN, runs / "second")
    bad = runs / "broken"
    shutil.copytree(src / TINY_RUN, bad)
    (bad / "model.safetensors").write_bytes(b"not a safetensors file")
    return runs


@pytest.fixture(scope="module")
def server(runs):
    settings = ServeSettings(runs=[TINY_RUN, "second", "broken"], runs_dir=runs, max_upload_mb=1, workers=2,
                             max_batch=4)
    app = create_app(settings)
    with running_server(app) as url:
        yield url


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server, timeout=60) as c:
        yield c


def test_health_and_models(client):
    h = client.get("/v1/health")
    assert h.status_code == 503  # a run asked for is not served: not healthy (the others still answer)
    body = h.json()
    assert body["status"] == "unhealthy" and body["runs"] == ["second", TINY_RUN]
    assert "broken" in body["failed"]  # the corrupt run is named, the others are served
    assert any(p.startswith("run broken failed to load") for p in body["problems"]), body["problems"]
    m = client.get("/v1/models").json()
    info = {x["name"]: x for x in m["models"]}
    assert info[TINY_RUN]["target"] == "Smiling" and info[TINY_RUN]["task"] == "binary"
    assert info[TINY_RUN]["input"]["size"] == 32
    assert "broken" in m["failed"]


def test_predict_multipart_finds_the_face(client):
    r = client.post("/v1/predict", params={"run": TINY_RUN},
                    files={"file": ("face.jpg", face_photo(), "image/jpeg")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["source"] == "face.jpg" and (body["width"], body["height"]) == (640, 480)
    assert [p["run"] for p in body["predictions"]] == [TINY_RUN]
    faces = body["predictions"][0]["faces"]
    assert len(faces) == 1
    face = faces[0]
    # The face was pasted centred at (320, 240), 246x300 pixels.
    cx, cy = face["box"]["x"] + face["box"]["w"] / 2, face["box"]["y"] + face["box"]["h"] / 2
    assert abs(cx - 320) < 60 and abs(cy - 240) < 80
    assert set(face["probabilities"]) == {"Smiling"} and 0 <= face["probabilities"]["Smiling"] <= 1
    assert r.headers["x-request-id"] == body["request_id"]


def test_predict_json_base64_all_runs(client):
    payload = {"image": "data:image/jpeg;base64," + base64.b64encode(face_photo()).decode(), "filename": "a.jpg"}
    r = client.post("/v1/predict", json=payload, headers={"x-request-id": "my-req-1"})
    assert r.status_code == 200, r.text
    assert r.headers["x-request-id"] == "my-req-1" and r.json()["request_id"] == "my-req-1"
    preds = r.json()["predictions"]
    assert [p["run"] for p in preds] == ["second", TINY_RUN]  # no run: every served run
    # Same weights in both folders: the same answer.
    assert preds[0]["faces"][0]["probabilities"] == pytest.approx(preds[1]["faces"][0]["probabilities"])


def test_run_as_a_form_field(client):
    r = client.post("/v1/predict", data={"run": "second"}, files={"file": ("face.jpg", face_photo(), "image/jpeg")})
    assert r.status_code == 200 and [p["run"] for p in r.json()["predictions"]] == ["second"]


def test_no_face_is_200_with_a_reason(client):
    r = client.post("/v1/predict", files={"file": ("blank.jpg", blank_photo(), "image/jpeg")},
                    params={"run": TINY_RUN})
    assert r.status_code == 200
    pred = r.json()["predictions"][0]
    assert pred["faces"] == [] and "no face" in pred["note"]


def test_batch_multipart_and_json(client):
    r = client.post("/v1/predict/batch", params={"run": TINY_RUN}, files=[
        ("files", ("a.jpg", face_photo(), "image/jpeg")), ("files", ("b.jpg", blank_photo(), "image/jpeg"))])
    assert r.status_code == 200, r.text
    res = r.json()["results"]
    assert [x["source"] for x in res] == ["a.jpg", "b.jpg"]
    assert len(res[0]["predictions"][0]["faces"]) == 1 and res[1]["predictions"][0]["faces"] == []
    img = base64.b64encode(blank_photo()).decode()
    r = client.post("/v1/predict/batch", json={"images": [{"image": img}] * 2, "run": TINY_RUN})
    assert r.status_code == 200 and len(r.json()["results"]) == 2
    r = client.post("/v1/predict/batch", json={"images": [{"image": img}] * 5})
    assert r.status_code == 413 and "limit is 4" in r.json()["error"]


@pytest.mark.parametrize("kwargs, status, words", [
    ({"files": {"file": ("notes.txt", b"hello", "text/plain")}}, 415, "not an image"),
    ({"files": {"file": ("fake.jpg", b"hello, not a jpeg", "image/jpeg")}}, 415, "fake.jpg"),
    ({"files": {"file": ("cut.jpg", face_photo()[:300], "image/jpeg")}}, 415, "cut.jpg cannot be read as an image"),
    ({"content": b"raw bytes", "headers": {"content-type": "text/plain"}}, 415, "content type"),
    ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 422, "malformed JSON"),
    ({"json": {"image": "@@@ not base64 @@@"}}, 422, "base64"),
    ({"json": {"picture": "x"}}, 422, "image"),
    ({"files": {"photo": ("a.jpg", b"x", "image/jpeg")}}, 422, "`file`"),
])
def test_bad_input_gets_its_answer(client, kwargs, status, words):
    r = client.post("/v1/predict", **kwargs)
    assert r.status_code == status, r.text
    body = r.json()
    assert words in body["error"] and body["fix"] and body["request_id"]
    assert "<bytes>" not in body["error"]  # an upload is named by its file name


def test_oversized_upload_is_413(client):
    big = os.urandom(1024 * 1024 + 10)
    r = client.post("/v1/predict", files={"file": ("big.jpg", big, "image/jpeg")})
    assert r.status_code == 413 and "limit of 1 MB" in r.json()["error"]

    def chunks():  # no Content-Length: the limit is enforced while the body streams in
        for _ in range(20):
            yield b"x" * 100_000

    r = client.post("/v1/predict", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_unknown_and_escaping_run_names(client):
    photo = {"file": ("face.jpg", face_photo(), "image/jpeg")}
    r = client.post("/v1/predict", params={"run": "nope"}, files=photo)
    assert r.status_code == 404 and r.json()["available"] == ["second", TINY_RUN]
    for name in ("../" + TINY_RUN, "/etc/passwd", "..", "a/b"):
        r = client.post("/v1/predict", params={"run": name}, files=photo)
        assert r.status_code in (400, 404) and "refused" in r.json()["error"], (name, r.text)
    r = client.post("/v1/predict", params={"run": "broken"}, files=photo)
    assert r.status_code == 404  # a run that failed to load is not served


def test_docs_and_openapi_examples(client):
    html = client.get("/docs").text
    assert "cdn." not in html  # Swagger UI is served from the package: the docs work offline
    js = [part.split('"')[0] for part in html.split('src="')[1:] if ".js" in part.split('"')[0]]
    assert js and all(client.get(u).status_code == 200 for u in js)
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/v1/predict"]["post"]["requestBody"]["content"]
    assert {"multipart/form-data", "application/json"} <= set(body)
    # The documented JSON example is a real image: it works when sent.
    r = client.post("/v1/predict", json=body["application/json"]["example"])
    assert r.status_code == 200 and r.json()["predictions"][0]["faces"] == []


def test_resolve_run_refuses_escapes(tmp_path):
    runs = tmp_path / "runs"
    (runs / "ok").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (runs / "link").symlink_to(outside)
    assert resolve_name(runs, "ok") == (runs / "ok").resolve()
    for name in ("..", "../outside", str(outside), "ok/../ok", "", "~root"):
        with pytest.raises(ConfigError, match="refused"):
            resolve_name(runs, name)
    with pytest.raises(ConfigError, match="outside the runs folder"):
        resolve_name(runs, "link")
    with pytest.raises(RunError, match="no run named"):
        resolve_name(runs, "missing")


def test_startup_refuses_when_no_run_is_valid(runs, tmp_path):
    with pytest.raises(RunError, match="broken"):
        create_app(ServeSettings(runs=["broken"], runs_dir=runs))
    # An empty runs folder (a fresh install) serves the models shipped with facelab.
    assert RunStore.load(ServeSettings(runs=[], runs_dir=tmp_path, workers=1)).names == \
        ["celeba-attributes", "fer-emotions"]
    # No names: every run folder is found, the corrupt one is named and skipped.
    store = RunStore.load(ServeSettings(runs=[], runs_dir=runs, workers=1))
    assert store.names == ["second", TINY_RUN] and list(store.failed) == ["broken"]


def test_cli_serve_names_the_problem(runs, capsys):
    from facelab.cli.main import main

    with pytest.raises(SystemExit) as e:
        main(["serve", "../etc", "--runs-dir", str(runs)])
    assert e.value.code == 2
    assert "refused run name" in " ".join(capsys.readouterr().err.split())  # Rich wraps long lines


class _SlowPredictor:
    def predict(self, image):
        time.sleep(1.0)
        from types import SimpleNamespace

        return SimpleNamespace(faces=[], note=None, error=None)


def test_inference_never_blocks_the_event_loop(tmp_path):
    """While slow predictions run in the pool, /v1/health still answers at once."""
    from facelab.serve.store import ServedRun

    store = RunStore({"slow": ServedRun("slow", tmp_path, None, {"name": "slow", "target": "x"}, _SlowPredictor())}, {})
    app = create_app(ServeSettings(runs=["slow"], runs_dir=tmp_path, workers=2), store=store)
    with running_server(app) as url:
        threads = [threading.Thread(target=lambda: httpx.post(f"{url}/v1/predict", timeout=30,
                                                              files={"file": ("b.jpg", blank_photo(), "image/jpeg")}))
                   for _ in range(2)]
        for t in threads:
            t.start()
        time.sleep(0.3)  # both predictions are now sleeping in the pool
        t0 = time.perf_counter()
        assert httpx.get(f"{url}/v1/health", timeout=30).status_code == 200
        assert time.perf_counter() - t0 < 0.5
        for t in threads:
            t.join()


def test_logs_are_json_with_request_ids(tmp_path, capfd):
    from facelab.serve.logging import JsonFormatter, request_id_var

    record = logging.LogRecord("facelab.serve", logging.INFO, __file__, 1, "request", None, None)
    record.status = 200
    token = request_id_var.set("abc123")
    try:
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id_var.reset(token)
    assert line["request_id"] == "abc123" and line["status"] == 200 and line["msg"] == "request"


def test_facelab_serve_command_end_to_end(runs):
    """The real `facelab serve` command: starts, answers, logs JSON lines with request ids."""
    import subprocess
    import sys

    from test_serve_support import free_port, wait_for_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "facelab.cli.main", "serve", TINY_RUN, "broken",
                             "--runs-dir", str(runs), "--port", str(port), "--workers", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_port(port, timeout=90)
        r = httpx.get(f"http://127.0.0.1:{port}/v1/health", headers={"x-request-id": "cli-test-1"}, timeout=30)
        # served without the broken run, and not healthy while it is missing
        assert r.status_code == 503 and r.json()["runs"] == [TINY_RUN] and "broken" in r.json()["failed"]
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert any(x.get("request_id") == "cli-test-1" and x.get("path") == "/v1/health" for x in lines), err[-2000:]
    assert any(x.get("run") == "broken" and x["level"] == "error" for x in lines)
    assert all(line.startswith("{") for line in err.splitlines() if line.strip()), err[-2000:]
