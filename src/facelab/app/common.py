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


@dataclass(frozen=True)
class AppConfig:
    """The dashboard's folders, from ``-- --runs DIR --data DIR --api URL`` or the environment."""

    runs: Path
    data: Path | None
    api: str
    home: Path | None = None  # facelab's working folder (reports, sample photos); None: $FACELAB_HOME


def parse_config(argv: list[str] | None = None) -> AppConfig:
    """Read the dashboard's options (unknown arguments are ignored: Streamlit and tests add some).

    Example:
        >>> parse_config(["--runs", "runs", "--data", "facelab-demo"]).data
        PosixPath('facelab-demo')
    """
    from ..paths import Paths

    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--runs", type=Path, default=None)
    p.add_argument("--data", type=Path, default=None)
    p.add_argument("--api", default=None)
    args, _ = p.parse_known_args(sys.argv[1:] if argv is None else argv)
    data = args.data or (Path(os.environ["FACELAB_APP_DATA"]) if os.environ.get("FACELAB_APP_DATA") else None)
    paths = Paths.from_env()  # read once, here at the edge
    return AppConfig(runs=(args.runs or paths.runs).expanduser(),
                     data=data.expanduser() if data else None,
                     api=args.api or os.environ.get("FACELAB_APP_API", "http://127.0.0.1:8000"),
                     home=paths.home)


def config() -> AppConfig:
    """The config set by ``main.py`` for this session."""
    if "facelab_config" not in st.session_state:
        st.session_state["facelab_config"] = parse_config()
    return st.session_state["facelab_config"]


@st.cache_data(ttl=10, show_spinner=False)
def run_names(runs: str) -> list[str]:
    """The runs the pages offer, in :func:`facelab.evaluate.leaderboard.ordered_run_names` order (newest
    first, the newest leaderboard's winner leading); cached for 10 s."""
    from ..evaluate.leaderboard import ordered_run_names

    return ordered_run_names(runs)


@st.cache_resource(show_spinner="loading run…", max_entries=16)
def load_run(path: str, mtime: float):
    """A ``Run`` (cached until its folder changes)."""
    from ..runs import Run

    return Run.load(Path(path))


def get_run(cfg: AppConfig, name: str):
    from ..runs import resolve_name

    path = resolve_name(cfg.runs, name)
    return load_run(str(path), path.stat().st_mtime)


def run_folder(cfg: AppConfig, name: str) -> Path:
    """The folder of run ``name``: in the runs folder, else a model shipped with facelab."""
    from ..pretrained import is_shipped, shipped_path
    from ..runs import resolve_name

    if is_shipped(name) and not (cfg.runs / name).exists():
        return shipped_path(name)
    return resolve_name(cfg.runs, name)


@st.cache_resource(show_spinner="loading predictor…", max_entries=8)
def load_predictor(path: str, mtime: float):
    """A ``Predictor`` for a run folder (cached until the folder changes)."""
    from ..predict.predictor import Predictor

    return Predictor.from_run(Path(path))


def read_json(path: Path) -> dict | list | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def find_reports(cfg: AppConfig, kind: str) -> list[Path]:
    """Report folders of ``kind`` ("explore" or "cluster") under the data folder and
    ``FACELAB_HOME/reports`` (see :func:`facelab.report.kinds.find_reports`)."""
    from ..paths import home
    from ..report.kinds import find_reports as find

    return find([cfg.data, home(cfg.home) / "reports"], kind)


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

