"""Decoding workers for ``prepare``: fresh Python processes fed chunk jobs as JSON lines.

Why not ``multiprocessing``: forking the caller hands the worker the caller's thread pools
(OpenCV, torch, BLAS) in a broken state, and a forked worker was seen to hang in its first OpenCV
call; ``spawn``/``forkserver`` re-import the caller's ``__main__`` script, which breaks scripts
without an ``if __name__ == "__main__"`` guard. A worker started as
``python -m facelab.data.cache_worker`` has neither problem.

Protocol: the parent writes one job (a JSON object, one line) to a worker's stdin; the worker
decodes it into the images file, writes the chunk's done-marker, and answers one JSON line
``[k, failures]`` or ``{"error": ..., "errno": ...}``. EOF on stdin ends the worker.
"""
from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .image import ImageError, decode_crop_resize


def atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_rows(images: str, rows: np.ndarray, buf: np.ndarray) -> None:
    """Write ``buf[j]`` at row ``rows[j]`` of the images file (rows ascending): one ``pwrite`` per
    run of consecutive rows, cheaper than faulting in a fresh memmap's pages image by image."""
    row_bytes = buf[0].nbytes if len(buf) else 0
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    fd = os.open(images, os.O_WRONLY)
    try:
        for a, b in zip(np.r_[0, breaks], np.r_[breaks, len(rows)]):
            data = memoryview(np.ascontiguousarray(buf[a:b])).cast("B")
            off, pos = int(rows[a]) * row_bytes, 0
            while pos < len(data):  # pwrite may write less than asked
                pos += os.pwrite(fd, data[pos:], off + pos)
    finally:
        os.close(fd)


def decode_chunk(job: dict) -> tuple[int, list]:
    """Decode one chunk of image rows into the images file, then write its done-marker."""
    if job.get("detect"):  # --crop detect: faces detected and aligned by the registered aligner's worker
        import importlib

        module, name = job["detect"]["worker"].split(":")
        return getattr(importlib.import_module(module), name)(job)
    s, c = job["size"], job["channels"]
    rows = np.asarray(job["rows"], dtype=np.int64)
    buf = np.zeros((len(rows), s, s, c), np.uint8)
    failures = []
    box, grey = (None if job["box"] is None else tuple(job["box"])), job["grey"]
    for j, path in enumerate(job["paths"]):
        try:
            buf[j] = decode_crop_resize(path, size=s, crop_box=box, grey=grey)
        except ImageError as e:
            failures.append([int(rows[j]), e.reason, path, e.message])
        except Exception as e:  # a decoder bug must cost one image, not the whole prepare
            failures.append([int(rows[j]), "corrupt_image", path, f"{type(e).__name__}: {e}"])
    write_rows(job["images"], rows, buf)
    atomic_write(Path(job["done"]), json.dumps(failures))  # after the rows: a marker means done
    return job["k"], failures


# -- the parent side -------------------------------------------------------------------------------
def worker_command() -> list[str]:
    return [sys.executable, "-m", "facelab.data.cache_worker"]


def start_workers(n: int) -> list[subprocess.Popen]:
    """Start ``n`` idle workers. ``prepare`` starts them before reading the source, so that their
    imports (about half a second) overlap with the reading."""
    env = dict(os.environ)
    pkg_root = str(Path(__file__).resolve().parents[2])  # the folder holding `facelab`: works without an install too
    env["PYTHONPATH"] = pkg_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("OMP_NUM_THREADS", "1")
    return [subprocess.Popen(worker_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                             env=env) for _ in range(max(1, n))]


def stop_workers(procs: list[subprocess.Popen], now: bool = False) -> None:
    """Close the workers' input (they exit when idle); ``now`` terminates them at once."""
    for p in procs:
        if p.poll() is None:
            try:
                p.stdin.close()
            except OSError:  # a broken pipe to a dead worker
                pass
            if now:
                p.terminate()
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        p.stdout.close()


class WorkerError(RuntimeError):
    """A decoding worker died or failed outside a file write (out of memory, killed, ...)."""


def run_pool(jobs: list[dict], workers: int, on_done: Callable[[dict, list], None],
             procs: list[subprocess.Popen] | None = None) -> None:
    """Decode ``jobs`` on ``workers`` worker processes (``procs`` if already started), calling
    ``on_done(job, failures)`` as each finishes. Raises OSError for a worker's write error,
    WorkerError if a worker dies. On any exception (Ctrl-C included) the workers are stopped;
    finished chunks keep their markers. The workers are always stopped on return."""
    pending: Iterable[dict] = iter(jobs)
    need = max(1, min(workers, len(jobs)))
    procs = list(procs or [])
    stop_workers(procs[need:])  # started early, more than there are chunks
    procs = procs[:need]
    busy: dict[int, dict] = {}
    sel = selectors.DefaultSelector()

    def feed(p: subprocess.Popen) -> None:
        job = next(pending, None)
        if job is None:
            p.stdin.close()
            return
        busy[p.pid] = job
        try:
            p.stdin.write(json.dumps(job) + "\n")
            p.stdin.flush()
        except BrokenPipeError:
            raise WorkerError(f"decoding worker {p.pid} exited (code {p.wait()})") from None

    try:
        procs += start_workers(need - len(procs)) if len(procs) < need else []
        for p in procs:
            sel.register(p.stdout, selectors.EVENT_READ, p)
            feed(p)
        while busy:
            for key, _ in sel.select():
                p = key.data
                line = p.stdout.readline()  # one job in flight per worker: at most one line
                if not line:
                    raise WorkerError(f"decoding worker {p.pid} exited (code {p.wait()})")
                answer = json.loads(line)
                if isinstance(answer, dict):
                    if answer.get("errno") is None:
                        raise WorkerError(f"decoding worker {p.pid} failed: {answer['error']}")
                    raise OSError(answer["errno"], answer["error"], answer.get("filename"))
                job = busy.pop(p.pid)
                on_done(job, answer[1])
                feed(p)
                if p.stdin.closed:
                    sel.unregister(p.stdout)
    finally:
        # interrupted or failed: stop now (a half-written chunk has no marker, it is redone)
        stop_workers(procs, now=bool(busy))
        sel.close()


def main() -> None:
    # Ctrl-C reaches the whole process group: the parent decides, and stops us if need be.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import cv2

    cv2.setNumThreads(1)
    for line in sys.stdin:
        try:
            answer = list(decode_chunk(json.loads(line)))
        except OSError as e:  # disk full, permissions: the parent turns it into a DataError
            answer = {"error": e.strerror or str(e), "errno": e.errno, "filename": e.filename}
        except Exception as e:  # a worker process: every failure goes back to the parent as an answer
            answer = {"error": f"{type(e).__name__}: {e}", "errno": None}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
