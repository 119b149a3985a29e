"""Photo worker processes: the fast path's decode → detect → align, off the server's GIL.

The photo path (:func:`facelab.predict.fastpath.prepare_photo`) spends part of each upload in
Python (the detector's pyramid and boxes, the alignment's geometry) and so holds the GIL; with
HTTP parsing and the batching threads in the same process, one server process keeps only about
1.6 of 2 cores busy. :class:`PhotoWorkers` runs that path in ``processes`` worker processes, each
with the served runs loaded from the same settings, and hands every upload to the next free one
(balanced per request, not per connection); the server process keeps HTTP, the batching queues
(the crops of concurrent requests still meet in one forward pass) and everything else.

A worker that dies (killed, out of memory) fails only the uploads it held: they are answered
with an error and a fresh set of workers replaces the broken one.

Example:
    >>> from facelab.serve.settings import ServeSettings
    >>> workers = PhotoWorkers(ServeSettings(runs=["fer-emotions"], processes=1))  # doctest: +SKIP
    >>> photo = await workers.prepare(jpeg_bytes, "photo.jpg", ["fer-emotions"])   # doctest: +SKIP
"""
from __future__ import annotations

import json
import logging
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

log = logging.getLogger("facelab.serve")

_STORE = None  # in a worker: the runs it prepares photos for


def _start(settings_json: str) -> None:
    """Worker initialiser: load the runs (quietly: the server process has logged them).

    A worker imports neither FastAPI nor, for runs served by ONNX Runtime, torch.
    """
    global _STORE
    from .backend import limit_threads
    from .logging import setup_logging
    from .settings import ServeSettings
    from .store import RunStore

    settings = ServeSettings.model_validate(json.loads(settings_json))
    setup_logging("WARNING")
    _STORE = RunStore.load(settings)
    limit_threads(settings.torch_threads, import_torch=False)  # torch only where a run loaded it


def _ready() -> int:
    import os

    return os.getpid()


def _prepare(data: bytes, label: str, names: tuple[str, ...]):
    from ..predict.fastpath import prepare_photo

    return prepare_photo(data, label, [_STORE.runs[n].predictor for n in names])


class PhotoWorkers:
    """``processes`` worker processes that run :func:`prepare_photo` on uploads.

    Args:
        settings: the server's :class:`~facelab.serve.settings.ServeSettings` (each worker loads
            its runs from them, as the server did).
        processes: how many (default ``settings.processes``).
    """

    def __init__(self, settings, processes: int | None = None):
        from .deps import InferencePool  # the server process only: a worker never imports FastAPI

        self.processes = int(settings.processes if processes is None else processes)
        self._settings = settings.model_dump_json()
        self.restarts = 0
        #: uploads at the workers: queue depth and stall time for the health answer
        self.pool = InferencePool(self.processes, executor=self._new())

    @property
    def _executor(self) -> ProcessPoolExecutor:
        return self.pool.executor

    def _new(self) -> ProcessPoolExecutor:
        # spawn, not fork: the server process has threads (a forked child could inherit a held lock)
        return ProcessPoolExecutor(self.processes, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_start, initargs=(self._settings,))

    def start(self, timeout_s: float = 300.0) -> list[int]:
        """Start every worker and wait until each has loaded the runs; returns their process ids.

        Raises:
            ConfigError: a worker could not start (its error is in the message).
        """
        t0 = time.monotonic()
        futures = [self._executor.submit(_ready) for _ in range(self.processes)]
        try:
            pids = [f.result(timeout=timeout_s) for f in futures]
        except BrokenProcessPool as e:
            from ..errors import ConfigError

            raise ConfigError(f"a photo worker process failed to start ({e})",
                              fix="a script that serves with create_app must start the server under "
                                  "`if __name__ == \"__main__\":` (worker processes import the script), "
                                  "or pass processes=0 (`facelab serve --processes 0`)") from None
        log.info("photo workers ready", extra={"processes": self.processes, "seconds": round(time.monotonic() - t0, 1)})
        return pids

    async def prepare(self, data: bytes, label: str, names: list[str]):
        """One upload through decode → detect → align in a worker: a
        :class:`~facelab.predict.fastpath.PreparedPhoto` for the runs ``names``.

        Raises:
            ApiError: 503 when the worker died on this upload (a new set of workers is started).
        """
        from .errors import ApiError

        executor = self._executor
        try:
            return await self.pool.run(_prepare, data, label, tuple(names))
        except BrokenProcessPool:
            self._replace(executor)
            raise ApiError(503, f"a photo worker process died while reading {label}",
                           fix="retry; if it happens again for this photo, send a smaller one "
                               "(the worker may have run out of memory)") from None

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        if self._executor is not broken:  # another request replaced it already
            return
        log.error("a photo worker process died: starting new ones", extra={"processes": self.processes})
        self.restarts += 1
        self.pool.executor = self._new()
        broken.shutdown(wait=False, cancel_futures=True)

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop the workers: queued uploads are cancelled, one still busy after ``timeout_s`` is
        terminated (a shutdown never waits on a stuck photo)."""
        procs = list((getattr(self._executor, "_processes", None) or {}).values())
        self._executor.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + timeout_s
        for proc in procs:
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                log.warning("a photo worker did not stop: terminated", extra={"pid": proc.pid})
                proc.terminate()
                proc.join(5.0)


__all__ = ["PhotoWorkers"]
