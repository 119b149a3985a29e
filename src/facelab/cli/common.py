"""Options shared by several commands, and how output behaves off a terminal."""
from __future__ import annotations

import logging
import os
import sys
import warnings
from contextlib import contextmanager

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


class LineHandler(logging.Handler):
    """Renders the library's log records as plain lines on stderr (through Rich on a terminal):
    the library reports through ``logging`` and ``warnings``, the CLI decides how they look.

    The stream is looked up at each record, so a test's captured ``sys.stderr`` receives them.
    """

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = record.getMessage()
        except (TypeError, ValueError):  # a malformed record: say so rather than lose the line
            msg = str(record.msg)
        stream = sys.stderr
        if _isatty(stream):
            from rich.console import Console

            Console(file=stream).print(msg, markup=False, highlight=False,
                                       style="yellow" if record.levelno >= logging.WARNING else None)
        else:
            stream.write(msg + "\n")
            stream.flush()


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """``warnings.showwarning`` for the CLI: ``warning: <message>``, one line, no source excerpt."""
    (file or sys.stderr).write(f"warning: {message}\n")


@contextmanager
def library_output(level: int = logging.INFO):
    """For one command: the ``facelab`` logger's records as plain lines, warnings as one line each."""
    logger = logging.getLogger("facelab")
    handler = LineHandler(level)
    old_level, old_propagate, old_show = logger.level, logger.propagate, warnings.showwarning
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False  # one rendering: not a second copy through the root logger
    warnings.showwarning = show_warning
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        logger.propagate = old_propagate
        warnings.showwarning = old_show


def plain_output(stdout=None, stderr=None) -> dict[str, str | None]:
    """Off a terminal (CI logs, ``| tee``, a subprocess), keep lines whole and progress quiet.

    Rich reads ``COLUMNS`` when it builds a Console, so every Console of this process (the CLI's and
    the library's) stops wrapping at 80 columns; Typer's help keeps a readable width
    (``TERMINAL_WIDTH``). tqdm reads ``TQDM_MININTERVAL`` (tqdm >= 4.66) for bars that do not set it,
    so a bar updates every :data:`PIPE_PROGRESS_S` seconds instead of several times a second. A
    value the user set is kept. Like the thread policy (:mod:`facelab.threads`) these are read from
    the environment by the libraries themselves (Rich, Typer, tqdm), so the entry point sets them
    for its own process; the library never does.

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


def print_board(board, console=None) -> None:
    """Print a :class:`facelab.evaluate.leaderboard.Leaderboard` (its table, notes, folder)."""
    from rich.console import Console

    con = console or Console()
    if not con.is_terminal and con.width < 140:  # piped output: do not squeeze the columns
        con = Console(width=140)
    for item in board.renderables():
        con.print(item, highlight=False)
