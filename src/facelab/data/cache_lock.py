"""One writer per prepared cache: ``<cache>.lock``, held with ``flock`` and naming its owner.

Two ``facelab data prepare`` of the same data at once (two terminals, a notebook and a script)
would share one ``<cache>.partial`` folder: one could remove it under the other, or rename it into
place before the other's images were written. So the second waits for the first, saying who
holds the lock, and then finds the finished cache and reuses it.

Why ``flock`` and not only a PID file: the kernel drops the lock when its process dies however it
dies (``kill -9`` included), so a stale lock can never block anyone; the PID, host and start time
written into the file are for the message. The file is removed by its holder before the lock is
released; a waiter that locked a file already unlinked notices (inode changed) and tries again.

Example:
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "cache"
    >>> with cache_lock(out):
    ...     holder(out.with_name("cache.lock"))["pid"] == os.getpid()
    True
"""
from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from ..errors import DataError

TIMEOUT_ENV = "FACELAB_LOCK_TIMEOUT"
DEFAULT_TIMEOUT = 6 * 3600.0  # a full-size prepare on a slow disk takes minutes; hours means something is stuck


def lock_path(out: Path) -> Path:
    """The lock file of the cache folder ``out``: ``<out>.lock`` beside it."""
    return out.with_name(out.name + ".lock")


def holder(lock: Path) -> dict:
    """What the lock file says about its owner (``pid``, ``host``, ``since``); {} when unreadable."""
    try:
        obj = json.loads(lock.read_text())
        return obj if isinstance(obj, dict) else {}
    except (OSError, ValueError):
        return {}


def _describe(info: dict) -> str:
    if not info.get("pid"):
        return "another process"
    since = info.get("since")
    when = time.strftime(" since %H:%M:%S", time.localtime(since)) if isinstance(since, (int, float)) else ""
    return f"process {info['pid']} on {info.get('host', '?')}{when}"


def _timeout(timeout: float | None) -> float:
    if timeout is not None:
        return float(timeout)
    try:
        return float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT))
    except ValueError:
        return DEFAULT_TIMEOUT


@contextmanager
def cache_lock(out: Path, *, timeout: float | None = None,
               say: Callable[[str], None] = lambda msg: None) -> Iterator[Path]:
    """Hold the lock of cache folder ``out`` for the ``with`` block; wait while another holds it.

    Args:
        out: the cache folder (need not exist).
        timeout: seconds to wait (default ``$FACELAB_LOCK_TIMEOUT``, else 6 hours).
        say: where the "waiting for process N" message goes.

    Raises:
        DataError: still held by another process after ``timeout`` seconds.
    """
    lock = lock_path(Path(out))
    lock.parent.mkdir(parents=True, exist_ok=True)
    limit = _timeout(timeout)
    deadline = time.monotonic() + limit
    told = False
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            who = _describe(holder(lock))
            if time.monotonic() >= deadline:
                raise DataError(f"{out} is being prepared by {who}; waited {limit:.0f} s for it", path=lock,
                                fix=f"let that prepare finish (or stop it), then run this again; "
                                    f"set {TIMEOUT_ENV} to wait longer") from None
            if not told:
                say(f"waiting: {who} is preparing {out} (one prepare per cache at a time; "
                    "this one reuses its result)")
                told = True
            time.sleep(0.2)
            continue
        try:
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if not same:  # the previous holder removed the file after we opened it: lock the new one
            os.close(fd)
            continue
        break
    try:
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "since": time.time()}).encode())
        yield lock
    finally:
        try:
            os.unlink(lock)  # before unlocking: a waiter then sees a changed inode and retries
        except FileNotFoundError:
            pass
        os.close(fd)  # releases the flock
