"""A tiny cnn trained in seconds on 32 px images whose attribute ``A`` is a bright 6×6 square at
the top left and ``B`` one at the bottom right: the evidence lives in a known place, so a saliency
map that means something must peak there. Trained once per test session."""
from __future__ import annotations

import numpy as np

from train_helpers import TINY, make_cache

SIZE = 32
A_BOX = (slice(4, 10), slice(4, 10))
B_BOX = (slice(22, 28), slice(22, 28))
_CACHE: dict = {}


def square_images(a: np.ndarray, b: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 60, (len(a), SIZE, SIZE, 3)).astype(np.uint8)
    x[a == 1, A_BOX[0], A_BOX[1]] += 150
    x[b == 1, B_BOX[0], B_BOX[1]] += 150
    return x


def squares_cache(root):
    """A cache with the squares (make_cache's labels and splits, images redrawn)."""
    from facelab.data.prepared import PreparedDataset

    if "cache" not in _CACHE:
        folder = root / "squares"
        ds = make_cache(folder, n=240, size=SIZE, splits=(0.15, 0.15), seed=1)
        square_images(ds.table["A"].to_numpy(), ds.table["B"].to_numpy(), seed=1).tofile(folder / "images.u8")
        _CACHE["cache"] = PreparedDataset.open(folder)
    return _CACHE["cache"]


def squares_run(root):
    """The multilabel (A, B) cnn on :func:`squares_cache`."""
    import torch

    from facelab.train.trainer import train

    if "run" not in _CACHE:
        torch.manual_seed(0)
        _CACHE["run"] = train(squares_cache(root).path, target=["A", "B"], model="cnn", params=TINY, epochs=20,
                              name="explain-cnn", progress=False, seed=0, augment=False, lr=0.01, ema=0.0,
                              batch_size=32)
    return _CACHE["run"]


def held_out(n: int = 48, seed: int = 7):
    """(faces, a, b): new faces with their labels."""
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, 2, n), rng.integers(0, 2, n)
    return square_images(a, b, seed=seed), a, b


def inside(maps: np.ndarray, box) -> float:
    """Mean map inside ``box`` over the mean outside it."""
    ins = maps[:, box[0], box[1]].mean()
    mask = np.ones(maps.shape[1:], bool)
    mask[box] = False
    return float(ins / max(maps[:, mask].mean(), 1e-6))
