"""Where facelab keeps its files, and the one place the library reads the environment.

The surfaces (the CLI, the API server's ``ServeSettings``, the demo) build a :class:`Paths` once
and pass its folders down as keywords (``runs_dir=``, ``home=``); a library function given
``None`` falls back to :func:`runs_root` / :func:`home`, which read ``$FACELAB_RUNS`` /
``$FACELAB_HOME`` when called. Nothing here writes the environment and nothing is computed at
import time, so tests can point the variables at a temporary folder.

Example:
    >>> p = Paths.from_env({"FACELAB_HOME": "/srv/facelab"}, runs="/tmp/demo/runs")
    >>> str(p.home), str(p.runs), str(p.prepared)
    ('/srv/facelab', '/tmp/demo/runs', '/srv/facelab/prepared')
    >>> p.unset_in({"FACELAB_HOME": "/srv/facelab"})
    {'FACELAB_RUNS': '/tmp/demo/runs'}
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

HOME_ENV = "FACELAB_HOME"
RUNS_ENV = "FACELAB_RUNS"
DATA_ENV = "FACELAB_DATA"


@dataclass(frozen=True)
class Paths:
    """facelab's folders for one process: its working folder and its runs folder.

    Args:
        home: the working folder (prepared caches, reports, the ONNX cache, sample photos).
        runs: the runs folder (runs are written and looked up by name there).
    """

    home: Path
    runs: Path

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, home: str | Path | None = None,
                 runs: str | Path | None = None) -> "Paths":
        """The folders named by ``$FACELAB_HOME`` / ``$FACELAB_RUNS``; where a variable is not set,
        ``home`` / ``runs`` (default ``~/.facelab`` and ``./runs``)."""
        env = os.environ if environ is None else environ
        h = env.get(HOME_ENV) or (home if home is not None else Path.home() / ".facelab")
        r = env.get(RUNS_ENV) or (runs if runs is not None else "runs")
        return cls(home=Path(h).expanduser(), runs=Path(r).expanduser())

    @property
    def prepared(self) -> Path:
        """Where prepared caches go when no ``out`` is given."""
        return self.home / "prepared"

    def unset_in(self, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """The variables ``environ`` does not set, with this object's values (the ``export`` lines
        that make later commands find these folders)."""
        env = os.environ if environ is None else environ
        return {var: str(value) for var, value in ((HOME_ENV, self.home), (RUNS_ENV, self.runs))
                if not env.get(var)}


def home(folder: str | Path | None = None) -> Path:
    """facelab's working folder: ``folder`` when given, else ``$FACELAB_HOME`` or ``~/.facelab``."""
    return Path(folder).expanduser() if folder is not None else Paths.from_env().home


def prepared_root(home_folder: str | Path | None = None) -> Path:
    """Where prepared caches go when no ``--out`` is given: ``<home>/prepared``."""
    return home(home_folder) / "prepared"


def runs_root(folder: str | Path | None = None) -> Path:
    """The runs folder: ``folder`` when given, else ``$FACELAB_RUNS`` or ``./runs``."""
    return Path(folder).expanduser() if folder is not None else Paths.from_env().runs


def shared_data() -> Path | None:
    """Real data for benchmarks: ``$FACELAB_DATA`` or ``../shared/data`` when present."""
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env)
    for cand in (Path("../shared/data"), Path(__file__).resolve().parents[3] / "shared" / "data"):
        if cand.is_dir():
            return cand.resolve()
    return None
