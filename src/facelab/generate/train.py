"""``train_gan(...)``: the DCGAN training loop over the uint8 prepared cache, writing a generator run.

The recipe is the PyTorch tutorial's (Adam 2e-4, β1 0.5, binary cross-entropy, one D step then
one G step per batch); what facelab adds is what the notebooks lack:

- it reads the prepared cache (no JPEG decoding in the loop; grey or RGB, 64 or 32 px — a 64 px
  cache can train a 32 px GAN, halved by 2×2 averaging);
- an **epoch** is ``epoch_images`` images (default: the training split, at most 20,000), drawn
  without replacement from a running shuffle, so that a 160,000-face CelebA still gets a sample
  grid, a checkpoint and quality scores every few minutes on a CPU;
- after every epoch: checkpoints of G, D and both optimisers (safetensors, written atomically),
  a history row, a sample grid from fixed noise, the progress strip, the curves, the model card;
- the run folder is a :class:`~facelab.runs.lifecycle.Lifecycle`'s, as every run's: a checked
  name, ``--resume`` continues exactly (RNG states and the shuffle position are saved); Ctrl-C
  saves the current networks, marks the run interrupted and re-raises; a NaN loss marks it ``nan``
  and raises :class:`~facelab.errors.RunError` with the last good checkpoint kept;
- a discriminator that wins outright or a collapsed generator gets a warning that says what to change.

Example: docs/python.md#generate.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..errors import ConfigError, DataError
from ..runs.lifecycle import Lifecycle
from . import run as layout
from .dcgan import SIZES
from .run import GeneratorRun
from .task import COLLAPSE_RATIO, D_WINS_LOSS, D_WINS_STEPS, GanTask, GanWarning  # noqa: F401  (public here too)


MIN_IMAGES = 64           # below this a GAN only memorises
DEFAULTS = dict(nz=100, ngf=32, ndf=32, batch_size=64, lr=2e-4, beta1=0.5, real_label=0.9,
                epoch_images=20000, quality_every=1, quality_samples=1000, fixed_samples=64, strip_samples=8,
                ac_weight=1.0)  # conditional runs: weight of the auxiliary classifier's loss (0: label planes)


def _parse_condition(condition, ds) -> list[str]:
    if not condition:
        return []
    names = [c.strip() for c in condition.split(",")] if isinstance(condition, str) else [str(c) for c in condition]
    names = [n for n in names if n]
    binary = [n for n, info in ds.labels.items() if info.kind == "binary"]
    bad = [n for n in names if n not in binary]
    if bad:
        import difflib

        close = difflib.get_close_matches(bad[0], binary, n=3)
        raise ConfigError(f"cannot condition on {', '.join(bad)}: not a 0/1 attribute of {ds.path}"
                          + (f". Did you mean {', '.join(close)}?" if close else ""), path=ds.path,
                          fix=f"choose from: {', '.join(binary[:12])}{' ...' if len(binary) > 12 else ''}")
    return names


def _stem(cfg: dict) -> str:
    """An unnamed run's name before its timestamp: ``dcgan64`` or ``dcgan64-Smiling+Male``."""
    return f"dcgan{cfg['size']}" + (f"-{'+'.join(cfg['condition'])}" if cfg["condition"] else "")


def _check_framing(feature_run, ds) -> None:
    """Warn when the feature run was trained on faces framed otherwise than the cache's: its
    Fréchet features and attribute judgements then see unfamiliar crops (the shipped 40-attribute
    model gets Smiling right on 90.8% of real face crops, 83.8% of square ones)."""
    want, have = feature_run.input.get("crop"), ds.meta.get("crop")
    if want and have and want != have:
        warnings.warn(f"the feature run {feature_run.name} was trained on {want} crops, the cache {ds.path} "
                      f"holds {have} crops: its Fréchet distance and attribute agreement will judge faces "
                      f"framed unlike its training. Fix: prepare the cache with --crop {want}", GanWarning,
                      stacklevel=3)


def train_gan(data, *, size: int | None = None, minutes: float | None = None, epochs: int | None = None,
              name: str | None = None, condition: "str | Sequence[str] | None" = None, seed: int = 0,
              resume: "bool | str" = False, feature_run=None, threads: int | None = None,
              progress: bool = True, runs_dir: "str | Path | None" = None, **options) -> GeneratorRun:
    """Train a DCGAN on a prepared cache; the run goes to ``runs/<name>/``.

    Args:
        data: a prepared cache folder (or the source folder it came from, or a ``PreparedDataset``).
        size: 64 or 32 (default: the cache's size, 64 for larger caches is an error to fix by preparing).
        minutes / epochs: when to stop (default 5 epochs when neither is given); both: whichever first.
        name: the run's name (a plain folder name inside the runs folder; default ``dcgan<size>-<timestamp>``).
        condition: attributes to condition on, ``"Smiling,Male"``.
        resume: True (the run named by ``name``) or a run name/path: continue it.
        feature_run: a facelab classifier run whose features score the Fréchet distance (and, for a
            conditional run, attribute agreement) each epoch; None skips those scores.
        threads: torch threads (default: free cores, as `facelab train`).
        runs_dir: the runs folder (default ``runs_root()``).
        options: ``nz, ngf, ndf, batch_size, lr, beta1, real_label, epoch_images, quality_every,
            quality_samples, ac_weight`` (see ``DEFAULTS``; ``ac_weight``: a conditional run's
            auxiliary-classifier loss weight, 0 for the label-plane discriminator).

    Raises:
        DataError: a cache with fewer than 64 training images. ConfigError: bad options, a refused
        ``name`` (a path, ``..``) or one that exists, or a resume whose cache differs in size or
        channels from the run's. RunError: a NaN loss (``status: nan``, the last good checkpoint kept).
        KeyboardInterrupt: after saving (``status: interrupted``), on Ctrl-C.
    """
    from ..data.ensure import ensure_prepared
    from ..data.prepared import PreparedDataset
    from ..train.trainer import default_threads

    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise ConfigError(f"unknown option(s) {', '.join(sorted(unknown))}", fix=f"use some of: {', '.join(DEFAULTS)}")
    # a dataset folder is prepared at the GAN's size, as `facelab train` prepares its own
    ds = data if isinstance(data, PreparedDataset) else ensure_prepared(data, size=size or 64, progress=progress)
    torch.set_num_threads(threads or default_threads())
    if resume:
        lc, cfg = _resumed(ds, name if resume is True else resume, epochs, minutes, runs_dir)
        epochs, minutes = cfg.get("epochs"), cfg.get("minutes")
    else:
        epochs = 5 if epochs is None and minutes is None else epochs
        cfg = _new_config(ds, size, epochs, minutes, condition, seed, options)
        lc = None
    rows = _training_rows(ds, cfg)
    if feature_run is not None:
        from ..runs.run import Run

        feature_run = Run.load(feature_run)  # a Run comes back as it is; a name or path is opened once
        cfg["feature_run"] = feature_run.name
        _check_framing(feature_run, ds)
    elif cfg.get("feature_run"):
        feature_run = cfg["feature_run"]
    task = {"kind": layout.KIND, "targets": [("+".join(cfg["condition"]) or "faces")], "classes": list(cfg["condition"])}
    input_ = {k: ds.meta.get(k) for k in ("channels", "grey", "crop", "crop_box", "source_size")} | \
        {"size": cfg["size"], "layout": ds.manifest.layout}
    if lc is None:
        lc = Lifecycle.create(name, stem=_stem(cfg), runs_dir=runs_dir, what="generator run")
        lc.start(config=cfg, task=task, files={layout.INPUT: input_})
    else:
        lc.write_config(cfg)  # the epochs/minutes of this resume, the feature run
    gan = GanTask(lc.path, cfg, ds, rows, lc.state, feature_run, progress, epochs=epochs, minutes=minutes)
    return lc.train(gan.restore())


def _new_config(ds, size, epochs, minutes, condition, seed, options) -> dict:
    """A new run's resolved options (checked before any folder exists)."""
    size = int(size or (64 if ds.size >= 64 else ds.size))
    if size not in SIZES:
        raise ConfigError(f"--size {size}: the DCGAN makes 64 or 32 px images", fix="use --size 64 or 32")
    if ds.size < size or ds.size % size:
        raise ConfigError(f"the cache {ds.path} is {ds.size} px; a {size} px GAN needs a cache of {size} px "
                          f"(or a multiple)", path=ds.path, fix=f"run `facelab data prepare SOURCE --size {size}`")
    if (epochs is not None and epochs < 1) or (minutes is not None and minutes <= 0):
        raise ConfigError("--epochs and --minutes must be positive", fix="e.g. --epochs 5 or --minutes 30")
    cfg = {"kind": layout.KIND, "model": "dcgan", "data": str(Path(ds.path).resolve()), "size": size,
           "channels": ds.channels, "grey": ds.channels == 1, "condition": _parse_condition(condition, ds),
           "seed": int(seed), "epochs": epochs, "minutes": minutes, **DEFAULTS, **options,
           "feature_run": None}
    for k in ("nz", "ngf", "ndf", "batch_size", "epoch_images", "quality_samples"):
        if int(cfg[k]) < 1:
            raise ConfigError(f"{k} must be at least 1, not {cfg[k]}", fix=f"see the defaults: {DEFAULTS}")
    return cfg


def _resumed(ds, run, epochs, minutes, runs_dir) -> tuple[Lifecycle, dict]:
    """The lifecycle and config of the generator run ``run`` to resume on ``ds``."""
    if run is None:
        raise ConfigError("--resume needs the run's name", fix="pass --resume NAME (see `facelab runs`)")
    path = GeneratorRun.load(run if runs_dir is None or Path(str(run)).is_dir() else Path(runs_dir) / str(run)).path
    lc = Lifecycle.resume(path)
    cfg = GeneratorRun.load(path).config  # brought to the current format (runs.migrate)
    if int(cfg["channels"]) != ds.channels or ds.size % int(cfg["size"]) or ds.size < int(cfg["size"]):
        raise ConfigError(f"cannot resume {path.name} on {ds.path}: the run is "
                          f"{cfg['size']} px {'grey' if cfg['channels'] == 1 else 'RGB'}, the cache is "
                          f"{ds.size} px {'grey' if ds.channels == 1 else 'RGB'}", path=ds.path,
                          fix=f"resume on the run's own cache ({cfg['data']}) or start a new run")
    if epochs is not None:
        cfg["epochs"] = epochs
    if minutes is not None:
        cfg["minutes"] = minutes
    return lc, cfg


def _training_rows(ds, cfg: dict) -> np.ndarray:
    """The rows a GAN learns from: the training split (every row when the cache has no split)."""
    rows = ds.split("train")
    if len(rows) == 0:
        rows = np.arange(len(ds))
    if len(rows) < max(MIN_IMAGES, int(cfg["batch_size"])):
        raise DataError(f"{ds.path} has {len(rows)} training images: too few to train a GAN (at least "
                        f"{max(MIN_IMAGES, int(cfg['batch_size']))})", path=ds.path,
                        fix="prepare more images (a larger --limit), or lower --batch-size")
    return rows
