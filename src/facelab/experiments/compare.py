"""``facelab compare``: several models, one split, one seed, one budget → a leaderboard.

Each model is trained with :func:`facelab.train.trainer.train` on the same prepared cache with the
same seed and the same ``epochs``/``minutes``; then every run is scored the same way (the test
split, or val when the cache has no test rows) and timed the same way:

- ``train_s``: wall-clock seconds of the whole ``train()`` call (what the user waits for);
- ``latency_ms``: median time of ``run.predict_proba`` on one face (after warm-up);
- ``throughput``: faces per second of ``run.predict_proba`` on a batch of 256.

Both timings use the torch thread count in force (``threads`` sets it). The board is written to
``runs/_leaderboards/<target>-<timestamp>/`` as ``leaderboard.md``, ``leaderboard.csv`` and
``leaderboard.png`` (accuracy against training time and against latency).

Example: docs/python.md#compare-and-search.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ConfigError, FacelabError
from ..evaluate import metrics as M
from ..runs.layout import safe_part
from ..evaluate.leaderboard import (COLUMNS, Leaderboard, is_leaderboard_folder, leaderboard_folder, paired_notes,
                                    rank, training_notes)

log = logging.getLogger(__name__)


def parse_models(models) -> list[dict]:
    """Model entries from a list, a comma-separated string or a YAML file.

    A YAML file holds a list (or ``models:`` list) of names or mappings with ``model``, optional
    ``params`` (model parameters), optional ``name`` and any other training option (``lr: 0.001``).

    Example:
        >>> parse_models("logreg,cnn")
        [{'model': 'logreg'}, {'model': 'cnn'}]
    """
    import yaml

    source = None
    if isinstance(models, (str, Path)) and (Path(models).suffix in (".yaml", ".yml") or Path(models).is_file()):
        source = Path(models)
        if not source.is_file():
            raise ConfigError(f"model list {source} not found", path=source, fix="pass an existing YAML file")
        try:
            models = yaml.safe_load(source.read_text())
        except yaml.YAMLError as e:
            raise ConfigError(f"{source} is not valid YAML: {e}", path=source,
                              fix="write a list like `- model: cnn` / `  params: {width: 32}`") from None
        if isinstance(models, dict) and "models" in models:
            models = models["models"]
    if isinstance(models, str):
        models = [m.strip() for m in models.split(",") if m.strip()]
    if not isinstance(models, (list, tuple)) or not models:
        raise ConfigError("no models to compare", path=source, fix="pass --models logreg,cnn or a YAML list")
    out = []
    for m in models:
        if isinstance(m, str):
            out.append({"model": m})
        elif isinstance(m, dict) and isinstance(m.get("model"), str):
            if "params" in m and not isinstance(m["params"], dict):
                raise ConfigError(f"params of {m['model']} must be a mapping", path=source,
                                  fix="write `params: {width: 32}`")
            out.append(dict(m))
        else:
            raise ConfigError(f"bad model entry {m!r}", path=source,
                              fix="each entry is a model name or a mapping with a `model:` key")
    from ..models import get_model

    for m in out:
        get_model(m["model"])  # unknown names fail now, not after an hour of training the others
    return out


# -- timing --------------------------------------------------------------------------------------
def measure_inference(run, images: np.ndarray, *, batch: int = 256, repeats: int = 20,
                      budget_s: float = 3.0) -> dict:
    """Batch-1 latency (median ms) and batched throughput (faces/s) of ``run.predict_proba``.

    Batch-1 latency is measured with one torch thread and one BLAS thread — how a server scoring
    one face per request runs, and far steadier on a shared CPU, where two threads waiting on each
    other can cost 10×; the batched throughput uses the thread counts in force.

    Example: docs/python.md#compare-and-search.
    """
    import torch
    from threadpoolctl import threadpool_limits

    one = np.ascontiguousarray(images[:1])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    # numpy's BLAS (the classical models) has its own threads: one as well, or a busy machine adds
    # ~10 ms of thread wake-up to a 0.1 ms matrix product
    try:
        with threadpool_limits(1):
            for _ in range(3):
                run.predict_proba(one)
            times = []
            t_end = time.perf_counter() + budget_s
            while len(times) < repeats and (not times or time.perf_counter() < t_end):
                t = time.perf_counter()
                run.predict_proba(one)
                times.append(time.perf_counter() - t)
    finally:
        torch.set_num_threads(threads)
    xb = np.ascontiguousarray(images[:batch])
    run.predict_proba(xb)
    tb, reps = [], 0
    t_end = time.perf_counter() + budget_s
    while reps < 3 and (reps == 0 or time.perf_counter() < t_end):
        t = time.perf_counter()
        run.predict_proba(xb)
        tb.append(time.perf_counter() - t)
        reps += 1
    return {"latency_ms": float(np.median(times) * 1000), "throughput": float(len(xb) / min(tb))}


def count_parameters(run) -> int | None:
    """Learned numbers in a run's model (torch parameters, or the classical model's arrays)."""
    try:
        model = run.model()
        if hasattr(model, "parameters"):
            return int(sum(p.numel() for p in model.parameters()))
        return int(sum(np.asarray(v).size for v in model.state_dict().values()))
    except (FacelabError, OSError, RuntimeError, AttributeError, TypeError):  # a count is a nicety, never a failure
        return None


def score_run(run, *, data=None, split: str = "test", train_s: float | None = None,
              timing: bool = True, progress: bool = False, items: dict | None = None,
              runs_dir: str | Path | None = None) -> dict:
    """One leaderboard row for a finished run: metrics on ``split`` plus timings.

    ``items``, when given, receives ``{run name: (rows, per-image accuracy)}`` for paired
    comparisons (:func:`paired_notes`). A run given by name is looked up in ``runs_dir``."""
    from ..data.prepared import open_prepared
    from ..evaluate.report import predict_split
    from ..runs import Run, resolve_run

    run = run if isinstance(run, Run) else Run.load(resolve_run(run, runs_dir))
    pred = predict_split(run, data=data, split=split, progress=progress)
    s = M.score(pred.y, pred.prob, pred.kind, pred.labels).overall
    cfg = run.config if isinstance(run.config, dict) else getattr(run.config, "__dict__", {})
    row = {"run": run.name, "model": cfg.get("model", ""), "params": _short(cfg.get("params") or {}),
           "accuracy": s["accuracy"], "accuracy_low": s["accuracy_low"], "accuracy_high": s["accuracy_high"],
           "balanced_accuracy": s["balanced_accuracy"], "f1": s["f1"],
           "roc_auc": s["roc_auc"], "ece": s["ece"], "split": pred.split, "n_eval": len(pred.y),
           "train_s": train_s if train_s is not None else _recorded_train_s(run),
           "latency_ms": None, "throughput": None, "parameters": count_parameters(run)}
    if items is not None:
        items[run.name] = (np.asarray(pred.rows), M.per_item_accuracy(pred.y, pred.prob, pred.kind))
    if timing:
        ds = open_prepared(pred.data)
        imgs = np.asarray(ds.images[pred.rows[:256]])
        size = int(run.input.get("size", ds.size))
        if size != ds.size:
            from ..evaluate.report import resize_images

            imgs = resize_images(imgs, size)
        row.update(measure_inference(run, imgs))
    return row


def _recorded_train_s(run) -> float | None:
    m = run.metrics or {}
    for k in ("train_seconds", "train_s", "seconds", "wall_s"):
        if isinstance(m.get(k), (int, float)):
            return float(m[k])
    return None


def _short(params: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(params.items())) if params else ""


def set_threads(threads: int | None) -> None:
    """Set torch's thread count when ``threads`` is given (training and timing use it)."""
    if threads:
        import torch

        torch.set_num_threads(int(threads))


def compare(data, *, target, models, epochs: int | None = None, minutes: float | None = None, seed: int = 0,
            metric: str = "accuracy", threads: int | None = None, out=None, progress: bool = True,
            runs_dir: str | Path | None = None, **train_options) -> Leaderboard:
    """Train each model with the same split, seed and budget, and rank them.

    Args:
        data: a prepared cache (or a source folder with a cache).
        target: what to learn (as for ``train``: an attribute, ``all``, a class column).
        models: names (list or ``"logreg,cnn"``) or a YAML file of ``- model: cnn`` /
            ``params: {...}`` entries.
        epochs, minutes: the budget of every model (one is enough).
        seed: the same seed for every run.
        metric: the leaderboard's ranking column.
        threads: ``torch.set_num_threads`` for training and timing.
        out: leaderboard folder (default ``runs/_leaderboards/<target>-<timestamp>``).
        runs_dir: the runs folder (default ``$FACELAB_RUNS`` or ``./runs``).
        **train_options: passed to every ``train()`` call (e.g. ``batch_size=64``).

    Example: docs/python.md#compare-and-search.
    """
    from ..train.trainer import train

    if epochs is None and minutes is None:
        raise ConfigError("compare needs a budget", fix="pass --epochs N or --minutes M (the same for every model)")
    entries = parse_models(models)
    if metric not in COLUMNS:
        raise ConfigError(f"unknown metric {metric!r}", fix="use accuracy, balanced_accuracy, f1 or roc_auc")
    from ..data.prepared import open_prepared
    from ..runs.task import resolve_task

    # resolve the target now: a typo fails before the first model trains, and names are readable
    task_name = resolve_task(open_prepared(data), target).name
    set_threads(threads)
    folder = Path(out) if out is not None else leaderboard_folder(task_name, runs_dir=runs_dir)
    from ..outputs import check_folder  # refuse a user's folder before training anything

    check_folder(folder, what="leaderboard folder", recognise=is_leaderboard_folder)
    stamp = folder.name.rsplit("-", 2)
    tag = "-".join(stamp[-2:]) if len(stamp) >= 3 else datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    rows, used, items, infos = [], set(), {}, {}
    for i, e in enumerate(entries):
        e = dict(e)
        model = e.pop("model")
        name = e.pop("name", None) or f"cmp-{safe_part(task_name)}-{tag}-{model}"
        if name in used:
            name = f"{name}-{i}"
        used.add(name)
        # models compared on equal terms: no per-task recipe (cnn-only parameters) unless asked
        opts = {"recipe": "none", **train_options, **e}
        log.info("(%d/%d) training %s as %s", i + 1, len(entries), model, name)
        t0 = time.perf_counter()
        run = train(data, target=target, model=model, epochs=epochs, minutes=minutes, name=name, seed=seed,
                    runs_dir=runs_dir, **opts)
        train_s = time.perf_counter() - t0
        rows.append(score_run(run, train_s=train_s, progress=False, items=items))
        infos[run.name] = {"kind": run.task.kind, "classes": list(run.task.classes), "metrics": run.metrics}
    board = Leaderboard(rank(rows, metric), metric=metric, target=task_name, data=str(data))
    budget = (f"{epochs} epoch{'s' * (epochs != 1)}" if epochs else f"{minutes:g} minute{'s' * (minutes != 1)}")
    board.notes.append(f"budget: {budget} per model, seed {seed}")
    board.notes += training_notes(board.table, infos)
    board.notes += paired_notes(board.table, items)
    board.save(folder, title=f"{task_name}: {metric} against cost")
    return board
