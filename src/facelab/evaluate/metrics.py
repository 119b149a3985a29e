"""Pure metric functions: labels and probabilities in, numbers and tables out.

No files, no runs, no torch: everything here takes numpy arrays so that it can be checked by hand
on tiny cases (see ``tests/test_metrics.py``). scikit-learn does the standard metrics; this module
adds what it lacks (expected calibration error, reliability bins, top losses, subgroup tables) and
one shape convention for the three task kinds:

- ``binary``: ``y`` (N,) 0/1, ``prob`` (N,) or (N, 1) = P(positive);
- ``multilabel``: ``y`` (N, K) 0/1, ``prob`` (N, K), one independent sigmoid per attribute;
- ``multiclass``: ``y`` (N,) class index, ``prob`` (N, C) softmax rows.

Calibration uses the *top-label* convention of Guo et al. (2017) for every kind: the confidence of
a prediction is the probability of the label it predicts (``max(p, 1 - p)`` for a binary output),
and a prediction is correct when that label is the true one. The reliability diagram plots the
same quantities, so the figure and the number agree.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from sklearn import metrics as skm

KINDS = ("binary", "multilabel", "multiclass")


# -- calibration ---------------------------------------------------------------------------------
@dataclass
class ReliabilityBins:
    """Per-bin calibration statistics (equal-width bins over [0, 1], right-closed)."""

    edges: np.ndarray  # (n_bins + 1,)
    count: np.ndarray  # (n_bins,) predictions per bin
    confidence: np.ndarray  # (n_bins,) mean confidence (nan when empty)
    accuracy: np.ndarray  # (n_bins,) fraction correct (nan when empty)

    @property
    def ece(self) -> float:
        """Expected calibration error: sum over bins of |B|/N * |accuracy(B) - confidence(B)|."""
        n = self.count.sum()
        if n == 0:
            return float("nan")
        full = self.count > 0
        gap = np.abs(self.accuracy[full] - self.confidence[full])
        return float((self.count[full] / n * gap).sum())


def top_label(prob: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Predicted label and its confidence for each row.

    Returns ``(pred, conf)``: for ``binary`` pred is 0/1 and conf ``max(p, 1-p)``; for
    ``multiclass`` pred is the argmax and conf the max probability; for ``multilabel`` both are
    (N, K), each attribute treated as a binary output.

    Example:
        >>> top_label(np.array([0.9, 0.2]), "binary")
        (array([1, 0]), array([0.9, 0.8]))
    """
    prob = np.asarray(prob, dtype=np.float64)
    if kind == "multiclass":
        return prob.argmax(axis=1), prob.max(axis=1)
    if kind == "binary":
        prob = prob.reshape(-1)
    pred = (prob >= 0.5).astype(int)
    return pred, np.where(pred == 1, prob, 1.0 - prob)


def reliability_bins(y: np.ndarray, prob: np.ndarray, kind: str, n_bins: int = 10) -> ReliabilityBins:
    """Bin predictions by top-label confidence; multilabel pools every (row, attribute) pair.

    A confidence c falls in bin ``ceil(c * n_bins) - 1`` (bins are (lo, hi]; 0 goes to the first).

    Example:
        >>> rb = reliability_bins(np.array([1, 0]), np.array([0.9, 0.3]), "binary", n_bins=10)
        >>> round(rb.ece, 3)   # bin (0.8, 0.9]: conf 0.9, right; bin (0.6, 0.7]: conf 0.7, right
        0.2
    """
    pred, conf = top_label(prob, kind)
    y = np.asarray(y).reshape(pred.shape)
    correct = (pred == y).reshape(-1).astype(np.float64)
    conf = conf.reshape(-1)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # the 1e-6 slack keeps float32 probabilities on an edge (0.6f = 0.6000000238) in the bin below it
    idx = np.clip(np.ceil(conf * n_bins - 1e-6).astype(int) - 1, 0, n_bins - 1)
    count = np.bincount(idx, minlength=n_bins).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(idx, weights=conf, minlength=n_bins) / count
        acc = np.bincount(idx, weights=correct, minlength=n_bins) / count
    return ReliabilityBins(edges=edges, count=count, confidence=mean_conf, accuracy=acc)


def expected_calibration_error(y: np.ndarray, prob: np.ndarray, kind: str, n_bins: int = 10) -> float:
    """Top-label ECE with ``n_bins`` equal-width bins (0 = perfectly calibrated).

    Example:
        >>> round(expected_calibration_error(np.array([1, 1]), np.array([0.8, 0.8]), "binary"), 6)
        0.2
    """
    return reliability_bins(y, prob, kind, n_bins).ece


# -- scores --------------------------------------------------------------------------------------
def _safe_auc(y: np.ndarray, score: np.ndarray) -> float | None:
    """ROC AUC, or None when only one class is present (AUC is undefined then)."""
    if len(np.unique(y)) < 2:
        return None
    return float(skm.roc_auc_score(y, score))


def binary_scores(y: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> dict:
    """Scores of one binary output: accuracy, balanced accuracy, precision, recall, F1, ROC AUC,
    ECE, support and positive rates (true and predicted).

    Example:
        >>> s = binary_scores(np.array([1, 0, 1, 0]), np.array([0.9, 0.4, 0.3, 0.2]))
        >>> s["accuracy"], s["precision"], s["recall"]
        (0.75, 1.0, 0.5)
    """
    y = np.asarray(y).reshape(-1).astype(int)
    p = np.asarray(p, dtype=np.float64).reshape(-1)
    pred = (p >= threshold).astype(int)
    prec, rec, f1, _ = skm.precision_recall_fscore_support(
        y, pred, average="binary", pos_label=1, zero_division=0)
    return {
        "support": int(len(y)),
        "positive_rate": float(y.mean()) if len(y) else float("nan"),
        "predicted_positive_rate": float(pred.mean()) if len(y) else float("nan"),
        "accuracy": float(skm.accuracy_score(y, pred)),
        "balanced_accuracy": _balanced_accuracy(y, pred),
        "precision": float(prec),
        "recall": float(rec),
        "f1": float(f1),
        "roc_auc": _safe_auc(y, p),
        "ece": expected_calibration_error(y, p, "binary"),
    }


def _balanced_accuracy(y: np.ndarray, pred: np.ndarray) -> float:
    # scikit-learn warns and averages over the classes present; the same number, without the noise.
    classes = np.unique(y)
    return float(np.mean([(pred[y == c] == c).mean() for c in classes])) if len(classes) else float("nan")


@dataclass
class Scores:
    """Every number of one evaluation, for one task kind.

    ``overall`` holds the headline numbers (accuracy, balanced_accuracy, precision, recall, f1,
    roc_auc, ece — macro-averaged over attributes/classes where that applies — and
    ``accuracy_low``/``accuracy_high``, the accuracy's 95% interval over images); ``per_label`` one row
    per class (multiclass) or attribute (binary/multilabel); ``confusion`` the count matrices
    (one (C, C) matrix for binary/multiclass, one 2x2 per attribute for multilabel).
    """

    kind: str
    labels: list[str]
    overall: dict
    per_label: pd.DataFrame
    confusion: dict[str, np.ndarray] = field(default_factory=dict)
    report: str = ""

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "labels": list(self.labels),
            "overall": self.overall,
            "per_label": self.per_label.to_dict(orient="records"),
            "confusion": {k: v.tolist() for k, v in self.confusion.items()},
        }


def score(y: np.ndarray, prob: np.ndarray, kind: str, labels: list[str]) -> Scores:
    """Compute every metric for one task.

    Args:
        y: true labels (see the module docstring for shapes).
        prob: predicted probabilities, shape (N, outputs) or (N,) for binary.
        kind: ``binary``, ``multilabel`` or ``multiclass``.
        labels: the attribute names (binary/multilabel) or class names (multiclass).

    Example:
        >>> s = score(np.array([0, 1, 2]), np.eye(3), "multiclass", ["a", "b", "c"])
        >>> s.overall["accuracy"]
        1.0
    """
    if kind not in KINDS:
        raise ValueError(f"unknown task kind {kind!r}")
    prob = np.asarray(prob, dtype=np.float64)
    y = np.asarray(y)
    if kind == "multiclass":
        return _score_multiclass(y.reshape(-1).astype(int), prob, labels)
    if kind == "binary":
        prob = prob.reshape(-1, 1)
    y2 = y.reshape(len(y), -1).astype(int)
    rows, conf = [], {}
    for j, name in enumerate(labels):
        rows.append({"label": name, **binary_scores(y2[:, j], prob[:, j])})
        conf[name] = skm.confusion_matrix(y2[:, j], (prob[:, j] >= 0.5).astype(int), labels=[0, 1])
    table = pd.DataFrame(rows)
    keys = ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc")
    if kind == "binary":
        overall = {k: rows[0][k] for k in keys}
        report = skm.classification_report(y2[:, 0], (prob[:, 0] >= 0.5).astype(int), labels=[0, 1],
                                           target_names=[f"not {labels[0]}", labels[0]], zero_division=0)
    else:  # multilabel: macro over attributes, plus exact-match (subset) accuracy
        overall = {k: _nanmean(table[k]) for k in keys}
        overall["subset_accuracy"] = float(((prob >= 0.5).astype(int) == y2).all(axis=1).mean())
        report = skm.classification_report(y2, (prob >= 0.5).astype(int), target_names=list(labels),
                                           zero_division=0)
    overall["ece"] = expected_calibration_error(y2, prob, "multilabel" if kind == "multilabel" else "binary")
    overall["n"] = int(len(y2))
    _add_interval(overall, y2, prob, kind)
    return Scores(kind, list(labels), overall, table, conf, report)


def _add_interval(overall: dict, y: np.ndarray, prob: np.ndarray, kind: str) -> None:
    """``accuracy_low`` / ``accuracy_high``: the accuracy's 95% interval (:func:`accuracy_interval`)."""
    overall["accuracy_low"], overall["accuracy_high"] = accuracy_interval(per_item_accuracy(y, prob, kind))


def _nanmean(col: pd.Series) -> float | None:
    v = pd.to_numeric(col, errors="coerce").dropna()
    return float(v.mean()) if len(v) else None


def _score_multiclass(y: np.ndarray, prob: np.ndarray, labels: list[str]) -> Scores:
    k = len(labels)
    pred = prob.argmax(axis=1)
    ids = list(range(k))
    prec, rec, f1, sup = skm.precision_recall_fscore_support(y, pred, labels=ids, zero_division=0)
    rows = []
    for j in ids:
        auc = _safe_auc((y == j).astype(int), prob[:, j])
        rows.append({"label": labels[j], "support": int(sup[j]), "precision": float(prec[j]),
                     "recall": float(rec[j]), "f1": float(f1[j]), "roc_auc": auc})
    present = np.unique(y)
    # one-vs-rest macro AUC over the classes whose AUC is defined (present, and not alone): with
    # every class present this is exactly scikit-learn's multi_class="ovr", average="macro"
    defined = [r["roc_auc"] for r in rows if r["roc_auc"] is not None]
    auc = float(np.mean(defined)) if defined else None
    overall = {
        "accuracy": float(skm.accuracy_score(y, pred)),
        "balanced_accuracy": _balanced_accuracy(y, pred),
        # macro over the classes that occur in y: an absent class has no recall to average
        "precision": float(np.mean(prec[present])) if len(present) else None,
        "recall": float(np.mean(rec[present])) if len(present) else None,
        "f1": float(np.mean(f1[present])) if len(present) else None,
        "roc_auc": auc,
        "ece": expected_calibration_error(y, prob, "multiclass"),
        "n": int(len(y)),
    }
    _add_interval(overall, y, prob, "multiclass")
    conf = {"all": skm.confusion_matrix(y, pred, labels=ids)}
    report = skm.classification_report(y, pred, labels=ids, target_names=list(labels), zero_division=0)
    return Scores("multiclass", list(labels), overall, pd.DataFrame(rows), conf, report)


# -- uncertainty ---------------------------------------------------------------------------------
def per_item_accuracy(y: np.ndarray, prob: np.ndarray, kind: str) -> np.ndarray:
    """Each row's share of correct outputs: 1/0 for binary and multiclass, the fraction of its
    attributes right for multilabel. Its mean is :func:`score`'s ``accuracy`` for every kind (the
    multilabel mean over attributes equals the mean over rows).

    Example:
        >>> per_item_accuracy(np.array([[1, 0], [0, 0]]), np.array([[.9, .8], [.2, .1]]), "multilabel")
        array([0.5, 1. ])
    """
    pred, _ = top_label(prob, kind)
    y = np.asarray(y).reshape(pred.shape)
    right = (pred == y).astype(np.float64)
    return right.reshape(len(right), -1).mean(axis=1)


def _boot_means(values: np.ndarray, n_boot: int, seed: int, chunk: int = 256) -> np.ndarray:
    """Means of ``n_boot`` resamples (with replacement) of the rows of ``values``, drawn in chunks
    so that 20k rows x 2,000 resamples never hold more than a few MB of indices."""
    rng = np.random.default_rng(seed)
    n = len(values)
    out = []
    for start in range(0, n_boot, chunk):
        idx = rng.integers(0, n, size=(min(chunk, n_boot - start), n))
        out.append(values[idx].mean(axis=1))
    return np.concatenate(out)


def bootstrap_interval(values, *, level: float = 0.95, n_boot: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (one number per image), resampling
    images: for accuracy on N faces, how far the figure would move on another N faces like them.

    Example:
        >>> lo, hi = bootstrap_interval(np.r_[np.ones(90), np.zeros(10)])
        >>> 0.83 < lo < 0.86 and 0.94 < hi < 0.97
        True
    """
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if len(v) == 0:
        return (float("nan"), float("nan"))
    return _percentiles(_boot_means(v, n_boot, seed), level)


def _percentiles(means: np.ndarray, level: float) -> tuple[float, float]:
    a = (1 - level) / 2
    return float(np.quantile(means, a)), float(np.quantile(means, 1 - a))


def accuracy_interval(values, *, level: float = 0.95) -> tuple[float, float]:
    """The interval of an accuracy from its per-image scores (:func:`per_item_accuracy`).

    0/1 scores (binary, multiclass) get the Wilson score interval, which stays honest at the
    extremes: 19 of 19 right is 0.832–1.0, where a bootstrap would claim exactly 1.0. Fractional
    scores (multilabel: the share of a face's attributes that are right) get the percentile
    bootstrap over images, which keeps the attributes of one face together.

    Example:
        >>> [round(v, 3) for v in accuracy_interval(np.ones(19))]
        [0.832, 1.0]
    """
    from scipy.stats import norm

    v = np.asarray(values, dtype=np.float64).reshape(-1)
    n = len(v)
    if n == 0:
        return (float("nan"), float("nan"))
    if not np.isin(v, (0.0, 1.0)).all():
        return bootstrap_interval(v, level=level)
    z = float(norm.ppf(1 - (1 - level) / 2))
    p = v.mean()
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def paired_difference(a, b, *, level: float = 0.95, n_boot: int = 2000, seed: int = 0) -> dict:
    """Mean of ``a - b`` over the same images, with a paired bootstrap interval and a p-value.

    Two models scored on the same faces share the faces' difficulty, so their difference is far
    less uncertain than either accuracy alone; the pairing keeps that. ``wins``/``losses`` count
    the images where ``a`` beats ``b`` and the reverse. For 0/1 scores these are McNemar's
    discordant pairs and ``p`` is his exact test (a two-sided binomial test on them), which stays
    right when they are few: 4 wins and no loss is p = 0.125, although a bootstrap interval of
    the difference would already exclude 0. Fractional scores (multilabel) get the bootstrap's
    p-value. ``significant`` is ``p < 1 - level``.

    Example:
        >>> d = paired_difference(np.r_[np.ones(60), np.zeros(40)], np.r_[np.ones(50), np.zeros(50)])
        >>> round(d["difference"], 2), d["wins"], d["losses"], round(d["p"], 4), d["significant"]
        (0.1, 10, 0, 0.002, True)
    """
    from scipy.stats import binomtest

    a = np.asarray(a, dtype=np.float64).reshape(-1)
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    if a.shape != b.shape:
        raise ValueError(f"paired scores need the same images: {a.shape} vs {b.shape}")
    d = a - b
    wins, losses = int((d > 0).sum()), int((d < 0).sum())
    if not len(d):
        return {"difference": float("nan"), "low": float("nan"), "high": float("nan"), "wins": 0, "losses": 0,
                "n": 0, "p": 1.0, "significant": False}
    boot = _boot_means(d, n_boot, seed)  # one set of resamples for the interval and the p-value
    lo, hi = _percentiles(boot, level)
    if np.isin(a, (0.0, 1.0)).all() and np.isin(b, (0.0, 1.0)).all():
        p = binomtest(wins, wins + losses, 0.5).pvalue if wins + losses else 1.0
    else:
        p = min(1.0, 2 * min(float(np.mean(boot <= 0)), float(np.mean(boot >= 0))))
    return {"difference": float(d.mean()), "low": lo, "high": hi, "wins": wins, "losses": losses,
            "n": int(len(d)), "p": float(p), "significant": bool(p < 1 - level)}


# -- errors and groups ---------------------------------------------------------------------------
def sample_losses(y: np.ndarray, prob: np.ndarray, kind: str, eps: float = 1e-7) -> np.ndarray:
    """Per-row cross-entropy (multilabel: summed over attributes), for ranking mistakes.

    Example:
        >>> np.round(sample_losses(np.array([1, 0]), np.array([0.5, 0.5]), "binary"), 3)
        array([0.693, 0.693])
    """
    prob = np.clip(np.asarray(prob, dtype=np.float64), eps, 1 - eps)
    y = np.asarray(y)
    if kind == "multiclass":
        return -np.log(prob[np.arange(len(y)), y.reshape(-1).astype(int)])
    prob = prob.reshape(len(y), -1)
    y2 = y.reshape(len(y), -1)
    return -(y2 * np.log(prob) + (1 - y2) * np.log(1 - prob)).sum(axis=1)


def top_losses(y: np.ndarray, prob: np.ndarray, kind: str, k: int = 16) -> np.ndarray:
    """Indices of the ``k`` rows with the highest loss, highest first (the confident mistakes).

    Example:
        >>> top_losses(np.array([1, 0, 1]), np.array([0.9, 0.95, 0.4]), "binary", k=2)
        array([1, 2])
    """
    losses = sample_losses(y, prob, kind)
    order = np.argsort(-losses, kind="stable")
    return order[: max(0, k)]


def subgroup_table(y: np.ndarray, prob: np.ndarray, kind: str, groups: dict[str, np.ndarray],
                   group_names: dict[str, list[str]] | None = None) -> pd.DataFrame:
    """Accuracy, macro F1 and predicted/true positive rates for each value of each group column.

    Args:
        y, prob, kind: as for :func:`score`.
        groups: group column name → (N,) values (e.g. ``{"Male": [...], "Young": [...]}``).
        group_names: optional value names per group (index → name), e.g. ``["not Male", "Male"]``.

    Returns a table with columns group, value, n, accuracy, f1, positive_rate,
    predicted_positive_rate (the last two only for binary/multilabel, averaged over attributes).

    Example:
        >>> t = subgroup_table(np.array([1, 0, 1, 1]), np.array([.9, .1, .2, .8]), "binary",
        ...                    {"Male": np.array([0, 0, 1, 1])})
        >>> t["accuracy"].tolist()
        [1.0, 0.5]
    """
    pred, _ = top_label(prob, kind)
    y = np.asarray(y).reshape(pred.shape)
    rows = []
    for gname, values in groups.items():
        values = np.asarray(values)
        names = (group_names or {}).get(gname)
        for v in np.unique(values):
            m = values == v
            yt, yp = y[m], pred[m]
            row = {"group": gname, "value": names[int(v)] if names is not None else _plain(v), "n": int(m.sum()),
                   "accuracy": float((yt == yp).mean())}
            if kind == "multiclass":
                row["f1"] = float(skm.f1_score(yt, yp, average="macro", zero_division=0))
            else:
                yt2, yp2 = yt.reshape(len(yt), -1), yp.reshape(len(yp), -1)
                row["f1"] = float(np.mean([skm.f1_score(yt2[:, j], yp2[:, j], zero_division=0)
                                           for j in range(yt2.shape[1])]))
                row["positive_rate"] = float(yt2.mean())
                row["predicted_positive_rate"] = float(yp2.mean())
            rows.append(row)
    return pd.DataFrame(rows)


def _plain(v):
    return v.item() if hasattr(v, "item") else v


def markdown_table(df: pd.DataFrame, floatfmt: str = ".3f") -> str:
    """A GitHub Markdown table without the optional ``tabulate`` dependency.

    Example:
        >>> print(markdown_table(pd.DataFrame({"a": [1.0]})))
        | a |
        |---|
        | 1.000 |
    """
    def fmt(v) -> str:
        if v is None or (np.isscalar(v) and pd.isna(v)) or v is pd.NA:
            return "–"
        if isinstance(v, (float, np.floating)):
            return format(float(v), floatfmt)
        return str(v)

    head = "| " + " | ".join(map(str, df.columns)) + " |"
    sep = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(fmt(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, sep, *body])


def as_jsonable(d):
    """Recursively turn numpy scalars/arrays (and NaN) into JSON-friendly values."""
    if isinstance(d, dict):
        return {str(k): as_jsonable(v) for k, v in d.items()}
    if isinstance(d, (list, tuple)):
        return [as_jsonable(v) for v in d]
    if isinstance(d, np.ndarray):
        return as_jsonable(d.tolist())
    if isinstance(d, (np.floating, float)):
        return None if np.isnan(d) else float(d)
    if isinstance(d, np.integer):
        return int(d)
    if hasattr(d, "__dataclass_fields__"):
        return as_jsonable(asdict(d))
    return d


def accuracy_bounds(task, split: str, y: np.ndarray, proba: np.ndarray) -> dict:
    """``<split>_accuracy_low`` / ``_high``: the 95% interval of the split's accuracy over its
    images (how far the figure could move on another sample of the same size)."""
    lo, hi = accuracy_interval(per_item_accuracy(y, proba, task.kind))
    return {f"{split}_accuracy_low": lo, f"{split}_accuracy_high": hi}
