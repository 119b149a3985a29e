"""Micro-batching: the face crops of concurrent requests are classified together.

One :class:`MicroBatcher` per served run owns one thread. Requests put their crops in its queue
and wait on a future; the thread takes the first waiting request, gathers more for up to
``window_ms`` (or until ``max_faces`` crops), classifies them in ONE call of the run's model and
hands each request its own rows, in the order its crops were given. A network call costs
nearly the same for 1 face as for 16 on a CPU, so under load the model runs a few times per
window instead of once per request, and one thread per run means the model never competes with
itself for the cores.

Failures stay with their request: when a batch fails (say one request's crops have the wrong
shape), each request of it is classified again on its own, so only the bad one gets the error.
A request that waited longer than its ``timeout_s`` is answered with :class:`BatchTimeout` and
its crops are not classified.

Example:
    >>> import numpy as np
    >>> b = MicroBatcher(lambda x: x.reshape(len(x), -1).mean(1, keepdims=True), name="demo")
    >>> b.submit_sync(np.ones((2, 4, 4, 3), np.uint8)).ravel().tolist()
    [1.0, 1.0]
    >>> b.close()
"""
from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

log = logging.getLogger("facelab.serve")


class BatchTimeout(TimeoutError):
    """A request waited in the batching queue longer than its timeout."""


@dataclass
class _Item:
    crops: np.ndarray
    deadline: float
    future: Future = field(default_factory=Future)


class MicroBatcher:
    """A queue that classifies the crops of concurrent callers in shared batches.

    Args:
        classify: uint8 NHWC crops → (N, outputs) probabilities (e.g. ``Predictor.classify``).
        window_ms: how long the first request of a batch waits for others to join it.
        max_faces: the most crops in one batch (a request with more is classified alone).
        timeout_s: default time a request may wait before it is answered with
            :class:`BatchTimeout`.
        name: the run's name (thread name, logs).
    """

    def __init__(self, classify: Callable[[np.ndarray], np.ndarray], *, window_ms: float = 4.0,
                 max_faces: int = 32, timeout_s: float = 10.0, name: str = ""):
        self.classify = classify
        self.window_s = max(0.0, float(window_ms)) / 1000.0
        self.max_faces = max(1, int(max_faces))
        self.timeout_s = float(timeout_s)
        self.name = name
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._waiting = 0  # crops queued, not yet taken into a batch
        self._lock = threading.Lock()
        self._closed = False
        #: batches run and faces classified (for the health answer and the benchmarks)
        self.batches = 0
        self.faces = 0
        self._thread = threading.Thread(target=self._loop, name=f"facelab-batch-{name}", daemon=True)
        self._thread.start()

    # -- callers -------------------------------------------------------------------------------
    @property
    def depth(self) -> int:
        """Face crops waiting for a batch."""
        return self._waiting

    def submit(self, crops: np.ndarray, timeout_s: float | None = None) -> Future:
        """Queue ``crops`` (N, H, W, C); the future gives their (N, outputs) probabilities."""
        if self._closed:
            raise RuntimeError(f"the batching queue of {self.name!r} is closed")
        crops = np.asarray(crops)
        item = _Item(crops, time.monotonic() + (self.timeout_s if timeout_s is None else float(timeout_s)))
        if len(crops) == 0:
            item.future.set_result(np.zeros((0, 0), np.float32))
            return item.future
        with self._lock:
            self._waiting += len(crops)
        self._queue.put(item)
        return item.future

    def submit_sync(self, crops: np.ndarray, timeout_s: float | None = None) -> np.ndarray:
        """:meth:`submit` and wait (from a worker thread)."""
        t = self.timeout_s if timeout_s is None else float(timeout_s)
        return self.submit(crops, t).result(timeout=t + 5.0)

    async def run(self, crops: np.ndarray, timeout_s: float | None = None) -> np.ndarray:
        """:meth:`submit` and await the result (from the event loop).

        Raises:
            BatchTimeout: no result within ``timeout_s`` (the crops are then dropped unclassified).
        """
        t = self.timeout_s if timeout_s is None else float(timeout_s)
        fut = self.submit(crops, t)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(fut), t)
        except asyncio.TimeoutError:
            raise BatchTimeout(f"no answer from the model of {self.name!r} within {t:g} s") from None

    def close(self) -> None:
        """Stop the thread; requests still queued get an error."""
        self._closed = True
        self._queue.put(None)
        self._thread.join(timeout=5.0)

    # -- the batching thread ---------------------------------------------------------------------
    def _take(self, block_s: float) -> _Item | None:
        try:
            return self._queue.get(timeout=block_s) if block_s > 0 else self._queue.get_nowait()
        except queue.Empty:
            return None

    def _loop(self) -> None:
        carry: _Item | None = None
        while True:
            first = carry or self._queue.get()
            carry = None
            if first is None:
                break
            batch, n = [first], len(first.crops)
            end = time.monotonic() + self.window_s
            while n < self.max_faces:
                item = self._take(max(0.0, end - time.monotonic()))
                if item is None:
                    if time.monotonic() >= end:
                        break
                    continue
                if n + len(item.crops) > self.max_faces:
                    carry = item  # starts the next batch: a batch never exceeds max_faces
                    break
                batch.append(item)
                n += len(item.crops)
            with self._lock:
                self._waiting -= sum(len(i.crops) for i in batch)
            self._classify(batch)
        self._drain()

    def _drain(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not None and not item.future.done():
                item.future.set_exception(RuntimeError(f"the batching queue of {self.name!r} closed"))

    def _classify(self, batch: list[_Item]) -> None:
        now = time.monotonic()
        live = []
        for item in batch:
            if not item.future.set_running_or_notify_cancel():
                continue  # its caller gave up (an async timeout, a client gone)
            if now > item.deadline:
                item.future.set_exception(BatchTimeout(f"waited too long for the model of {self.name!r}"))
            else:
                live.append(item)
        if not live:
            return
        try:
            proba = np.asarray(self.classify(np.concatenate([i.crops for i in live])), np.float32)
            proba = proba.reshape(sum(len(i.crops) for i in live), -1)
        except Exception:  # the batching thread: a model failure fails these requests, never the thread
            if len(live) == 1:
                self._fail(live[0])
                return
            # one request's crops broke the batch: classify each alone, so only it fails
            for item in live:
                try:
                    p = np.asarray(self.classify(item.crops), np.float32).reshape(len(item.crops), -1)
                except Exception:  # as above: this request fails, the others are answered
                    self._fail(item)
                else:
                    item.future.set_result(p)
            self.batches += len(live)
            return
        self.batches += 1
        k = 0
        for item in live:
            item.future.set_result(proba[k:k + len(item.crops)])
            k += len(item.crops)
        self.faces += k

    def _fail(self, item: _Item) -> None:
        import sys

        e = sys.exc_info()[1] or RuntimeError("classification failed")
        log.error("classification failed", extra={"run": self.name, "reason": str(e)})
        item.future.set_exception(e)
