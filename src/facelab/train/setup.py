"""Getting a training job ready: open the data, choose the validation rows, weigh the classes.

Example:
    >>> import tempfile
    >>> from facelab.data.cache import prepare
    >>> from facelab.data.synth import synthesize
    >>> from facelab.runs.task import resolve_task
    >>> tmp = Path(tempfile.mkdtemp())
    >>> cache = prepare(synthesize(tmp / "celeba", kind="celeba", n=20), size=16, out=tmp / "cache",
    ...                 workers=1, progress=False).path
    >>> ds = open_data(cache)
    >>> tr, va, held_out = holdout_split(ds, resolve_task(ds, "Smiling"), 0.1, seed=0)
    >>> len(tr), len(va), held_out
    (16, 2, False)
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from ..runs.task import Task


def open_data(data):
    """A ``PreparedDataset`` from a cache folder, a source folder (its newest cache) or a dataset.

    Raises:
        DataError: no prepared cache — the message says how to make one.
    """
    from ..data.prepared import PreparedDataset, open_prepared

    if isinstance(data, PreparedDataset):
        return data
    if data is None or str(data) == "":
        raise DataError("no data given", fix="pass a prepared cache or a source folder: facelab train DATA ...")
    p = Path(str(data)).expanduser()
    if not p.exists():
        raise DataError(f"{p} does not exist", path=p,
                        fix="pass a prepared cache folder, or a dataset folder prepared with "
                            f"`facelab data prepare {p} --size 64`")
    return open_prepared(p)


def _strata(task: Task, y: np.ndarray) -> np.ndarray | None:
    if task.kind == "multiclass":
        return y
    if task.kind == "binary":
        return y[:, 0].astype(np.int64)
    return None  # multilabel: 2^40 combinations cannot be stratified; a random split is close enough


def holdout_split(ds, task: Task, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """Train and validation row indices.

    The dataset's own ``val`` split is used when it has one. Otherwise (the Kaggle CelebA subset
    has only train images, FER2013 folders only train/test) a seeded, stratified ``val_fraction``
    of train is held out; the rows are saved in the run (``split.json``) so evaluation reuses them.

    Returns:
        (train_rows, val_rows, holdout) — ``holdout`` is True when val was taken from train.
    """
    train_rows, val_rows = ds.split("train"), ds.split("val")
    if len(val_rows) or val_fraction <= 0:
        return train_rows, val_rows, False
    y = task.labels(ds.table)[train_rows]
    n_val = int(round(len(train_rows) * val_fraction))
    if n_val < 1 or len(train_rows) - n_val < 2:
        raise DataError(f"{len(train_rows)} training images are too few to hold out a validation split",
                        path=ds.path, fix="prepare more images, or pass --val-fraction 0")
    from sklearn.model_selection import train_test_split

    strata = _strata(task, y)
    if strata is not None and np.bincount(strata).min(initial=2) < 2:
        strata = None  # a class with one image cannot be split both ways
    try:
        tr, va = train_test_split(train_rows, test_size=n_val, random_state=seed, stratify=strata)
    except ValueError:  # too few per class for the stratified split
        tr, va = train_test_split(train_rows, test_size=n_val, random_state=seed)
    return np.sort(tr), np.sort(va), True


def class_weights(task: Task, y: np.ndarray, balance: str) -> torch.Tensor | None:
    """Loss weights against imbalance: per class (multiclass) or ``pos_weight`` (binary/multilabel).

    ``full`` uses the inverse frequency, ``sqrt`` its square root (a milder correction that costs
    less plain accuracy), ``none`` nothing.
    """
    if balance == "none":
        return None
    power = 0.5 if balance == "sqrt" else 1.0
    if task.kind == "multiclass":
        counts = np.bincount(y, minlength=task.outputs).astype(np.float64)
        w = (counts.sum() / np.maximum(counts, 1) / task.outputs) ** power
        w = w / (w * counts).sum() * counts.sum()  # keep the mean weight per sample at 1
        return torch.tensor(w, dtype=torch.float32)
    pos = y.sum(0).astype(np.float64)
    neg = len(y) - pos
    return torch.tensor((np.maximum(neg, 1) / np.maximum(pos, 1)) ** power, dtype=torch.float32)
