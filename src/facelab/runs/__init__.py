"""The saved run: its folder layout, the :class:`Run` that reads it, finding runs, writing them.

Everything downstream of training (``predict``, ``serve``, ``app``, ``cluster``, evaluation)
reads a run through this package, never through ``facelab.train``. Importing it does not import
torch: :class:`Run` builds its model only when asked.

- :mod:`.layout`: every file name of a run folder (``CONFIG``, ``WEIGHTS``, ``ONNX_FILE``, ...),
  :func:`~.layout.read_json` / :func:`~.layout.write_json`.
- :mod:`.run`: :class:`Run` (config, task, input preprocessing, calibration, metrics; the model),
  :func:`list_runs` and :func:`broken_runs` (the run folders that no longer load, with the reason);
  a generator run (``task.json`` ``kind: generator``, :mod:`facelab.generate`) is refused by
  ``Run.load`` and listed as a :class:`~.run.GeneratorEntry` read from its small files.
- :mod:`.listing`: :func:`run_names`, :func:`resolve_run` (a name or a folder), :func:`resolve_name`
  (a client's name, refused when it escapes the runs folder).
- :mod:`.metrics`: the one headline figure (:func:`headline`, ``Run.key_metric``), :func:`flat_metrics`.
- :mod:`.writer`: what training writes beside the weights (predictions, card, plots).
- :mod:`.lifecycle`: :class:`~.lifecycle.Lifecycle`, the one owner of a run folder while any kind
  of run trains (checked name, creation, state, history, the NaN / Ctrl-C policy, resume,
  tracking hooks, rank-0 writes); a kind of training plugs in a :class:`~.lifecycle.RunTask`.
- :mod:`.migrate`: the run folder's ``format_version`` and :func:`~.migrate.migrate`, which reads
  an older folder as the current format (``Run.load`` calls it).
- :mod:`.task`, :mod:`.preprocess`, :mod:`.calibrate`, :mod:`.tta`: what a run's model applies.

Example:
    >>> import shutil, tempfile
    >>> from pathlib import Path
    >>> from facelab.pretrained import shipped_path
    >>> from facelab.runs import list_runs
    >>> root = Path(tempfile.mkdtemp())
    >>> _ = shutil.copytree(shipped_path("fer-emotions"), root / "emotions")
    >>> [(r.name, r.task.kind) for r in list_runs(root)]
    [('emotions', 'multiclass')]
"""
from __future__ import annotations

from .listing import check_name, names_a_run, resolve_name, resolve_run, run_names
from .metrics import flat_metrics, headline
from .run import GeneratorEntry, Run, broken_runs, list_runs
from .task import Task

__all__ = ["GeneratorEntry", "Run", "Task", "broken_runs", "check_name", "flat_metrics", "headline", "list_runs", "names_a_run",
           "resolve_name", "resolve_run", "run_names"]
