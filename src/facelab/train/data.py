"""Batches straight from the uint8 cache: no decoding, augmentation as whole-batch tensor ops.

The whole cache is held in memory as one uint8 tensor (16k CelebA faces at 64 px are 200 MB);
a batch is an index into it, converted to float and augmented in one vectorised step. The
preprocessing itself (``to_float``) lives with the saved run, :mod:`facelab.runs.preprocess`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F



def channel_stats(images: np.ndarray, rows: np.ndarray, *, sample: int = 2000, seed: int = 0
                  ) -> tuple[list[float], list[float]]:
    """Per-channel mean and std (in [0, 1] units) of a seeded sample of training images."""
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(rows, size=min(sample, len(rows)), replace=False))
    x = np.asarray(images[pick], dtype=np.float32) / 255.0
    c = x.shape[-1]
    mean = x.reshape(-1, c).mean(0)
    std = x.reshape(-1, c).std(0) + 1e-3
    return [round(float(v), 5) for v in mean], [round(float(v), 5) for v in std]


@dataclass
class Augment:
    """Per-sample random flip, affine (shift/scale/rotation) and brightness/contrast, per batch.

    All draws come from the ``torch.Generator`` passed to :meth:`__call__`, so a seeded run is
    reproducible.
    """

    flip: bool = True
    shift: float = 0.04
    scale: float = 0.05
    rotate: float = 0.0
    jitter: float = 0.1
    erase: float = 0.0  # probability per image of blanking one random rectangle (to the mean)

    def __call__(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """x: normalised float NCHW → augmented float NCHW (same shape)."""
        n = x.shape[0]
        if self.flip:
            # Mirroring is the one always-safe augmentation for faces (no attribute is sided).
            flip = torch.rand(n, generator=g) < 0.5
            x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
        if self.shift or self.scale or self.rotate:
            u = lambda: torch.rand(n, generator=g) * 2 - 1  # noqa: E731
            s = 1 + self.scale * u()
            a = self.rotate * math.pi / 180 * u()
            tx, ty = self.shift * 2 * u(), self.shift * 2 * u()  # grid units: image width = 2
            cos, sin = torch.cos(a) / s, torch.sin(a) / s
            theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
            grid = F.affine_grid(theta, list(x.shape), align_corners=False)
            x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
        if self.jitter:
            b = (torch.rand(n, 1, 1, 1, generator=g) * 2 - 1) * self.jitter * 2  # in std units
            c = 1 + (torch.rand(n, 1, 1, 1, generator=g) * 2 - 1) * self.jitter
            mu = x.mean((1, 2, 3), keepdim=True)
            x = (x - mu) * c + mu + b
        if self.erase:
            x = _erase(x, self.erase, g)
        return x.contiguous(memory_format=torch.channels_last)


def _erase(x: torch.Tensor, p: float, g: torch.Generator) -> torch.Tensor:
    """Random erasing (Zhong et al. 2017): with probability ``p`` per image, one rectangle of
    2–25% of the area and aspect 0.5–2 is set to 0 (the normalised mean), all in one mask op."""
    n, _, h, w = x.shape
    area = (0.02 + 0.23 * torch.rand(n, generator=g)) * h * w
    aspect = torch.exp((torch.rand(n, generator=g) * 2 - 1) * math.log(2))
    eh = (area * aspect).sqrt().clamp(1, h)
    ew = (area / aspect).sqrt().clamp(1, w)
    y0 = torch.rand(n, generator=g) * (h - eh)
    x0 = torch.rand(n, generator=g) * (w - ew)
    on = torch.rand(n, generator=g) < p
    ys = torch.arange(h).view(1, h, 1)
    xs = torch.arange(w).view(1, 1, w)
    m = ((ys >= y0.view(-1, 1, 1)) & (ys < (y0 + eh).view(-1, 1, 1)) & (xs >= x0.view(-1, 1, 1))
         & (xs < (x0 + ew).view(-1, 1, 1)) & on.view(-1, 1, 1))
    return x.masked_fill(m.unsqueeze(1), 0.0)


class Batches:
    """Shuffled (or ordered) mini-batches of one split, held in memory.

    Args:
        images: the uint8 NHWC array (memmap) of the whole cache.
        rows: row indices of this split.
        y: labels for ``rows`` (same order).
        batch_size: images per batch.

    Example:
        >>> images = np.zeros((10, 8, 8, 3), np.uint8)
        >>> b = Batches(images, np.arange(6), np.arange(6) % 2, batch_size=4)
        >>> [tuple(xb.shape) for xb, yb in b.epoch(torch.Generator().manual_seed(0))]
        [(4, 8, 8, 3), (2, 8, 8, 3)]
    """

    def __init__(self, images: np.ndarray, rows: np.ndarray, y: np.ndarray, batch_size: int):
        # One copy out of the memmap: training then never touches the disk.
        self.x = torch.from_numpy(np.ascontiguousarray(images[np.asarray(rows)]))
        self.y = torch.from_numpy(np.asarray(y))
        self.rows = np.asarray(rows)
        self.batch_size = int(batch_size)

    def _stop(self, drop_last: bool) -> int:
        n = len(self.rows)
        return n - n % self.batch_size if drop_last and n >= self.batch_size else n

    def steps(self, *, drop_last: bool = False) -> int:
        """Batches one :meth:`epoch` yields (the partial last one counts unless it is dropped)."""
        return math.ceil(self._stop(drop_last) / self.batch_size)

    def epoch(self, g: torch.Generator | None = None, *, drop_last: bool = False
              ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.rows)
        order = torch.randperm(n, generator=g) if g is not None else torch.arange(n)
        stop = self._stop(drop_last)
        for i in range(0, stop, self.batch_size):
            idx = order[i:i + self.batch_size]
            yield self.x[idx], self.y[idx]
