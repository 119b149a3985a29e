"""The REST API: ``create_app(settings)`` builds a FastAPI app around the runs it loads.

Example: docs/python.md#serve-and-the-dashboard.
"""
from __future__ import annotations

import asyncio
import logging
import time
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from .. import __version__
from .backend import limit_threads
from .deps import InferencePool
from .errors import install_error_handlers
from .limits import BodySizeLimitMiddleware
from .logging import RequestContextMiddleware, setup_logging
from .photo_workers import PhotoWorkers
from .pipeline import make_batchers
from .routes import identity, info, predict, video
from .settings import ServeSettings
from .store import RunStore

log = logging.getLogger("facelab.serve")

DESCRIPTION = """
Face detection and attribute/emotion/identity prediction with runs trained by `facelab train`.

* `POST /v1/predict` — one photo (multipart field `file`, JSON `{"image": "<base64>"}`, or the raw
  bytes with `Content-Type: image/*`); the `Server-Timing` header gives the time per stage
* `POST /v1/predict/batch` — several photos (multipart field `files`, or JSON `{"images": [...]}`)
* `GET /v1/models` — the served runs; `GET /v1/health` — liveness and queue depth

Errors are JSON `{"error", "fix", "request_id"}`. Every answer carries an `X-Request-ID` header.
"""


def create_app(settings: ServeSettings, *, store: RunStore | None = None) -> FastAPI:
    """Build the API app and load its runs now (so a bad run set fails before the port opens).

    Args:
        settings: what to serve and how (:class:`ServeSettings`).
        store: already loaded runs (tests); default: load ``settings.runs``.

    Raises:
        RunError: none of the runs could be loaded (each failure named).

    Example: docs/python.md#serve-and-the-dashboard.
    """
    setup_logging(settings.log_level)
    limit_threads(settings.torch_threads)
    # Photo worker processes load the runs from the settings themselves: only for runs loaded so.
    own_runs = store is None
    store = store or RunStore.load(settings)
    for name, reason in store.failed.items():
        log.warning("serving without a run that failed to load", extra={"run": name, "reason": reason})

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.pool = InferencePool(settings.workers)
        # one micro-batching queue per run (serve/batching.py); empty with --no-fast
        app.state.batchers = make_batchers(store, settings) if settings.fast else {}
        if own_runs and app.state.batchers and settings.processes > 0:
            app.state.photo_workers = PhotoWorkers(settings)
            await asyncio.to_thread(app.state.photo_workers.start)  # before the port opens
        app.state.started = time.monotonic()
        log.info("serving", extra={"runs": store.names, "failed": list(store.failed), "workers": settings.workers,
                                   "processes": settings.processes if app.state.photo_workers else 0,
                                   "max_upload_mb": settings.max_upload_mb})
        try:
            yield
        finally:
            if app.state.photo_workers is not None:
                app.state.photo_workers.close()
            app.state.pool.close()
            for b in app.state.batchers.values():
                b.close()

    # FastAPIOffline serves Swagger UI and ReDoc from files in the package, not a CDN: /docs works
    # on a machine without internet (and inside the container).
    from fastapi_offline import FastAPIOffline

    app = FastAPIOffline(title="facelab", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.store = store
    app.state.started = time.monotonic()
    app.state.batchers = {}
    app.state.photo_workers = None
    install_error_handlers(app)
    app.include_router(predict.router)
    app.include_router(info.router)
    app.include_router(identity.router)
    app.include_router(video.router)

    @app.get("/", include_in_schema=False)
    async def root():
        return RedirectResponse("/docs")

    # Added last = outermost: the request id exists before the size check answers.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_upload_bytes)
    app.add_middleware(RequestContextMiddleware)
    return app
