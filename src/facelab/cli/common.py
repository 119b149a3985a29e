"""Options shared by several commands, and how output behaves off a terminal."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import typer

RUNS_DIR_HELP = "The runs folder (default $FACELAB_RUNS or ./runs)."

#: Rich's width when stdout is not a terminal: wide enough that no command, path or table row is
#: folded (logs and `| tee` keep whole lines), see :func:`plain_output`.
PIPE_WIDTH = 1000
#: Seconds between tqdm updates when stderr is not a terminal: occasional lines, not a stream of ``\r``.
PIPE_PROGRESS_S = 30


def runs_dir_option(*aliases: str):
    """``--runs-dir DIR``: where runs are written and looked up by name, for this command."""
    return typer.Option(None, "--runs-dir", *aliases, help=RUNS_DIR_HELP)


def use_runs_dir(path: Optional[Path]) -> None:
    """Point ``facelab.paths.runs_root()`` at ``path`` for the rest of this process."""
    if path is not None:
        os.environ["FACELAB_RUNS"] = str(Path(path).expanduser())


def plain_output(stdout=None, stderr=None) -> dict[str, str | None]:
    """Off a terminal (CI logs, ``| tee``, a subprocess), keep lines whole and progress quiet.

    Rich reads ``COLUMNS`` when it builds a Console, so every Console of this process (the CLI's and
    the library's) stops wrapping at 80 columns; Typer's help keeps a readable width
    (``TERMINAL_WIDTH``). tqdm reads ``TQDM_MININTERVAL`` (tqdm >= 4.66) for bars that do not set it,
    so a bar updates every :data:`PIPE_PROGRESS_S` seconds instead of several times a second. A
    value the user set is kept.

    Returns:
        the previous values of the variables set, for :func:`restore_env` (``main()`` called
        in-process, e.g. by tests, leaves the environment as it found it).
    """
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    wanted: dict[str, str] = {}
    if not _isatty(stdout):
        wanted.update(COLUMNS=str(PIPE_WIDTH), TERMINAL_WIDTH="100")
    if not _isatty(stderr):
        wanted["TQDM_MININTERVAL"] = str(PIPE_PROGRESS_S)
    old = {k: os.environ.get(k) for k in wanted if k not in os.environ}
    for k in old:
        os.environ[k] = wanted[k]
    return old


def restore_env(old: dict[str, str | None]) -> None:
    """Undo :func:`plain_output`."""
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False

