"""`POST /v1/predict/video` against a real uvicorn server serving a shipped model, with clips
written here."""
from __future__ import annotations

import httpx
import pytest

from facelab.serve.app import create_app
from facelab.serve.settings import ServeSettings

from test_serve_support import running_server
from test_video import _audio_only
from video_support import crossing_clip


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    settings = ServeSettings(runs=["fer-emotions"], runs_dir=tmp_path_factory.mktemp("no-runs"), max_upload_mb=1,
                             workers=1, backend="torch")
    with running_server(create_app(settings)) as url, httpx.Client(base_url=url, timeout=120) as c:
        yield c


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return crossing_clip(tmp_path_factory.mktemp("api-video") / "crossing.mp4", seconds=1.2, fps=10)[0]


def test_a_video_upload_gets_tracks_and_frames(client, clip):
    r = client.post("/v1/predict/video", params={"every": 2, "smooth": 0.4},
                    files={"file": ("talk.mp4", clip.read_bytes(), "video/mp4")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["source"] == "talk.mp4" and body["runs"] == ["fer-emotions"] and "happy" in body["classes"]
    assert body["frames_decoded"] == 12 and body["frames_analysed"] == 6 and body["every"] == 2
    assert [f["frame"] for f in body["frames"]] == [0, 2, 4, 6, 8, 10]
    assert body["info"]["width"] == 480 and body["smooth"] == 0.4
    from facelab.predict.video_predict import HOLD

    assert body["hold"] == HOLD  # the library's default label hysteresis
    faces = [f for fr in body["frames"] for f in fr["faces"]]
    assert faces and {"track", "box", "probabilities", "smoothed", "labels"} <= set(faces[0])
    long = [t for t in body["tracks"] if t["frames"] >= 4]
    assert len(long) == 2 and all(t["dominant"]["fer-emotions"] in body["classes"] for t in long)


def test_raw_video_body(client, clip):
    r = client.post("/v1/predict/video", params={"fps": 2, "filename": "raw.mp4"}, content=clip.read_bytes(),
                    headers={"content-type": "video/mp4"})
    assert r.status_code == 200, r.text
    assert r.json()["source"] == "raw.mp4" and r.json()["frames_analysed"] == 3


@pytest.mark.parametrize("make, status, words", [
    (lambda p: p.read_bytes()[: len(p.read_bytes()) // 2], 415, "cut.mp4 cannot be read as a video"),
    (lambda p: _audio_only(p.parent / "sound.m4a").read_bytes(), 415, "cut.mp4 has no video stream"),
    (lambda p: b"", 415, "cut.mp4 is empty"),
    (lambda p: b"x" * (1024 * 1024 + 10), 413, "limit of 1 MB"),
])
def test_bad_uploads_are_named(client, clip, make, status, words):
    r = client.post("/v1/predict/video", files={"file": ("cut.mp4", make(clip), "video/mp4")})
    assert r.status_code == status, r.text
    assert words in r.json()["error"] and "facelab-video-" not in r.json()["error"]  # no temporary path


def test_wrong_form_and_unknown_run(client, clip):
    r = client.post("/v1/predict/video", files={"video": ("a.mp4", clip.read_bytes(), "video/mp4")})
    assert r.status_code == 422 and "`file`" in r.json()["error"]
    r = client.post("/v1/predict/video", params={"run": "nope"}, files={"file": ("a.mp4", b"x", "video/mp4")})
    assert r.status_code == 404 and r.json()["available"] == ["fer-emotions"]
