"""``facelab search``: Optuna over learning rate, width, resolution and augmentation strength.

Each trial is a real run (``runs/search-<study>-<n>``) trained with :func:`train` on a per-trial
budget (``epochs``); the study is bounded by ``trials`` and/or ``minutes``. The sampler is TPE,
seeded, so the same command proposes the same first trials. Trials are ranked by their
*validation* score (choosing on test would leak it); the test figures are reported next to it in a
leaderboard of the same format as :func:`facelab.experiments.compare.compare`.

The search space (``space()`` lists it for a model):

- ``lr``: log-uniform in [1e-4, 3e-2] (torch models); ``C`` log-uniform in [1e-3, 10] (``logreg``);
- ``width``: the first stage width of ``cnn`` (16–48; later stages double it), ``width_mult`` of
  models that take one, or ``n_components`` of ``logreg`` (32–256);
- ``resolution``: image sides not above the cache's; a smaller side is served by a *derived cache*
  resized once from the prepared one (``INTER_AREA``) and kept under
  ``prepared_root()/_resized/`` — so every trial still reads a uint8 memmap, the run's
  ``input.json`` records the size it was trained at, and the predictor reproduces it;
- ``augment``: a strength in [0, 1.5] multiplying the default shift, scale, rotation and
  brightness/contrast jitter (0 switches augmentation off; torch models only).

Trials are pruned with Optuna's median pruner on the per-epoch validation accuracy the trainer
reports to its ``callbacks`` (a pruned run is stopped through the trainer's Ctrl-C path, so its
folder is left consistent and marked interrupted).

Example: docs/python.md#compare-and-search.
"""
from __future__ import annotations

import inspect
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..runs.layout import LEADERBOARD, safe_part
from ..train.config import TrainConfig
from ..evaluate.leaderboard import (Leaderboard, is_leaderboard_folder, is_paired_note, leaderboard_folder,
                                    paired_notes, rank)
from .compare import score_run, set_threads

log = logging.getLogger(__name__)

RESOLUTIONS = (32, 40, 48, 56, 64, 80, 96, 112, 128)
AUG_DEFAULTS = {k: getattr(TrainConfig, k) for k in ("shift", "scale", "rotate", "jitter")}


def resized_cache(data, size: int, *, progress: bool = False, home: str | Path | None = None) -> Path:
    """A prepared cache at ``size`` derived from ``data`` (resized once, then reused).

    Example: docs/python.md#compare-and-search.
    """
    import cv2

    from ..data.prepared import IMAGES_FILE, META_FILE, open_prepared
    from ..paths import prepared_root

    ds = open_prepared(data)
    if size == ds.size:
        return ds.path
    if size > ds.size:
        raise ConfigError(f"resolution {size} is larger than the cache's {ds.size} px", path=ds.path,
                          fix=f"prepare the data at --size {size} or search sizes up to {ds.size}")
    # _resized/ is one level deeper than caches: open_prepared(source) never picks a derived cache
    out = prepared_root(home) / "_resized" / f"{ds.path.name}-r{size}"
    if (out / META_FILE).is_file() and json.loads((out / META_FILE).read_text()).get("complete"):
        return out
    out.mkdir(parents=True, exist_ok=True)
    n, c = len(ds), ds.channels
    mm = np.memmap(out / IMAGES_FILE, dtype=np.uint8, mode="w+", shape=(n, size, size, c))
    for i in range(0, n, 2048):
        for j, im in enumerate(np.asarray(ds.images[i:i + 2048])):
            mm[i + j] = cv2.resize(im, (size, size), interpolation=cv2.INTER_AREA).reshape(size, size, c)
    mm.flush()
    del mm
    ds.manifest.save(out)
    meta = dict(ds.meta)
    meta.update(size=size, complete=True, derived_from=str(ds.path),
                options={**dict(ds.meta.get("options") or {}), "size": size, "resized_from": ds.size})
    (out / META_FILE).write_text(json.dumps(meta, indent=2))
    return out


def space(model: str, cache_size: int, sizes=None) -> dict:
    """The search space for ``model`` on a cache of side ``cache_size``.

    Args:
        sizes: candidate resolutions (default: the standard sides up to the cache's).
    """
    from ..models import get_model

    spec = get_model(model)
    if sizes:
        sizes = sorted({int(s) for s in sizes})
        if sizes[-1] > cache_size or sizes[0] < 8:
            raise ConfigError(f"resolutions {sizes} must lie in 8..{cache_size} (the cache's size)",
                              fix=f"pass --sizes up to {cache_size}, or prepare the data larger")
    else:
        sizes = [s for s in RESOLUTIONS if s <= cache_size] or [cache_size]
        if cache_size not in sizes:
            sizes.append(cache_size)
    if not spec.trains_in_epochs:
        return {"C": ("log", 1e-3, 10.0), "n_components": ("int", [32, 64, 128, 256]),
                "resolution": ("int", sizes)}
    sp = {"lr": ("log", 1e-4, 3e-2), "resolution": ("int", sizes), "augment": ("float", 0.0, 1.5)}
    width = _width_param(spec)
    if width == "widths":
        sp["width"] = ("int", [16, 24, 32, 48])
    elif width == "width_mult":
        sp["width"] = ("float_choice", [0.35, 0.5, 0.75, 1.0])
    elif width == "width":
        sp["width"] = ("int", [16, 24, 32, 48, 64])
    return sp


def _width_param(spec) -> str | None:
    names = set(spec.default_params)
    try:
        build = spec.build
        target = build.__wrapped__ if hasattr(build, "__wrapped__") else build
        names |= set(inspect.signature(target).parameters)
        if isinstance(target, type):
            names |= set(inspect.signature(target.__init__).parameters)
    except (TypeError, ValueError):
        pass
    for n in ("widths", "width_mult", "width"):
        if n in names:
            return n
    return None


def _suggest(trial, model: str, sp: dict) -> tuple[dict, dict, int]:
    """Optuna suggestions → (train options, model params, resolution)."""
    from ..models import get_model

    spec = get_model(model)
    opts: dict = {}
    params: dict = {}
    res = int(trial.suggest_categorical("resolution", sp["resolution"][1]))
    if not spec.trains_in_epochs:
        params["C"] = trial.suggest_float("C", sp["C"][1], sp["C"][2], log=True)
        params["n_components"] = int(trial.suggest_categorical("n_components", sp["n_components"][1]))
        return opts, params, res
    opts["lr"] = trial.suggest_float("lr", sp["lr"][1], sp["lr"][2], log=True)
    if "width" in sp:
        w = trial.suggest_categorical("width", sp["width"][1])
        kind = _width_param(spec)
        if kind == "widths":
            depth = len(spec.default_params.get("widths", (32, 64, 128, 256)))
            params["widths"] = [int(w) * 2 ** i for i in range(depth)]
        else:
            params[kind] = w
    strength = trial.suggest_float("augment", sp["augment"][1], sp["augment"][2])
    if strength < 0.05:
        opts["augment"] = False
    else:
        opts["augment"] = True
        opts.update({k: round(v * strength, 4) for k, v in AUG_DEFAULTS.items()})
    return opts, params, res


def _train_accepts(name: str) -> bool:
    from ..train.trainer import train

    return name in inspect.signature(train).parameters


def search(data, *, target, model: str = "cnn", trials: int | None = None, minutes: float | None = None,
           epochs: int = 2, seed: int = 0, study: str | None = None, metric: str = "accuracy", sizes=None,
           prune: bool = True, threads: int | None = None, out=None, join=None,
           runs_dir: str | Path | None = None, home: str | Path | None = None, **train_options) -> Leaderboard:
    """Search hyper-parameters of one model with Optuna; every trial is a run on the leaderboard.

    Args:
        data: a prepared cache (or a source folder with a cache).
        target: what to learn (as for ``train``).
        model: a registered model name.
        trials, minutes: bounds of the study (at least one).
        epochs: training budget of each trial.
        seed: seeds the sampler and every run.
        study: the study name (default ``<model>-<target>-<timestamp>``); runs are
            ``search-<study>-<n>``.
        metric: validation metric to maximise (accuracy, balanced_accuracy, f1, roc_auc).
        sizes: candidate resolutions (list or ``"32,48"``; default the standard sides up to the
            cache's).
        prune: stop trials whose per-epoch validation accuracy is below the median of earlier
            trials at the same epoch.
        join: a leaderboard folder (from ``compare``) that the trials join: its table gains the
            trials' rows, re-ranked by the test ``metric`` like the rest of that board.
        runs_dir: the runs folder (default ``$FACELAB_RUNS`` or ``./runs``).
        home: facelab's working folder, where resized caches are kept (default ``$FACELAB_HOME``).
        **train_options: passed to every ``train()`` (e.g. ``batch_size``).

    Returns:
        A :class:`Leaderboard` ranked by ``val_<metric>``, written with ``trials.csv`` and
        ``best.json`` (the best parameters).

    Example: docs/python.md#compare-and-search.
    """
    import optuna

    from ..data.prepared import open_prepared
    from ..runs.task import resolve_task

    _check_bounds(trials, minutes, join, metric)
    set_threads(threads)
    ds = open_prepared(data)
    if isinstance(sizes, str):
        sizes = [int(v) for v in sizes.split(",") if v.strip()]
    sp = space(model, ds.size, sizes)
    task_name = resolve_task(ds, target).name  # fails on a typo before any trial runs
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    study_name = safe_part(study or f"{model}-{task_name}-{stamp}")
    folder = _board_folder(out, study, study_name, runs_dir)
    trial = _Trials(ds=ds, model=model, sp=sp, study_name=study_name, target=target, epochs=epochs, seed=seed,
                    metric=metric, prune=prune and _train_accepts("callbacks"), runs_dir=runs_dir, home=home,
                    train_options=train_options)

    sampler = optuna.samplers.TPESampler(seed=seed)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1) if trial.prune else None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    st = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner, study_name=study_name)
    st.optimize(trial, n_trials=trials, timeout=minutes * 60 if minutes else None, catch=(), gc_after_trial=True)

    board = Leaderboard(rank(trial.rows, "val_" + metric), metric="val_" + metric, target=task_name,
                        data=str(data))
    board.notes.append(f"Optuna TPE (seed {seed}) over {', '.join(sp)}; {len(st.trials)} trials, "
                       f"{epochs} epoch(s) each; ranked on validation, test shown alongside")
    _write_study(folder, st, board, metric)
    board.save(folder, title=f"search {study_name}: {metric}")
    if join is not None and trial.rows:
        _join(Path(join), trial.rows, metric, trial.items)
    return board


def _check_bounds(trials, minutes, join, metric: str) -> None:
    if trials is None and minutes is None:
        raise ConfigError("search needs a bound", fix="pass --trials N and/or --minutes M")
    if join is not None and not (Path(join) / LEADERBOARD).is_file():
        raise ConfigError(f"{join} is not a leaderboard folder (no leaderboard.csv)", path=join,
                          fix="pass a folder written by `facelab compare` (runs/_leaderboards/...)")
    if trials is not None and trials < 1:
        raise ConfigError(f"trials must be at least 1 (got {trials})", fix="pass --trials 1 or more")
    if metric not in ("accuracy", "balanced_accuracy", "f1", "roc_auc"):
        raise ConfigError(f"unknown metric {metric!r}", fix="use accuracy, balanced_accuracy, f1 or roc_auc")


def _board_folder(out, study: str | None, study_name: str, runs_dir) -> Path:
    """The study's leaderboard folder, refused early when it is a user's folder."""
    from ..outputs import check_folder

    if out is not None:
        folder = Path(out)
    elif study:  # a name the user chose may be reused: keep earlier boards
        folder = leaderboard_folder(study_name, "search-", runs_dir=runs_dir)
    else:
        folder = leaderboard_folder("", "search-", runs_dir=runs_dir).parent / f"search-{study_name}"
    check_folder(folder, what="leaderboard folder", recognise=is_leaderboard_folder)
    return folder


@dataclass
class _Trials:
    """Optuna's objective: one trial is one run trained, scored on val (ranking) and test (shown)."""

    ds: object
    model: str
    sp: dict
    study_name: str
    target: object
    epochs: int
    seed: int
    metric: str
    prune: bool
    runs_dir: object
    home: object
    train_options: dict
    rows: list = field(default_factory=list)
    #: run -> (rows, per-image test accuracy), for the pairings of a joined board
    items: dict = field(default_factory=dict)

    def __call__(self, trial) -> float:
        import optuna

        from ..train.trainer import train

        opts, params, res = _suggest(trial, self.model, self.sp)
        cache = resized_cache(self.ds.path, res, home=self.home)
        name = f"search-{self.study_name}-{trial.number}"
        pruned: list = []
        extra = {"callbacks": [self._pruner(trial, pruned)]} if self.prune else {}
        log.info("trial %d %s: resolution %s, %s", trial.number, name, res,
                 ", ".join(f"{k}={v}" for k, v in {**opts, **params}.items()))
        t0 = time.perf_counter()
        # a search explores the options itself: no recipe underneath unless asked (train/recipes.py)
        base = {"recipe": "none", **self.train_options}
        params = {**(base.pop("params", None) or {}), **params}
        try:
            run = train(cache, target=self.target, model=self.model, epochs=self.epochs, name=name, seed=self.seed,
                        runs_dir=self.runs_dir, **{**base, **opts}, params=params, **extra)
        except KeyboardInterrupt:
            if not pruned:
                raise  # a real Ctrl-C stops the study
            log.info("  pruned after epoch %d", pruned[0])
            raise optuna.TrialPruned() from None
        train_s = time.perf_counter() - t0
        val = score_run(run, split="val", timing=False)
        row = score_run(run, split="test", train_s=train_s, items=self.items)
        row.update({"val_" + self.metric: val[self.metric], "trial": trial.number, "resolution": res,
                    **{k: v for k, v in trial.params.items() if k != "resolution"}})
        if self.metric != "accuracy":
            row["val_accuracy"] = val["accuracy"]
        self.rows.append(row)
        value = val[self.metric]
        return float("nan") if value is None else float(value)

    @staticmethod
    def _pruner(trial, pruned: list):
        def on_epoch(end) -> None:
            v = (end.history or {}).get("val_accuracy")
            if v is not None and np.isfinite(v):
                trial.report(float(v), end.epoch)
                if trial.should_prune():
                    pruned.append(end.epoch)
                    # the trainer's Ctrl-C path saves the run cleanly; the trial turns it into a prune
                    raise KeyboardInterrupt
        return on_epoch


def _write_study(folder: Path, st, board: Leaderboard, metric: str) -> None:
    """``trials.csv`` and ``best.json`` (the board's top row) into the board's folder."""
    from ..outputs import claim_folder

    folder = claim_folder(folder, what="leaderboard folder", recognise=is_leaderboard_folder)
    st.trials_dataframe().to_csv(folder / "trials.csv", index=False)
    if len(board.table):
        # the board's top row (ties broken by training time), not Optuna's first-best, so the two agree
        top = board.table.iloc[0]
        best = st.trials[int(top["trial"])]
        (folder / "best.json").write_text(json.dumps({"value": best.value, "params": best.params,
                                                      "run": str(top["run"])}, indent=2))
        log.info("best trial %d: val %s %.4f with %s", best.number, metric, best.value,
                 ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in best.params.items()))


def _join(folder: Path, rows: list[dict], metric: str, items: dict | None = None) -> Leaderboard:
    """Add the trials to a compare leaderboard, re-ranked by that board's (test) metric."""
    board = Leaderboard.load(folder)
    done = set(board.table["run"].astype(str))
    new = [r for r in rows if r["run"] not in done]  # joining twice does not duplicate rows
    records = board.table.drop(columns=["rank"], errors="ignore").to_dict(orient="records") + new
    if not (folder / "leaderboard.json").is_file():  # a board that does not record its metric
        board.metric = metric
    board.table = rank(records, board.metric)
    # the pairings were made against the old top row: redo them against the new one
    board.notes = [n for n in board.notes if not is_paired_note(n)]
    board.notes.append(f"{len(new)} search trial(s) joined this board")
    board.notes += paired_notes(board.table, items)  # the trials' test scores are at hand
    board.save(folder, title=f"{board.target}: {board.metric} against cost")
    log.info("%d trial(s) joined the leaderboard in %s", len(new), folder)
    return board
