"""Generate faces: a DCGAN trained on a prepared cache (see docs/generate.md).

- :func:`train_gan` (``generate/train.py``): the training loop → a generator run folder.
- :func:`sample` / :func:`interpolate`: new faces, or a walk between two latent points.
- :mod:`.quality`: Fréchet distance in a facelab classifier's features (not Inception FID), face
  rate, attribute agreement.

Example: docs/python.md#generate.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


def _parse_condition(condition) -> dict[str, int] | None:
    """``"Smiling=1,Male=0"`` / ``"Smiling"`` (=1) / a dict → ``{name: 0|1}``."""
    if not condition:
        return None
    if isinstance(condition, dict):
        return {k: int(v) for k, v in condition.items()}
    from ..errors import ConfigError

    out = {}
    for part in str(condition).split(","):
        part = part.strip()
        if not part:
            continue
        k, _, v = part.partition("=")
        v = v.strip() or "1"
        if v not in ("0", "1"):
            raise ConfigError(f"--condition {part!r}: the value must be 0 or 1", fix="e.g. --condition Smiling=1,Male=0")
        out[k.strip()] = int(v)
    return out


def sample(run, n: int = 64, *, seed: int = 0, condition=None, out: "str | Path | None" = None) -> np.ndarray:
    """``n`` new faces from a generator run: uint8 (n, size, size, channels).

    Args:
        run: a generator run name, folder or ``GeneratorRun``.
        condition: for a conditional run, ``"Smiling=1,Male=0"`` or ``{"Smiling": 1}``.
        out: also write them: ``grid.png`` (one grid) or a folder (one PNG each). facelab's write
            guard applies (:mod:`facelab.outputs`): it replaces only a grid or a samples folder
            facelab wrote, never a user's file or folder.

    Raises:
        RunError: ``run`` is a classifier run (or not a run).
        ConfigError: ``out`` is a user's file or folder.
    """
    from .images import check_samples_out
    from .run import GeneratorRun

    if out is not None:
        check_samples_out(out)  # a user's file or folder is refused before anything is drawn
    r = GeneratorRun.load(run)
    images = r.sample(n, seed=seed, condition=_parse_condition(condition))
    if out is not None:
        from .images import save_images

        save_images(images, out)
    return images


def interpolate(run, *, steps: int = 10, seed: int = 0, condition=None, out: "str | Path | None" = None) -> np.ndarray:
    """A walk between two random latent points (spherical interpolation): uint8 (steps, size, size, C).

    ``out`` ending in .png writes a strip, .gif an animation (there and back); it replaces only a
    walk facelab wrote, never a user's file (:mod:`facelab.outputs`).
    """
    import torch

    from ..errors import ConfigError
    from .images import check_walk_out, save_walk, slerp
    from .run import GeneratorRun

    if steps < 2:
        raise ConfigError(f"--steps {steps}: a walk needs at least 2 points", fix="e.g. --steps 10")
    if out is not None:
        check_walk_out(out)  # a wrong suffix or a user's file is refused before anything is drawn
    r = GeneratorRun.load(run)
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((2, int(r.config["nz"])))
    z = np.stack([slerp(a, b, t) for t in np.linspace(0, 1, steps)]).astype(np.float32)
    labels = r.labels_for(1, _parse_condition(condition), rng)
    labels = None if labels is None else np.repeat(labels, steps, axis=0)
    frames = r.decode(torch.from_numpy(z), labels)
    if out is not None:
        save_walk(frames, out)
    return frames


def train_gan(*args, **kwargs):
    """See :func:`facelab.generate.train.train_gan` (imported lazily: torch only when training)."""
    from .train import train_gan as _train

    return _train(*args, **kwargs)


train_gan.__doc__ = "Train a DCGAN on a prepared cache; see facelab.generate.train.train_gan."
