"""``embed-logreg`` / ``embed-knn``: dlib's pretrained ResNet face embedding + a scikit-learn head.

What face_recognition does for a look-alike app, as a facelab model (``facelab[dlib]``): every face
becomes dlib's 128-D descriptor, computed on dlib's own 5-point face chip (150×150, the
framing the network was trained on), and a small head learns the task on top — a logistic
regression (``embed-logreg``) or a k-nearest-neighbour vote (``embed-knn``). Training takes
seconds once the embeddings exist.

Where the descriptors come from (the model accepts both):

* float ``(N, 128)`` arrays — descriptors computed from the SOURCE photos. Training, evaluation and
  clustering pass these, from :func:`facelab.faces.embeddings.dataset_embeddings` (computed once per
  prepared cache, cached beside it); ``predict``/``serve`` pass the descriptor of each detected
  face of the photo (:class:`~facelab.faces.dlibface.FaceEmbedder`). The model says so with
  ``source_features = True``.
* uint8 ``(N, H, W, C)`` crops, as every other model takes — the crop is upscaled and embedded
  directly. A fallback (latency measurements, a warm-up, a caller with only crops): the small crop
  has lost detail the network uses, so accuracy is lower than from the photo.

The head is numpy arrays only (standardisation, coefficients; for kNN the training descriptors
and labels), saved as safetensors.

Example:
    >>> import numpy as np
    >>> from facelab.models import get_model
    >>> m = get_model("embed-knn").build(3, 2, task="multiclass", k=3)
    >>> X = np.random.default_rng(0).normal(size=(20, 128)).astype(np.float32)
    >>> m.fit(X, np.arange(20) % 2).predict_proba(X).shape
    (20, 2)
"""
from __future__ import annotations

import numpy as np

from ..errors import ConfigError, DataError
from . import register_model
from ..faces.dlibface import CropEmbedder  # noqa: F401  (dlib loads lazily, on first use)

DIM = 128
_KINDS = ("binary", "multilabel", "multiclass")


def is_descriptors(x) -> bool:
    """True for a float (N, 128) array of face descriptors (not images)."""
    x = np.asarray(x)
    return x.ndim == 2 and x.shape[1] == DIM and np.issubdtype(x.dtype, np.floating)


class EmbedClassifier:
    """A scikit-learn head on dlib face descriptors.

    Args:
        in_channels, outputs: as every classical model (``outputs``: probabilities per row).
        head: ``logreg`` (standardised descriptors → logistic regression) or ``knn``.
        C: inverse L2 strength of the logistic regression.
        k: neighbours of the kNN vote (Euclidean distance, as dlib's descriptors are meant).
        max_iter: L-BFGS iterations.
        seed: the logistic regression's seed.
    """

    source_features = True  # train/evaluate/predict hand it descriptors from the source photos

    def __init__(self, in_channels: int = 3, outputs: int = 1, *, task: str = "binary", head: str = "logreg",
                 C: float = 1.0, k: int = 5, max_iter: int = 1000, seed: int = 0):
        from ..faces.dlibface import require_dlib

        require_dlib()  # the extra missing: say so at build time, not on the first photo
        if head not in ("logreg", "knn"):
            raise ConfigError(f"embed: unknown head {head!r}", fix="use head=logreg or head=knn")
        from .classical import kind_of

        self.in_channels, self.outputs, self.head = int(in_channels), int(outputs), head
        self.task = kind_of(task)
        self.C, self.k, self.max_iter, self.seed = float(C), int(k), int(max_iter), int(seed)
        self._embedder = None

    # -- descriptors ---------------------------------------------------------------------------
    def embed(self, x) -> np.ndarray:
        """(N, 128) float32 descriptors: passed through, or computed from uint8 crops (fallback)."""
        if is_descriptors(x):
            return np.asarray(x, np.float32)
        x = np.asarray(x)
        if x.ndim == 3:
            x = x[..., None]
        if x.ndim != 4 or x.dtype != np.uint8:
            raise DataError(f"embed models take (N, 128) descriptors or uint8 (N, H, W, C) faces, got "
                            f"{x.dtype} {x.shape}", fix="pass faces from a prepared cache or descriptors")
        if self._embedder is None:
            self._embedder = CropEmbedder()
        if not len(x):
            return np.zeros((0, DIM), np.float32)
        return np.stack([self._embedder.embed_crop(c) for c in x]).astype(np.float32)

    # -- fit / predict -------------------------------------------------------------------------
    def fit(self, x, y) -> "EmbedClassifier":
        """Fit on descriptors (or uint8 crops) for the model's ``task``; ``y`` as for
        :class:`facelab.models.classical.LogReg`; returns self."""
        from .classical import LogReg

        kind = self.task
        X = self.embed(x)
        y = np.asarray(y)
        if len(X) != len(y) or len(X) < 2:
            raise DataError(f"embed needs at least 2 faces with one label each (got {len(X)}, {len(y)} labels)",
                            fix="check the split and the target column")
        self.kind_ = kind
        self.feat_mean_ = X.mean(0)
        self.feat_scale_ = np.maximum(X.std(0), 1e-6)
        y2 = y.reshape(-1).astype(int) if kind == "multiclass" else y.reshape(len(y), -1).astype(int)
        if kind != "multiclass" and y2.shape[1] != self.outputs:
            raise DataError(f"embed was built for {self.outputs} outputs but got {y2.shape[1]} label columns",
                            fix="build the model with outputs = number of target attributes")
        if kind == "multiclass" and (y2.min() < 0 or y2.max() >= self.outputs):
            raise DataError(f"class index out of range 0..{self.outputs - 1}", fix="check the target column")
        if self.head == "knn":
            self.train_x_ = X.astype(np.float32)
            self.train_y_ = y2.astype(np.int64)
            self.coef_ = np.zeros((self.outputs, DIM), np.float32)  # unused by kNN; keeps one state layout
            self.intercept_ = np.zeros(self.outputs, np.float32)
            return self
        lr = LogReg(3, self.outputs, task=kind, C=self.C, max_iter=self.max_iter, seed=self.seed)
        z = (X - self.feat_mean_) / self.feat_scale_
        if kind == "multiclass":
            lr._fit_multiclass(z, y2)
            coef, icpt = lr.coef_, lr.intercept_
        else:
            parts = [lr._fit_binary(z, y2[:, j]) for j in range(y2.shape[1])]
            coef, icpt = np.stack([c for c, _ in parts]), np.array([b for _, b in parts])
        self.coef_, self.intercept_ = coef.astype(np.float32), icpt.astype(np.float32)
        return self

    def _knn(self, X: np.ndarray) -> np.ndarray:
        d = ((X[:, None, :] - self.train_x_[None]) ** 2).sum(-1) if len(X) * len(self.train_x_) < 4e6 else \
            np.stack([((r - self.train_x_) ** 2).sum(-1) for r in X])
        k = max(1, min(self.k, len(self.train_x_)))
        near = np.argsort(d, axis=1)[:, :k]
        if self.kind_ == "multiclass":
            votes = np.zeros((len(X), self.outputs), np.float64)
            for j in range(k):
                votes[np.arange(len(X)), self.train_y_[near[:, j]]] += 1
            return ((votes + 0.1) / (k + 0.1 * self.outputs)).astype(np.float32)  # smoothed: never 0 or 1
        lab = self.train_y_[near].astype(np.float64)  # (N, k, outputs)
        return ((lab.sum(1) + 0.1) / (k + 0.2)).astype(np.float32)

    def predict_proba(self, x) -> np.ndarray:
        """Probabilities (N, outputs) float32: softmax for multiclass, sigmoid otherwise."""
        if not hasattr(self, "coef_"):
            raise ConfigError("the embed model is not fitted", fix="call fit() or load_state_dict() first")
        X = self.embed(x)
        if self.head == "knn":
            return self._knn(X)
        logits = (((X - self.feat_mean_) / self.feat_scale_) @ self.coef_.T + self.intercept_).astype(np.float64)
        if self.kind_ == "multiclass":
            e = np.exp(logits - logits.max(axis=1, keepdims=True))
            return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
        return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)

    # -- state ---------------------------------------------------------------------------------
    def _names(self) -> tuple[str, ...]:
        return ("feat_mean_", "feat_scale_", "coef_", "intercept_") + (
            ("train_x_", "train_y_") if self.head == "knn" else ())

    def state_dict(self) -> dict[str, np.ndarray]:
        if not hasattr(self, "coef_"):
            raise ConfigError("the embed model is not fitted", fix="call fit() before saving")
        d = {n.rstrip("_"): np.ascontiguousarray(getattr(self, n)) for n in self._names()}
        d["kind"] = np.array([_KINDS.index(self.kind_)], dtype=np.int64)
        return d

    def load_state_dict(self, d: dict[str, np.ndarray]) -> "EmbedClassifier":
        missing = [n.rstrip("_") for n in self._names() if n.rstrip("_") not in d]
        if missing or "kind" not in d:
            raise DataError(f"embed weights lack {', '.join(missing or ['kind'])} (saved with another head?)",
                            fix=f"this model uses head={self.head}; load the matching weights")
        for n in self._names():
            setattr(self, n, np.asarray(d[n.rstrip("_")]))
        self.kind_ = _KINDS[int(np.asarray(d["kind"]).reshape(-1)[0])]
        if self.coef_.shape[0] != self.outputs:
            raise DataError(f"embed weights have {self.coef_.shape[0]} outputs, the model {self.outputs}",
                            fix="build the model with the run's task")
        return self

    def __repr__(self) -> str:
        return f"EmbedClassifier(head={self.head!r}, C={self.C}, k={self.k})"


def _build(head: str):
    def build(in_channels: int, outputs: int, **params) -> EmbedClassifier:
        params.setdefault("head", head)
        try:
            return EmbedClassifier(in_channels, outputs, **params)
        except TypeError as e:
            raise ConfigError(f"embed-{head}: {e}", fix="parameters: task, head, C, k, max_iter, seed") from None

    return build


register_model("embed-logreg", kind="classical",
               description="dlib's pretrained ResNet face embedding (128-D, from the source photo) + "
                           "logistic regression; needs the dlib extra", head="logreg", C=1.0)(_build("logreg"))
register_model("embed-knn", kind="classical",
               description="dlib's pretrained ResNet face embedding + a k-nearest-neighbour vote; "
                           "needs the dlib extra", head="knn", k=5)(_build("knn"))


def run_wants_descriptors(run) -> bool:
    """True for a run whose (classical) model takes descriptors of the source photos."""
    from ..errors import FacelabError

    try:
        return run.estimator().takes_descriptors
    except FacelabError:  # a run-like object of another kind: it takes images
        return False


#: descriptor statuses that are no face's descriptor (zeros, or a guess on the crop region): such
#: rows are left out of training and scoring, and counted (like prepare's photos with no face)
NO_FACE = ("no_face", "too_small", "unreadable")


def face_rows(estimator, ds, rows) -> tuple[np.ndarray, dict[str, int]]:
    """``(kept, left_out)``: the rows an embed model (an :class:`~facelab.models.adapter.Adapter`
    that takes descriptors) has a face descriptor for, and the count of the others by status
    (:data:`NO_FACE`). Any other model keeps every row.

    Example:
        >>> face_rows(object(), None, [3, 1])
        (array([3, 1]), {})
    """
    rows = np.asarray(rows)
    if not getattr(estimator, "takes_descriptors", False):
        return rows, {}
    from ..faces.embeddings import dataset_embeddings

    status = np.asarray(dataset_embeddings(ds).status, dtype=object)[rows]
    out = np.isin(status, NO_FACE)
    names, counts = np.unique(status[out].astype(str), return_counts=True)
    return rows[~out], {str(k): int(v) for k, v in zip(names, counts)}


def dataset_inputs(estimator, ds, rows) -> np.ndarray:
    """What a model (an :class:`~facelab.models.adapter.Adapter`) is fitted/scored on for cache rows:
    descriptors from the source photos for embed models (computed once per cache, see
    :mod:`facelab.faces.embeddings`), else the crops."""
    rows = np.asarray(rows)
    if estimator.takes_descriptors:
        from ..faces.embeddings import dataset_embeddings

        return dataset_embeddings(ds).X[rows]
    return np.asarray(ds.images[rows])
