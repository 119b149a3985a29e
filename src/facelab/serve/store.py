"""The runs a server answers for: resolved safely, loaded once at start-up, used from threads.

A run name is a plain folder name inside the runs folder: ``..``, separators, absolute paths and
symlinks that lead outside are refused (:func:`facelab.runs.resolve_name`). A corrupt run is named
and skipped; the server starts with the others, or refuses to start when none is valid. Each run
is warmed through its predictor, so ``--backend onnx`` never imports torch.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FacelabError, RunError
from ..pretrained import is_shipped, shipped_names, shipped_path
from ..runs import Run, resolve_name, run_names

log = logging.getLogger("facelab.serve")

@dataclass
class ServedRun:
    """One loaded run and its predictor.

    The predictor is shared by the inference threads: it keeps one face detector per thread
    (OpenCV's cascade is not safe to share) and torch's forward pass in eval mode is thread-safe.
    """

    name: str
    path: Path
    run: Any
    info: dict
    predictor: Any = field(repr=False)


def describe_run(run: Run) -> dict:
    """The public description of a run: target, task, classes, metrics and input geometry."""
    inp = run.input
    return {
        "name": run.name,
        "target": ",".join(run.task.targets) if run.task.targets else str(run.config.get("target", "")),
        "task": run.task.kind,
        "classes": list(run.task.classes),
        "model": run.config.get("model"),
        "metrics": _scalars(run.metrics),
        "input": {k: inp.get(k) for k in ("size", "channels", "grey", "crop", "crop_box", "mean", "std")
                  if k in inp},
    }


def _scalars(d: dict) -> dict:
    """Keep the JSON-safe numbers and short strings of a (possibly nested) metrics dict."""
    out: dict = {}
    for k, v in d.items():
        if isinstance(v, bool) or v is None:
            out[k] = v
        elif isinstance(v, (int, float)):
            out[k] = float(v) if isinstance(v, float) else v
        elif isinstance(v, str) and len(v) < 200:
            out[k] = v
        elif isinstance(v, dict):
            out[k] = _scalars(v)
    return out


class RunStore:
    """The loaded runs, by name, plus the ones that failed to load and why.

    Example: docs/python.md#serve-and-the-dashboard.
    """

    def __init__(self, runs: dict[str, ServedRun], failed: dict[str, str]):
        self.runs = runs
        self.failed = failed

    @property
    def names(self) -> list[str]:
        return sorted(self.runs)

    def probe(self) -> dict[str, str]:
        """Each served run classifies one blank face; returns ``{run: why}`` for those that fail.

        A run whose predictor has no ``classify`` (a stand-in in tests) is not probed.
        """
        bad: dict[str, str] = {}
        for name, served in self.runs.items():
            classify = getattr(served.predictor, "classify", None)
            if classify is None:
                continue
            inp = served.info.get("input") or {}
            size, channels = int(inp.get("size", 32)), int(inp.get("channels", 3))
            try:
                probs = np.asarray(classify(np.zeros((1, size, size, channels), np.uint8)))
                if not np.all(np.isfinite(probs)):
                    bad[name] = "gives non-finite probabilities"
            except Exception as e:  # the health answer names it; the server keeps running
                bad[name] = f"{type(e).__name__}: {e}"[:300]
        return bad

    @classmethod
    def load(cls, settings: Any) -> "RunStore":
        """Load the runs named in ``settings`` (all runs in ``runs_dir`` when none are named).

        Raises:
            RunError: not one run could be loaded (each failure is named in the message).
        """
        runs_dir = Path(settings.runs_dir)
        names = list(settings.runs) or run_names(runs_dir, generators=False)  # a DCGAN run does not classify
        if not names:  # a fresh install: serve the models shipped with facelab
            names = shipped_names()
            log.info("no runs in the runs folder: serving the shipped models", extra={"runs_dir": str(runs_dir)})
        if not names:
            raise RunError(f"no runs to serve in {runs_dir}", path=runs_dir,
                           fix="train one with `facelab train DATA --target Smiling`, or pass --runs-dir")
        loaded: dict[str, ServedRun] = {}
        failed: dict[str, str] = {}
        for name in dict.fromkeys(names):
            try:
                loaded[name] = _load_one(runs_dir, name, settings)
                log.info("loaded run", extra={"run": name})
            except FacelabError as e:
                failed[name] = e.message + (f" (fix: {e.fix})" if e.fix else "")
                log.error("run not loaded", extra={"run": name, "reason": e.message})
            except Exception as e:  # a corrupt file deep inside a library: still name the run
                failed[name] = f"{type(e).__name__}: {e}"
                log.error("run not loaded", extra={"run": name, "reason": str(e)})
        if not loaded:
            detail = "; ".join(f"{k}: {v}" for k, v in failed.items())
            raise RunError(f"none of the runs could be loaded — {detail}", path=runs_dir,
                           fix="check the run folders (or retrain them) and start again")
        return cls(loaded, failed)


def _load_one(runs_dir: Path, name: str, settings: Any) -> ServedRun:
    from .backend import build_predictor  # the backend choice (auto: ONNX Runtime when it can)

    shipped = is_shipped(name) and not (runs_dir / name).exists()  # a user's run of that name wins
    folder = shipped_path(name) if shipped else resolve_name(runs_dir, name)
    run = Run.load(folder)
    predictor = build_predictor(run, folder, settings)
    # Run.load reads the small files only; one tiny forward pass through the backend that will
    # serve (torch or ONNX Runtime) loads the weights now, so a corrupt model file is found at
    # start-up (and named), not on the first request.
    size, channels = int(run.input.get("size", 32)), int(run.input.get("channels", 3))
    probs = np.asarray(predictor.classify(np.zeros((1, size, size, channels), np.uint8)))
    if probs.shape != (1, len(run.task.classes)) or not np.all(np.isfinite(probs)):
        raise RunError(f"run {name!r} gives probabilities of shape {probs.shape} (expected "
                       f"(1, {len(run.task.classes)})) or non-finite values", path=folder,
                       fix="train the run again")
    return ServedRun(name=name, path=folder, run=run, info=describe_run(run), predictor=predictor)
