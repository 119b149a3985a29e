"""The runs a server answers for: resolved safely, loaded once at start-up, used from threads.

A run name is a plain folder name inside the runs folder: ``..``, separators, absolute paths and
symlinks that lead outside are refused. A corrupt run is named and skipped; the server starts with
the others, or refuses to start when none is valid.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, FacelabError, RunError

log = logging.getLogger("facelab.serve")

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


def resolve_run(runs_dir: Path, name: str) -> Path:
    """The folder of run ``name`` inside ``runs_dir``, refusing anything that escapes it.

    Args:
        runs_dir: the runs folder.
        name: a run name as typed by a user or sent by a client.

    Raises:
        ConfigError: the name is not a plain folder name, or resolves outside ``runs_dir``.
        RunError: no such run folder.

    Example:
        >>> resolve_run(Path("runs"), "../etc")  # doctest: +SKIP
        Traceback (most recent call last):
        ConfigError: refused run name '../etc' ...
    """
    if not name or not _NAME.match(name) or name in (".", ".."):
        raise ConfigError(
            f"refused run name {name!r}: a run name is a folder name inside the runs folder",
            path=runs_dir,
            fix="use a name from `facelab runs` (letters, digits, '-', '_', '.'; no '/' or '..')",
        )
    root = runs_dir.expanduser().resolve()
    folder = (runs_dir / name).resolve()  # follows symlinks, so a link out of the folder is caught
    if folder.parent != root:
        raise ConfigError(
            f"refused run name {name!r}: it leads outside the runs folder ({folder})",
            path=runs_dir / name,
            fix="serve runs that live inside the runs folder (no symlinks out of it)",
        )
    if not folder.is_dir():
        raise RunError(f"no run named {name!r} in {runs_dir}", path=runs_dir / name,
                       fix="list the runs with `facelab runs`, or train one with `facelab train`")
    return folder


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


def describe_run(run: Any) -> dict:
    """The public description of a run: target, task, classes, metrics and input geometry."""
    task = getattr(run, "task", None)
    config = getattr(run, "config", None) or {}
    if not isinstance(config, dict):  # a dataclass config
        config = getattr(config, "__dict__", {}) or {}
    inp = dict(getattr(run, "input", None) or {})
    metrics = getattr(run, "metrics", None) or {}
    targets = list(getattr(task, "targets", []) or [])
    return {
        "name": run.name,
        "target": ",".join(targets) if targets else str(config.get("target", "")),
        "task": getattr(task, "kind", None),
        "classes": list(getattr(task, "classes", []) or []),
        "model": config.get("model"),
        "metrics": _scalars(metrics),
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

    Example:
        >>> store = RunStore.load(ServeSettings(runs=["smiling"]))  # doctest: +SKIP
        >>> store.names  # doctest: +SKIP
        ['smiling']
    """

    def __init__(self, runs: dict[str, ServedRun], failed: dict[str, str]):
        self.runs = runs
        self.failed = failed

    @property
    def names(self) -> list[str]:
        return sorted(self.runs)

    @classmethod
    def load(cls, settings: Any) -> "RunStore":
        """Load the runs named in ``settings`` (all runs in ``runs_dir`` when none are named).

        Raises:
            RunError: not one run could be loaded (each failure is named in the message).
        """
        runs_dir = Path(settings.runs_dir)
        names = list(settings.runs) or _all_run_names(runs_dir)
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


def _all_run_names(runs_dir: Path) -> list[str]:
    if not runs_dir.is_dir():
        return []
    # A run folder has a config.yaml (as `list_runs` sees it); leaderboards and other folders are skipped,
    # and so are generator runs (facelab.generate): they make faces, they do not classify them.
    from ..generate.run import is_generator_run

    return sorted(p.name for p in runs_dir.iterdir()
                  if p.is_dir() and (p / "config.yaml").is_file() and not is_generator_run(p))


def _load_one(runs_dir: Path, name: str, settings: Any) -> ServedRun:
    from ..predict.predictor import Predictor
    from ..train.run import Run

    folder = resolve_run(runs_dir, name)
    run = Run.load(folder)
    # Run.load reads the small files only; one tiny forward pass loads the weights now, so a
    # corrupt model file is found at start-up (and named), not on the first request.
    size, channels = int(run.input.get("size", 32)), int(run.input.get("channels", 3))
    probs = run.predict_proba(np.zeros((1, size, size, channels), np.uint8))
    if probs.shape != (1, len(run.task.classes)) or not np.all(np.isfinite(probs)):
        raise RunError(f"run {name!r} gives probabilities of shape {probs.shape} (expected "
                       f"(1, {len(run.task.classes)})) or non-finite values", path=folder,
                       fix="train the run again")
    predictor = Predictor.from_run(run, backend=settings.backend, detector=settings.detector)
    return ServedRun(name=name, path=folder, run=run, info=describe_run(run), predictor=predictor)
