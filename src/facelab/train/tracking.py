"""Experiment tracking (``facelab train --track mlflow|tensorboard``): a copy of a run for the tools
people compare many runs with. The run folder stays the source of truth; a tracker only mirrors it.

A tracker is a hook of the run :class:`~facelab.runs.lifecycle.Lifecycle` (``train(track=...)``
makes one): it hears every finished epoch's history row, the finished :class:`~facelab.runs.Run`,
or that the run stopped (Ctrl-C, NaN, an error). It can also be passed as an epoch callback
(``train(callbacks=[tracker])``, called with an :class:`~facelab.train.steps.EpochEnd`):

- ``mlflow``: params (the run's resolved config, task and model), per-epoch metrics (the
  ``history.csv`` columns, step = epoch), the final ``metrics.json`` figures (as ``final.<name>``:
  the saved model's, e.g. ``final.val_accuracy``, ``final.test_accuracy``) and the run folder's
  files as artifacts (the resumable checkpoint excepted), in a local MLflow store: default
  ``file:<runs folder>/_mlflow`` (``mlflow ui --backend-store-uri <runs>/_mlflow`` shows it), one
  MLflow experiment per target.
- ``tensorboard``: the same per-epoch and final figures as scalars in an event file under
  ``<runs folder>/_tensorboard/<run name>`` (``tensorboard --logdir <runs>/_tensorboard``).

Both need the optional extra: ``pip install "facelab[track]"`` (mlflow-skinny, tensorboard).

Example: docs/python.md#training.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError
from ..paths import runs_root
from ..runs.layout import CHECKPOINT, CONFIG, TASK
from ..runs.metrics import flat_metrics

if TYPE_CHECKING:
    from ..runs.run import Run
    from .steps import EpochEnd

TRACKERS = ("mlflow", "tensorboard")
INSTALL = 'pip install "facelab[track]"'
#: run-folder files not copied to the tracker: the resumable checkpoint (optimiser state) is large
#: and only `facelab train --resume` needs it
SKIPPED_ARTIFACTS = (CHECKPOINT,)


class Tracker:
    """Mirror one run's params and figures into a tracking tool (subclasses say where)."""

    kind = ""

    def __init__(self, uri: str | None = None):
        self.uri = uri
        self.started = False

    # -- the lifecycle's hooks (facelab.runs.lifecycle.RunHook) -----------------------------
    def epoch_end(self, lc, row: dict) -> None:
        if not self.started:
            self._start(Path(lc.path))
        self.log_metrics(_numbers(row, skip=("epoch",)), step=int(row["epoch"]))

    def finished(self, lc, result: "Run") -> None:
        self.finish(result)

    def failed(self, lc) -> None:
        self.fail()

    # -- as an epoch callback, and the end of a run --------------------------------------------
    def __call__(self, event: "EpochEnd") -> None:
        """After every epoch: the history row's figures, step = epoch."""
        if not self.started:
            self._start(Path(event.run_path))
        self.log_metrics(_numbers(event.history, skip=("epoch",)), step=int(event.epoch))

    def finish(self, run: "Run") -> None:
        """After the run is saved: final figures, artifacts, and the tracker's run is closed."""
        if not self.started:  # a classical model has no epochs
            self._start(Path(run.path))
        # under final.* : the saved (best, calibrated) model's figures, not one more epoch's
        final = {f"final.{k}": v for k, v in _numbers(flat_metrics(run.metrics)).items()}
        self.log_metrics(final, step=int(run.metrics.get("epochs") or 0))
        self.log_artifacts(Path(run.path))
        self.close("FINISHED")

    def fail(self) -> None:
        """The run stopped early (Ctrl-C, NaN, an error): close the tracker's run as failed."""
        if self.started:
            self.close("FAILED")

    # -- what a backend implements ----------------------------------------------------------
    def _start(self, run_path: Path) -> None:
        self.run_path = run_path
        self.params = run_params(run_path)
        self.start(run_path.name, self.params)
        self.started = True

    def start(self, name: str, params: dict) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:  # pragma: no cover
        raise NotImplementedError

    def log_artifacts(self, folder: Path) -> None:
        """Copy the run's files (default: none; TensorBoard holds scalars only)."""

    def close(self, status: str) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


class MLflowTracker(Tracker):
    """A local MLflow store (file store by default), written through ``MlflowClient``: no global
    MLflow state is touched, so a process can train several tracked runs."""

    kind = "mlflow"

    def __init__(self, uri: str | None = None, experiment: str | None = None):
        super().__init__(uri or (runs_root().expanduser().resolve() / "_mlflow").as_uri())
        self.experiment = experiment
        try:
            from mlflow.tracking import MlflowClient  # noqa: F401
        except ImportError as e:
            raise ConfigError(f"--track mlflow needs MLflow, which is not installed ({e.name} missing)",
                              fix=INSTALL) from None

    def start(self, name: str, params: dict) -> None:
        from mlflow.tracking import MlflowClient

        if self.uri.startswith("file:") or "://" not in self.uri:
            # MLflow 3 keeps its file store in maintenance mode behind this switch; a local folder
            # next to the runs is what a laptop user wants (no database to set up)
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        self.client = MlflowClient(tracking_uri=self.uri)
        exp_name = self.experiment or f"facelab-{params.get('task.name') or params.get('target') or 'runs'}"
        exp = self.client.get_experiment_by_name(exp_name)
        exp_id = exp.experiment_id if exp is not None else self.client.create_experiment(exp_name)
        run = self.client.create_run(exp_id, run_name=name, tags={"facelab.run": name,
                                                                   "facelab.run_folder": str(self.run_path)})
        self.run_id = run.info.run_id
        from mlflow.entities import Param

        # MLflow caps a param value at 6000 characters and a batch at 100 params
        items = [Param(k, str(v)[:6000]) for k, v in sorted(params.items())]
        for i in range(0, len(items), 100):
            self.client.log_batch(self.run_id, params=items[i:i + 100])

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(_metric_key(k), v, now, step) for k, v in metrics.items()]
        for i in range(0, len(items), 1000):
            self.client.log_batch(self.run_id, metrics=items[i:i + 1000])

    def log_artifacts(self, folder: Path) -> None:
        for f in sorted(folder.rglob("*")):
            if f.is_file() and f.name not in SKIPPED_ARTIFACTS and not f.name.endswith(".tmp"):
                rel = f.parent.relative_to(folder)
                self.client.log_artifact(self.run_id, str(f), None if str(rel) == "." else rel.as_posix())

    def close(self, status: str) -> None:
        self.client.set_terminated(self.run_id, status=status)


class TensorBoardTracker(Tracker):
    """Scalars in a TensorBoard event file, one folder per run under the log folder."""

    kind = "tensorboard"

    def __init__(self, uri: str | None = None):
        super().__init__(uri or str(runs_root().expanduser().resolve() / "_tensorboard"))
        try:
            from torch.utils.tensorboard import SummaryWriter  # noqa: F401
        except ImportError as e:
            raise ConfigError(f"--track tensorboard needs TensorBoard, which is not installed ({e})",
                              fix=INSTALL) from None

    def start(self, name: str, params: dict) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.logdir = Path(self.uri.removeprefix("file://")).expanduser() / name
        self.writer = SummaryWriter(log_dir=str(self.logdir))
        self.writer.add_text("params", "\n".join(f"    {k}: {v}" for k, v in sorted(params.items())), 0)

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        for k, v in metrics.items():
            self.writer.add_scalar(k, v, step)
        self.writer.flush()

    def close(self, status: str) -> None:
        self.writer.add_text("status", status, 0)
        self.writer.close()


def make_tracker(kind: str, uri: str | None = None, runs_dir: str | Path | None = None) -> Tracker:
    """A tracker by name (``mlflow`` or ``tensorboard``); checks the extra is installed now,
    before any training time is spent. Without ``uri`` the store is ``_mlflow`` / ``_tensorboard``
    in ``runs_dir`` (default ``runs_root()``).

    Raises:
        ConfigError: an unknown name, or the ``track`` extra is missing.

    Example:
        >>> import tempfile
        >>> make_tracker("tensorboard", tempfile.mkdtemp()).kind
        'tensorboard'
    """
    k = str(kind).lower()
    root = (Path(runs_dir) if runs_dir is not None else runs_root()).expanduser().resolve()
    if k == "mlflow":
        return MLflowTracker(uri or (root / "_mlflow").as_uri())
    if k == "tensorboard":
        return TensorBoardTracker(uri or str(root / "_tensorboard"))
    raise ConfigError(f"unknown tracker {kind!r}", fix=f"use --track {' or --track '.join(TRACKERS)}")


def run_params(run_path: Path) -> dict[str, str]:
    """The run's resolved config and task, flattened to ``key`` / ``task.key`` strings."""
    import json

    import yaml

    params: dict[str, str] = {}
    cfg = yaml.safe_load((run_path / CONFIG).read_text()) if (run_path / CONFIG).is_file() else {}
    for k, v in (cfg or {}).items():
        if isinstance(v, dict):
            params.update({f"{k}.{kk}": _text(vv) for kk, vv in v.items()})
        elif v is not None:
            params[k] = _text(v)
    if (run_path / TASK).is_file():
        task = json.loads((run_path / TASK).read_text())
        params.update({f"task.{k}": _text(v) for k, v in task.items() if k in ("kind", "name", "targets")})
    return params


def _text(v) -> str:
    return ",".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)


def _numbers(d: dict, skip: tuple[str, ...] = ()) -> dict[str, float]:
    """The finite numbers of ``d`` (booleans and text are params, not metrics)."""
    out = {}
    for k, v in d.items():
        if k in skip or isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        if math.isfinite(float(v)):
            out[k] = float(v)
    return out


def _metric_key(k: str) -> str:
    """MLflow keys allow letters, digits, ``_-. /``; anything else becomes ``_``."""
    return "".join(ch if ch.isalnum() or ch in "_-. /" else "_" for ch in k)
