"""Shared by the serve, app and browser tests (no tests here): a tiny trained run, a real server.

The run is trained once per test session into the session's ``FACELAB_HOME`` and reused by every
module that asks for it.
"""
from __future__ import annotations

import io
import os
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

TINY_RUN = "tiny-smiling"


def tiny_run_dir(prepared) -> Path:
    """A runs folder holding one tiny CNN run on the prepared synthetic CelebA (trained once)."""
    import torch

    from facelab.paths import home
    from facelab.train.trainer import train

    runs = home() / "serve-runs"
    if not (runs / TINY_RUN / "model.safetensors").is_file():
        torch.set_num_threads(2)
        old = os.environ.get("FACELAB_RUNS")
        os.environ["FACELAB_RUNS"] = str(runs)  # the run lands here whatever train's default is
        try:
            run = train(prepared.path, target="Smiling", model="cnn", epochs=1, name=TINY_RUN, seed=0)
        finally:
            if old is None:
                os.environ.pop("FACELAB_RUNS", None)
            else:
                os.environ["FACELAB_RUNS"] = old
        assert Path(run.path).resolve() == (runs / TINY_RUN).resolve(), run.path
    return runs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")


@contextmanager
def running_server(app):
    """Serve ``app`` with a real uvicorn server on a free loopback port; yields the base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped during start-up"
        assert time.monotonic() < deadline, "uvicorn did not start in 60 s"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def jpeg_bytes(image: np.ndarray, quality: int = 90) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def face_photo() -> bytes:
    """A 640x480 JPEG with one synthetic face the detector finds."""
    from facelab.app.samples import make_sample

    return jpeg_bytes(make_sample("smiling-woman"))


def blank_photo() -> bytes:
    """A 640x480 JPEG with no face."""
    from facelab.app.samples import make_sample

    return jpeg_bytes(make_sample("no-face"))
