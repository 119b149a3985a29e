"""Where facelab keeps its files.

Nothing is computed at import time: every function reads the environment when called, so tests
can point ``FACELAB_HOME`` at a temporary folder.
"""
from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """facelab's working folder: ``$FACELAB_HOME`` or ``~/.facelab``."""
    return Path(os.environ.get("FACELAB_HOME", Path.home() / ".facelab")).expanduser()


def prepared_root() -> Path:
    """Where prepared caches go when no ``--out`` is given."""
    return home() / "prepared"


def runs_root() -> Path:
    """The runs folder: ``$FACELAB_RUNS`` or ``./runs``."""
    return Path(os.environ.get("FACELAB_RUNS", "runs")).expanduser()


def shared_data() -> Path | None:
    """Real data for benchmarks: ``$FACELAB_DATA`` or ``../shared/data`` when present."""
    env = os.environ.get("FACELAB_DATA")
    if env:
        return Path(env)
    for cand in (Path("../shared/data"), Path(__file__).resolve().parents[3] / "shared" / "data"):
        if cand.is_dir():
            return cand.resolve()
    return None
