"""The classification report of a run: precision, recall, F1, support and TP/TN/FP/FN per class.

Computed from the run's own ``predictions.parquet`` (true labels and probabilities of its val and
test images), so every finished run has one without ``facelab evaluate``. The split shown is the
*held-out* one: test when the run has test predictions, else val (which is held out of training
unless the run says otherwise: ``metrics.json`` ``holdout``).

Conventions (scikit-learn's): binary — one row for the target (positive class) and one for
"not <target>"; multilabel — one row per attribute (each a binary output at 0.5); multiclass —
one row per class, TP/FP/FN/TN one-vs-rest. A class never predicted has precision 0 (and says so
in ``never_predicted``).

Example:
    >>> t = classification_table(np.array([1, 1, 0, 0]), np.array([0.9, 0.2, 0.1, 0.7]), "binary", ["Smiling"])
    >>> t[["class", "precision", "recall", "TP", "FN", "FP", "TN", "support"]].to_dict("records")[0]
    {'class': 'Smiling', 'precision': 0.5, 'recall': 0.5, 'TP': 1, 'FN': 1, 'FP': 1, 'TN': 1, 'support': 2}
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from ..errors import FacelabError

COLUMNS = ["class", "precision", "recall", "F1", "support", "TP", "FN", "FP", "TN"]


def _rows(y: np.ndarray, pred: np.ndarray, names: list[str]) -> list[dict]:
    """One row per class of a single-label problem (``y``/``pred`` class indices 0..len(names)-1)."""
    labels = list(range(len(names)))
    p, r, f, s = skm.precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
    cm = skm.confusion_matrix(y, pred, labels=labels)
    n = cm.sum()
    out = []
    for i, name in enumerate(names):
        tp = int(cm[i, i])
        fn, fp = int(cm[i].sum() - tp), int(cm[:, i].sum() - tp)
        out.append({"class": name, "precision": float(p[i]), "recall": float(r[i]), "F1": float(f[i]),
                    "support": int(s[i]), "TP": tp, "FN": fn, "FP": fp, "TN": int(n - tp - fn - fp)})
    return out


def classification_table(y: np.ndarray, prob: np.ndarray, kind: str, classes: list[str],
                         threshold: float = 0.5) -> pd.DataFrame:
    """Precision, recall, F1, support and TP/FN/FP/TN per class (see the module docstring).

    Args:
        y: true labels (binary (N,) 0/1; multilabel (N, K) 0/1; multiclass (N,) class index).
        prob: probabilities in :mod:`facelab.evaluate.metrics`' shapes.
        kind: ``binary``, ``multilabel`` or ``multiclass``.
        classes: the run's output names (binary: ``[target]``).
        threshold: the decision threshold of a binary or multilabel output.
    """
    prob = np.asarray(prob, dtype=np.float64)
    if kind == "multiclass":
        rows = _rows(np.asarray(y).astype(int), prob.argmax(1), list(classes))
    elif kind == "binary":
        pred = (prob.reshape(-1) >= threshold).astype(int)
        # the target first: its TP are the positives found, which is what a person asks about
        rows = _rows(np.asarray(y).reshape(-1).astype(int), pred, [f"not {classes[0]}", classes[0]])[::-1]
    else:
        y, pred = np.asarray(y).reshape(prob.shape).astype(int), (prob >= threshold).astype(int)
        rows = [_rows(y[:, k], pred[:, k], [f"not {c}", c])[1] for k, c in enumerate(classes)]
    return pd.DataFrame(rows, columns=COLUMNS)


@dataclass
class ClassificationReport:
    """A run's classification report on one split.

    Attributes:
        split: ``test`` or ``val``; n: images scored; held_out: the images were not trained on.
        table: :data:`COLUMNS`, one row per class (or attribute).
        never_predicted: classes the model never predicts on this split (a degenerate model
            predicts one class only).
    """

    split: str
    n: int
    held_out: bool
    table: pd.DataFrame
    never_predicted: list[str] = field(default_factory=list)


def held_out_split(run) -> str | None:
    """``test`` when the run has test predictions, else ``val``; None without predictions."""
    try:
        splits = set(run.predictions()["split"].unique())
    except (FacelabError, OSError, ValueError, KeyError):  # no or unreadable predictions (an unfinished run)
        return None
    return "test" if "test" in splits else ("val" if "val" in splits else None)


def labels_and_probabilities(run, split: str) -> tuple[np.ndarray, np.ndarray]:
    """True labels and probabilities of one split from ``predictions.parquet``."""
    from ..runs.writer import safe_column

    df = run.predictions()
    df = df[df["split"] == split]
    task = run.task
    prob = df[[f"p_{safe_column(c)}" for c in task.classes]].to_numpy(np.float64)
    if task.kind == "multiclass":
        y = df[task.targets[0]].to_numpy().astype(int)
    else:
        y = df[task.targets].to_numpy().astype(int)
        if task.kind == "binary":
            y, prob = y.reshape(-1), prob.reshape(-1)
    return y, prob


def run_classification_report(run, split: str | None = None) -> ClassificationReport | None:
    """The classification report of a run on its held-out split (or ``split``); None when the run
    has no predictions for it.

    Example: docs/python.md#evaluation.
    """
    split = split or held_out_split(run)
    if split is None:
        return None
    y, prob = labels_and_probabilities(run, split)
    if not len(y):
        return None
    table = classification_table(y, prob, run.task.kind, run.task.classes)
    predicted = table["TP"] + table["FP"]
    never = table.loc[predicted == 0, "class"].tolist()
    held = split == "test" or bool((run.metrics or {}).get("holdout", True))
    return ClassificationReport(split=split, n=int(len(y)), held_out=held, table=table, never_predicted=never)


def confusion_long(y: np.ndarray, prob: np.ndarray, kind: str, classes: list[str],
                   threshold: float = 0.5) -> tuple[pd.DataFrame, list[str]]:
    """``true, predicted, count`` for every cell of the confusion matrix, and the class order.

    Binary outputs are named ``<target>`` / ``not <target>``; a multilabel run has one matrix per
    attribute, so it gets none here (its table carries TP/FN/FP/TN per attribute).

    Example:
        >>> t, names = confusion_long(np.array([1, 0, 0]), np.array([0.9, 0.8, 0.1]), "binary", ["Smiling"])
        >>> names, t["count"].tolist()
        (['Smiling', 'not Smiling'], [1, 0, 1, 1])
    """
    if kind == "multilabel":
        return pd.DataFrame(columns=["true", "predicted", "count"]), []
    prob = np.asarray(prob, dtype=np.float64)
    if kind == "binary":
        names = [classes[0], f"not {classes[0]}"]
        yi = 1 - np.asarray(y).reshape(-1).astype(int)  # index 0 = the target
        pi = 1 - (prob.reshape(-1) >= threshold).astype(int)
    else:
        names, yi, pi = list(classes), np.asarray(y).astype(int), prob.argmax(1)
    cm = skm.confusion_matrix(yi, pi, labels=list(range(len(names))))
    rows = [(names[i], names[j], int(cm[i, j])) for i in range(len(names)) for j in range(len(names))]
    return pd.DataFrame(rows, columns=["true", "predicted", "count"]), names
