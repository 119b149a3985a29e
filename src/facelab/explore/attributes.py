"""Clustering the label table alone (no images needed, so all 202,599 CelebA rows take part).

Each row is a 0/1 vector of attributes; k-means groups rows with similar attribute sets, and each
group is described by the attributes it has more or less often than the whole table.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[np.tile([1, 1, 0, 0], (50, 1)), np.tile([0, 0, 1, 1], (50, 1))]
    >>> ac = cluster_attributes(X, ["a", "b", "c", "d"], ks=[2, 3], tsne_sample=0)
    >>> ac.sweep.chosen_k, sorted(ac.sizes)
    (2, [50, 50])
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..report.embed import tsne_2d
from ..report.sweep import KSweep, describe_clusters, kmeans_sweep


@dataclass
class AttributeClustering:
    """k-means on the attribute table.

    Attributes:
        sweep: inertia/silhouette per k, the chosen k and why.
        names: the attributes used (constant ones excluded).
        n: rows clustered.
        sizes: rows per cluster.
        means: (k, m) share of each attribute in each cluster; ``overall`` the shares in all rows.
        descriptions: one sentence per cluster.
        distances: (k, k) Euclidean distances between cluster centres.
        pca: (p, 2) PCA coordinates of ``plot_rows``; ``tsne``: (t, 2) t-SNE of ``tsne_rows``.
    """

    sweep: KSweep
    names: list[str]
    n: int
    sizes: list[int]
    means: np.ndarray
    overall: np.ndarray
    descriptions: list[str]
    distances: np.ndarray
    pca: np.ndarray
    plot_rows: np.ndarray
    tsne: np.ndarray | None
    tsne_rows: np.ndarray
    notes: list[str] = field(default_factory=list)

    def assign(self, X: np.ndarray) -> np.ndarray:
        """Nearest cluster centre for new 0/1 rows (e.g. the rows that have images)."""
        X = np.asarray(X, np.float32)
        d = ((X[:, None, :] - self.sweep.centers[None, :, :].astype(np.float32)) ** 2).sum(-1)
        return d.argmin(axis=1)


def cluster_attributes(X: np.ndarray, names: list[str], *, ks=range(2, 11), silhouette_sample: int = 3000,
                       tsne_sample: int = 1000, plot_sample: int = 5000, seed: int = 0,
                       progress=None) -> AttributeClustering:
    """MiniBatchKMeans over ``ks`` on the 0/1 attribute matrix, with 2-D views and descriptions.

    Args:
        X: (n, m) 0/1 matrix (constant columns already removed).
        names: the m attribute names.
        ks: candidate numbers of clusters (k >= n is dropped with a note).
        silhouette_sample: rows per silhouette score (stated in the reason).
        tsne_sample: rows embedded by t-SNE (0 skips it).
        plot_sample: rows drawn in the PCA plot.
        seed: seed for k-means and every sample.
        progress: optional ``progress(k)`` callback.
    """
    from sklearn.decomposition import PCA

    X = np.asarray(X, np.float32)
    n = len(X)
    sweep = kmeans_sweep(X, ks, silhouette_sample=silhouette_sample, seed=seed, progress=progress)
    k = sweep.chosen_k
    lab = sweep.labels
    sizes = np.bincount(lab, minlength=k)
    means = np.zeros((k, X.shape[1]), np.float64)
    np.add.at(means, lab, X)
    means /= np.maximum(sizes[:, None], 1)
    overall = X.mean(axis=0)
    centers = sweep.centers
    dist = np.sqrt(((centers[:, None, :] - centers[None, :, :]) ** 2).sum(-1))
    rng = np.random.default_rng(seed)
    plot_rows = np.sort(rng.choice(n, min(plot_sample, n), replace=False))
    ncomp = min(2, X.shape[1])
    pca = PCA(ncomp, random_state=seed).fit(X)
    pz = pca.transform(X[plot_rows])
    if ncomp < 2:
        pz = np.c_[pz, np.zeros(len(pz))]
    notes = list(sweep.notes)
    tsne_rows = np.sort(rng.choice(n, min(tsne_sample, n), replace=False)) if tsne_sample else np.array([], int)
    tz = None
    if len(tsne_rows) >= 10:
        # a little jitter: many rows share the same 0/1 vector and t-SNE dislikes exact duplicates
        jitter = rng.normal(0, 0.02, (len(tsne_rows), X.shape[1])).astype(np.float32)
        tz = tsne_2d(X[tsne_rows] + jitter, seed=seed)
        notes.append(f"t-SNE on a random sample of {len(tsne_rows):,} of {n:,} rows (exact t-SNE on all rows would take hours).")
    elif tsne_sample:
        notes.append("t-SNE skipped: fewer than 10 rows.")
    notes.append(f"PCA plot shows a random sample of {len(plot_rows):,} of {n:,} rows "
                 f"(PCA itself fitted on all rows; {pca.explained_variance_ratio_.sum():.0%} of the variance in 2-D).")
    return AttributeClustering(
        sweep=sweep, names=list(names), n=n, sizes=[int(s) for s in sizes], means=means, overall=overall,
        descriptions=describe_clusters(means, overall, list(names)), distances=dist,
        pca=pz, plot_rows=plot_rows, tsne=tz, tsne_rows=tsne_rows, notes=notes,
    )
