"""``facelab.Model``: one object for a trained model, whether a run of yours or a model shipped with facelab.

A thin facade over the library (no logic of its own beyond deciding what a name means):

- ``Model(name_or_path)`` resolves a run name (in the runs folder), a run folder, or the name of
  a shipped model (:mod:`facelab.pretrained`); ``Model()`` is **the shipped models** together
  (every face gets their attributes and emotions) — the one place that decides "no run means the
  shipped models";
- :meth:`Model.predict` (a photo, a path, or many: :class:`~facelab.predict.predictor.Predictor` /
  :func:`~facelab.predict.batch.predict_files`), :meth:`Model.evaluate`
  (:func:`~facelab.evaluate.report.evaluate`), :meth:`Model.export`
  (:func:`~facelab.predict.export.export_onnx`), :meth:`Model.fine_tune` (a new run started from
  this one: :func:`~facelab.train.trainer.train` with ``init``), :meth:`Model.describe`.

Example:
    >>> from facelab import Model
    >>> Model("fer-emotions").describe()["classes"][:3]
    ['angry', 'disgust', 'fear']
    >>> Model().name
    'celeba-attributes+fer-emotions'
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from .errors import RunError


class Model:
    """A trained model: a run (by name or folder), a shipped model, or (no name) the shipped models.

    Attributes:
        name: the run's name (``a+b`` for the shipped models together).
        runs: the :class:`~facelab.runs.Run` s behind it (one, or each shipped model).
        shipped: True when no run was named and the shipped models answer.
    """

    def __init__(self, name_or_path: "str | Path | Any | None" = None, *, runs_dir: str | Path | None = None):
        from .pretrained import shipped_names, shipped_path
        from .runs import Run, resolve_run

        self.shipped = name_or_path is None
        if self.shipped:
            self.runs = [Run.load(shipped_path(n)) for n in shipped_names()]
        elif isinstance(name_or_path, Run):
            self.runs = [name_or_path]
        else:
            self.runs = [Run.load(resolve_run(name_or_path, runs_dir))]
        self.name = "+".join(r.name for r in self.runs)

    @classmethod
    def from_arguments(cls, first: str | Path | None, photos: Iterable[str | Path] = (), *,
                       runs_dir: str | Path | None = None) -> "tuple[Model, list[str]]":
        """``[RUN] PHOTOS...`` as a command line gives them: when ``first`` names a run (or is
        neither a run nor a photo, so that the run error says "did you mean"), that run and the
        photos; when it is a photo (a path that exists, or a glob), the shipped models and every
        argument as a photo.

        Example:
            >>> m, photos = Model.from_arguments("/tmp", [])
            >>> m.shipped, photos
            (True, ['/tmp'])
        """
        from .runs import names_a_run

        photos = [str(p) for p in photos]
        if first is None:
            return cls(runs_dir=runs_dir), photos
        text = str(first)
        looks_like_photos = Path(text).expanduser().exists() or any(ch in text for ch in "*?[")
        if names_a_run(text, runs_dir) or not looks_like_photos:
            return cls(text, runs_dir=runs_dir), photos
        return cls(None, runs_dir=runs_dir), [text, *photos]

    @property
    def run(self):
        """The one :class:`~facelab.runs.Run` (the shipped models together have several: :attr:`runs`)."""
        if len(self.runs) != 1:
            raise RunError(f"{self.name} is {len(self.runs)} models", fix="use Model('celeba-attributes') "
                                                                          "or Model('fer-emotions') for one")
        return self.runs[0]

    @property
    def classes(self) -> list[str]:
        return [c for r in self.runs for c in r.task.classes]

    def __repr__(self) -> str:
        return f"Model({self.name!r})"

    def describe(self) -> dict:
        """Name, whether shipped, and each run's summary (task, model, headline metric)."""
        return {"name": self.name, "shipped": self.shipped, "classes": self.classes,
                "runs": [r.summary() for r in self.runs]}

    # -- what a model does -----------------------------------------------------------------------
    def predictor(self, **kw):
        """A :class:`~facelab.predict.predictor.Predictor` (several runs: a combined one) with the
        keywords of :meth:`Predictor.from_run` (``backend``, ``min_face``, ``detector`` ...)."""
        from .predict.combined import CombinedPredictor
        from .predict.predictor import Predictor

        kw.setdefault("backend", "auto")  # ONNX Runtime where the run has an export (the shipped models do)
        if len(self.runs) == 1:
            return Predictor.from_run(self.runs[0], **kw)
        return CombinedPredictor([Predictor.from_run(r, **kw) for r in self.runs])

    def predict(self, photo, **kw):
        """Every face of one photo (an image array or a path): a
        :class:`~facelab.predict.results.PhotoResult`. ``kw`` as :meth:`predictor`."""
        aligned, keep = kw.pop("aligned", False), kw.pop("keep_crops", False)
        return self.predictor(**kw).predict(photo, aligned=aligned, keep_crops=keep)

    def predict_files(self, sources: Iterable[str | Path], *, predictor_options: dict | None = None, **kw):
        """Every face of files, folders and globs (:func:`~facelab.predict.batch.predict_files`)."""
        from .predict.batch import predict_files

        return predict_files(self.predictor(**(predictor_options or {})), sources, **kw)

    def evaluate(self, data=None, **kw):
        """:func:`facelab.evaluate.report.evaluate` of the run (``data`` default: its own cache)."""
        from .evaluate.report import evaluate

        return evaluate(self.run, data=data, **kw)

    def export(self, out: str | Path | None = None, **kw):
        """:func:`facelab.predict.export.export_onnx` of the run."""
        from .predict.export import export_onnx

        return export_onnx(self.run, out, **kw)

    def fine_tune(self, data, **kw) -> "Model":
        """Train a new run on ``data`` that starts from this run's weights (``init``); returns it.
        ``kw`` as :func:`facelab.train.trainer.train` (``target``, ``epochs``, ``name`` ...)."""
        from .train.trainer import train

        run = self.run
        return Model(train(data, init=str(run.path), model=run.model_name, params=run.params, **kw))


__all__ = ["Model"]
