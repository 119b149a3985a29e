"""Quality scores for generated faces that need no download.

The usual FID compares Inception-v3 features of real and generated images; Inception's weights
cannot be fetched here, so facelab scores with what it has:

- :func:`frechet_distance`: the same Fréchet distance between two Gaussians fitted to features,
  but the features are the penultimate layer of a **facelab classifier run** (``Run.embed``).
  **It is not the Inception FID**: its scale differs, and figures are comparable only between
  generators scored with the same feature run (the run's name is written beside every figure).
- :func:`face_rate`: the share of images in which the face detector finds a face; the same figure
  for real images of the cache is the ceiling to read it against.
- :func:`attribute_agreement`: for a conditional generator, how often a facelab attribute
  classifier agrees with the attributes asked for.

Example:
    >>> rng = np.random.default_rng(0)
    >>> a = rng.normal(size=(4000, 2))
    >>> round(frechet_distance(a, a), 6), round(frechet_distance(a, a + [3.0, 0.0]), 6)  # shifted by 3: 3²
    (0.0, 9.0)
"""
from __future__ import annotations

import numpy as np
from scipy import linalg

from ..errors import ConfigError, DataError


def gaussian(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of (N, D) features (float64)."""
    f = np.asarray(features, np.float64)
    if f.ndim != 2 or len(f) < 2:
        raise DataError(f"need at least 2 feature vectors shaped (N, D), got {f.shape}",
                        fix="score more images (e.g. 1,000)")
    return f.mean(0), np.cov(f, rowvar=False).reshape(f.shape[1], f.shape[1])


def frechet_from_stats(mu1, s1, mu2, s2) -> float:
    """||mu1 - mu2||² + Tr(S1 + S2 - 2 (S1 S2)^½), the Fréchet distance of two Gaussians."""
    import warnings

    diff = np.asarray(mu1) - np.asarray(mu2)
    with warnings.catch_warnings():  # fewer images than feature dimensions make S1 S2 singular: handled below
        warnings.simplefilter("ignore")
        covmean = linalg.sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all():  # a singular product: nudge both, as the reference FID code does
        eps = np.eye(len(s1)) * 1e-6
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            covmean = linalg.sqrtm((s1 + eps) @ (s2 + eps))
    covmean = np.real(covmean)  # tiny imaginary parts are numerical noise
    return float(max(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean), 0.0))


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (N, D) and (M, D)."""
    return frechet_from_stats(*gaussian(a), *gaussian(b))


def _fit_input(images: np.ndarray, size: int, channels: int) -> np.ndarray:
    """uint8 NHWC images resized to ``size`` (area/bilinear) so that a run of another size can score them."""
    if images.shape[1] == size:
        return images
    import torch
    import torch.nn.functional as F

    t = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
    mode = "area" if images.shape[1] > size else "bilinear"
    t = F.interpolate(t, size=(size, size), mode=mode, **({} if mode == "area" else {"align_corners": False}))
    return t.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


class FeatureSpace:
    """Penultimate features of a facelab classifier run, for :func:`frechet_distance`.

    Real-image statistics are computed once and kept (``real_stats``).
    """

    def __init__(self, run):
        from ..runs.run import Run

        self.run = Run.load(run)
        if self.run.torch_model() is None:
            raise ConfigError(f"the feature run {self.run.name} is a classical model without a feature layer",
                              path=self.run.path, fix="use a torch classifier run (cnn, mobilenetv2, resnet18)")
        self.size, self.channels = int(self.run.input["size"]), int(self.run.input["channels"])
        self.real_stats: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def name(self) -> str:
        return self.run.name

    def embed(self, images: np.ndarray) -> np.ndarray:
        return self.run.embed(_fit_input(images, self.size, self.channels))

    def fit_real(self, images: np.ndarray) -> None:
        self.real_stats = gaussian(self.embed(images))

    def distance(self, images: np.ndarray) -> float:
        """Fréchet distance of ``images`` to the real images given to :meth:`fit_real`."""
        if self.real_stats is None:
            raise ConfigError("call fit_real(real_images) first", fix="score real images once before samples")
        return frechet_from_stats(*gaussian(self.embed(images)), *self.real_stats)


def face_rate(images: np.ndarray, *, detector: str | None = None, upscale: int = 128) -> float:
    """Share of uint8 NHWC images in which ``detector`` finds at least one face.

    The images are enlarged to ``upscale`` px first and given a margin of a quarter of that on
    each side (replicated edges): detectors look for faces of at least 20 px with some context
    around them, and an aligned 64 px crop is almost all face. ``detector``: a registry name
    (default: the default detector).
    """
    from PIL import Image

    from ..faces.detect import get_detector

    if len(images) == 0:
        raise DataError("no images to score", fix="give at least one image")
    det = get_detector(detector)
    found = 0
    for im in images:
        rgb = im if im.shape[2] == 3 else np.repeat(im, 3, axis=2)
        big = np.asarray(Image.fromarray(rgb).resize((upscale, upscale), Image.BILINEAR))
        pad = upscale // 4
        found += bool(det.detect(np.pad(big, ((pad, pad), (pad, pad), (0, 0)), mode="edge")))
    return found / len(images)


def attribute_agreement(images: np.ndarray, labels: np.ndarray, names: list[str], run) -> dict[str, float]:
    """Per attribute, the share of images where ``run`` (a classifier with those attributes as outputs)
    predicts the requested 0/1 label.

    Raises:
        ConfigError: the classifier does not predict one of ``names``.
    """
    from ..runs.run import Run

    run = Run.load(run)
    classes = list(run.task.classes)
    missing = [n for n in names if n not in classes]
    if missing or run.task.kind == "multiclass":
        raise ConfigError(f"the classifier run {run.name} does not predict {', '.join(missing or names)}",
                          path=run.path, fix="train one with `facelab train DATA --target "
                                             f"{','.join(names)}` (or --target all) and pass it")
    size = int(run.input["size"])
    proba = run.predict_proba(_fit_input(images, size, int(run.input["channels"])))
    pred = (proba >= 0.5).astype(np.int64)
    return {n: float(np.mean(pred[:, classes.index(n)] == labels[:, j].astype(np.int64)))
            for j, n in enumerate(names)}
