"""Which backend a served run predicts with, and how its threads share the cores.

``--backend auto`` (the default) serves a run with ONNX Runtime whenever ``onnxruntime`` is
installed (the ``onnx`` extra) and the run has a ``model.onnx`` of its current weights
(:func:`~facelab.predict.export.fresh_onnx`; the shipped models carry theirs),
or one can be made now (``facelab export``, checked against torch to 1e-4). The export is written
into the run folder, or under ``$FACELAB_HOME/onnx/`` when the run folder is read-only (a
container mounts runs ``:ro``) or is a model shipped inside the package. When neither works the
run is served with torch, and the log says why. ONNX Runtime's session gets ``--torch-threads``
intra-op threads (1 by default): the request workers already keep every core busy, and a second
layer of threads would only make them take turns.

Example: docs/python.md#serve-and-the-dashboard.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..errors import FacelabError

log = logging.getLogger("facelab.serve")


def limit_threads(torch_threads: int, *, import_torch: bool = True) -> None:
    """One inference at a time per worker thread or process: torch gets ``torch_threads`` intra-op
    threads and OpenCV one, so that they do not fight over the cores. ``import_torch=False`` sets
    torch's only where it is already imported (a process serving ONNX runs never loads it)."""
    import sys

    try:
        torch = sys.modules.get("torch")
        if torch is None and import_torch:
            import torch
        if torch is not None:
            torch.set_num_threads(torch_threads)
    except ImportError:  # torch missing in an ONNX-only install
        pass
    try:
        import cv2

        cv2.setNumThreads(1)
    except (ImportError, AttributeError):  # a cv2 build without the threading switch
        pass


def onnx_model_for(run: Any, folder: Path, home_dir: Path | None = None) -> tuple[Path | None, str]:
    """A usable ``model.onnx`` for the run (made now if need be, a copy under ``home_dir`` when the
    run's folder cannot hold one), or None and the reason."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return None, "onnxruntime is not installed (pip install 'facelab[onnx]')"
    from ..predict.export import export_onnx, fresh_onnx
    from ..runs.derived import is_installed, onnx_places

    found = fresh_onnx(folder, home_dir)
    if found is not None:
        return found, "exported earlier"
    reasons = []
    places = onnx_places(folder, home_dir)
    for out in places[1:] if is_installed(folder) else places:  # the package's own folder is read-only
        try:
            export_onnx(run, out)
            return out, "exported at start-up"
        except FacelabError as e:
            reasons.append(e.message)
        except OSError as e:  # a read-only run folder: try the cache next
            reasons.append(f"cannot write {out}: {e.strerror or e}")
        except Exception as e:  # onnx missing, an exporter failure deep in torch
            reasons.append(f"{type(e).__name__}: {e}")
    return None, "; ".join(reasons)


def build_predictor(run: Any, folder: Path, settings: Any):
    """The run's :class:`~facelab.predict.predictor.Predictor` for serving, per ``settings``."""
    from ..errors import RunError
    from ..predict.predictor import Predictor, onnx_classifier

    backend = getattr(settings, "backend", "torch")
    fast = bool(getattr(settings, "fast", False))
    threads = int(getattr(settings, "torch_threads", 1) or 1)
    from ..predict.source_input import run_detector

    detector = getattr(settings, "detector", None) or run_detector(run.input)  # the run's own, else haar
    if backend == "auto":
        path, why = onnx_model_for(run, folder, getattr(settings, "home", None))
        if path is None:
            log.warning("serving with torch", extra={"run": run.name, "reason": why})
            backend = "torch"
        else:
            # the model.onnx found may be the cache copy, so the predictor is built here rather
            # than by from_run(backend="onnx"), which reads the run folder's own file
            try:
                classify = onnx_classifier(path, threads)
            except RunError as e:  # a damaged file: auto serves with torch rather than not at all
                log.warning("serving with torch", extra={"run": run.name, "reason": e.message})
                backend = "torch"
            else:
                log.info("serving with onnxruntime", extra={"run": run.name, "model": str(path), "reason": why})
                return Predictor(input_spec=run.input, kind=run.task.kind, classes=run.task.classes,
                                 classify=classify, detector=detector, name=run.name, backend="onnx", fast=fast)
    return Predictor.from_run(run, backend=backend, detector=detector, fast=fast,
                              threads=threads if backend == "onnx" else None)
