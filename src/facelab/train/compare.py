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

Example:
    >>> board = compare("celeba-64", target="Smiling", models="logreg,cnn", minutes=2)  # doctest: +SKIP
    >>> print(board.to_markdown())                                                      # doctest: +SKIP
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ConfigError, FacelabError
from . import metrics as M
from . import plots as P

COLUMNS = ["rank", "run", "model", "params", "accuracy", "accuracy_low", "accuracy_high", "balanced_accuracy",
           "f1", "roc_auc", "ece", "split", "n_eval", "train_s", "latency_ms", "throughput", "parameters"]



def _leaderboard_folder(path: Path) -> bool:
    """A leaderboard folder an older facelab wrote (before the :mod:`facelab.outputs` marker)."""
    from ..outputs import folder_with_files

    return folder_with_files("leaderboard.json")(path)

@dataclass
class Leaderboard:
    """A ranked table of runs (one row each) and where it was written.

    Attributes:
        table: columns ``rank, run, model, params, accuracy, accuracy_low, accuracy_high,
            balanced_accuracy, f1, roc_auc, ece, split, n_eval, train_s, latency_ms, throughput,
            parameters`` (+ extra columns such as ``val_accuracy`` for a search); ``accuracy_low``
            and ``accuracy_high`` bound the accuracy's 95% interval over the evaluation images.
        path: the leaderboard folder.
        metric: the column rows are ranked by.
    """

    table: pd.DataFrame
    path: Path | None = None
    metric: str = "accuracy"
    target: str = ""
    data: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def run_names(self) -> list[str]:
        return list(self.table["run"]) if len(self.table) else []

    @property
    def best_run(self) -> str | None:
        return str(self.table.iloc[0]["run"]) if len(self.table) else None

    def to_markdown(self) -> str:
        return M.markdown_table(self.table)

    def to_dict(self) -> dict:
        return M.as_jsonable({"path": str(self.path) if self.path else None, "metric": self.metric,
                              "target": self.target, "data": self.data, "notes": self.notes,
                              "rows": self.table.to_dict(orient="records")})

    def save(self, folder: str | Path, title: str = "") -> Path:
        """Write ``leaderboard.csv``, ``leaderboard.json`` (metric, target, data, notes),
        ``leaderboard.md`` and ``leaderboard.png`` into ``folder``."""
        from ..outputs import claim_folder  # never write into a user's folder

        folder = claim_folder(folder, what="leaderboard folder", recognise=_leaderboard_folder)
        self.table.to_csv(folder / "leaderboard.csv", index=False)
        meta = {k: v for k, v in self.to_dict().items() if k not in ("rows", "path")}
        (folder / "leaderboard.json").write_text(json.dumps(meta, indent=1))
        head = [f"# Leaderboard: {self.target}", "", f"Data `{self.data}`; ranked by {self.metric} "
                f"on the {', '.join(sorted(set(map(str, self.table.get('split', [])))))} split.", ""]
        head += [f"> {n}" for n in self.notes]
        (folder / "leaderboard.md").write_text("\n".join(head + ["", self.to_markdown(), "",
                                                                 "![leaderboard](leaderboard.png)", ""]))
        if len(self.table):
            P.plot_leaderboard(self.table, folder / "leaderboard.png", self.metric, title or self.target)
        self.path = folder
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> "Leaderboard":
        """A board written by :meth:`save` (a board from before ``leaderboard.json`` existed gets
        the default metric and no target)."""
        folder = Path(folder)
        meta = json.loads((folder / "leaderboard.json").read_text()) if (folder / "leaderboard.json").is_file() else {}
        return cls(pd.read_csv(folder / "leaderboard.csv"), path=folder, **meta)

    def print(self, console=None) -> None:
        """Print the board as a Rich table."""
        from rich.console import Console
        from rich.table import Table

        con = console or Console()
        if not con.is_terminal and con.width < 140:  # piped output: do not squeeze the columns
            con = Console(width=140)
        t = Table(title=f"{self.target}: ranked by {self.metric}", show_lines=False)
        heads = {"rank": "#", "run": "run", "model": "model", "accuracy": "acc", "balanced_accuracy": "bal acc",
                 "f1": "F1", "roc_auc": "AUC", "val_accuracy": "val acc", "train_s": "train s",
                 "latency_ms": "ms/face", "throughput": "faces/s", "parameters": "params"}
        cols = [c for c in heads if c in self.table.columns]
        if {"accuracy_low", "accuracy_high"} <= set(self.table.columns) and "accuracy" in cols:
            cols.insert(cols.index("accuracy") + 1, "ci")  # the accuracy's 95% interval
            heads["ci"] = "95% CI"
        for c in cols:
            t.add_column(heads[c], justify="left" if c in ("run", "model") else "right",
                         overflow="fold" if c == "run" else "ellipsis", no_wrap=c != "run")
        for _, r in self.table.iterrows():
            t.add_row(*[_interval(r) if c == "ci" else _cell(r[c], c) for c in cols])
        con.print(t)
        for n in self.notes:
            con.print(n, style="dim" if not is_paired_note(n) else None, markup=False, highlight=False)
        if self.path:
            con.print(f"written to {self.path}")


def _interval(r) -> str:
    lo, hi = r.get("accuracy_low"), r.get("accuracy_high")
    if lo is None or hi is None or pd.isna(lo) or pd.isna(hi):
        return "–"
    return f"{lo:.3f}–{hi:.3f}"


def _cell(v, col: str) -> str:
    if v is None or v is pd.NA or (np.isscalar(v) and pd.isna(v)):
        return "–"
    if col in ("train_s",):
        return f"{v:.1f}"
    if col == "latency_ms":
        return f"{v:.2f}"
    if col in ("throughput", "parameters"):
        return f"{int(v):,}"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


# -- what to compare -----------------------------------------------------------------------------
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

    Example:
        >>> measure_inference(run, ds.images[:256])  # doctest: +SKIP
        {'latency_ms': 2.1, 'throughput': 3100.0}
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
    except Exception:  # noqa: BLE001 - a count is a nicety, never a failure
        return None


def score_run(run, *, data=None, split: str = "test", train_s: float | None = None,
              timing: bool = True, progress: bool = False, items: dict | None = None) -> dict:
    """One leaderboard row for a finished run: metrics on ``split`` plus timings.

    ``items``, when given, receives ``{run name: (rows, per-image accuracy)}`` for paired
    comparisons (:func:`paired_notes`)."""
    from ..data.prepared import open_prepared
    from .evaluate import load_run, predict_split

    run = load_run(run)
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
            from .evaluate import _resize

            imgs = _resize(imgs, size)
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


def rank(rows: list[dict], metric: str = "accuracy") -> pd.DataFrame:
    """Rows → a table sorted by ``metric`` (best first; ties: faster training first)."""
    df = pd.DataFrame(rows)
    for c in COLUMNS[1:]:
        if c not in df.columns:
            df[c] = None
    if len(df):
        df = df.sort_values([metric, "train_s"], ascending=[False, True], na_position="last", kind="stable")
    df.insert(0, "rank", range(1, len(df) + 1))
    for col, nd in (("train_s", 2), ("latency_ms", 3)):
        df[col] = pd.to_numeric(df[col], errors="coerce").round(nd)
    for col in ("accuracy_low", "accuracy_high"):
        df[col] = pd.to_numeric(df[col], errors="coerce")
    for col in ("throughput", "parameters", "n_eval"):  # counts print as counts
        df[col] = pd.to_numeric(df[col], errors="coerce").round(0).astype("Int64")
    extra = [c for c in df.columns if c not in COLUMNS]
    return df[COLUMNS + extra].reset_index(drop=True)


def paired_notes(table: pd.DataFrame, items: dict | None = None) -> list[str]:
    """One line per run below the top: its accuracy against the top run's on the same images,
    with a paired 95% bootstrap interval and :func:`~facelab.train.metrics.paired_difference`'s
    p-value (McNemar's exact test for 0/1 scores), and whether the gap is more than noise.

    ``items`` holds ``{run: (rows, per-image accuracy)}`` from :func:`score_run`; a run missing
    from it (a compare run on a board that search trials joined later) is predicted again on its
    split, and a run that no longer loads is left out.

    Example:
        >>> paired_notes(board.table, items)  # doctest: +SKIP
        ['#1 cnn vs #2 logreg: +1.0 accuracy points on the same 200 test images (95% CI -2.5 to +4.5; ...']
    """
    items = {} if items is None else items
    if len(table) < 2:
        return []

    def scores(r):
        if r["run"] not in items:
            from .evaluate import load_run, predict_split

            try:
                pred = predict_split(load_run(r["run"]), split=str(r["split"]), progress=False)
            except FacelabError:  # a deleted or broken run is left out of the comparison, not fatal
                return None
            items[r["run"]] = (np.asarray(pred.rows), M.per_item_accuracy(pred.y, pred.prob, pred.kind))
        return items[r["run"]]

    top = table.iloc[0]
    first = scores(top)
    if first is None:
        return []
    notes = []
    pts = lambda v: f"{100 * v:+.1f}"  # noqa: E731 - accuracy points
    for _, r in table.iloc[1:].iterrows():
        other = scores(r)
        if other is None:
            continue
        if len(other[0]) != len(first[0]) or not np.array_equal(other[0], first[0]):
            notes.append(f"#1 {top['model']} vs #{r['rank']} {r['model']}: scored on different images, "
                         f"not compared")
            continue
        d = M.paired_difference(first[1], other[1])
        verdict = ("more than noise" if d["significant"] else
                   "within noise (more evaluation images or seeds are needed to separate them)")
        notes.append(f"#1 {top['model']} vs #{r['rank']} {r['model']}: {pts(d['difference'])} accuracy points on the "
                     f"same {d['n']} {r['split']} images (95% CI {pts(d['low'])} to {pts(d['high'])}; "
                     f"#1 better on {d['wins']}, worse on {d['losses']}; p = {d['p']:.2g}): {verdict}")
    return notes


def is_paired_note(note: str) -> bool:
    """A line written by :func:`paired_notes` (it goes stale when the board is re-ranked)."""
    return note.startswith("#1 ") and " vs #" in note


FEW_EPOCHS = 5  # a network the budget stopped sooner than this is reported as under-trained
FEW_STEPS = 100  # ... or after fewer optimizer steps than this (a small dataset has few per epoch)


def training_notes(table: pd.DataFrame, runs: dict) -> list[str]:
    """Warnings that keep a ranking from being misread: a model whose balanced accuracy is at
    chance (it learned nothing usable: always the commonest class, or a coin), and a network the
    time budget stopped after fewer than ``FEW_EPOCHS`` epochs or ``FEW_STEPS`` optimizer steps
    (under-trained for this budget, which says little about the architecture; on a small dataset
    an epoch is only a few steps, so epochs alone can look like enough).

    ``runs`` maps run names to ``{"kind", "classes", "metrics"}`` (the task and ``metrics.json``;
    runs saved before ``steps`` was recorded are judged on epochs alone).

    Example:
        >>> t = pd.DataFrame([{"rank": 2, "run": "r", "model": "mobilenetv2", "balanced_accuracy": 0.125}])
        >>> info = {"r": {"kind": "multiclass", "classes": list("abcdefgh"),
        ...               "metrics": {"epochs": 3, "steps": 24, "stop_reason": "minutes", "train_seconds": 63.0}}}
        >>> print(training_notes(t, info)[0])
        mobilenetv2: balanced accuracy 0.125 is chance for 8 classes, and the budget stopped it after 3 epochs (21 s each, 24 optimizer steps in all): under-trained, which says little about the model; give it more minutes
    """
    notes = []
    # named by model (by run when two share a model), never by rank: a join re-ranks the board
    models = table["model"].tolist() if "model" in table else []
    for _, r in table.iterrows():
        info = runs.get(r["run"])
        if not info:
            continue
        m = info.get("metrics") or {}
        said = []
        k = len(info.get("classes") or []) if info.get("kind") == "multiclass" else 2
        bal = r.get("balanced_accuracy")
        if info.get("kind") in ("binary", "multiclass") and bal is not None and not pd.isna(bal) \
                and bal <= 1 / k + 0.02:
            said.append(f"balanced accuracy {bal:.3f} is chance for {k} classes")
        epochs, steps = m.get("epochs"), m.get("steps")
        few = isinstance(epochs, int) and 0 < epochs and (
            epochs < FEW_EPOCHS or (isinstance(steps, int) and steps < FEW_STEPS))
        if m.get("stop_reason") == "minutes" and few:
            each = [f"{m['train_seconds'] / epochs:.0f} s each"] if m.get("train_seconds") else []
            if isinstance(steps, int):
                each.append(f"{steps} optimizer step{'s' * (steps != 1)} in all")
            each = f" ({', '.join(each)})" if each else ""
            said.append(f"the budget stopped it after {epochs} epoch{'s' * (epochs != 1)}{each}: "
                        "under-trained, which says little about the model; give it more minutes")
        elif said:
            said[-1] += ": it learned nothing usable in this budget"
        if said:
            who = r["model"] if models.count(r["model"]) == 1 else r["run"]
            notes.append(f"{who}: " + ", and ".join(said))
    return notes


def leaderboard_folder(target: str, kind: str = "") -> Path:
    from ..paths import runs_root

    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in str(target))[:40]
    return runs_root() / "_leaderboards" / f"{kind}{safe}-{stamp}"


def _threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(int(threads))


def compare(data, *, target, models, epochs: int | None = None, minutes: float | None = None, seed: int = 0,
            metric: str = "accuracy", threads: int | None = None, out=None, progress: bool = True,
            console=None, **train_options) -> Leaderboard:
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
        **train_options: passed to every ``train()`` call (e.g. ``batch_size=64``).

    Example:
        >>> board = compare(ds.path, target="Smiling", models=["logreg", "cnn"], epochs=2)  # doctest: +SKIP
        >>> board.best_run                                                                # doctest: +SKIP
    """
    from rich.console import Console

    from .trainer import train

    if epochs is None and minutes is None:
        raise ConfigError("compare needs a budget", fix="pass --epochs N or --minutes M (the same for every model)")
    entries = parse_models(models)
    if metric not in COLUMNS:
        raise ConfigError(f"unknown metric {metric!r}", fix="use accuracy, balanced_accuracy, f1 or roc_auc")
    from ..data.prepared import open_prepared
    from .task import resolve_task

    # resolve the target now: a typo fails before the first model trains, and names are readable
    task_name = resolve_task(open_prepared(data), target).name
    con = console or Console()
    _threads(threads)
    folder = Path(out) if out is not None else leaderboard_folder(task_name)
    from ..outputs import check_folder  # refuse a user's folder before training anything

    check_folder(folder, what="leaderboard folder", recognise=_leaderboard_folder)
    stamp = folder.name.rsplit("-", 2)
    tag = "-".join(stamp[-2:]) if len(stamp) >= 3 else datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    rows, used, items, infos = [], set(), {}, {}
    for i, e in enumerate(entries):
        e = dict(e)
        model = e.pop("model")
        name = e.pop("name", None) or f"cmp-{_safe(task_name)}-{tag}-{model}"
        if name in used:
            name = f"{name}-{i}"
        used.add(name)
        opts = {**train_options, **e}
        con.print(f"[bold]({i + 1}/{len(entries)}) training {model}[/] as {name}")
        t0 = time.perf_counter()
        run = train(data, target=target, model=model, epochs=epochs, minutes=minutes, name=name, seed=seed,
                    **opts)
        train_s = time.perf_counter() - t0
        rows.append(score_run(run, train_s=train_s, progress=False, items=items))
        infos[run.name] = {"kind": run.task.kind, "classes": list(run.task.classes), "metrics": run.metrics}
    board = Leaderboard(rank(rows, metric), metric=metric, target=task_name, data=str(data))
    budget = (f"{epochs} epoch{'s' * (epochs != 1)}" if epochs else f"{minutes:g} minute{'s' * (minutes != 1)}")
    board.notes.append(f"budget: {budget} per model, seed {seed}")
    board.notes += training_notes(board.table, infos)
    board.notes += paired_notes(board.table, items)
    board.save(folder, title=f"{task_name}: {metric} against cost")
    board.print(con)
    return board


def _safe(s) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in str(s))[:40]
