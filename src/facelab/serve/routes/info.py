"""``GET /v1/models`` and ``GET /v1/health``."""
from __future__ import annotations

import time

from fastapi import APIRouter, Request

from ... import __version__
from ..deps import Settings, Store
from ..schemas import HealthOut, ModelOut, ModelsOut

router = APIRouter(prefix="/v1", tags=["info"])


@router.get("/models", response_model=ModelsOut, summary="The served runs")
async def models(store: Store) -> ModelsOut:
    """The served runs with target, task, classes, model, metrics and input geometry."""
    return ModelsOut(models=[ModelOut(**store.runs[n].info) for n in store.names], failed=store.failed)


@router.get("/health", response_model=HealthOut, summary="Liveness and what is loaded")
async def health(request: Request, store: Store, settings: Settings) -> HealthOut:
    """`ok` when at least one run is served (the server does not start otherwise); `queue_depth`
    counts requests waiting for or in the inference pool and face crops waiting for a batch."""
    pool = getattr(request.app.state, "pool", None)
    inference = int(getattr(pool, "pending", 0))
    batching = {n: b.depth for n, b in getattr(request.app.state, "batchers", {}).items()}
    return HealthOut(status="ok", version=__version__, runs=store.names, failed=store.failed,
                     workers=settings.workers,
                     uptime_s=round(time.monotonic() - request.app.state.started, 1),
                     queue_depth=inference + sum(batching.values()),
                     queues={"inference": inference, "batching": batching})
