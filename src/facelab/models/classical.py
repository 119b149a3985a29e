"""``logreg``: scikit-learn logistic regression on PCA of pixels or on HOG features.

The classical baseline every network must beat. Pipeline::

    uint8 NHWC ─┬─ features="pca": pixels/255 → per-pixel standardise → randomized PCA
                └─ features="hog": grey → cv2.HOGDescriptor (8×8 cells, 16×16 blocks, 9 bins)
               → standardise the features → LogisticRegression
                 (multinomial for multiclass; one binary model per attribute for multilabel)

Everything learned is a numpy array (scalers, PCA components, coefficients), so the model is
saved with safetensors and nothing is pickled. Fitting is kept fast on ~12k 64×64×3 faces: the
pixel scaler and the PCA are fitted on a seeded subsample (``pca_fit_max`` rows, 4,000 by default,
plenty for 128 components), and the transform runs in chunks so the float copy of the whole
dataset is never held in memory.

Example:
    >>> import numpy as np
    >>> from facelab.models import get_model
    >>> m = get_model("logreg").build(3, 1, task="binary", n_components=8)
    >>> x = np.random.default_rng(0).integers(0, 255, (40, 16, 16, 3), dtype=np.uint8)
    >>> y = (x[:, :8].mean(axis=(1, 2, 3)) > x[:, 8:].mean(axis=(1, 2, 3))).astype(int)
    >>> m.fit(x, y).predict_proba(x).shape
    (40, 1)
"""
from __future__ import annotations

import warnings

import cv2
import numpy as np
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from ..errors import ConfigError, DataError
from . import register_model

_KINDS = ("binary", "multilabel", "multiclass")
_CHUNK = 2048  # rows transformed at a time: bounds the float32 copy to ~100 MB at 64×64×3


def kind_of(task) -> str:
    kind = task if isinstance(task, str) else getattr(task, "kind", None)
    if kind not in _KINDS:
        raise ConfigError(f"logreg: unknown task kind {kind!r}", fix=f"use one of {', '.join(_KINDS)}")
    return kind


class LogReg:
    """Logistic regression on PCA-of-pixels or HOG features, with scikit-learn manners.

    Args:
        in_channels: 1 (grey) or 3 (RGB) — checked against the images.
        outputs: probabilities per row (1 for binary, attributes for multilabel, classes for
            multiclass).
        task: ``binary``, ``multilabel`` or ``multiclass`` (a :class:`~facelab.runs.Task` works too).
        features: ``pca`` or ``hog``.
        n_components: PCA components (capped by the rows and pixels available).
        C: inverse L2 regularisation strength of the logistic regression.
        max_iter: L-BFGS iterations.
        pca_fit_max: rows used to fit the pixel scaler and the PCA.
        hog_cell: HOG cell side in pixels (blocks are 2×2 cells with a one-cell stride).
        seed: seeds the subsample and the randomized PCA.
    """

    def __init__(self, in_channels: int = 3, outputs: int = 1, *, task: str = "binary", features: str = "pca",
                 n_components: int = 128, C: float = 1.0, max_iter: int = 300,
                 pca_fit_max: int = 4000, hog_cell: int = 8, seed: int = 0):
        if features not in ("pca", "hog"):
            raise ConfigError(f"logreg: unknown features {features!r}", fix="use features=pca or features=hog")
        self.in_channels = int(in_channels)
        self.outputs = int(outputs)
        self.task = kind_of(task)
        self.features = features
        self.n_components = int(n_components)
        self.C = float(C)
        self.max_iter = int(max_iter)
        self.pca_fit_max = int(pca_fit_max)
        self.hog_cell = int(hog_cell)
        self.seed = int(seed)

    # -- features ------------------------------------------------------------------------------
    def _check(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim == 3:
            x = x[..., None]
        if x.ndim != 4 or x.dtype != np.uint8 or x.shape[-1] != self.in_channels:
            raise DataError(f"logreg expects uint8 images (N, H, W, {self.in_channels}), got "
                            f"{x.dtype} {x.shape}", fix="pass images from a prepared cache")
        if hasattr(self, "input_shape_") and tuple(x.shape[1:]) != tuple(self.input_shape_):
            raise DataError(f"logreg was fitted on {tuple(self.input_shape_)} images, got {tuple(x.shape[1:])}",
                            fix="use a cache prepared with the same --size and --grey as the run")
        return x

    def _hog(self, x: np.ndarray) -> np.ndarray:
        cell = self.hog_cell
        side = max(2 * cell, int(round(x.shape[1] / cell)) * cell)  # the window must tile into cells
        hog = cv2.HOGDescriptor((side, side), (2 * cell, 2 * cell), (cell, cell), (cell, cell), 9)
        out = []
        for img in x:
            g = img[..., 0] if img.shape[-1] == 1 else cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2GRAY)
            if g.shape[0] != side:
                g = cv2.resize(g, (side, side), interpolation=cv2.INTER_AREA)
            out.append(hog.compute(np.ascontiguousarray(g)).reshape(-1))
        return np.stack(out).astype(np.float32)

    def _pca(self, x: np.ndarray) -> np.ndarray:
        flat = x.reshape(len(x), -1).astype(np.float32) / 255.0
        return ((flat - self.px_mean_) / self.px_scale_ - self.pca_mean_) @ self.components_.T

    def embed(self, x: np.ndarray) -> np.ndarray:
        """The features the classifier sees (PCA scores or HOG descriptors), (N, D) float32.

        Example:
            >>> import numpy as np
            >>> x = np.random.default_rng(0).integers(0, 256, (40, 16, 16, 3), dtype=np.uint8)
            >>> m = LogReg(outputs=1, task="binary", n_components=8).fit(x, np.arange(40) % 2)
            >>> m.embed(x).shape
            (40, 8)
        """
        x = self._check(x)
        fn = self._hog if self.features == "hog" else self._pca
        if len(x) == 0:
            return np.zeros((0, self.feat_mean_.shape[0]), np.float32)
        return np.concatenate([fn(x[i:i + _CHUNK]) for i in range(0, len(x), _CHUNK)]).astype(np.float32)

    # -- fit / predict -------------------------------------------------------------------------
    def fit(self, x: np.ndarray, y: np.ndarray) -> "LogReg":
        """Fit on uint8 NHWC images for the model's ``task``; returns self.

        ``y`` is (N,) 0/1 (binary), (N, K) 0/1 (multilabel) or (N,) class indices (multiclass).
        """
        x = self._check(x)
        kind = self.task
        y = np.asarray(y)
        if len(x) != len(y) or len(x) < 2:
            raise DataError(f"logreg needs at least 2 images with one label each (got {len(x)} images, "
                            f"{len(y)} labels)", fix="check the split and the target column")
        self.kind_ = kind
        self.input_shape_ = np.array(x.shape[1:], dtype=np.int64)
        if self.features == "pca":
            rng = np.random.default_rng(self.seed)
            sub = np.sort(rng.choice(len(x), min(len(x), self.pca_fit_max), replace=False))
            flat = x[sub].reshape(len(sub), -1).astype(np.float32) / 255.0
            self.px_mean_ = flat.mean(axis=0)
            # a constant pixel (e.g. a black border) would divide by zero
            self.px_scale_ = np.maximum(flat.std(axis=0), 1e-3).astype(np.float32)
            k = max(1, min(self.n_components, len(sub) - 1, flat.shape[1]))
            # 3 power iterations instead of scikit-learn's 7: face spectra decay fast, and this halves
            # the fit time on 4,000 × 12,288 pixels with no visible change in accuracy
            pca = PCA(k, svd_solver="randomized", iterated_power=3, random_state=self.seed)
            pca.fit((flat - self.px_mean_) / self.px_scale_)
            self.pca_mean_ = pca.mean_.astype(np.float32)
            self.components_ = pca.components_.astype(np.float32)
            del flat
        feats = self.embed(x)
        self.feat_mean_ = feats.mean(axis=0)
        self.feat_scale_ = np.maximum(feats.std(axis=0), 1e-6)
        z = (feats - self.feat_mean_) / self.feat_scale_
        if kind == "multiclass":
            self._fit_multiclass(z, y.reshape(-1).astype(int))
        else:
            y2 = y.reshape(len(y), -1).astype(int)
            if y2.shape[1] != self.outputs:
                raise DataError(f"logreg was built for {self.outputs} outputs but got {y2.shape[1]} label columns",
                                fix="build the model with outputs = number of target attributes")
            coef, icpt = [], []
            for j in range(y2.shape[1]):
                c, b = self._fit_binary(z, y2[:, j])
                coef.append(c)
                icpt.append(b)
            self.coef_, self.intercept_ = np.stack(coef), np.array(icpt)
        self.coef_ = self.coef_.astype(np.float32)
        self.intercept_ = self.intercept_.astype(np.float32)
        return self

    def _lr(self) -> LogisticRegression:
        return LogisticRegression(C=self.C, max_iter=self.max_iter, random_state=self.seed)

    def _fit_binary(self, z: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
        if len(np.unique(y)) < 2:  # a constant attribute: predict its (smoothed) rate
            rate = (y.sum() + 0.5) / (len(y) + 1.0)
            return np.zeros(z.shape[1]), float(np.log(rate / (1 - rate)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            lr = self._lr().fit(z, y)
        return lr.coef_[0], float(lr.intercept_[0])

    def _fit_multiclass(self, z: np.ndarray, y: np.ndarray) -> None:
        if y.min() < 0 or y.max() >= self.outputs:
            raise DataError(f"class index out of range 0..{self.outputs - 1}", fix="check the target column")
        present = np.unique(y)
        coef = np.zeros((self.outputs, z.shape[1]))
        # a class absent from training gets a very low logit rather than a missing column
        icpt = np.full(self.outputs, -30.0)
        if len(present) == 1:
            icpt[present[0]] = 0.0
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                lr = self._lr().fit(z, y)
            if len(present) == 2:  # scikit-learn stores one row for two classes: make it symmetric
                coef[present[1]], coef[present[0]] = lr.coef_[0] / 2, -lr.coef_[0] / 2
                icpt[present[1]], icpt[present[0]] = lr.intercept_[0] / 2, -lr.intercept_[0] / 2
            else:
                coef[lr.classes_], icpt[lr.classes_] = lr.coef_, lr.intercept_
        self.coef_, self.intercept_ = coef, icpt

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        """Logits (N, outputs)."""
        if not hasattr(self, "coef_"):
            raise ConfigError("logreg is not fitted", fix="call fit() or load_state_dict() first")
        z = (self.embed(x) - self.feat_mean_) / self.feat_scale_
        return z @ self.coef_.T + self.intercept_

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Probabilities (N, outputs) float32: softmax for multiclass, sigmoid otherwise.

        Example:
            >>> import numpy as np
            >>> x = np.random.default_rng(0).integers(0, 256, (40, 16, 16, 3), dtype=np.uint8)
            >>> m = LogReg(outputs=1, task="binary", n_components=8).fit(x, np.arange(40) % 2)
            >>> p = m.predict_proba(x)
            >>> p.shape, p.dtype, bool(((p >= 0) & (p <= 1)).all())
            ((40, 1), dtype('float32'), True)
        """
        logits = self.decision_function(x).astype(np.float64)
        if self.kind_ == "multiclass":
            e = np.exp(logits - logits.max(axis=1, keepdims=True))
            return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
        return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)

    # -- state (safetensors-friendly: only arrays) ---------------------------------------------
    _STATE = ("input_shape_", "feat_mean_", "feat_scale_", "coef_", "intercept_")
    _PCA_STATE = ("px_mean_", "px_scale_", "pca_mean_", "components_")

    def state_dict(self) -> dict[str, np.ndarray]:
        """Learned arrays by name (save with ``safetensors.numpy.save_file``)."""
        if not hasattr(self, "coef_"):
            raise ConfigError("logreg is not fitted", fix="call fit() before saving")
        names = self._STATE + (self._PCA_STATE if self.features == "pca" else ())
        d = {n.rstrip("_"): np.ascontiguousarray(getattr(self, n)) for n in names}
        d["kind"] = np.array([_KINDS.index(self.kind_)], dtype=np.int64)
        return d

    def load_state_dict(self, d: dict[str, np.ndarray]) -> "LogReg":
        names = self._STATE + (self._PCA_STATE if self.features == "pca" else ())
        missing = [n.rstrip("_") for n in names if n.rstrip("_") not in d] + ([] if "kind" in d else ["kind"])
        if missing:
            raise DataError(f"logreg weights lack {', '.join(missing)} (saved with other features?)",
                            fix=f"this model uses features={self.features}; load the matching weights")
        for n in names:
            setattr(self, n, np.asarray(d[n.rstrip("_")]))
        self.kind_ = _KINDS[int(np.asarray(d["kind"]).reshape(-1)[0])]
        if self.coef_.shape[0] != self.outputs:
            raise DataError(f"logreg weights have {self.coef_.shape[0]} outputs, the model {self.outputs}",
                            fix="build the model with the run's task")
        return self

    def __repr__(self) -> str:
        return f"LogReg(task={self.task!r}, features={self.features!r}, n_components={self.n_components}, C={self.C})"


@register_model("logreg", kind="classical",
                description="logistic regression on PCA of pixels (features=pca) or HOG (features=hog)",
                features="pca", n_components=128, C=1.0)
def build_logreg(in_channels: int, outputs: int, **params) -> LogReg:
    """Build an unfitted :class:`LogReg` (the registry's classical-model builder)."""
    try:
        return LogReg(in_channels, outputs, **params)
    except TypeError as e:
        raise ConfigError(f"logreg: {e}", fix="parameters: task, features, n_components, C, max_iter, "
                          "pca_fit_max, hog_cell, seed") from None
