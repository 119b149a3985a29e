"""Behaviour under bad inputs and faults: a YAML object tag is never run, ``kill -9`` of prepare
and of training resumes to byte-identical results, the API answers 200 concurrent requests. (Malicious ``.pth``/``.pt``
pickles: tests/test_models.py and tests/test_bad_inputs.py; path-traversal run names:
tests/test_serve.py.)"""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from train_helpers import run_cli as _cli


def _sha(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def test_yaml_object_tags_are_refused_without_running(prepared_celeba, tmp_path, capsys, runs_dir):
    flag = tmp_path / "pwned"
    evil = f'!!python/object/apply:os.system ["touch {flag}"]\n'
    (tmp_path / "config.yaml").write_text(f"epochs: 1\nlr: {evil}")
    code, out, err = _cli(["train", prepared_celeba.path, "--target", "Smiling", "--config",
                           tmp_path / "config.yaml"], capsys)
    assert code == 2 and "Traceback" not in err, err
    (tmp_path / "models.yaml").write_text(f"- {evil}")
    code, out, err = _cli(["compare", prepared_celeba.path, "--target", "Smiling", "--epochs", "1",
                           "--models", tmp_path / "models.yaml"], capsys)
    assert code == 2 and "Traceback" not in err, err
    code, out, err = _cli(["train", prepared_celeba.path, "--target", "Smiling", "--epochs", "1",
                           "--param", f"widths={evil.strip()}"], capsys)
    assert code == 2 and "Traceback" not in err, err
    assert not flag.exists(), "a YAML tag ran code"


def _kill_when(proc, ready, seconds=240):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        if ready():
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    return False


@pytest.mark.slow
def test_kill_9_of_prepare_resumes_to_identical_bytes(tmp_path):
    from facelab.data.cache import prepare
    from facelab.data.synth import synthesize

    src = synthesize(tmp_path / "src", kind="folder", n=1600, seed=0, identities=4)
    whole = prepare(src, size=24, workers=1, out=tmp_path / "whole", progress=False)
    out = tmp_path / "cut"
    chunks = tmp_path / "cut.partial" / "chunks"
    proc = subprocess.Popen([sys.executable, "-m", "facelab.cli.main", "data", "prepare", str(src), "--size", "24",
                             "--crop", "square",  # as the Python call below (the CLI's default is auto)
                             "--workers", "1", "--out", str(out)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    killed = _kill_when(proc, lambda: chunks.is_dir() and any(chunks.glob("*.json")))
    assert killed, "prepare finished before it could be killed: make the source larger"
    assert not out.exists()  # killed mid-way: no cache folder claims to be complete
    resumed = prepare(src, size=24, workers=1, out=out, progress=False)
    assert resumed.meta["resumed_images"] > 0
    assert _sha(out / "images.u8") == _sha(whole.path / "images.u8")


@pytest.mark.slow
def test_kill_9_of_training_resumes_to_identical_weights(tmp_path, monkeypatch):
    from train_helpers import make_cache

    cache = make_cache(tmp_path / "c", n=256, splits=(0.2, 0.0))
    runs = tmp_path / "runs"
    env = {**os.environ, "FACELAB_RUNS": str(runs)}
    base = [sys.executable, "-m", "facelab.cli.main", "train", str(cache.path), "--target", "A", "--epochs", "4",
            "--threads", "1", "--param", "widths=[8,16]", "--param", "depths=[1,1]", "--seed", "3"]
    subprocess.run(base + ["--name", "whole"], env=env, check=True, capture_output=True)
    proc = subprocess.Popen(base + ["--name", "cut"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)

    def one_epoch_done() -> bool:
        try:
            import json

            return json.loads((runs / "cut" / "state.json").read_text()).get("epoch", 0) >= 1
        except (OSError, ValueError):
            return False

    assert _kill_when(proc, one_epoch_done), "training finished before it could be killed"
    done = subprocess.run(base + ["--resume", "--name", "cut"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert _sha(runs / "cut" / "model.safetensors") == _sha(runs / "whole" / "model.safetensors")


@pytest.mark.slow
def test_api_answers_200_concurrent_requests(prepared_celeba):
    import threading

    import httpx

    from facelab.serve.app import create_app
    from facelab.serve.settings import ServeSettings
    from test_serve_support import TINY_RUN, face_photo, running_server, tiny_run_dir

    runs = tiny_run_dir(prepared_celeba)
    app = create_app(ServeSettings(runs=[TINY_RUN], runs_dir=runs, workers=2))
    photo = face_photo()
    codes: list[int] = []
    lock = threading.Lock()
    with running_server(app) as url:
        with httpx.Client(base_url=url, timeout=120) as c:  # warm up: the first request loads the model
            assert c.post("/v1/predict", files={"file": ("f.jpg", photo, "image/jpeg")}).status_code == 200

        def go(k: int) -> None:
            with httpx.Client(base_url=url, timeout=120) as c:
                for _ in range(k):
                    r = c.post("/v1/predict", files={"file": ("f.jpg", photo, "image/jpeg")})
                    with lock:
                        codes.append(r.status_code)

        threads = [threading.Thread(target=go, args=(10,)) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(codes) == 200 and set(codes) == {200}
