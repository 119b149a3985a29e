"""Evaluation of one saved run: ``evaluate(run) -> EvalReport`` (see ``report.py``).

- :mod:`.metrics`: scores, intervals, calibration, subgroups (numpy/sklearn only; training uses it
  too, for the figures a run writes).
- :mod:`.plots`: confusion matrices, reliability diagrams, image grids, leaderboard plots.
- :mod:`.report`: :func:`evaluate` and :func:`predict_split` (a run's probabilities on a split).
- :mod:`.leaderboard`: :class:`Leaderboard` (save, load, print), ranking and its notes, and finding
  boards under a runs folder (:func:`find_leaderboards`, :func:`ordered_run_names`).
- :mod:`.figures`: the index of the figures an evaluation wrote (for the dashboard and the CLI).

``facelab.evaluate`` is both this package and the function in the public API; the package is made
callable so ``facelab.evaluate(run)`` works whichever Python finds first.

Example: docs/python.md#evaluation.
"""
from .._callable import make_callable

make_callable(__name__, "report", "evaluate", ("EvalReport", "Prediction", "predict_split"))
