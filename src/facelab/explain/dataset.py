"""Saliency over a dataset: where a model looks on average, beside what the groups look like.

For each explained output, and for all faces and each subgroup (``Male`` / ``not Male`` …), the
mean of the faces' saliency maps on the canonical aligned frame (every face of a prepared cache
is aligned to the one template, so pixel (r, c) is the same place on every face), next to the
mean face of the faces with the output, the mean face of those without, and their difference —
the mean-face comparison of ``facelab explore`` (:mod:`facelab.explore.contrast`) on the same
groups. The mean-face difference is a hypothesis about where the evidence is; the saliency
shows where the trained model actually looks.

Example:
    >>> from facelab.pretrained import shipped_path
    >>> faces = np.random.default_rng(0).integers(0, 256, (4, 64, 64, 3), dtype=np.uint8)
    >>> smiling, male = np.array([[1], [0], [1], [0]]), np.array([0, 0, 1, 1])
    >>> ds_sal = dataset_saliency(shipped_path("celeba-attributes"), faces, smiling, ["Smiling"],
    ...                           {"Male": male}, {"Male": ["not Male", "Male"]})
    >>> [(g.output, g.group, g.n) for g in ds_sal.groups]
    [('Smiling', 'all faces', 4), ('Smiling', 'not Male', 2), ('Smiling', 'Male', 2)]
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .saliency import as_model_input, explainer_for, normalise, small_map

ALL_FACES = "all faces"


@dataclass
class GroupMaps:
    """One output over one group of faces: the mean saliency and the mean faces.

    Attributes:
        saliency: (H, W) mean of the faces' 0–1 maps, each weighted by the face's probability of
            the output: where the model looks when it says yes (a face it says no to has a map of
            whatever raised the output a little, which averaged in would blur the picture).
        mean_all, mean_with, mean_without: (H, W, C) mean faces (0–255) of the group, of its faces
            with the output (true label) and without it.
        difference: ``mean_with - mean_without`` (signed grey levels).
    """

    output: str
    group: str
    method: str
    n: int
    n_with: int
    n_without: int
    saliency: np.ndarray = field(repr=False)
    mean_all: np.ndarray = field(repr=False)
    mean_with: np.ndarray = field(repr=False)
    mean_without: np.ndarray = field(repr=False)

    @property
    def difference(self) -> np.ndarray:
        return self.mean_with - self.mean_without

    def agreement(self) -> float | None:
        """Spearman rank correlation between the saliency and the mean-face difference's size:
        how far the model looks where the groups differ (None without both groups)."""
        if not self.n_with or not self.n_without:
            return None
        from scipy.stats import spearmanr

        d = np.abs(self.difference).mean(axis=2).ravel()
        r = spearmanr(self.saliency.ravel(), d).statistic
        return None if not np.isfinite(r) else round(float(r), 3)

    def to_dict(self) -> dict:
        peak = np.unravel_index(int(np.argmax(self.saliency)), self.saliency.shape)
        h, w = self.saliency.shape
        return {"output": self.output, "group": self.group, "method": self.method, "n": self.n,
                "n_with": self.n_with, "n_without": self.n_without,
                "peak": [round(float((peak[0] + 0.5) / h), 3), round(float((peak[1] + 0.5) / w), 3)],
                "agreement_with_mean_face_difference": self.agreement(),
                "saliency": small_map(self.saliency)}


@dataclass
class DatasetSaliency:
    """Every :class:`GroupMaps` of one run on one set of faces."""

    run: str
    method: str
    n: int
    outputs: list[str]
    groups: list[GroupMaps]

    def rows(self, output: str) -> list[GroupMaps]:
        """The groups of one output: all faces first, then each subgroup."""
        return [g for g in self.groups if g.output == output]

    def to_dict(self) -> dict:
        return {"run": self.run, "method": self.method, "n": self.n, "outputs": list(self.outputs),
                "groups": [g.to_dict() for g in self.groups]}


class _Sums:
    """Running sums of maps and images per (output, group)."""

    def __init__(self, shape_map, shape_img):
        self.sal = np.zeros(shape_map, np.float64)
        self.all = np.zeros(shape_img, np.float64)
        self.yes = np.zeros(shape_img, np.float64)
        self.no = np.zeros(shape_img, np.float64)
        self.n = self.n_yes = 0
        self.weight = 0.0

    def add(self, maps: np.ndarray, imgs: np.ndarray, positive: np.ndarray, proba: np.ndarray) -> None:
        self.sal += (maps * proba[:, None, None]).sum(0)
        self.weight += float(proba.sum())
        self.all += imgs.sum(0)
        self.yes += imgs[positive].sum(0)
        self.no += imgs[~positive].sum(0)
        self.n += len(imgs)
        self.n_yes += int(positive.sum())

    def result(self, output: str, group: str, method: str) -> GroupMaps:
        n, ny = max(self.n, 1), self.n_yes
        nn = self.n - ny
        return GroupMaps(output, group, method, self.n, ny, nn, (self.sal / max(self.weight, 1e-9)).astype(np.float32),
                         (self.all / n).astype(np.float32), (self.yes / max(ny, 1)).astype(np.float32),
                         (self.no / max(nn, 1)).astype(np.float32))


def dataset_saliency(run, images: np.ndarray, labels: np.ndarray, outputs: list[str],
                     groups: dict[str, np.ndarray] | None = None,
                     group_names: dict[str, list[str]] | None = None, *, method: str = "auto",
                     batch: int = 32, progress: bool = False) -> DatasetSaliency:
    """Average saliency maps and mean faces per output, over all faces and per subgroup.

    Args:
        run: a :class:`~facelab.runs.Run`, name or folder.
        images: uint8 (N, H, W, C) aligned faces (a prepared cache's test rows).
        labels: (N, O) 0/1 true labels of ``outputs`` (who has the output, for the mean faces).
        outputs: the outputs to explain.
        groups: subgroup column → (N,) integer values (e.g. ``{"Male": [0, 1, …]}``).
        group_names: value names per column (index → name, e.g. ``["not Male", "Male"]``).
        method: see :func:`~facelab.explain.saliency.saliency_maps`.
        batch: faces per explained batch.

    Returns:
        a :class:`DatasetSaliency` (maps (H, W); mean faces (H, W, C)).
    """
    from tqdm.auto import tqdm

    from ..runs import Run

    run = Run.load(run)
    groups, group_names = dict(groups or {}), dict(group_names or {})
    ex = explainer_for(run, method)
    idx = [run.task.classes.index(o) for o in outputs]
    labels = np.asarray(labels).reshape(len(images), -1) > 0
    h, w = int(run.input["size"]), int(run.input["size"])
    c = np.asarray(images[:1]).shape[-1] if len(images) else 1
    keys = [(ALL_FACES, None, None)] + [(g, col, v) for col, vals in groups.items()
                                        for v, g in _values(col, vals, group_names.get(col))]
    sums = {(o, k[0]): _Sums((h, w), (h, w, c)) for o in outputs for k in keys}
    for i in tqdm(range(0, len(images), batch), desc="saliency", unit="batch", disable=not progress, leave=False):
        imgs = np.asarray(images[i:i + batch])
        x = as_model_input(imgs, h, int(run.input["channels"]))
        maps = normalise(ex(x, idx))  # (b, O, H, W)
        proba = np.asarray(run.predict_proba(x), np.float32).reshape(len(x), -1)[:, idx]
        fimgs = imgs.astype(np.float32)
        for name, col, v in keys:
            sel = np.ones(len(imgs), bool) if col is None else np.asarray(groups[col])[i:i + batch] == v
            if not sel.any():
                continue
            for j, o in enumerate(outputs):
                sums[(o, name)].add(maps[sel, j], fimgs[sel], labels[i:i + batch][sel, j], proba[sel, j])
    result = [sums[(o, k[0])].result(o, k[0], ex.method) for o in outputs for k in keys]
    return DatasetSaliency(run.name, ex.method, len(images), list(outputs), [g for g in result if g.n])


def _values(col: str, vals: np.ndarray, names: list[str] | None) -> list[tuple[int, str]]:
    out = []
    for v in np.unique(np.asarray(vals)):
        name = names[int(v)] if names is not None and 0 <= int(v) < len(names) else f"{col}={v}"
        out.append((v, name))
    return out


__all__ = ["ALL_FACES", "DatasetSaliency", "GroupMaps", "dataset_saliency"]
