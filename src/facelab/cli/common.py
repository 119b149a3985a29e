"""Options shared by several commands."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

RUNS_DIR_HELP = "The runs folder (default $FACELAB_RUNS or ./runs)."


def runs_dir_option(*aliases: str):
    """``--runs-dir DIR``: where runs are written and looked up by name, for this command."""
    return typer.Option(None, "--runs-dir", *aliases, help=RUNS_DIR_HELP)


def use_runs_dir(path: Optional[Path]) -> None:
    """Point ``facelab.paths.runs_root()`` at ``path`` for the rest of this process."""
    if path is not None:
        os.environ["FACELAB_RUNS"] = str(Path(path).expanduser())
