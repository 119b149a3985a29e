"""The :class:`Run` that reads a run folder — the single source of truth after training.

The folder's files are named in :mod:`facelab.runs.layout`. Loading a run reads its small files
(config, task, input geometry and normalisation, metrics, state); the model is built and its
weights loaded only when asked (:meth:`Run.model`), so a consumer of the ONNX export never
imports torch.

Example:
    >>> run = Run.load("fer-emotions")          # a run name, a run folder, or a shipped model
    >>> run.task.kind, run.input["size"], run.task.classes[:3]
    ('multiclass', 48, ['angry', 'disgust', 'fear'])
"""
from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from ..errors import DataError, RunError
from ..paths import runs_root
from .layout import (CALIBRATION, CONFIG, GENERATOR, HISTORY, INPUT, METRICS, PREDICTIONS, SPLIT, TASK, WEIGHTS,
                     is_generator_run, read_json)
from .listing import resolve_run, run_names
from .migrate import migrate
from .task import Task



def read_config(path: Path, *, made_by: str) -> dict:
    """A run folder's ``config.yaml`` as a dict.

    Raises:
        RunError: the file is missing (not a run folder: the fix names ``made_by``), unreadable,
            not YAML or not a mapping.
    """
    try:
        config = yaml.safe_load((path / CONFIG).read_text())
    except FileNotFoundError:
        raise RunError(f"{path} is not a facelab run (no {CONFIG})", path=path,
                       fix=f"pass a folder made by `{made_by}` (see `facelab runs`)") from None
    except (OSError, yaml.YAMLError) as e:
        raise RunError(f"{path / CONFIG} is corrupt ({e})", path=path / CONFIG,
                       fix="train the run again (or restore the file)") from None
    if not isinstance(config, dict):
        raise RunError(f"{path / CONFIG} is corrupt (not a mapping)", path=path / CONFIG,
                       fix="train the run again (or restore the file)")
    return config


class Run:
    """A finished (or resumable) training run, read from its folder.

    Attributes:
        name, path: the folder.
        config: the resolved training config (dict from ``config.yaml``).
        task: the :class:`Task`.
        input: geometry and normalisation (dict from ``input.json``).
        metrics: final figures (empty dict while a run is unfinished).
        state: progress of the run (``status``: running, interrupted, nan, finished).
    """

    def __init__(self, path: Path, config: dict, task: Task, input: dict, metrics: dict, state: dict):
        self.path = Path(path)
        self.name = self.path.name
        self.config = config
        self.task = task
        self.input = input
        self.metrics = metrics
        self.state = state
        self._model = None

    # -- loading -------------------------------------------------------------------------------
    @classmethod
    def load(cls, path_or_name: "str | Path | Run") -> "Run":
        """Open a run folder by path or by name under ``runs_root()``.

        Raises:
            RunError: missing folder or a missing/corrupt ``config.yaml``, ``task.json`` or
                ``input.json`` (names the folder).
        """
        if isinstance(path_or_name, Run):
            return path_or_name
        path = resolve_run(path_or_name)
        read_config(path, made_by="facelab train")  # a missing or corrupt config says so first
        if is_generator_run(path):  # a DCGAN (facelab.generate): it makes faces, it cannot classify them
            raise RunError(f"{path} is a generator run (a DCGAN that makes faces): it cannot classify or "
                           "predict", path=path, fix="use `facelab generate sample RUN`; to predict, pick a "
                                                      "classifier run from `facelab runs`")
        record = migrate(path)  # an older folder is read as the current format (runs.migrate)
        try:
            task = Task.from_dict(record["task"])
        except (KeyError, TypeError):
            raise RunError(f"{path / TASK} is corrupt", path=path / TASK, fix="train the run again") from None
        config, state = record["config"], record["state"]
        input_ = read_json(path / INPUT)
        metrics = read_json(path / METRICS) if (path / METRICS).is_file() else {}
        return cls(path, config, task, input_, metrics, state)

    def __repr__(self) -> str:
        return f"Run({self.name!r}, model={self.model_name!r}, task={self.task.kind}:{self.task.name})"

    # -- properties ----------------------------------------------------------------------------
    @property
    def model_name(self) -> str:
        return str(self.config.get("model", "cnn"))

    @property
    def status(self) -> str:
        return str(self.state.get("status", "finished" if self.metrics else "unknown"))

    @property
    def key_metric(self) -> tuple[str, float | None]:
        """(name, value) of the figure used to rank and show runs: validation accuracy (test
        accuracy when a run has no validation figure); see :func:`facelab.runs.metrics.headline`."""
        from .metrics import headline

        found = headline(self.metrics)
        return found if found is not None else ("val_accuracy", None)

    @property
    def created(self) -> str:
        return str(self.state.get("created", ""))

    @cached_property
    def spec(self):
        from ..models import get_model

        return get_model(self.model_name)

    @property
    def params(self) -> dict:
        """Model build parameters as the run saved them (training saves the complete set; keys a
        run lacks take the builder's own defaults, never a registry default changed later)."""
        return dict(self.config.get("params") or {})

    @property
    def in_channels(self) -> int:
        return int(self.input["channels"])

    def history(self) -> pd.DataFrame:
        p = self.path / HISTORY
        return pd.read_csv(p) if p.is_file() and p.stat().st_size else pd.DataFrame()

    def predictions(self) -> pd.DataFrame:
        p = self.path / PREDICTIONS
        if not p.is_file():
            raise RunError(f"{self.path} has no {PREDICTIONS} (unfinished run?)", path=self.path,
                           fix="finish the run with `facelab train ... --resume`")
        return pd.read_parquet(p)

    def split(self) -> dict:
        """Row indices per split used by training: ``{"train": [...], "val": [...], "holdout": bool}``."""
        return read_json(self.path / SPLIT)

    def trained_on(self, ds, rows) -> int:
        """How many of the prepared dataset ``ds``'s images ``rows`` this run trained on.

        0 unless the run's own cache came from the same source folder; images are matched by id,
        so a cache of the same source at another size or crop counts too. Scores on such images
        measure fit, not accuracy on new faces (``evaluate`` and ``cluster`` say so).
        """
        from ..data.prepared import open_prepared

        try:
            train = np.asarray(self.split().get("train") or [], dtype=np.int64)
            own = Path(self.config["data"])
            seen = ds if own.resolve() == Path(ds.path).resolve() else open_prepared(own)
        except Exception:  # no split.json, or the run's cache is gone: nothing to compare with
            return 0
        if not len(train) or Path(seen.manifest.root).resolve() != Path(ds.manifest.root).resolve():
            return 0
        ids = seen.table["image_id"].to_numpy()[train[train < len(seen.table)]]
        return int(np.isin(ds.table["image_id"].to_numpy()[np.asarray(rows)], ids).sum())

    # -- the model -----------------------------------------------------------------------------
    def build_model(self):
        """A fresh (untrained) model of this run's architecture and task."""
        return self.spec.adapter.build(self.spec, in_channels=self.in_channels, outputs=self.task.outputs,
                                       task=self.task.kind, params=self.params)

    def estimator(self):
        """The trained model behind the one contract (:class:`~facelab.models.adapter.Adapter`:
        ``predict_proba``, ``embed``, ``export``, ``describe``), its weights loaded, cached."""
        if self._model is None:
            from ..models.adapter import adapt

            wpath = self.path / WEIGHTS
            if not wpath.is_file():
                raise RunError(f"{self.path} has no weights yet ({WEIGHTS})", path=self.path,
                               fix="the run stopped before its first epoch ended: resume it with --resume")
            from .tta import for_inference

            est = adapt(self.spec, self.build_model(), in_channels=self.in_channels, outputs=self.task.outputs,
                        task=self.task.kind, params=self.params, mean=self.input.get("mean"),
                        std=self.input.get("std"))
            est.load(wpath)  # a corrupt file or another model's weights: RunError naming the file
            # a network predicts through the run's mirror averaging and temperature
            self._model = est.wrap(lambda m: for_inference(m, bool(self.config.get("tta")), self.temperature))
        return self._model

    def model(self):
        """The trained model (torch module in eval mode, or the classical estimator), cached."""
        return self.estimator().model

    @property
    def temperature(self) -> float:
        """The logit divisor fitted on validation (``calibration.json``); 1.0 when none was fitted."""
        p = self.path / CALIBRATION
        return float(read_json(p).get("temperature", 1.0)) if p.is_file() else 1.0

    def torch_model(self):
        """The torch module (eval mode, weights loaded); ``None`` for a model that is not a network."""
        return self.model() if self.spec.trains_in_epochs else None

    def _check_input(self, x) -> np.ndarray:
        return faces_input(x, int(self.input["size"]), self.in_channels, who=f"run {self.name}", path=self.path)

    def predict_proba(self, x) -> np.ndarray:
        """Probabilities (N, outputs) float32 for uint8 NHWC faces, with the training preprocessing
        (or, for a model that takes them, face descriptors of the source photos).

        Example:
            >>> run = Run.load("fer-emotions")
            >>> s, c = run.input["size"], run.input["channels"]
            >>> run.predict_proba(np.zeros((2, s, s, c), np.uint8)).shape
            (2, 7)
        """
        est = self.estimator()
        return est.predict_proba(x if est.takes(x) else self._check_input(x))

    def embed(self, x) -> np.ndarray:
        """Penultimate features (N, D) float32 for uint8 NHWC faces (for clustering, look-alikes)."""
        est = self.estimator()
        return est.embed(x if est.takes(x) else self._check_input(x))

    # -- summary -------------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        k, v = self.key_metric
        return {"name": self.name, "target": self.task.name, "kind": self.task.kind,
                "model": self.model_name, "metric": k, "value": v, "status": self.status,
                "created": self.created, "path": str(self.path)}


class GeneratorEntry:
    """A generator run (``facelab generate train``) as the runs folder lists it, read from its small
    files only (``config.yaml``, ``state.json``, ``metrics.json``): the same ``name``, ``path``,
    ``config``, ``status``, ``created`` and :meth:`summary` as a :class:`Run`, and nothing that
    classifies. :class:`facelab.generate.run.GeneratorRun` builds on it (sampling, the networks).

    Example:
        >>> GeneratorEntry.read(Path("/nonexistent"))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        facelab.errors.RunError: /nonexistent is not a facelab run (no config.yaml)...
    """

    kind = GENERATOR

    def __init__(self, path: Path, config: dict, state: dict, metrics: dict):
        self.path = Path(path)
        self.name = self.path.name
        self.config, self.state, self.metrics = config, state, metrics

    @classmethod
    def read(cls, path: Path):
        """Read the small files of the generator run folder ``path``.

        Raises:
            RunError: a missing or corrupt ``config.yaml``, or a corrupt ``state.json`` / ``metrics.json``.
        """
        path = Path(path)
        read_config(path, made_by="facelab generate train")  # a missing or corrupt config says so first
        record = migrate(path)  # an older folder is read as the current format (runs.migrate)
        config, state = record["config"], record["state"]
        metrics = read_json(path / METRICS) if (path / METRICS).is_file() else {}
        return cls(path, config, state, metrics)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, model=dcgan{self.config.get('size', '')})"

    @property
    def condition(self) -> list[str]:
        """The attributes a conditional generator is fed (empty for an unconditional one)."""
        return list(self.config.get("condition") or [])

    @property
    def status(self) -> str:
        return str(self.state.get("status", "unknown"))

    @property
    def created(self) -> str:
        return str(self.state.get("created", ""))

    def summary(self) -> dict[str, Any]:
        """The keys of :meth:`Run.summary` (for ``facelab runs``): the Fréchet distance when it was
        scored, else the face rate."""
        fd = self.metrics.get("frechet")
        return {"name": self.name, "target": "+".join(self.condition) or "faces", "kind": GENERATOR,
                "model": f"dcgan{self.config.get('size', '')}", "metric": "frechet" if fd is not None else "face_rate",
                "value": fd if fd is not None else self.metrics.get("face_rate"),
                "status": self.status, "created": self.created, "path": str(self.path)}


def _load_listed(path: Path) -> "Run | GeneratorEntry":
    return GeneratorEntry.read(path) if is_generator_run(path) else Run.load(path)


def list_runs(root: str | Path | None = None) -> "list[Run | GeneratorEntry]":
    """Every readable run under ``root`` (default ``runs_root()``), newest first.

    A generator run (``task.json`` ``kind: generator``) is listed as a :class:`GeneratorEntry`
    (same ``summary()``, ``status``, ``created``, ``config``, ``path``); filter with
    ``isinstance(r, Run)`` for the runs that classify. Folders that are not runs, or are corrupt,
    are skipped (``facelab runs`` counts them: :func:`broken_runs`).
    """
    root = Path(root) if root is not None else runs_root()
    runs: list = []
    for name in run_names(root):
        try:
            runs.append(_load_listed(root / name))
        except RunError:
            continue
    runs.sort(key=lambda r: (r.created, r.name), reverse=True)
    return runs


def broken_runs(root: str | Path | None = None) -> list[tuple[str, str]]:
    """(name, reason) of every run folder under ``root`` that :func:`list_runs` leaves out because
    it no longer loads (a corrupt ``task.json``, ``config.yaml`` or ``input.json``), by name.

    Example:
        >>> import shutil, tempfile
        >>> from facelab.pretrained import shipped_path
        >>> root = Path(tempfile.mkdtemp())
        >>> _ = shutil.copytree(shipped_path("fer-emotions"), root / "old-run")
        >>> _ = (root / "old-run" / "task.json").write_text("{")
        >>> broken_runs(root)  # doctest: +ELLIPSIS
        [('old-run', '.../old-run/task.json is corrupt (...)')]
    """
    root = Path(root) if root is not None else runs_root()
    out: list[tuple[str, str]] = []
    for name in run_names(root):  # the same folders list_runs reads
        try:
            _load_listed(root / name)
        except RunError as e:
            out.append((name, e.message))
    return out


def faces_input(x, size: int, channels: int, *, who: str = "the model", path=None) -> np.ndarray:
    """uint8 faces (N, H, W, C) (or one H×W×C face) checked for the side ``size`` and turned to
    ``channels`` (RGB → grey by ITU-R 601 luma, as Pillow's ``convert("L")``; grey → RGB by copying).

    Example:
        >>> faces_input(np.zeros((8, 8, 3), np.uint8), 8, 1).shape
        (1, 8, 8, 1)
    """
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[None]
    if x.dtype != np.uint8 or x.ndim != 4:
        raise DataError(f"expected uint8 images shaped (N, H, W, C), got {x.dtype} {x.shape}", path=path,
                        fix="pass faces as prepared by the cache or facelab.faces.align")
    if x.shape[1:3] != (size, size):
        raise DataError(f"{who} expects {size}×{size} faces, got {x.shape[1]}×{x.shape[2]}", path=path,
                        fix=f"align/resize faces to {size}×{size} (input.json)")
    if x.shape[3] != channels:
        if channels == 1 and x.shape[3] == 3:
            x = (x.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)).round()
            x = np.clip(x, 0, 255).astype(np.uint8)[..., None]
        elif channels == 3 and x.shape[3] == 1:
            x = np.repeat(x, 3, axis=3)
        else:
            raise DataError(f"{who} expects {channels} channels, got {x.shape[3]}", path=path,
                            fix="pass RGB or grey uint8 images")
    return np.ascontiguousarray(x)
