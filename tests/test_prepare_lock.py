"""Two prepares of the same data at once: one writer per cache, the other waits
and reuses; a cache says complete only when its images are all there. Real processes, real files."""
from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time

import pytest

from facelab.data.cache import prepare
from facelab.data.prepared import IMAGES_FILE, META_FILE, PreparedDataset


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    from facelab.data.synth import synthesize

    return synthesize(tmp_path_factory.mktemp("race_src"), kind="folder", n=200, seed=0, identities=4)


def _start(source, out, **env):
    cmd = [sys.executable, "-m", "facelab.cli.main", "data", "prepare", str(source), "--size", "24", "--crop", "square",
           "--workers", "1", "--out", str(out)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **env})


def _hold(lock_file):
    """Hold ``<cache>.lock`` the way a running prepare does (flock + the owner's PID)."""
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.write(fd, json.dumps({"pid": os.getpid(), "host": "here", "since": time.time()}).encode())
    return fd


def _wait_for(proc_files, text, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if all(text in f.read_text() for f in proc_files):
            return True
        time.sleep(0.2)
    return False


def test_two_processes_preparing_at_once_share_one_complete_cache(source, tmp_path):
    out = tmp_path / "cache"
    fd = _hold(tmp_path / "cache.lock")  # both start while the cache is held: they must queue
    logs = [tmp_path / "a.err", tmp_path / "b.err"]
    procs = []
    for log in logs:
        cmd = [sys.executable, "-m", "facelab.cli.main", "data", "prepare", str(source), "--size", "24",
               "--crop", "square", "--workers", "1", "--out", str(out)]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log.open("w"), text=True))
    try:
        waited = _wait_for(logs, "waiting")
    finally:
        os.close(fd)  # release: now the two race for the cache for real
    codes = [p.wait(timeout=300) for p in procs]
    errs = [log.read_text() for log in logs]
    assert waited, errs
    assert codes == [0, 0], errs
    assert f"process {os.getpid()}" in errs[0]  # the message says who holds the cache
    assert sum("reusing" in e for e in errs) == 1, errs  # one built it, the other reused it
    meta = json.loads((out / META_FILE).read_text())
    assert meta["complete"] and (out / IMAGES_FILE).stat().st_size == meta["n"] * 24 * 24 * 3
    assert len(PreparedDataset.open(out)) == 200
    assert not (tmp_path / "cache.partial").exists() and not (tmp_path / "cache.lock").exists()


def test_a_lock_left_by_a_dead_process_does_not_block(source, tmp_path):
    out = tmp_path / "cache"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    (tmp_path / "cache.lock").write_text(json.dumps({"pid": int(dead), "host": "here", "since": 0}))
    t = time.perf_counter()
    ds = prepare(source, size=24, workers=1, out=out, progress=False)
    assert len(ds) == 200 and time.perf_counter() - t < 60


def test_waiting_too_long_is_a_clear_error(source, tmp_path):
    out = tmp_path / "cache"
    fd = _hold(tmp_path / "cache.lock")
    try:
        p = _start(source, out, FACELAB_LOCK_TIMEOUT="1")
        _, err = p.communicate(timeout=120)
    finally:
        os.close(fd)
    assert p.returncode == 2, err
    assert f"being prepared by process {os.getpid()}" in " ".join(err.split()) and "Traceback" not in err
    assert not out.exists()


def test_a_cache_marked_complete_without_its_images_is_prepared_again(source, tmp_path):
    import logging

    out = tmp_path / "cache"
    ds = prepare(source, size=24, workers=1, out=out, progress=False)
    (out / IMAGES_FILE).unlink()  # what a race would leave: complete: true and no images
    logger, said = logging.getLogger("facelab"), []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: said.append(record.getMessage())
    old = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        again = prepare(source, size=24, workers=1, out=out, progress=True)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)
    assert any("preparing it again" in m for m in said), said
    assert len(again) == len(ds) and (out / IMAGES_FILE).stat().st_size == len(ds) * 24 * 24 * 3
