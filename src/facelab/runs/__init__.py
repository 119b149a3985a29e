"""The saved run: its folder layout, the :class:`Run` that reads it, finding runs, writing them.

Everything downstream of training (``predict``, ``serve``, ``app``, ``cluster``, evaluation)
reads a run through this package, never through ``facelab.train``. Importing it does not import
torch: :class:`Run` builds its model only when asked.

- :mod:`.layout`: every file name of a run folder (``CONFIG``, ``WEIGHTS``, ``ONNX_FILE``, ...),
  :func:`~.layout.read_json` / :func:`~.layout.write_json`.
- :mod:`.run`: :class:`Run` (config, task, input preprocessing, calibration, metrics; the model).
- :mod:`.listing`: :func:`list_runs`, :func:`resolve_run` (a name or a folder), :func:`resolve_name`
  (a client's name, refused when it escapes the runs folder).
- :mod:`.metrics`: the one headline figure (:func:`headline`, ``Run.key_metric``), :func:`flat_metrics`.
- :mod:`.writer`: what training writes beside the weights (predictions, card, plots).
- :mod:`.task`, :mod:`.preprocess`, :mod:`.calibrate`, :mod:`.tta`: what a run's model applies.

Example:
    >>> from facelab.runs import list_runs
    >>> [r.name for r in list_runs()]         # doctest: +SKIP
"""
from __future__ import annotations

from .listing import check_name, resolve_name, resolve_run, run_names
from .metrics import flat_metrics, headline
from .run import Run, list_runs
from .task import Task

__all__ = ["Run", "Task", "check_name", "flat_metrics", "headline", "list_runs", "resolve_name", "resolve_run",
           "run_names"]
