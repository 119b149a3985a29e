"""``/v1/verify``, ``/v1/identify`` and ``/v1/galleries`` against a real uvicorn server: writes need
the server's token (401 and nothing written otherwise); reading and verifying need none."""
from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest

from facelab.serve.app import create_app
from facelab.serve.settings import ServeSettings
from facelab.serve.store import RunStore

from test_serve_support import running_server
from predict_support import needs_dlib

TOKEN = "s3cret-token-for-tests"


@pytest.fixture(scope="module")
def people(tmp_path_factory):
    from facelab.data.synth import synthesize

    root = synthesize(tmp_path_factory.mktemp("api-people"), kind="folder", n=6, seed=7, identities=2)
    return {d.name: sorted(d.glob("*.jpg")) for d in sorted(root.iterdir()) if d.is_dir()}


def _server(tmp_path_factory, token):
    gdir = tmp_path_factory.mktemp("galleries")
    app = create_app(ServeSettings(runs=[], workers=2, token=token, galleries_dir=gdir, detector="haar"),
                     store=RunStore({}, {}))
    return app, gdir


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    app, gdir = _server(tmp_path_factory, TOKEN)
    with running_server(app) as url, httpx.Client(base_url=url, timeout=300) as c:
        yield c, gdir


@pytest.fixture(scope="module")
def api_without_token(tmp_path_factory):
    app, gdir = _server(tmp_path_factory, None)
    with running_server(app) as url, httpx.Client(base_url=url, timeout=60) as c:
        yield c, gdir


def b64(p: Path) -> dict:
    return {"image": base64.b64encode(p.read_bytes()).decode(), "filename": p.name}


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token-xyz"}, {"Authorization": TOKEN}])
def test_writes_without_the_right_token_are_refused_and_write_nothing(api, people, headers):
    c, gdir = api
    p = next(iter(people.values()))[0]
    r = c.post("/v1/galleries/fam/people", json={"person": "Ann", "images": [b64(p)]}, headers=headers)
    assert r.status_code == 401 and "token" in r.json()["error"]
    assert not (gdir / "fam.sqlite").exists()
    r = c.delete("/v1/galleries/fam/people/Ann", headers=headers)
    assert r.status_code == 401


def test_a_server_without_a_token_refuses_every_write(api_without_token, people):
    c, gdir = api_without_token
    p = next(iter(people.values()))[0]
    r = c.post("/v1/galleries/fam/people", json={"person": "Ann", "images": [b64(p)]},
               headers={"Authorization": "Bearer anything-at-all"})
    assert r.status_code == 401 and "started without a token" in r.json()["error"]
    assert list(gdir.iterdir()) == []


def test_gallery_names_from_clients_are_never_paths(api):
    c, _ = api
    assert c.get("/v1/galleries/..%2F..%2Fetc").status_code in (400, 404)
    r = c.post("/v1/identify", json={"image": "aGk=", "gallery": "../x"})
    assert r.status_code == 400 and "refused gallery name" in r.json()["error"]
    assert c.get("/v1/galleries/nothing-here").status_code == 404


@needs_dlib
def test_enroll_identify_verify_remove(api, people):
    c, gdir = api
    auth = {"Authorization": f"Bearer {TOKEN}"}
    names = sorted(people)
    for n in names:
        r = c.post("/v1/galleries/fam/people", json={"person": n, "images": [b64(p) for p in people[n][:2]]},
                   headers=auth)
        assert r.status_code == 200, r.text
        assert r.json()["added"] == 2
    info = c.get("/v1/galleries/fam").json()
    assert info["people"] == 2 and info["framing"]["detector"] == "haar"
    fid = info["people_list"][0]["face_ids"][0]
    thumb = c.get(f"/v1/galleries/fam/faces/{fid}.jpg")
    assert thumb.status_code == 200 and thumb.content[:2] == b"\xff\xd8"
    assert [g["name"] for g in c.get("/v1/galleries").json()["galleries"]] == ["fam"]
    probe = people[names[0]][2]
    with open(probe, "rb") as f:
        r = c.post("/v1/identify?gallery=fam&top_k=2", files={"file": (probe.name, f, "image/jpeg")})
    assert r.status_code == 200, r.text
    face = r.json()["faces"][0]
    assert [m["person"] for m in face["candidates"]][0] == names[0] and len(face["candidates"]) == 2
    r = c.post("/v1/verify", json={"images": [b64(people[names[0]][0]), b64(people[names[0]][1])],
                                   "gallery": "fam"})
    assert r.status_code == 200 and r.json()["threshold"]["source"] == "default"
    assert r.json()["pairs"][0]["a"] == people[names[0]][0].name
    bad = c.post("/v1/verify", json={"images": [b64(probe), b64(probe)], "threshold": 7})
    assert bad.status_code == 400 and "threshold" in bad.json()["error"]
    assert c.delete(f"/v1/galleries/fam/people/{names[1]}", headers=auth).json()["removed"] == 2
    assert c.delete("/v1/galleries/fam/people/Nobody", headers=auth).status_code == 404
    assert c.get("/v1/galleries/fam").json()["people"] == 1
