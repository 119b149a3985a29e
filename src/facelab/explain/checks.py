"""Do the maps mean something? Two checks from the saliency literature.

- **Weight randomisation** (Adebayo et al., 2018, "Sanity checks for saliency maps"): a map that
  explains the trained model must change when the weights are re-initialised. The maps of the
  trained and of a re-initialised network are compared by Spearman rank correlation, against the
  trained maps' agreement with themselves when the face moves by 1–2 pixels (the agreement an
  unchanged explanation keeps). A method that only draws edges of the face passes neither way.
- **Deletion** (Samek et al., 2017; Petsiuk et al., 2018): blurring the most salient
  ``fraction`` of the pixels must lower the explained probability more than blurring as many
  random pixels.

Example:
    >>> a = np.arange(16, dtype=np.float32).reshape(4, 4)
    >>> spearman(a, a), spearman(a, -a)
    (1.0, -1.0)
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from .saliency import TorchExplainer, as_model_input, blurred, explainer_for, normalise


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two maps (0 when either is constant)."""
    from scipy.stats import rankdata

    ra, rb = rankdata(np.ravel(a)), rankdata(np.ravel(b))
    if ra.std() == 0 or rb.std() == 0:
        return 0.0
    return round(float(np.corrcoef(ra, rb)[0, 1]), 6)


def shift(img: np.ndarray, dy: float, dx: float) -> np.ndarray:
    """``img`` (H×W or H×W×C) moved by (dy, dx) pixels, edges repeated."""
    h, w = img.shape[:2]
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    out = cv2.warpAffine(np.ascontiguousarray(img), m, (w, h), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(img.shape)


SHIFTS = ((1, 0), (0, 1), (2, 0), (0, -2), (-1, 1))


@dataclass
class RandomisationCheck:
    """``shifted``: mean Spearman of the trained maps with their own maps of the face moved 1–2 px
    (moved back); ``randomised``: mean Spearman of the trained maps with a re-initialised
    network's. ``passed`` when ``randomised`` is well below ``shifted`` (by ``margin``)."""

    method: str
    output: str
    n: int
    shifted: float
    randomised: float
    margin: float

    @property
    def passed(self) -> bool:
        return self.randomised < self.shifted - self.margin

    def to_dict(self) -> dict:
        return {**asdict(self), "passed": self.passed}


def shift_agreement(explainer, x: np.ndarray, target: int, shifts=SHIFTS, border: int = 2) -> float:
    """Mean Spearman between each face's map and the map of the face moved by each shift (moved
    back), on the interior (``border`` pixels left out)."""
    base = normalise(explainer(x, [target]))[:, 0]
    scores = []
    for dy, dx in shifts:
        moved = np.stack([shift(im, dy, dx) for im in x])
        back = np.stack([shift(m, -dy, -dx) for m in normalise(explainer(moved, [target]))[:, 0]])
        inner = (slice(None), slice(border, -border), slice(border, -border))
        scores += [spearman(a, b) for a, b in zip(base[inner], back[inner])]
    return float(np.mean(scores))


def randomised_explainer(run, seed: int = 0, method: str = "auto") -> TorchExplainer:
    """The run's explainer on a freshly initialised network of the same architecture."""
    import torch

    from ..runs.tta import for_inference

    torch.manual_seed(seed)
    fresh = for_inference(run.build_model().eval(), bool(run.config.get("tta")))
    ex = explainer_for(run, method)
    return TorchExplainer(fresh, run.input["mean"], run.input["std"], int(run.input["size"]),
                          int(run.input["channels"]), ex.method)


def randomisation_check(run, crops: np.ndarray, output: str, *, margin: float = 0.2,
                        seed: int = 0, method: str = "auto") -> RandomisationCheck:
    """Compare the trained network's maps with a re-initialised one's (torch runs).

    Example:
        >>> from facelab.pretrained import shipped_path
        >>> faces = np.random.default_rng(0).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
        >>> randomisation_check(shipped_path("celeba-attributes"), faces, "Smiling", method="gradcam").n
        2
    """
    from ..runs import Run

    run = Run.load(run)
    x = as_model_input(crops, int(run.input["size"]), int(run.input["channels"]))
    t = run.task.classes.index(output)
    ex = explainer_for(run, method)
    trained = normalise(ex(x, [t]))[:, 0]
    rand = normalise(randomised_explainer(run, seed, method)(x, [t]))[:, 0]
    randomised = float(np.mean([spearman(a, b) for a, b in zip(trained, rand)]))
    return RandomisationCheck(ex.method, output, len(x), round(shift_agreement(ex, x, t), 4),
                              round(randomised, 4), margin)


def deletion_masks(maps: np.ndarray, fraction: float) -> np.ndarray:
    """Boolean masks of the ``fraction`` most salient pixels of each (…, H, W) map (ties broken
    by position, so exactly as many pixels as the random masks)."""
    flat = maps.reshape(-1, maps.shape[-2] * maps.shape[-1])
    k = max(int(round(fraction * flat.shape[1])), 1)
    top = np.argpartition(-flat, k - 1, axis=1)[:, :k]
    mask = np.zeros(flat.shape, bool)
    np.put_along_axis(mask, top, True, axis=1)
    return mask.reshape(maps.shape)


def deletion_drops(proba, x: np.ndarray, maps: np.ndarray, targets: list[int], *, fraction: float = 0.1,
                   seed: int = 0, batch: int = 512) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Probability drops when pixels are blurred: (salient (N, T), random (N, T), original (N, T)).

    Args:
        proba: uint8 NHWC → (N, outputs) probabilities (the run's ``predict_proba``).
        x: uint8 faces (N, H, W, C) as the model takes them.
        maps: (N, T, H, W) saliency of ``targets`` (output indices).
        fraction: share of the pixels blurred.
    """
    n, t = len(x), len(targets)
    blur = blurred(x)
    rng = np.random.default_rng(seed)
    rand_mask = deletion_masks(rng.random((n, x.shape[1], x.shape[2])), fraction)
    p0 = np.asarray(proba(x), np.float32).reshape(n, -1)[:, targets]
    pr = np.asarray(proba(np.where(rand_mask[..., None], blur, x)), np.float32).reshape(n, -1)[:, targets]
    sal_mask = deletion_masks(maps, fraction)  # (N, T, H, W)
    ps = np.zeros((n, t), np.float32)
    rows = np.repeat(np.arange(n), t)
    cols = np.tile(np.arange(t), n)
    for i in range(0, n * t, batch):
        r, c = rows[i:i + batch], cols[i:i + batch]
        xs = np.where(sal_mask[r, c][..., None], blur[r], x[r])
        p = np.asarray(proba(xs), np.float32).reshape(len(r), -1)
        ps[r, c] = p[np.arange(len(r)), np.asarray(targets)[c]]
    return p0 - ps, p0 - pr, p0


@dataclass
class DeletionCheck:
    """Mean probability drop of one output when its most salient ``fraction`` of pixels is
    blurred, against as many random pixels; ``passed`` when the salient drop is larger."""

    method: str
    output: str
    n: int
    fraction: float
    salient_drop: float
    random_drop: float

    @property
    def passed(self) -> bool:
        return self.salient_drop > self.random_drop

    def to_dict(self) -> dict:
        return {**asdict(self), "passed": self.passed}


def deletion_check(run, crops: np.ndarray, output: str, *, fraction: float = 0.1, seed: int = 0,
                   method: str = "auto") -> DeletionCheck:
    """Blur the most salient pixels of each face vs random pixels, and compare the drops.

    Example:
        >>> from facelab.pretrained import shipped_path
        >>> faces = np.random.default_rng(0).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
        >>> deletion_check(shipped_path("celeba-attributes"), faces, "Smiling").fraction
        0.1
    """
    from ..runs import Run

    run = Run.load(run)
    x = as_model_input(crops, int(run.input["size"]), int(run.input["channels"]))
    t = run.task.classes.index(output)
    ex = explainer_for(run, method)
    maps = normalise(ex(x, [t]))
    sal, rnd, _ = deletion_drops(run.predict_proba, x, maps, [t], fraction=fraction, seed=seed)
    return DeletionCheck(ex.method, output, len(x), fraction, round(float(sal.mean()), 5),
                         round(float(rnd.mean()), 5))


__all__ = ["DeletionCheck", "RandomisationCheck", "deletion_check", "deletion_drops", "deletion_masks",
           "randomisation_check", "randomised_explainer", "shift", "shift_agreement", "spearman"]
