"""Is a model degenerate? One class predicted for every face, or no better than chance.

A tiny budget, an early stop at epoch 1 or a learning rate far too high can leave a network that
answers the commonest class for everything. Its accuracy can still look respectable (80% on an
attribute that 80% of faces lack), so the run is saved and reported with a warning instead: in
``metrics.json`` (``degenerate``), on the CLI, in ``card.md`` and in the leaderboard.

Example:
    >>> import numpy as np
    >>> y = np.array([[0], [1], [0], [1]])
    >>> degenerate("binary", ["Smiling"], y, np.array([[0.2], [0.3], [0.1], [0.4]]))
    'predicts one class only on validation (not Smiling for all 4 faces)'
    >>> degenerate("binary", ["Smiling"], y, np.array([[0.2], [0.9], [0.1], [0.8]])) is None
    True
"""
from __future__ import annotations

import numpy as np

#: balanced accuracy within this of chance (1 / classes) counts as chance
CHANCE_MARGIN = 0.02


def _balanced(y: np.ndarray, pred: np.ndarray) -> tuple[float, int]:
    """Mean recall over the classes present in ``y``, and how many there are."""
    present = np.unique(y)
    return float(np.mean([(pred[y == c] == c).mean() for c in present])), len(present)


def degenerate(kind: str, classes: list[str], y: np.ndarray, proba: np.ndarray,
               split: str = "validation") -> str | None:
    """A warning when the predictions on ``split`` are degenerate, else ``None``.

    Args:
        kind: the task kind (``binary``, ``multilabel``, ``multiclass``).
        classes: the output names (binary: ``[target]``).
        y: true labels (multiclass: class indices; otherwise 0/1 per output).
        proba: predicted probabilities, one column per output.
        split: the split's name, for the message.
    """
    y, proba = np.asarray(y), np.asarray(proba, dtype=np.float64)
    n = len(y)
    if n == 0:
        return None
    if kind == "multiclass":
        truth, pred = y.reshape(-1).astype(np.int64), proba.argmax(1)
        names = list(classes)
    elif kind == "binary":
        truth, pred = y.reshape(-1).astype(np.int64), (proba.reshape(-1) >= 0.5).astype(np.int64)
        names = [f"not {classes[0]}", classes[0]]
    else:  # multilabel: degenerate when every attribute is answered the same way for every face
        pred = proba >= 0.5
        constant = [(pred[:, j] == pred[0, j]).all() for j in range(pred.shape[1])]
        if all(constant):
            return f"predicts the same value for every attribute on all {n} {split} faces"
        varied = [j for j in range(y.shape[1]) if len(np.unique(y[:, j])) > 1]
        if varied:
            bal = float(np.mean([_balanced(y[:, j].astype(np.int64), pred[:, j].astype(np.int64))[0]
                                 for j in varied]))
            if bal <= 0.5 + CHANCE_MARGIN:
                return f"is at chance on {split} (mean balanced accuracy {bal:.3f} over {len(varied)} attributes)"
        return None
    if len(np.unique(truth)) < 2:
        return None  # one class in the split: nothing to tell apart
    if len(np.unique(pred)) == 1:
        return f"predicts one class only on {split} ({names[int(pred[0])]} for all {n} faces)"
    bal, k = _balanced(truth, pred)
    if bal <= 1 / k + CHANCE_MARGIN:
        return f"is at chance on {split} (balanced accuracy {bal:.3f}; chance is {1 / k:.3f} for {k} classes)"
    return None
