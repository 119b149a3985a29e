"""PNG figures for evaluations and leaderboards (matplotlib, no display needed).

Figures are built with :class:`matplotlib.figure.Figure` directly rather than ``pyplot``: no global
state, no GUI backend, safe to call from a server thread.

Example:
    >>> import tempfile
    >>> import numpy as np
    >>> out = Path(tempfile.mkdtemp()) / "confusion.png"
    >>> plot_confusion(np.array([[5, 1], [2, 7]]), ["no", "yes"], out).stat().st_size > 0
    True
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .metrics import ReliabilityBins


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


def _heatmap(ax, m: np.ndarray, xlabels, ylabels, fmt: str, title: str) -> None:
    ax.imshow(m, cmap="Blues", vmin=0, vmax=m.max() if m.size and m.max() > 0 else 1)
    ax.set_xticks(range(len(xlabels)), xlabels, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(ylabels)), ylabels, fontsize=8)
    ax.set_title(title, fontsize=10)
    if m.size <= 400:  # numbers stop being readable beyond ~20×20
        hi = m.max() if m.size else 0
        for (i, j), v in np.ndenumerate(m):
            ax.text(j, i, format(v, fmt), ha="center", va="center", fontsize=7,
                    color="white" if hi and v > hi / 2 else "black")


def plot_confusion(cm: np.ndarray, labels: list[str], path: str | Path, title: str = "") -> Path:
    """Confusion matrix as counts and row-normalised (recall per true class), side by side.

    Args:
        cm: (C, C) counts, rows = true class, columns = predicted class.
        labels: class names.
        path: PNG to write.
    """
    cm = np.asarray(cm)
    with np.errstate(invalid="ignore", divide="ignore"):
        norm = np.nan_to_num(cm / cm.sum(axis=1, keepdims=True))
    side = max(4.0, 0.45 * len(labels) + 2.5)
    fig = Figure(figsize=(2 * side, side))
    a, b = fig.subplots(1, 2)
    _heatmap(a, cm, labels, labels, "d", "counts")
    _heatmap(b, norm, labels, labels, ".2f", "normalised by true class")
    for ax in (a, b):
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
    fig.suptitle(title or "confusion matrix")
    return _save(fig, path)


def plot_confusion_multilabel(confusions: dict[str, np.ndarray], path: str | Path, title: str = "") -> Path:
    """One row per attribute: TN, FP, FN, TP as counts and as rates within the true class."""
    names = list(confusions)
    counts = np.array([np.asarray(confusions[n]).reshape(-1) for n in names])  # tn fp fn tp
    with np.errstate(invalid="ignore", divide="ignore"):
        neg, pos = counts[:, :2].sum(1, keepdims=True), counts[:, 2:].sum(1, keepdims=True)
        rates = np.nan_to_num(np.concatenate([counts[:, :2] / neg, counts[:, 2:] / pos], axis=1))
    cols = ["TN", "FP", "FN", "TP"]
    fig = Figure(figsize=(9, max(3.0, 0.28 * len(names) + 1.5)))
    a, b = fig.subplots(1, 2)
    _heatmap(a, counts, cols, names, "d", "counts")
    _heatmap(b, rates, cols, names, ".2f", "rates within the true class")
    fig.suptitle(title or "confusion per attribute")
    return _save(fig, path)


def plot_reliability(bins: ReliabilityBins, path: str | Path, title: str = "") -> Path:
    """Reliability diagram (accuracy against confidence per bin) over a histogram of confidences."""
    centers = (bins.edges[:-1] + bins.edges[1:]) / 2
    width = bins.edges[1] - bins.edges[0]
    fig = Figure(figsize=(5, 6))
    a, b = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    full = bins.count > 0
    a.bar(centers[full], bins.accuracy[full], width=width * 0.9, color="#4c72b0", label="accuracy")
    a.bar(centers[full], (bins.confidence - bins.accuracy)[full], bottom=bins.accuracy[full],
          width=width * 0.9, color="#dd8452", alpha=0.5, label="gap to confidence")
    a.plot([0, 1], [0, 1], "k--", lw=1, label="perfect calibration")
    a.set_ylim(0, 1)
    a.set_ylabel("accuracy")
    a.legend(loc="upper left", fontsize=8)
    a.set_title(title or f"reliability (ECE {bins.ece:.3f})", fontsize=10)
    b.bar(centers, bins.count, width=width * 0.9, color="grey")
    b.set_xlabel("confidence of the predicted label")
    b.set_ylabel("count")
    b.set_xlim(0, 1)
    return _save(fig, path)


def plot_image_grid(images: np.ndarray, captions: list[str], path: str | Path, title: str = "",
                    cols: int = 4) -> Path:
    """A grid of uint8 images (N, H, W, C) with a caption under each (e.g. the top losses)."""
    n = len(images)
    cols = max(1, min(cols, n))
    rows = max(1, -(-n // cols))
    # Constrained layout keeps the title just above the first row (the default margins left a
    # blank band a tenth of the figure high over a tall grid).
    fig = Figure(figsize=(2.6 * cols, 2.9 * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols)).reshape(-1)
    for ax in axes:
        ax.axis("off")
    for ax, img, cap in zip(axes, images, captions):
        img = np.asarray(img)
        ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray" if img.shape[-1] == 1 else None,
                  vmin=0, vmax=255)
        ax.set_title(cap, fontsize=7)
    if n == 0:
        axes[0].text(0.5, 0.5, "no mistakes", ha="center", va="center")
    fig.suptitle(title)
    return _save(fig, path)


def _short_labels(names: list[str]) -> list[str]:
    """Run names without their common prefix (``cmp-Smiling-<stamp>-cnn`` → ``cnn``)."""
    import os

    if len(names) < 2:
        return names
    prefix = os.path.commonprefix(names)
    prefix = prefix[: prefix.rfind("-") + 1] if "-" in prefix else ""
    out = [n[len(prefix):] or n for n in names]
    return [f"trial {o}" if o.isdigit() else o for o in out]


def plot_leaderboard(board: pd.DataFrame, path: str | Path, metric: str = "accuracy", title: str = "") -> Path:
    """Two scatter plots: ``metric`` against training seconds and against batch-1 latency (ms)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

    fig = Figure(figsize=(11, 4.5))
    a, b = fig.subplots(1, 2)
    labels = dict(zip(board.get("run", pd.Series(dtype=str)).astype(str),
                      _short_labels(list(board.get("run", pd.Series(dtype=str)).astype(str)))))
    for ax, col, label in ((a, "train_s", "training time (s)"), (b, "latency_ms", "inference latency, batch 1 (ms)")):
        if col not in board or metric not in board:
            continue
        sub = board[board[[col, metric]].notna().all(axis=1)]
        x, y = sub[col].astype(float), sub[metric].astype(float)
        ax.scatter(x, y, s=40, color="#4c72b0")
        for run, xi, yi in zip(sub["run"].astype(str), x, y):
            ax.annotate(labels.get(run, run), (xi, yi), fontsize=7, xytext=(4, 4), textcoords="offset points")
        if len(sub) and (x > 0).all() and x.max() / max(x.min(), 1e-9) > 20:
            ax.set_xscale("log")  # a classical model and a ResNet differ by orders of magnitude
            # plain numbers at 1-2-5 steps: over a decade or two the default labels every minor
            # tick in scientific notation, and they run into each other
            decades = np.log10(x.max() / x.min())
            ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if decades < 3 else (1.0,)))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.xaxis.set_minor_formatter(NullFormatter())
        else:
            ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.set_xlabel(label)
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
    fig.suptitle(title or f"{metric} against cost")
    return _save(fig, path)
