"""Metric keys in words: the one mapping every surface uses to name a figure for a person.

``metrics.json`` keys are for programs (``val_accuracy_low``, ``test.balanced_accuracy``); a tile
or a table shows "val accuracy (95% CI)" with the interval beside the value. A key not in the
table is still readable: its split prefix and underscores become words.

Example:
    >>> metric_label("val_accuracy")
    'val accuracy'
    >>> metric_label("test.macro_f1")
    'test macro F1'
    >>> [(t.label, t.value) for t in metric_tiles({"val_accuracy": 0.912, "val_accuracy_low": 0.9,
    ...                                             "val_accuracy_high": 0.921, "epochs": 3})]
    [('val accuracy (95% CI)', '0.912 (0.900–0.921)'), ('epochs trained', '3')]
"""
from __future__ import annotations

from dataclasses import dataclass

from .metrics import flat_metrics

#: metric name (without its split) → words
LABELS = {
    "accuracy": "accuracy", "acc": "accuracy", "mean_accuracy": "mean accuracy over attributes",
    "balanced_accuracy": "balanced accuracy", "loss": "loss (cross-entropy)", "auc": "ROC AUC",
    "roc_auc": "ROC AUC", "f1": "F1", "macro_f1": "macro F1", "precision": "precision", "recall": "recall",
    "ece": "calibration error (ECE)", "n": "images scored", "temperature": "calibration temperature",
    "best_epoch": "best epoch", "epochs": "epochs trained", "steps": "optimiser steps",
    "train_seconds": "training time (s)", "images_per_s": "images per second (training)",
    "threads": "CPU threads", "train_images": "training images", "val_images": "validation images",
    "params": "parameters",
}
SPLIT_WORDS = {"val": "val", "test": "test", "train": "train"}
#: the order tiles are shown in: headline figures first
TILE_ORDER = ("accuracy", "mean_accuracy", "balanced_accuracy", "auc", "macro_f1", "f1", "loss", "ece",
              "best_epoch", "epochs", "train_seconds", "images_per_s")


def _split(key: str) -> tuple[str, str]:
    for sep in (".", "_"):
        head, _, rest = key.partition(sep)
        if rest and head in SPLIT_WORDS:
            return head, rest
    return "", key


def metric_label(key: str) -> str:
    """The words for a metric key (``val_accuracy_low`` → "val accuracy, 95% CI low")."""
    split, name = _split(key)
    suffix = ""
    for end, words in (("_low", ", 95% CI low"), ("_high", ", 95% CI high")):
        if name.endswith(end):
            name, suffix = name[: -len(end)], words
    name = name.replace(".", " ")
    words = LABELS.get(name, name.replace("_", " "))
    return " ".join(w for w in (SPLIT_WORDS.get(split, ""), words) if w) + suffix


@dataclass(frozen=True)
class Tile:
    """One figure as a dashboard tile: ``label`` in words, ``value`` formatted, ``key`` the source."""

    label: str
    value: str
    key: str


def _fmt(v: float) -> str:
    if float(v).is_integer() and abs(v) >= 1:
        return f"{int(v):,}"
    return f"{v:.3f}" if abs(v) < 10 else f"{v:,.1f}"


def metric_tiles(metrics: dict | None, limit: int = 8) -> list[Tile]:
    """The figures worth a tile, in words, an accuracy with its 95% interval folded in.

    Keys are ordered by :data:`TILE_ORDER` (val before test); ``*_low``/``*_high`` never get a
    tile of their own.
    """
    flat = flat_metrics(metrics)
    tiles: list[tuple[tuple, Tile]] = []
    for key, v in flat.items():
        if key.endswith(("_low", "_high")):
            continue
        split, name = _split(key)
        lo, hi = flat.get(f"{key}_low"), flat.get(f"{key}_high")
        if lo is not None and hi is not None:
            tile = Tile(f"{metric_label(key)} (95% CI)", f"{_fmt(v)} ({_fmt(lo)}–{_fmt(hi)})", key)
        else:
            tile = Tile(metric_label(key), _fmt(v), key)
        rank = TILE_ORDER.index(name) if name in TILE_ORDER else len(TILE_ORDER)
        tiles.append(((rank, ("val", "test", "", "train").index(split) if split in ("val", "test", "train") else 2),
                      tile))
    tiles.sort(key=lambda t: t[0])
    return [t for _, t in tiles][:limit]
