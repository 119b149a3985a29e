"""``train(...)``: a plain PyTorch loop over the in-memory uint8 cache, writing a run folder.

Why it is fast on a laptop CPU: the cache is decoded once (no JPEG in the loop), the whole split
lives in memory as one uint8 tensor, augmentation is a handful of whole-batch tensor ops, and the
model is small and channels-last. Why it is safe: the run folder is a
:class:`~facelab.runs.lifecycle.Lifecycle`'s (a checkpoint after every epoch, written atomically;
Ctrl-C keeps it and tells how to resume; a NaN loss stops the run without touching the last good
checkpoint), and a seed makes a run repeatable.

The learning-rate schedule is a function of *progress* in [0, 1]: steps done / steps planned for
``--epochs``, seconds spent / seconds allowed for ``--minutes`` (whichever is further), so a
time budget gets a full warm-up → cosine schedule without knowing the speed in advance.

Example: docs/python.md#training.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from ..errors import ConfigError, RunError
from ..paths import runs_root
from ..runs import writer as artifacts
from ..runs.layout import INPUT, SPLIT
from ..outputs import write_error
from ..runs.lifecycle import Lifecycle
from ..runs.listing import resolve_run
from ..runs.run import Run, list_runs
from ..runs.task import check_trainable, resolve_task
from .auxiliary import resolve_aux
from .classical_fit import fit_classical
from .config import TrainConfig
from .data import channel_stats
from .distributed import Dist
from .loop import Loop
from .setup import holdout_split, open_data
from .steps import EpochEnd
from .tracking import make_tracker

log = logging.getLogger(__name__)

DEFAULT_EPOCHS = 10


def default_threads() -> int:
    """All cores, minus those other processes are busy with (1-minute load average), at least 1.

    Why not always all cores: OpenMP threads wait for each other at every layer, so on an
    oversubscribed machine two threads that keep losing their core run slower than one.
    """
    cpu = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except (OSError, AttributeError):
        return cpu
    return max(1, min(cpu, int(cpu - load + 0.5)))


def find_resumable(resume: bool | str, name: str | None, target, model: str, *,
                   runs_dir: str | Path | None = None) -> Path:
    """The run folder ``--resume`` continues: the one named, else the newest unfinished run of
    ``model`` (and ``target``) in ``runs_dir``."""
    if isinstance(resume, (str, Path)) and not isinstance(resume, bool):
        return resolve_run(resume, runs_dir)
    if name:
        return resolve_run(name, runs_dir)
    for run in list_runs(runs_dir):  # a generator run's model is dcgan: never picked here
        if run.status not in ("finished", "failed") and run.config.get("model") == model and (target is None or run.config.get("target") == target):
            return run.path
    raise RunError("no unfinished run to resume", path=Path(runs_dir) if runs_dir else runs_root(),
                   fix="pass the run's name: --resume NAME (see `facelab runs`)")


def _explicit(config, overrides: dict) -> set[str]:
    """The options the user set (arguments that are not None, and every key of ``config``):
    the recipe never overrides them."""
    keys = {k for k, v in overrides.items() if v is not None}
    if isinstance(config, TrainConfig):
        return keys | set(config.to_dict())
    if isinstance(config, dict):
        return keys | set(config)
    if config is not None:
        import yaml

        return keys | set(yaml.safe_load(Path(config).read_text()) or {})  # resolve() has read it once
    return keys


def _data_and_recipe(data, cfg: TrainConfig, explicit: set[str], progress: bool, echo: bool):
    """Open the cache (preparing a dataset folder with the recipe's geometry), fill ``cfg`` from
    the recipe table and say what was chosen (train/recipes.py)."""
    from ..data.ensure import dataset_kind, ensure_prepared
    from ..data.prepared import resolve_data
    from ..models import get_model
    from . import recipes

    if data is None or str(data) == "":
        open_data(data)  # the usual "no data given" error
    ds, source = resolve_data(data)
    if ds is None:
        from ..data.readers import read_source

        manifest = read_source(source)
    else:
        manifest = ds.manifest
    kind = resolve_task(manifest, cfg.target).kind  # an unknown target fails before any decoding
    dataset = dataset_kind(manifest.layout)
    recipe = recipes.pick(cfg.recipe, dataset, kind, cfg.minutes)
    geo = recipes.geometry(recipe, dataset, {"size": cfg.size, "crop": cfg.crop, "grey": cfg.grey})
    say = (lambda line: log.info("%s", line)) if echo else (lambda line: None)
    note = ""
    if ds is None:
        say(f"dataset folder {source}: its cache at {geo['size']} px, {geo['crop']} crop"
            f"{', grey' if geo['grey'] else ''} (prepared on first use, reused next time)")
        ds = ensure_prepared(source, **geo, progress=progress)
    else:
        have = {"size": ds.size, "crop": ds.meta.get("crop"), "grey": ds.channels == 1}
        asked = {k: cfg_v for k in ("size", "crop", "grey") if (cfg_v := getattr(cfg, k)) is not None
                 and cfg_v != have[k]}
        if asked:
            raise ConfigError(f"DATA is a prepared cache ({have['size']} px, {have['crop']} crop"
                              f"{', grey' if have['grey'] else ''}); it cannot change to "
                              + ", ".join(f"{k} {v}" for k, v in asked.items()), path=ds.path,
                              fix="pass the dataset folder instead: facelab prepares it with that geometry")
        if (have["size"], have["grey"]) != (geo["size"], geo["grey"]) or have["crop"] != geo["crop"]:
            note = f" wanted; the given cache is {have['size']} px {have['crop']}"
        geo = have if not note else geo
    outcome = recipes.apply(cfg, recipe, explicit, network=get_model(cfg.model).trains_in_epochs)
    cfg.size, cfg.crop, cfg.grey = ds.size, ds.meta.get("crop"), ds.channels == 1
    for line in recipes.describe(recipe, cfg, outcome, geo, cache_note=note):
        say(line)
    return ds



def train(data, *, target: str | Sequence[str] | None = None, model: str | None = None,
          epochs: int | None = None, minutes: float | None = None, name: str | None = None,
          seed: int | None = None, batch_size: int | None = None, lr: float | None = None,
          weights: str | None = None, init: str | None = None, resume: bool | str = False,
          val_fraction: float | None = None, params: dict | None = None, progress: bool = True,
          config: "str | Path | TrainConfig | dict | None" = None,
          callbacks: Sequence[Callable[[EpochEnd], Any]] = (), echo: bool | None = None,
          runs_dir: str | Path | None = None, dist: Dist | None = None, track: str | None = None,
          track_uri: str | None = None, **options) -> Run:
    """Train a model on a prepared cache and return the :class:`Run`.

    Args:
        data: a prepared cache folder, a source folder with a prepared cache, or a
            ``PreparedDataset``.
        target: attribute (binary), list/``all`` (multilabel), class column (multiclass);
            ``None`` = the dataset's class column (FER2013 emotion, folder label).
        model: a name from ``facelab models`` (default ``cnn``).
        epochs / minutes: length of training (either or both; default 10 epochs).
        name: run folder name (default ``<target>-<model>-<timestamp>``; never overwritten).
        seed: makes the split, initialisation, shuffling and augmentation repeatable.
        batch_size, lr: optimisation (AdamW, warm-up then cosine).
        weights: a checkpoint file (.safetensors / .pth) with torchvision-compatible names.
        init: an earlier run whose backbone starts this one (transfer learning).
        resume: ``True`` or a run name: continue an interrupted run from its last checkpoint.
        val_fraction: validation hold-out taken from train when the dataset has no val split.
        params: model parameters (e.g. ``{"widths": [32, 64, 128, 256]}``).
        progress: show a progress bar.
        config: a YAML file / dict / TrainConfig; explicit arguments override it.
        callbacks: called with an :class:`EpochEnd` after every epoch.
        track, track_uri: mirror the run into ``"mlflow"`` or ``"tensorboard"`` (:mod:`.tracking`).
        echo: log the recipe's choices and the cache used; default: as ``progress``.
        runs_dir: the runs folder (default ``runs_root()``: ``$FACELAB_RUNS`` or ``./runs``).
        dist: this process's place in a DDP job (:mod:`facelab.scale.ddp` passes it); None alone.
        **options: any other :class:`TrainConfig` field (``weight_decay``, ``patience``, ...).

    Returns:
        The finished run (``run.metrics["val_accuracy"]``).

    Raises:
        ConfigError / DataError: bad options, unknown target, no cache, unusable weights.
        RunError: NaN loss (the last good checkpoint is kept).
        KeyboardInterrupt: after saving, on Ctrl-C (resume with ``resume=NAME``).

    Example: docs/python.md#training.
    """
    overrides = dict(target=target, model=model, epochs=epochs, minutes=minutes, name=name, seed=seed,
                     batch_size=batch_size, lr=lr, weights=weights, init=init, val_fraction=val_fraction,
                     params=params, **options)
    hooks = [make_tracker(track, track_uri, runs_dir)] if track else []  # a missing extra fails before any work
    path = None
    if resume:
        path = find_resumable(resume, name, target, model or "cnn", runs_dir=runs_dir)
        cfg, ds = _resumed(path, data, epochs, overrides)
    else:
        cfg = TrainConfig.resolve(config, **overrides)
        ds = _data_and_recipe(data, cfg, _explicit(config, overrides), progress,
                              progress if echo is None else echo)
        cfg.data = str(ds.path)
    if cfg.epochs is None and cfg.minutes is None:
        cfg.epochs = DEFAULT_EPOCHS
    spec, task, (train_rows, val_rows, holdout), aux = _job(cfg, ds, path)

    writer = dist is None or dist.is_writer  # under DDP only rank 0 writes the run folder
    if path is not None:
        lc = Lifecycle.resume(path, writer=writer, hooks=hooks)
        input_ = Run.load(path).input
    else:
        lc = Lifecycle.create(cfg.name, stem=f"{artifacts.safe_column(task.name)}-{cfg.model}", runs_dir=runs_dir,
                              writer=writer, hooks=hooks)
        path = lc.path
        cfg.name = path.name
        input_ = _input_spec(ds, train_rows, cfg.seed)
        lc.start(config=cfg.to_dict(), task=task.to_dict(),
                 files={INPUT: input_, SPLIT: {"train": train_rows.tolist(), "val": val_rows.tolist(),
                                               "holdout": bool(holdout), "val_fraction": cfg.val_fraction,
                                               "seed": cfg.seed}},
                 step=0, elapsed=0.0, best=None, best_epoch=0, bad_epochs=0)
    torch.set_num_threads(cfg.threads or default_threads())

    try:
        if not spec.trains_in_epochs:
            return lc.finished(fit_classical(spec, cfg, ds, task, lc, train_rows, val_rows, holdout, input_))
        loop = Loop(cfg=cfg, spec=spec, params=cfg.params, ds=ds, task=task, path=path, input_=input_,
                    train_rows=train_rows, val_rows=val_rows, holdout=holdout, state=lc.state,
                    progress=progress, callbacks=list(callbacks), aux=aux, dist=dist).setup()
    except Exception as e:  # a refused --weights, a model that cannot be built, a disk error...
        lc.mark_failed(e)  # never leave a run saying "running" when nothing runs
        full = write_error(e, path, "run folder") if isinstance(e, OSError) else None
        if full is not None:  # a full disk: the error names the run folder
            raise full from None
        raise
    try:
        return lc.train(loop)
    except OSError as e:
        full = write_error(e, path, "run folder")
        if full is not None:
            raise full from None
        raise


def _resumed(path: Path, data, epochs: int | None, overrides: dict):
    """The config and data of the run ``path`` to resume (more ``epochs`` / new ``minutes`` allowed)."""
    run0 = Run.load(path)  # brought to the current format (runs.migrate)
    cfg = TrainConfig.resolve(run0.config, **{k: overrides[k] for k in ("epochs", "minutes")})
    if run0.state.get("status") == "finished" and not (epochs and epochs > int(run0.state.get("epoch", 0))):
        raise RunError(f"run {path.name} is already finished", path=path,
                       fix="start a new run (or pass more --epochs to continue training it)")
    return cfg, open_data(data if data is not None else cfg.data)


def _job(cfg: TrainConfig, ds, resumed: Path | None):
    """The model spec, task, split (a resumed run's own) and auxiliary attributes; every check that
    can refuse the job runs here, before a run folder exists. Completes ``cfg.params``."""
    from ..models import get_model
    from ..models.params import check_params

    spec = get_model(cfg.model)
    task = resolve_task(ds, cfg.target)
    if resumed is not None:
        split = Run.load(resumed).split()
        rows = np.array(split["train"]), np.array(split["val"]), split["holdout"]
    else:
        rows = holdout_split(ds, task, cfg.val_fraction, cfg.seed)
    check_trainable(task, task.labels(ds.table)[rows[0]], path=ds.path)
    aux = resolve_aux(ds, task, cfg.aux)
    if aux and not spec.trains_in_epochs:
        raise ConfigError(f"auxiliary attributes need a network; {cfg.model} is a classical model",
                          path=ds.path, fix="drop aux, or pick cnn, mobilenetv2 or resnet18")
    cfg.params = check_params(spec, {**spec.default_params, **(cfg.params or {})})
    return spec, task, rows, aux


def _input_spec(ds, train_rows, seed: int) -> dict:
    """``input.json``: the cache's geometry and the normalisation measured on the training rows."""
    mean, std = channel_stats(ds.images, train_rows, seed=seed)
    meta = ds.meta
    input_ = {k: meta.get(k) for k in ("size", "channels", "grey", "crop", "crop_box", "source_size")}
    input_.update(layout=ds.manifest.layout, mean=mean, std=std,
                  normalization="x = (uint8 / 255 - mean) / std per channel; NCHW")
    if meta.get("detector"):  # aligned at prepare (--crop detect): predict frames faces the same way
        input_["detector"] = meta["detector"]
    framing = meta.get("framing")
    if isinstance(framing, dict) and framing.get("template"):  # the five-point template framing
        input_["framing"] = framing
    return input_
