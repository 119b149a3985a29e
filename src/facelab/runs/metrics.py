"""The one headline figure of a run, and the one metric flattener.

Every surface (``facelab runs``, the API, the dashboard, leaderboards) shows a run by the same
number: **validation** accuracy, because test is kept for the final word and is not always there;
test accuracy (then AUC/F1) only when a run has no validation figure.

Example:
    >>> flat_metrics({"test": {"accuracy": 0.9, "n": 10}})
    {'test.accuracy': 0.9, 'test.n': 10.0}
    >>> headline({"val_accuracy": 0.8, "test_accuracy": 0.9})
    ('val_accuracy', 0.8)
    >>> headline({"test": {"accuracy": 0.9}, "val": {"accuracy": 0.8}})
    ('val.accuracy', 0.8)
"""
from __future__ import annotations

HEADLINE = ("accuracy", "acc", "balanced_accuracy", "auc", "roc_auc", "f1", "macro_f1", "mean_accuracy")
SPLITS = ("val", "test", "")


def flat_metrics(metrics: dict | None, prefix: str = "") -> dict[str, float]:
    """``{"test": {"accuracy": 0.9}}`` → ``{"test.accuracy": 0.9}`` (numbers only)."""
    out: dict[str, float] = {}
    for k, v in (metrics or {}).items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flat_metrics(v, key + "."))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[key] = float(v)
    return out


def headline(metrics: dict | None) -> tuple[str, float] | None:
    """(name, value) of the one number to show for a run: validation accuracy, then test
    accuracy, then the same split order for balanced accuracy, AUC, F1; None when there is none."""
    flat = flat_metrics(metrics)
    for name in HEADLINE:
        for split in SPLITS:
            for k in ((f"{split}.{name}", f"{split}_{name}") if split else (name,)):
                if k in flat:
                    return k, flat[k]
    return None
