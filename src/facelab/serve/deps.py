"""What routes get injected: the loaded runs and the inference pool (``Annotated[..., Depends]``)."""
from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any, Callable, TypeVar

from fastapi import Depends, Request

from .settings import ServeSettings
from .store import RunStore

T = TypeVar("T")


def get_store(request: Request) -> RunStore:
    return request.app.state.store


def get_settings(request: Request) -> ServeSettings:
    return request.app.state.settings


class InferencePool:
    """A bounded thread pool for CPU-bound work, so that the event loop never waits on a model.

    torch and OpenCV release the GIL in their kernels, so threads give real parallelism; the pool
    is sized to the cores and each call is limited to ``torch_threads`` so they do not oversubscribe.

    ``executor``: run the calls there instead (the photo worker processes' pool); the queue
    depth and stall time are kept the same way.

    Example:
        >>> pool = InferencePool(workers=2)
        >>> # result = await pool.run(fn, arg)
    """

    def __init__(self, workers: int, executor=None):
        self.workers = workers
        self.pending = 0  # calls submitted and not finished (the health answer's queue depth)
        self.progress_at = time.monotonic()  # when a call last finished, or the queue last began
        self.executor = executor or ThreadPoolExecutor(max_workers=workers, thread_name_prefix="facelab-infer")

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        if not self.pending:
            self.progress_at = time.monotonic()
        self.pending += 1  # only touched from the event loop's thread
        try:
            return await loop.run_in_executor(self.executor, fn, *args)
        finally:
            self.pending -= 1
            self.progress_at = time.monotonic()

    def stalled_s(self) -> float:
        """Seconds the queue has waited with no call finishing (0 when nothing is queued).

        Example:
            >>> InferencePool(workers=1).stalled_s()
            0.0
        """
        return round(time.monotonic() - self.progress_at, 1) if self.pending else 0.0

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


def get_pool(request: Request) -> InferencePool:
    return request.app.state.pool


Store = Annotated[RunStore, Depends(get_store)]
Settings = Annotated[ServeSettings, Depends(get_settings)]
Pool = Annotated[InferencePool, Depends(get_pool)]
