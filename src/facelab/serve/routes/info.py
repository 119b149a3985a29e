"""``GET /v1/models`` and ``GET /v1/health``."""
from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ... import __version__
from ..deps import Settings, Store
from ..schemas import HealthOut, ModelOut, ModelsOut

router = APIRouter(prefix="/v1", tags=["info"])


@router.get("/models", response_model=ModelsOut, summary="The served runs")
async def models(store: Store) -> ModelsOut:
    """The served runs with target, task, classes, model, metrics and input geometry."""
    return ModelsOut(models=[ModelOut(**store.runs[n].info) for n in store.names], failed=store.failed)


@router.get("/health", response_model=HealthOut, summary="Liveness and what is loaded",
            responses={503: {"model": HealthOut, "description": "a run failed or does not answer, or "
                                                                "the inference queue is stuck"}})
async def health(request: Request, store: Store, settings: Settings):
    """`ok` (HTTP 200) only when every run asked for is served and answers (each classifies a blank
    face within `health_timeout_s`) and the inference queue moves; otherwise HTTP 503 with
    `problems` saying why (the container's health check reads the status code). `queue_depth`
    counts requests waiting for or in the inference pool or at the photo worker processes, and face
    crops waiting for a batch."""
    pool = getattr(request.app.state, "pool", None)
    photo_workers = getattr(request.app.state, "photo_workers", None)
    photo_pool = photo_workers.pool if photo_workers is not None else None
    inference = int(getattr(pool, "pending", 0)) + int(getattr(photo_pool, "pending", 0))
    batching = {n: b.depth for n, b in getattr(request.app.state, "batchers", {}).items()}
    problems = [f"run {n} failed to load: {why}" for n, why in store.failed.items()]
    stalled = max((p.stalled_s() for p in (pool, photo_pool) if p is not None), default=0.0)
    if stalled > settings.batch_timeout_s:
        problems.append(f"the inference queue is stuck: {inference} calls waiting, none finished for {stalled:.0f} s")
    try:
        bad = await asyncio.wait_for(asyncio.to_thread(store.probe), timeout=settings.health_timeout_s)
        problems += [f"run {n} does not answer: {why}" for n, why in bad.items()]
    except asyncio.TimeoutError:
        problems.append(f"the runs did not answer a blank face within {settings.health_timeout_s:g} s")
    out = HealthOut(status="unhealthy" if problems else "ok", problems=problems, version=__version__,
                    runs=store.names, failed=store.failed, workers=settings.workers,
                    processes=photo_workers.processes if photo_workers is not None else 0,
                    uptime_s=round(time.monotonic() - request.app.state.started, 1),
                    queue_depth=inference + sum(batching.values()),
                    queues={"inference": inference, "batching": batching, "stalled_s": stalled})
    return JSONResponse(out.model_dump(), status_code=503) if problems else out
