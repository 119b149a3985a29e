"""Saliency maps in the REST API: ``POST /v1/predict?explain=Smiling``.

A served run usually predicts with ONNX Runtime (``--backend auto``), which has no gradients.
Explanations need the run's torch model, so the first request that asks for one loads it
(:meth:`~facelab.predict.predictor.Predictor.from_run` with ``backend="torch"``, once per run,
kept for the next requests; a run already served with torch is reused). The explained photo goes
through that predictor with ``explain=...``, and each face of the answer gets, per output, the
method, a 16×16 map and the aligned face with its heat map as a base64 PNG. Faces are matched by
their index: both predictors use the run's detector on the same pixels.

Example:
    >>> from facelab.explain.faces import FaceExplanation
    >>> explanation_out(FaceExplanation("Smiling", note="face too small to explain")).png is None
    True
"""
from __future__ import annotations

import base64
import logging
import threading

from .schemas import ExplainOut, PhotoOut
from .store import ServedRun

log = logging.getLogger("facelab.serve")
_TORCH: dict[str, object] = {}
_LOCK = threading.Lock()


def torch_predictor(served: ServedRun):
    """The run's torch predictor: the served one when it is torch, else loaded on first use."""
    pred = served.predictor
    if getattr(pred, "run", None) is not None:
        return pred
    with _LOCK:
        if served.name not in _TORCH:
            from ..predict.predictor import Predictor

            log.info("loading the torch model to explain", extra={"run": served.name})
            try:
                _TORCH[served.name] = Predictor.from_run(served.run, backend="torch",
                                                         detector=getattr(pred, "detector_name", None))
            except ImportError:  # an ONNX-only install
                from ..errors import ConfigError

                raise ConfigError("explanations need the torch model, and torch is not installed here",
                                  fix="pip install 'facelab[explain]' in the server's environment") from None
        return _TORCH[served.name]


def explanation_out(e) -> ExplainOut:
    """One :class:`~facelab.explain.faces.FaceExplanation` as the API answers it (PNG in base64)."""
    png = None
    if e.map is not None and e.crop is not None:
        from ..explain.render import overlay_png

        png = base64.b64encode(overlay_png(e.crop, e.map)).decode("ascii")
    return ExplainOut(**e.to_dict(), png=png)


def add_explanations(photo: PhotoOut, data: bytes, runs: list[ServedRun], explain: str) -> PhotoOut:
    """``photo`` with each face's saliency maps of the ``explain`` outputs (called in the pool).

    Raises:
        ConfigError: an output the run lacks (a 400 naming the outputs and a close match).
    """
    from ..explain.outputs import resolve_outputs

    for r in runs:  # an unknown output is refused even when the photo has no face
        resolve_outputs(list(r.run.task.classes), explain)
    by_name = {r.name: r for r in runs}
    for rp in photo.predictions:
        served = by_name.get(rp.run)
        if served is None or not rp.faces:
            continue
        pred = torch_predictor(served)
        result = pred.predict(data, explain=explain)
        for face in rp.faces:
            if face.index < len(result.faces):
                face.explain = [explanation_out(e) for e in result.faces[face.index].explain]
    return photo


__all__ = ["add_explanations", "explanation_out", "torch_predictor"]
