"""A leaderboard: a ranked table of runs, written as csv/json/md/png, and finding the boards.

``runs/_leaderboards/<target>-<timestamp>/leaderboard.{csv,json,md,png}`` is written by
``facelab compare`` and ``facelab search``. :func:`find_leaderboards`, :func:`load_leaderboard`
and :func:`ordered_run_names` are what the CLI, the API and the dashboard call to show them.

Example:
    >>> board = rank([{"run": "a", "accuracy": 0.8}, {"run": "b", "accuracy": 0.9}])
    >>> list(board["run"])
    ['b', 'a']
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import FacelabError
from . import metrics as M
from . import plots as P
from ..runs.layout import LEADERBOARD, is_generator_run, is_run_folder, safe_part

COLUMNS = ["rank", "run", "model", "params", "accuracy", "accuracy_low", "accuracy_high", "balanced_accuracy",
           "f1", "roc_auc", "ece", "split", "n_eval", "train_s", "latency_ms", "throughput", "parameters"]


def is_leaderboard_folder(path: Path) -> bool:
    """A leaderboard folder facelab wrote without the :mod:`facelab.outputs` marker."""
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

        folder = claim_folder(folder, what="leaderboard folder", recognise=is_leaderboard_folder)
        self.table.to_csv(folder / LEADERBOARD, index=False)
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
        """A board written by :meth:`save` (a board without ``leaderboard.json`` gets the
        default metric and no target)."""
        folder = Path(folder)
        meta = json.loads((folder / "leaderboard.json").read_text()) if (folder / "leaderboard.json").is_file() else {}
        return cls(pd.read_csv(folder / LEADERBOARD), path=folder, **meta)

    def renderables(self) -> list:
        """The board as Rich renderables: the table, then the notes and where it was written (the
        surfaces print them)."""
        from rich.table import Table
        from rich.text import Text

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
        out: list = [t]
        out += [Text(n, style="dim" if not is_paired_note(n) else "") for n in self.notes]
        if self.path:
            out.append(Text(f"written to {self.path}"))
        return out


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
    with a paired 95% bootstrap interval and :func:`~facelab.evaluate.metrics.paired_difference`'s
    p-value (McNemar's exact test for 0/1 scores), and whether the gap is more than noise.

    ``items`` holds ``{run: (rows, per-image accuracy)}`` from :func:`score_run`; a run missing
    from it (a compare run on a board that search trials joined later) is predicted again on its
    split, and a run that no longer loads is left out.

    Example: docs/python.md#evaluation.
    """
    items = {} if items is None else items
    if len(table) < 2:
        return []

    def scores(r):
        if r["run"] not in items:
            from .report import predict_split
            from ..runs import Run

            try:
                pred = predict_split(Run.load(r["run"]), split=str(r["split"]), progress=False)
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
    runs whose metrics have no ``steps`` are judged on epochs alone).

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
        if m.get("degenerate"):  # judged on validation when it trained (runs/degenerate.py)
            said.append(f"degenerate: it {m['degenerate']}")
        elif info.get("kind") in ("binary", "multiclass") and bal is not None and not pd.isna(bal) \
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


def leaderboard_folder(target: str, kind: str = "", runs_dir: str | Path | None = None) -> Path:
    """A new board's folder: ``<runs folder>/_leaderboards/<kind><target>-<UTC time>``."""
    from ..paths import runs_root

    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    safe = safe_part(target)
    return runs_root(runs_dir) / "_leaderboards" / f"{kind}{safe}-{stamp}"


# -- finding and reading boards (the CLI, the API and the dashboard call these) -------------------
def find_leaderboards(root: str | Path | None = None, *, depth: int = 3) -> list[Path]:
    """Every ``leaderboard.csv`` under ``root`` (default ``runs_root()``), at most ``depth``
    folders down, newest first. Run folders are not searched (a board is not kept in a run)."""
    from ..paths import runs_root

    root = Path(root) if root is not None else runs_root()
    found: list[Path] = []

    def walk(folder: Path, level: int) -> None:
        try:
            entries = sorted(folder.iterdir())
        except OSError:
            return
        for p in entries:
            if p.name == LEADERBOARD and p.is_file():
                found.append(p)
            elif p.is_dir() and not p.is_symlink() and level < depth and not is_run_folder(p):
                walk(p, level + 1)

    if root.is_dir():
        walk(root, 0)
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def load_leaderboard(path: str | Path) -> Leaderboard:
    """A board from its folder or its ``leaderboard.csv`` (see :meth:`Leaderboard.load`)."""
    path = Path(path)
    return Leaderboard.load(path.parent if path.name == LEADERBOARD else path)


def newest_leaderboard(root: str | Path | None = None) -> tuple[float, list[str]] | None:
    """The newest board under ``root``: its time and its runs, best first (None when there is
    none or it cannot be read: a half-written or foreign file)."""
    for board in find_leaderboards(root)[:1]:
        try:
            table = pd.read_csv(board, usecols=["rank", "run"])
            return board.stat().st_mtime, table.sort_values("rank")["run"].astype(str).tolist()
        except (OSError, ValueError):  # gone, half-written, or without those columns (pandas' errors are ValueErrors)
            return None
    return None


def ordered_run_names(root: str | Path) -> list[str]:
    """Run folders inside ``root``, newest first (folder time), except that the winner of the newest
    leaderboard leads when no run outside that board is newer than it: after a `facelab compare`
    a listing opens on its best model, not on whichever it happened to train last, while a run
    trained after the comparison still comes first. Generator runs (:mod:`facelab.generate`) are
    left out: they make faces, they do not classify them (the dashboard gives them their own page)."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = {p.name: p.stat().st_mtime for p in root.iterdir() if is_run_folder(p) and not is_generator_run(p)}
    names = sorted(found, key=found.get, reverse=True)
    board = newest_leaderboard(root)
    if board is not None and board[1] and board[1][0] in found:
        when, ranked = board
        if not any(t > when for name, t in found.items() if name not in ranked):
            names.remove(ranked[0])
            names.insert(0, ranked[0])
    return names
