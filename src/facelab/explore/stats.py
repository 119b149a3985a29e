"""Label and pixel statistics, vectorised (no per-row Python loops).

Everything works on a 0/1 attribute matrix ``X`` (rows = images or label rows, columns =
attributes): co-occurrence is ``X.T @ X``, so the 202,599 x 40 CelebA table takes milliseconds.

Example:
    >>> import numpy as np
    >>> X = np.array([[1, 1], [1, 0], [0, 1], [1, 1]])
    >>> st = attribute_stats(X, ["A", "B"])
    >>> round(float(st.cond[0, 1]), 3)   # P(A | B) = 2 of the 3 rows with B
    0.667
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class AttributeStats:
    """Statistics of binary attributes.

    Attributes:
        names: attributes kept (not constant), the order of every matrix below.
        constant: attributes with one value in every row (excluded, never NaN in plots).
        n: number of rows used.
        prevalence: fraction of rows with each attribute.
        counts: co-occurrence counts ``C[a, b]`` = rows with both a and b.
        cond: ``cond[a, b]`` = P(a | b) = C[a, b] / C[b, b].
        corr: Pearson (phi) correlation between the attributes.
    """

    names: list[str]
    constant: dict[str, int]
    n: int
    prevalence: np.ndarray
    counts: np.ndarray
    cond: np.ndarray
    corr: np.ndarray


@dataclass
class Pair:
    """Two attributes and how they relate, with a sentence a person can read."""

    a: str
    b: str
    value: float
    text: str


@dataclass
class PixelStats:
    """Pixel statistics of an image sample (values on the 0-255 scale)."""

    n: int
    channel_mean: list[float]
    channel_std: list[float]
    brightness_hist: np.ndarray  # 32 bins over 0-255 of per-image mean brightness
    mean_image: np.ndarray  # H x W x C float32
    std_image: np.ndarray
    too_dark: int = 0  # images with mean brightness < 40
    too_bright: int = 0  # images with mean brightness > 215
    low_contrast: int = 0  # images with pixel std < 15
    extra: dict = field(default_factory=dict)


def attribute_stats(X: np.ndarray, names: list[str]) -> AttributeStats:
    """Co-occurrence, conditional probabilities and correlations of 0/1 attributes.

    Constant columns (all 0 or all 1) are reported in ``constant`` and dropped, so no NaN
    reaches a correlation or a plot.

    Args:
        X: (n, m) array of 0/1 values.
        names: the m attribute names.

    Returns:
        An :class:`AttributeStats`.

    Example:
        >>> attribute_stats(np.array([[1, 0], [1, 1]]), ["A", "B"]).constant
        {'A': 1}
    """
    X = np.asarray(X)
    n = X.shape[0]
    col_sum = X.sum(axis=0, dtype=np.int64)
    is_const = (col_sum == 0) | (col_sum == n)
    constant = {nm: int(X[0, j]) if n else 0 for j, nm in enumerate(names) if is_const[j]}
    keep = np.flatnonzero(~is_const)
    kept = [names[j] for j in keep]
    Xf = X[:, keep].astype(np.float32)
    # float32 matmul is exact for counts below 2**24 (16.7 M rows); use float64 beyond that
    if n >= 2**24:
        Xf = Xf.astype(np.float64)
    counts = (Xf.T @ Xf).round().astype(np.int64)
    return stats_from_counts(counts, kept, constant, n)


def stats_from_counts(counts: np.ndarray, names: list[str], constant: dict[str, int], n: int) -> AttributeStats:
    """P(A | B), prevalence and correlations from co-occurrence counts of non-constant attributes
    (shared by :func:`attribute_stats` and the Spark path, :mod:`facelab.scale.stats`)."""
    kept = list(names)
    diag = np.diag(counts).astype(np.float64)
    cond = counts / np.maximum(diag[None, :], 1)
    p = diag / max(n, 1)
    # phi coefficient from counts: cov = P(ab) - P(a)P(b); identical to np.corrcoef on 0/1 data
    cov = counts / max(n, 1) - np.outer(p, p)
    sd = np.sqrt(p * (1 - p))
    corr = cov / np.maximum(np.outer(sd, sd), 1e-12)
    np.fill_diagonal(corr, 1.0)
    return AttributeStats(kept, constant, n, p, counts, cond, np.clip(corr, -1, 1))


def strongest_pairs(st: AttributeStats, k: int = 5) -> tuple[list[Pair], list[Pair]]:
    """The ``k`` most positively and most negatively correlated attribute pairs, in words."""
    m = len(st.names)
    iu = np.triu_indices(m, 1)
    vals = st.corr[iu]
    order = np.argsort(vals)
    pos, neg = [], []
    for idx in order[::-1][:k]:
        if vals[idx] <= 0:
            break
        a, b = iu[0][idx], iu[1][idx]
        pos.append(Pair(st.names[a], st.names[b], float(vals[idx]),
                        f"{st.names[a]} and {st.names[b]} go together (correlation {vals[idx]:+.2f}): "
                        f"P({st.names[a]} | {st.names[b]}) = {st.cond[a, b]:.0%} against "
                        f"{st.prevalence[a]:.0%} overall."))
    for idx in order[:k]:
        if vals[idx] >= 0:
            break
        a, b = iu[0][idx], iu[1][idx]
        neg.append(Pair(st.names[a], st.names[b], float(vals[idx]),
                        f"{st.names[a]} and {st.names[b]} rarely go together (correlation {vals[idx]:+.2f}): "
                        f"P({st.names[a]} | {st.names[b]}) = {st.cond[a, b]:.0%} against "
                        f"{st.prevalence[a]:.0%} overall."))
    return pos, neg


def exclusive_pairs(st: AttributeStats, k: int = 5, min_prevalence: float = 0.05) -> list[Pair]:
    """Pairs of common attributes that almost never occur together (lowest lift P(ab)/P(a)P(b)).

    Only attributes present in at least ``min_prevalence`` of rows qualify, so that a rare
    attribute does not look "exclusive" merely by being rare.
    """
    m = len(st.names)
    common = st.prevalence >= min_prevalence
    # lift = observed / expected co-occurrence; the lowest lift among common attributes is the
    # most surprising absence (ties at zero go to the pair expected most often)
    expected = np.outer(st.prevalence, st.prevalence) * st.n
    lift = st.counts / np.maximum(expected, 1e-9)
    out: list[Pair] = []
    cand = [(lift[a, b], -expected[a, b], a, b) for a in range(m) for b in range(a + 1, m)
            if common[a] and common[b]]
    for v, _, a, b in sorted(cand)[:k]:
        if v > 0.5:  # at least half the expected co-occurrence: not exclusive
            break
        out.append(Pair(st.names[a], st.names[b], float(v),
                        f"{st.names[a]} and {st.names[b]} are almost exclusive: only {st.counts[a, b]:,} rows "
                        f"have both; P({st.names[a]} | {st.names[b]}) = {st.cond[a, b]:.1%}, "
                        f"P({st.names[b]} | {st.names[a]}) = {st.cond[b, a]:.1%} "
                        f"({v:.0%} of what independent attributes would give)."))
    return out


def pixel_stats(images: np.ndarray, *, chunk: int = 2048) -> PixelStats:
    """Per-channel mean/std, mean and std images and a brightness histogram, in chunks.

    Args:
        images: uint8 (N, H, W, C) array or memmap (read in chunks, never copied whole to float).

    Example:
        >>> ps = pixel_stats(np.full((2, 4, 4, 1), 100, np.uint8))
        >>> ps.channel_mean
        [100.0]
    """
    n, h, w, c = images.shape
    s = np.zeros((h, w, c), np.float64)
    s2 = np.zeros((h, w, c), np.float64)
    per_img_mean = np.empty(n, np.float32)
    per_img_std = np.empty(n, np.float32)
    for i in range(0, n, chunk):
        x = np.asarray(images[i:i + chunk], dtype=np.float32)
        s += x.sum(axis=0)
        s2 += (x * x).sum(axis=0)
        flat = x.reshape(len(x), -1)
        per_img_mean[i:i + len(x)] = flat.mean(axis=1)
        per_img_std[i:i + len(x)] = flat.std(axis=1)
    mean = s / max(n, 1)
    var = np.maximum(s2 / max(n, 1) - mean**2, 0)
    ch_mean = mean.mean(axis=(0, 1))
    # per-channel std over all pixels of all images: E[x^2] - E[x]^2 over the pooled pixels
    ch_var = (s2.sum(axis=(0, 1)) / max(n * h * w, 1)) - ch_mean**2
    hist, _ = np.histogram(per_img_mean, bins=32, range=(0, 255))
    return PixelStats(
        n=n,
        channel_mean=[round(float(v), 2) for v in ch_mean],
        channel_std=[round(float(v), 2) for v in np.sqrt(np.maximum(ch_var, 0))],
        brightness_hist=hist,
        mean_image=mean.astype(np.float32),
        std_image=np.sqrt(var).astype(np.float32),
        too_dark=int((per_img_mean < 40).sum()),
        too_bright=int((per_img_mean > 215).sum()),
        low_contrast=int((per_img_std < 15).sum()),
    )


def mean_images(images: np.ndarray, groups: np.ndarray, *, chunk: int = 2048) -> dict[int, np.ndarray]:
    """Mean image of each group value (e.g. class index, or 0/1 of an attribute), in chunks."""
    sums: dict[int, np.ndarray] = {}
    counts: dict[int, int] = {}
    groups = np.asarray(groups)
    for i in range(0, len(images), chunk):
        x = np.asarray(images[i:i + chunk], dtype=np.float32)
        g = groups[i:i + chunk]
        for v in np.unique(g):
            sel = g == v
            v = int(v)
            sums[v] = sums.get(v, 0) + x[sel].sum(axis=0)
            counts[v] = counts.get(v, 0) + int(sel.sum())
    return {v: sums[v] / counts[v] for v in sorted(sums)}
