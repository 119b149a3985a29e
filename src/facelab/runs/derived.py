"""Where the files derived from a run go (its ONNX export, its evaluation reports).

A run folder of the user's holds them itself. A model shipped inside the installed package
(:mod:`facelab.pretrained`) is never written to: its derived files go under
``$FACELAB_HOME/<kind>/<name>-<key>/`` (``key``: a hash of the folder's path, so two installs do
not share one). ``facelab export``, ``facelab serve`` and ``predict --backend onnx`` all look in
the same places, in the same order.

Example:
    >>> from facelab.pretrained import shipped_path
    >>> folder = shipped_path("fer-emotions", check=False)
    >>> is_installed(folder), onnx_places(folder)[-1].parts[-3:-1] == ("onnx", derived_folder(folder, "onnx").name)
    (True, True)
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from ..paths import home
from ..pretrained import shipped_root
from .layout import EVAL_DIR, ONNX_FILE


def is_installed(folder: Path) -> bool:
    """True for a model folder inside the installed package (never written to)."""
    return Path(folder).resolve().is_relative_to(shipped_root())


def derived_folder(folder: Path, kind: str, home_dir: Path | None = None) -> Path:
    """``<home>/<kind>/<name>-<key>``: a run's derived files outside its own folder (``home_dir``,
    default ``$FACELAB_HOME``)."""
    key = hashlib.sha1(str(Path(folder).resolve()).encode()).hexdigest()[:12]
    return home(home_dir) / kind / f"{Path(folder).name}-{key}"


def onnx_places(folder: Path, home_dir: Path | None = None) -> tuple[Path, ...]:
    """Where the run's ``model.onnx`` may be, in order: its folder, then the home folder (the
    last place is where an export of a shipped model is written: its own folder is read-only)."""
    return (Path(folder) / ONNX_FILE, derived_folder(folder, "onnx", home_dir) / ONNX_FILE)


def export_place(folder: Path, home_dir: Path | None = None) -> Path:
    """Where ``facelab export`` writes the run's ``model.onnx``: its folder, or the home folder for
    a model shipped inside the package."""
    places = onnx_places(folder, home_dir)
    return places[-1] if is_installed(folder) else places[0]


def eval_root(folder: Path) -> Path:
    """The folder evaluation reports of the run go to: ``<run>/eval``, or under
    ``$FACELAB_HOME/eval/`` for a shipped model."""
    return derived_folder(folder, "eval") if is_installed(folder) else Path(folder) / EVAL_DIR
