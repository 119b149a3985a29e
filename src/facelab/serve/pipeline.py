"""The fast serving path: decode/detect/align in the pool, classify in the runs' batching queues.

``predict_photo`` runs one upload through :func:`facelab.predict.fastpath.prepare_photo` in the
inference pool (decoded once and its faces found once for every requested run), then awaits each
run's :class:`~facelab.serve.batching.MicroBatcher` for the crops (so concurrent requests share
one forward pass), and answers with the stage times for the ``Server-Timing`` header.

Runs whose predictor is not a fast :class:`~facelab.predict.predictor.Predictor` (a stand-in in a
test, or ``--no-fast``) go through the plain path of :mod:`facelab.serve.inference`.

Example: docs/python.md#serve-and-the-dashboard.
"""
from __future__ import annotations

import asyncio
import time

import numpy as np

from ..predict.results import verdict
from .batching import BatchTimeout, MicroBatcher
from .errors import ApiError
from .inference import predict_bytes, run_prediction
from .schemas import PhotoOut
from .store import RunStore, ServedRun

STAGES = ("decode", "detect", "align", "classify", "total")  # total: the plain path (--no-fast)


def make_batchers(store: RunStore, settings) -> dict[str, MicroBatcher]:
    """One batching queue per served run whose predictor can classify crops."""
    out = {}
    for name, served in store.runs.items():
        classify = getattr(served.predictor, "classify", None)
        if callable(classify) and _fast(served):
            out[name] = MicroBatcher(classify, window_ms=settings.batch_window_ms,
                                     max_faces=settings.batch_max_faces, timeout_s=settings.batch_timeout_s,
                                     name=name)
    return out


def _fast(served: ServedRun) -> bool:
    from ..predict.predictor import Predictor

    return isinstance(served.predictor, Predictor) and served.predictor.fast


def server_timing(timings: dict[str, float]) -> str:
    """The ``Server-Timing`` header value (milliseconds per stage, in pipeline order).

    Example:
        >>> server_timing({"decode": 1.234, "classify": 2.0})
        'decode;dur=1.2, classify;dur=2.0'
    """
    return ", ".join(f"{k};dur={timings[k]:.1f}" for k in STAGES if k in timings)


async def predict_photo(data: bytes, name: str | None, runs: list[ServedRun], pool,
                        batchers: dict[str, MicroBatcher], workers=None) -> tuple[PhotoOut, dict[str, float]]:
    """One upload through the fast path; returns the answer and the wall time per stage (ms).

    ``workers`` (a :class:`~facelab.serve.photo_workers.PhotoWorkers`): decode, detect and align
    in a worker process; ``None``: in the inference ``pool``'s threads.

    Raises:
        ApiError: 415 for an empty or unreadable upload, 503 when the model queue timed out or
            the photo worker died.
    """
    from ..predict.fastpath import prepare_photo

    label = name or "the upload"
    if not data:
        raise ApiError(415, f"{label} is empty", fix="send a JPEG, PNG, WebP or BMP photo")
    if not runs or not all(_fast(r) and r.name in batchers for r in runs):
        t0 = time.perf_counter()
        photo = await pool.run(predict_bytes, data, name, runs)
        return photo, {"total": 1000 * (time.perf_counter() - t0)}
    if workers is not None:
        prepared = await workers.prepare(data, label, [r.name for r in runs])
    else:
        prepared = await pool.run(prepare_photo, data, label, [r.predictor for r in runs])
    if prepared.error is not None and prepared.width == 0:
        raise ApiError(415, prepared.error, fix="send a JPEG, PNG, WebP or BMP photo")
    timings = dict(prepared.timings_ms)
    t0 = time.perf_counter()

    async def classify(served: ServedRun, pending) -> None:
        if not pending.crops:
            return
        try:
            proba = await batchers[served.name].run(np.stack(pending.crops))
        except BatchTimeout as e:
            raise ApiError(503, f"the server is overloaded: {e}",
                           fix="retry in a moment, or start the server with more --workers") from None
        pred = served.predictor
        for k, slot in enumerate(pending.slots):
            f = pending.result.faces[slot]
            f.probabilities = {c: float(v) for c, v in zip(pred.classes, proba[k])}
            f.labels = pred._labels(proba[k])
            f.verdict = verdict(f.probabilities, pred.kind, pred.thresholds)

    await asyncio.gather(*(classify(r, p) for r, p in zip(runs, prepared.pending)))
    timings["classify"] = 1000 * (time.perf_counter() - t0)
    preds = [run_prediction(r.name, p.result) for r, p in zip(runs, prepared.pending)]
    return PhotoOut(source=name, width=prepared.width, height=prepared.height, predictions=preds), timings
