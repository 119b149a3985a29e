"""What every dashboard page shares: where the runs and reports are, and cached loaders.

The dashboard has no logic of its own: it reads run folders and report folders and calls the
library. Everything here is robust to a missing piece: a page says what to run instead.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

REPORT_SKIP = {"images.u8", "__pycache__", ".git", "node_modules"}


@dataclass(frozen=True)
class AppConfig:
    """The dashboard's folders, from ``-- --runs DIR --data DIR --api URL`` or the environment."""

    runs: Path
    data: Path | None
    api: str


def parse_config(argv: list[str] | None = None) -> AppConfig:
    """Read the dashboard's options (unknown arguments are ignored: Streamlit and tests add some).

    Example:
        >>> parse_config(["--runs", "runs", "--data", "facelab-demo"]).data
        PosixPath('facelab-demo')
    """
    from ..paths import runs_root

    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--runs", type=Path, default=None)
    p.add_argument("--data", type=Path, default=None)
    p.add_argument("--api", default=None)
    args, _ = p.parse_known_args(sys.argv[1:] if argv is None else argv)
    data = args.data or (Path(os.environ["FACELAB_APP_DATA"]) if os.environ.get("FACELAB_APP_DATA") else None)
    return AppConfig(runs=(args.runs or runs_root()).expanduser(),
                     data=data.expanduser() if data else None,
                     api=args.api or os.environ.get("FACELAB_APP_API", "http://127.0.0.1:8000"))


def config() -> AppConfig:
    """The config set by ``main.py`` for this session."""
    if "facelab_config" not in st.session_state:
        st.session_state["facelab_config"] = parse_config()
    return st.session_state["facelab_config"]


@st.cache_data(ttl=10, show_spinner=False)
def run_names(runs: str) -> list[str]:
    """Run folders (those with a config.yaml, as `list_runs` sees them) inside the runs folder, newest
    first, except that the winner of the newest leaderboard leads when no run outside that board is
    newer than it: after a `facelab compare` the pages open on its best model, not on whichever it
    happened to train last, while a run trained after the comparison still comes first."""
    root = Path(runs)
    if not root.is_dir():
        return []
    from ..generate.run import is_generator_run  # generator runs have their own page (views/generate.py)

    found = {p.name: p.stat().st_mtime for p in root.iterdir()
             if p.is_dir() and (p / "config.yaml").is_file() and not is_generator_run(p)}
    names = sorted(found, key=found.get, reverse=True)
    board = newest_leaderboard(root)
    if board is not None and board[1] and board[1][0] in found:
        when, ranked = board
        if not any(t > when for name, t in found.items() if name not in ranked):
            names.remove(ranked[0])
            names.insert(0, ranked[0])
    return names


def newest_leaderboard(root: Path) -> tuple[float, list[str]] | None:
    """The newest ``leaderboard.csv`` under ``root``: its time and its runs, best first (None when
    there is none or it cannot be read: a half-written or foreign file)."""
    import pandas as pd

    for board in find_files(root, "leaderboard.csv", depth=3)[:1]:
        try:
            table = pd.read_csv(board, usecols=["rank", "run"])
            return board.stat().st_mtime, table.sort_values("rank")["run"].astype(str).tolist()
        except Exception:
            return None
    return None


@st.cache_resource(show_spinner="loading run…", max_entries=16)
def load_run(path: str, mtime: float):
    """A ``Run`` (cached until its folder changes)."""
    from ..train.run import Run

    return Run.load(Path(path))


def get_run(cfg: AppConfig, name: str):
    path = cfg.runs / name
    return load_run(str(path), path.stat().st_mtime)


@st.cache_resource(show_spinner="loading predictor…", max_entries=8)
def load_predictor(path: str, mtime: float):
    """A ``Predictor`` for a run folder (cached until the folder changes)."""
    from ..predict.predictor import Predictor

    return Predictor.from_run(Path(path))


def flat_metrics(metrics: dict, prefix: str = "") -> dict[str, float]:
    """``{"test": {"accuracy": 0.9}}`` → ``{"test.accuracy": 0.9}`` (numbers only)."""
    out: dict[str, float] = {}
    for k, v in (metrics or {}).items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flat_metrics(v, key + "."))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[key] = float(v)
    return out


HEADLINE = ("accuracy", "acc", "balanced_accuracy", "auc", "roc_auc", "f1", "macro_f1", "mean_accuracy")


def headline(metrics: dict) -> tuple[str, float] | None:
    """The one number to show for a run: test accuracy (or AUC/F1) when there is one."""
    flat = flat_metrics(metrics)
    for split in ("test", "val", ""):
        for name in HEADLINE:
            for k in ((f"{split}.{name}", f"{split}_{name}") if split else (name,)):
                if k in flat:
                    return k, flat[k]
    return None


def read_json(path: Path) -> dict | list | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def find_files(root: Path | None, name: str, *, depth: int = 4) -> list[Path]:
    """Files called ``name`` under ``root`` (at most ``depth`` folders down), newest first."""
    if root is None or not root.is_dir():
        return []
    out: list[Path] = []

    def walk(folder: Path, level: int) -> None:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            return
        for e in entries:
            if e.name in REPORT_SKIP:
                continue
            if e.is_file() and e.name == name:
                out.append(Path(e.path))
            elif e.is_dir(follow_symlinks=False) and level < depth:
                walk(Path(e.path), level + 1)

    walk(root, 0)
    return sorted(out, key=lambda p: p.stat().st_mtime, reverse=True)


def find_reports(cfg: AppConfig, kind: str) -> list[Path]:
    """Report folders of ``kind`` ("explore" or "cluster") under the data folder (and FACELAB_HOME).

    A report folder holds ``report.html``; a cluster report is told apart by "cluster" in its
    path or a cluster JSON next to it.
    """
    from ..paths import home

    roots = [r for r in (cfg.data, home() / "reports") if r is not None]
    folders = []
    for root in roots:
        for html in find_files(root, "report.html"):
            folder = html.parent
            if any((p / "config.yaml").is_file() for p in list(html.parents)[:3]):
                continue  # a run's own evaluation report belongs to the Models page
            is_cluster = "cluster" in str(folder.relative_to(root)).lower() or any(folder.glob("cluster*.json"))
            if (kind == "cluster") == is_cluster and folder not in folders:
                folders.append(folder)
    return folders


def show_pngs(folder: Path, *, keywords: tuple[str, ...] = (), exclude: set[Path] | None = None,
              columns: int = 2, recursive: bool = False) -> set[Path]:
    """Show the PNGs of a folder (those whose name has one of ``keywords``, if given), captioned."""
    pngs = sorted(folder.rglob("*.png") if recursive else folder.glob("*.png"))
    chosen = [p for p in pngs if (not keywords or any(k in p.stem.lower() for k in keywords))
              and p not in (exclude or set())]
    cols = st.columns(columns) if chosen else []
    for i, p in enumerate(chosen):
        with cols[i % columns]:
            st.image(str(p), caption=p.stem.replace("_", " "), width="stretch")
    return set(chosen)


def missing(what: str, command: str) -> None:
    """Say that a piece is not there yet, and the command that makes it."""
    st.info(f"{what} — run `{command}`", icon="ℹ️")


def choose_report(cfg: AppConfig, kind: str) -> Path:
    """The report folder of ``kind`` a page shows: the newest, or the one picked when several exist.

    Stops the page with the command that makes one when there is none.
    """
    reports = find_reports(cfg, kind)
    if not reports:
        missing(f"No {kind} report yet" + ("" if cfg.data else " (and no `--data DIR` given)"),
                f"facelab {kind} {cfg.data or 'DATA'}")
        st.stop()
    folder = reports[0]
    if len(reports) > 1:
        folder = st.selectbox("Report", reports, format_func=lambda p: str(p.relative_to(p.parents[1])))
    st.caption(f"`{folder}`")
    return folder

