"""2-D embeddings for the scatter plots of the explore and cluster reports.

Example:
    >>> import numpy as np
    >>> tsne_2d(np.random.default_rng(0).normal(size=(20, 5))).shape
    (20, 2)
"""
from __future__ import annotations

import numpy as np


def tsne_2d(X: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """t-SNE to 2-D (sklearn, PCA initialisation); callers pass a stated sample, never everything."""
    from sklearn.manifold import TSNE

    perplexity = float(min(30, max(2, (len(X) - 1) / 3)))
    # max_iter 500 instead of 1000: the layout is settled by then and it halves the time
    return TSNE(2, init="pca", random_state=seed, perplexity=perplexity, max_iter=500,
                n_jobs=1).fit_transform(np.asarray(X, np.float32))
