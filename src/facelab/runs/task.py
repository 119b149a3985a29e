"""What a model learns: a :class:`Task` resolved from a prepared dataset and the user's ``--target``.

- ``binary``: one 0/1 attribute (``--target Smiling``) → 1 output, sigmoid.
- ``multilabel``: several attributes (``--target all`` or ``--target Smiling,Male``) → one sigmoid
  output each.
- ``multiclass``: one class column (``emotion``, a folder's ``label``, ``identity``) → softmax.

Example:
    >>> import tempfile
    >>> from facelab.data.readers import read_source
    >>> from facelab.data.synth import synthesize
    >>> m = read_source(synthesize(tempfile.mkdtemp() + "/celeba", kind="celeba", n=20))
    >>> task = resolve_task(m, "Smiling")
    >>> task.kind, task.outputs
    ('binary', 1)
"""
from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, field
from typing import Literal, Sequence

import numpy as np

from ..errors import ConfigError, DataError

TaskKind = Literal["binary", "multilabel", "multiclass"]


@dataclass
class Task:
    """A prediction task.

    Attributes:
        kind: ``binary``, ``multilabel`` or ``multiclass``.
        targets: the label columns used (one for binary/multiclass, several for multilabel).
        classes: output names, one per output (binary: ``[target]``; multilabel: the targets;
            multiclass: the class names).
    """

    kind: TaskKind
    targets: list[str]
    classes: list[str] = field(default_factory=list)

    @property
    def outputs(self) -> int:
        return len(self.classes)

    @property
    def name(self) -> str:
        """A short name for run folders: the target, ``all40`` style for many attributes."""
        if self.kind == "multilabel":
            return self.targets[0] if len(self.targets) == 1 else f"attrs{len(self.targets)}"
        return self.targets[0]

    def labels(self, table) -> np.ndarray:
        """Label array for a manifest table: int64 (N,) for multiclass, float32 (N, outputs) else."""
        if self.kind == "multiclass":
            return table[self.targets[0]].to_numpy().astype(np.int64)
        return table[self.targets].to_numpy().astype(np.float32).reshape(len(table), -1)

    def probabilities(self, logits):
        """Logits → probabilities (torch tensor in, torch tensor out): softmax or sigmoid."""
        from ..models.inputs import probabilities

        return probabilities(logits, self.kind)

    def predicted(self, proba: np.ndarray) -> np.ndarray:
        """Probabilities → predicted labels (class index, or 0/1 per output at 0.5)."""
        if self.kind == "multiclass":
            return proba.argmax(1)
        return (proba >= 0.5).astype(np.int64)

    def accuracy(self, proba: np.ndarray, y: np.ndarray) -> float:
        """Accuracy (multilabel: mean over attributes of the per-attribute accuracy)."""
        if len(y) == 0:
            return float("nan")
        return float(np.mean(self.predicted(proba) == y))

    def per_output_accuracy(self, proba: np.ndarray, y: np.ndarray) -> dict[str, float]:
        if self.kind == "multiclass":
            pred = proba.argmax(1)
            return {c: float(np.mean(pred[y == i] == i)) if np.any(y == i) else float("nan")
                    for i, c in enumerate(self.classes)}  # per-class recall
        pred = self.predicted(proba)
        return {c: float(np.mean(pred[:, i] == y[:, i])) for i, c in enumerate(self.classes)}

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Task":
        return cls(kind=d["kind"], targets=list(d["targets"]), classes=list(d["classes"]))


def unknown_name(name: str, valid: Sequence[str], path) -> ConfigError:
    close = difflib.get_close_matches(name, valid, n=3, cutoff=0.5)
    if not close:  # case-insensitive and substring matches help with "smiling" or "smile"
        close = [v for v in valid if name.lower() in v.lower() or v.lower() in name.lower()][:3]
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    return ConfigError(f"unknown target {name!r}.{hint}", path=path,
                       fix=f"choose one of: {', '.join(valid)} (or 'all' for every attribute)")


def resolve_task(ds, target: str | Sequence[str] | None = None) -> Task:
    """Turn ``--target`` into a :class:`Task` for a prepared dataset (or anything with ``labels``,
    ``attributes`` and ``path``).

    Args:
        ds: a ``PreparedDataset`` (or a ``Manifest``).
        target: an attribute (binary), a class column (multiclass), ``all`` (every attribute,
            multilabel), a comma-separated string or list of attributes (multilabel), or ``None``
            for the dataset's class column (FER2013 emotion, folder label).

    Raises:
        ConfigError: unknown target (lists the valid ones with close matches) or no target given
            for a dataset without a default class column.

    Example:
        >>> import tempfile
        >>> from facelab.data.readers import read_source
        >>> from facelab.data.synth import synthesize
        >>> m = read_source(synthesize(tempfile.mkdtemp() + "/celeba", kind="celeba", n=20))
        >>> resolve_task(m, "all").kind, resolve_task(m, "Smiling,Male").targets
        ('multilabel', ['Smiling', 'Male'])
    """
    labels = ds.labels
    attributes = list(getattr(ds, "attributes", []) or [n for n, i in labels.items() if i.kind == "binary"])
    path = getattr(ds, "path", None) or getattr(ds, "root", None)
    valid = list(labels)
    if target is None or (isinstance(target, str) and target.strip() == ""):
        default = next((n for n, i in labels.items() if i.kind == "multiclass" and n != "identity"), None)
        if default is None:
            raise ConfigError("this dataset needs a --target", path=path,
                              fix=f"choose one of: {', '.join(valid)} (or 'all' for every attribute)")
        target = default
    if isinstance(target, str):
        names = [t.strip() for t in target.split(",") if t.strip()]
    else:
        names = [str(t) for t in target]
    if names == ["all"]:
        if not attributes:
            raise ConfigError("'all' means every binary attribute, and this dataset has none", path=path,
                              fix=f"choose one of: {', '.join(valid)}")
        return Task("multilabel", list(attributes), list(attributes))
    for n in names:
        if n not in labels:
            raise unknown_name(n, valid, path)
    if len(names) == 1:
        info = labels[names[0]]
        if info.kind == "multiclass":
            return Task("multiclass", names, list(info.classes))
        return Task("binary", names, names)
    multi = [n for n in names if labels[n].kind != "binary"]
    if multi:
        raise ConfigError(f"several targets must all be binary attributes; {multi[0]!r} is multiclass",
                          path=path, fix=f"train {multi[0]!r} on its own: --target {multi[0]}")
    return Task("multilabel", names, names)


def check_trainable(task: Task, y: np.ndarray, *, split: str = "train", path=None) -> None:
    """Refuse labels a model cannot learn from: one class only in the training split.

    Raises:
        DataError: names the target and what to do.
    """
    if len(y) == 0:
        raise DataError(f"the {split} split is empty", path=path,
                        fix="prepare the dataset with more images (check `facelab data info`)")
    if task.kind == "multiclass":
        present = np.unique(y)
        if len(present) < 2:
            only = task.classes[int(present[0])] if len(present) else "none"
            raise DataError(f"target {task.targets[0]!r} has only one class ({only}) in the {split} split",
                            path=path, fix="use a dataset with at least two classes, or another --target")
        return
    constant = [i for i in range(y.shape[1]) if y[:, i].min() == y[:, i].max()]
    # In a multilabel task a constant attribute is harmless (its output learns the bias), so only
    # refuse when nothing varies; a single binary target with one value cannot be learned at all.
    if task.kind == "multilabel" and len(constant) < y.shape[1]:
        if constant:
            import warnings

            warnings.warn(f"{len(constant)} attribute(s) never vary in the {split} split: "
                          + ", ".join(task.classes[i] for i in constant[:5]), stacklevel=2)
        return
    if constant:
        name = task.classes[constant[0]]
        value = "1 (always present)" if y[:, constant[0]].min() == 1 else "0 (never present)"
        raise DataError(f"target {name!r} has only one value, {value}, in the {split} split", path=path,
                        fix="choose another --target, or prepare more images so both values occur")
