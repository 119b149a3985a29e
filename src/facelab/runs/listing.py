"""Finding runs: one path-safe resolver and one way to name the runs of a folder, used by the CLI, the API and the dashboard.

A run is named by its folder name inside the runs folder (``$FACELAB_RUNS``, default ``./runs``)
or given as a folder path. :func:`resolve_name` is the strict form for names that come from a
client (the REST API): ``..``, separators, absolute paths and symlinks that lead outside the runs
folder are refused. :func:`resolve_run` also accepts a folder path (the CLI and the library).

Example:
    >>> import shutil, tempfile
    >>> from facelab.pretrained import shipped_path
    >>> root = Path(tempfile.mkdtemp())
    >>> _ = shutil.copytree(shipped_path("fer-emotions"), root / "emotions")
    >>> run_names(root), resolve_name(root, "emotions").name
    (['emotions'], 'emotions')
    >>> resolve_name(root, "../etc")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    facelab.errors.ConfigError: refused run name '../etc'...
"""
from __future__ import annotations

import difflib
from pathlib import Path
from ..errors import ConfigError, RunError
from ..names import check_name, is_plain_name  # the one name rule, re-exported here
from ..paths import runs_root
from ..pretrained import is_shipped, shipped_names, shipped_path
from .layout import CONFIG, is_generator_run, is_run_folder

def resolve_name(runs_dir: Path, name: str) -> Path:
    """The folder of run ``name`` inside ``runs_dir``, refusing anything that escapes it.

    Args:
        runs_dir: the runs folder.
        name: a run name as typed by a user or sent by a client.

    Raises:
        ConfigError: the name is not a plain folder name, or resolves outside ``runs_dir``.
        RunError: no such run folder.
    """
    check_name(name, runs_dir)
    root = runs_dir.expanduser().resolve()
    folder = (runs_dir / name).resolve()  # follows symlinks, so a link out of the folder is caught
    if folder.parent != root:
        raise ConfigError(
            f"refused run name {name!r}: it leads outside the runs folder ({folder})",
            path=runs_dir / name,
            fix="serve runs that live inside the runs folder (no symlinks out of it)",
        )
    if not folder.is_dir():
        raise RunError(f"no run named {name!r} in {runs_dir}", path=runs_dir / name,
                       fix="list the runs with `facelab runs`, or train one with `facelab train`")
    return folder


def resolve_run(path_or_name: str | Path, root: Path | None = None) -> Path:
    """A run name resolves under ``root`` (default ``runs_root()``); an existing folder path is used
    as is. A plain name wins over a same-named folder in the working directory; a name that is
    neither resolves to a model shipped with facelab (:mod:`facelab.pretrained`) when one has it.

    Raises:
        RunError: neither a run name nor a folder (close names are suggested).
    """
    root = runs_root() if root is None else Path(root)
    p = Path(path_or_name).expanduser()
    text = str(path_or_name)
    plain = is_plain_name(text)
    cand = root / text
    if plain and (cand / CONFIG).is_file():
        return cand
    if p.is_dir():
        return p
    if plain and cand.is_dir():
        return cand
    if plain and is_shipped(text):  # a model shipped inside the package (a user's run of that name wins)
        return shipped_path(text)
    close = difflib.get_close_matches(text, run_names(root) + shipped_names(), n=3)
    raise RunError(f"no run {text!r}" + (f". Did you mean {', '.join(close)}?" if close else ""),
                   path=cand, fix="list runs with `facelab runs` (runs live under $FACELAB_RUNS, default ./runs)")


def names_a_run(path_or_name: str | Path, root: Path | None = None) -> bool:
    """Whether ``path_or_name`` is a run (a name under ``root``, a shipped model, or a run folder):
    lets a command take ``[RUN] PHOTOS...`` and tell a photo folder from a run folder.

    Example:
        >>> names_a_run("celeba-attributes"), names_a_run("/nonexistent/photo.jpg")
        (True, False)
    """
    try:
        return is_run_folder(resolve_run(path_or_name, root))
    except RunError:
        return False


def run_names(root: str | Path | None = None, *, generators: bool = True) -> list[str]:
    """The names of the run folders under ``root``, sorted (no file is parsed, except each
    ``task.json`` when ``generators=False`` leaves out generator runs: they make faces, they do
    not classify them)."""
    root = Path(root) if root is not None else runs_root()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if is_run_folder(p) and (generators or not is_generator_run(p)))


__all__ = ["check_name", "names_a_run", "resolve_name", "resolve_run", "run_names"]
