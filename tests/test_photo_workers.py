"""Photo worker processes (serve/photo_workers.py): a real uvicorn server whose decode → detect →
align runs in spawned worker processes, with the shipped models and the default detector."""
from __future__ import annotations

import os
import signal
import time

import httpx
import pytest

from facelab.app.samples import make_sample
from facelab.serve.app import create_app
from facelab.serve.settings import ServeSettings

from test_serve_support import blank_photo, face_photo, jpeg_bytes, running_server

RUNS = ["fer-emotions", "celeba-attributes"]


def _photos() -> list[tuple[str, bytes]]:
    return [("face.jpg", face_photo()), ("blank.jpg", blank_photo()),
            ("woman.jpg", jpeg_bytes(make_sample("smiling-woman"))),
            ("upside-down.jpg", jpeg_bytes(make_sample("smiling-woman")[::-1].copy()))]


def _answers(url: str) -> list:
    out = []
    with httpx.Client(base_url=url, timeout=120) as c:
        for name, data in _photos():
            r = c.post("/v1/predict", files={"file": (name, data, "image/jpeg")})
            assert r.status_code == 200, r.text
            out.append(r.json()["predictions"])
        r = c.post("/v1/predict/batch", files=[("files", (n, d, "image/jpeg")) for n, d in _photos()])
        assert r.status_code == 200, r.text
        out.append([x["predictions"] for x in r.json()["results"]])
        bad = c.post("/v1/predict", files={"file": ("notes.jpg", b"not a photo", "image/jpeg")})
        assert bad.status_code == 415 and "notes.jpg" in bad.json()["error"]
        out.append(bad.json()["error"])
    return out


def test_worker_processes_answer_exactly_as_the_server_threads(tmp_path):
    """Same photos, same JSON, whether the photo path runs in 2 worker processes or in threads."""
    answers = {}
    for processes in (2, 0):
        app = create_app(ServeSettings(runs=RUNS, runs_dir=tmp_path, processes=processes, workers=2))
        with running_server(app) as url:
            health = httpx.get(f"{url}/v1/health", timeout=30).json()
            assert health["status"] == "ok" and health["processes"] == processes
            answers[processes] = _answers(url)
            if processes:
                workers = app.state.photo_workers
                assert len(workers._executor._processes) == processes and workers.pool.pending == 0
    assert answers[2] == answers[0]
    faces = [len(p[0]["faces"]) for p in answers[2][:4]]
    assert faces[0] >= 1 and faces[1] == 0 and faces[2] >= 1  # found where there is a face, not in a blank


def test_a_killed_worker_fails_only_its_upload_and_is_replaced(tmp_path):
    app = create_app(ServeSettings(runs=["fer-emotions"], runs_dir=tmp_path, processes=1, workers=1))
    with running_server(app) as url, httpx.Client(base_url=url, timeout=120) as c:
        post = lambda: c.post("/v1/predict", content=face_photo(), headers={"content-type": "image/jpeg"})  # noqa: E731
        assert post().status_code == 200
        (pid,) = list(app.state.photo_workers._executor._processes)
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
        statuses = []
        for _ in range(3):
            r = post()
            statuses.append(r.status_code)
            if r.status_code == 200:
                break
            assert r.status_code == 503 and "photo worker process died" in r.json()["error"], r.text
        assert statuses[-1] == 200 and statuses.count(503) <= 1, statuses
        assert app.state.photo_workers.restarts == 1
        assert pid not in app.state.photo_workers._executor._processes
        assert c.get("/v1/health").json()["status"] == "ok"


def test_a_script_without_a_main_guard_gets_a_message_that_says_so(tmp_path):
    """Worker processes import the script that started the server: one that serves at import time
    (no `if __name__ == "__main__":`) is told what to change, not left hanging."""
    import subprocess
    import sys

    script = tmp_path / "serve_here.py"
    script.write_text("from facelab.serve.app import create_app\nfrom facelab.serve.settings import ServeSettings\n"
                      "from fastapi.testclient import TestClient\n"
                      f"app = create_app(ServeSettings(runs=['fer-emotions'], runs_dir={str(tmp_path)!r}, processes=1))\n"
                      "with TestClient(app) as c:\n    print(c.get('/v1/health').json()['processes'])\n")
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert r.returncode != 0
    assert "__main__" in r.stderr and "processes=0" in r.stderr, r.stderr[-3000:]


@pytest.mark.parametrize("value", ["-1", "65"])
def test_cli_refuses_a_bad_process_count(value, capsys):
    from facelab.cli.main import main

    with pytest.raises(SystemExit) as e:
        main(["serve", "--processes", value])
    assert e.value.code == 2 and "--processes" in " ".join(capsys.readouterr().err.split())


def test_closing_terminates_a_worker_stuck_on_a_photo(tmp_path):
    from facelab.serve.photo_workers import PhotoWorkers

    workers = PhotoWorkers(ServeSettings(runs=["fer-emotions"], runs_dir=tmp_path, processes=1))
    workers.start()
    (proc,) = workers._executor._processes.values()
    workers._executor.submit(time.sleep, 60)  # a photo that never finishes
    time.sleep(0.5)
    t0 = time.monotonic()
    workers.close(timeout_s=1.0)
    assert time.monotonic() - t0 < 10 and not proc.is_alive()
