"""The `facelab` command. Argument parsing only: every command calls the Python API.

Each command group lives in its own module with a ``register(app)`` function.
"""
from __future__ import annotations

import sys

from ..threads import configure_threads

configure_threads()  # the entry point: before any command imports numpy, scikit-learn or torch

import typer  # noqa: E402

from ..errors import FacelabError  # noqa: E402

app = typer.Typer(
    name="facelab",
    help="Machine learning on face images: ingest, explore, train, compare, cluster, predict, serve.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

_GROUPS = ("data", "train", "evaluate", "explore", "predict", "serve", "demo", "generate", "identity")


def _register_all() -> None:
    import importlib

    for name in _GROUPS:
        importlib.import_module(f"facelab.cli.{name}").register(app)


_register_all()


@app.command()
def version() -> None:
    """Print facelab's version."""
    from .. import __version__

    print(__version__)


def _print_version(value: bool) -> None:
    if value:
        from .. import __version__

        print(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    version_: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                  help="Print facelab's version and exit."),
) -> None:
    """Machine learning on face images: ingest, explore, train, compare, cluster, predict, serve."""


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script: user errors are printed, never a traceback."""
    from .common import library_output, plain_output, restore_env

    old_env = plain_output()
    try:
        # With standalone_mode=False click returns the code of `typer.Exit(code)` instead of exiting.
        with library_output():  # the library's log records and warnings, as plain lines on stderr
            code = app(args=argv, standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except (FacelabError, OSError) as e:
        from rich.console import Console
        from rich.markup import escape

        from ..outputs import write_error

        if isinstance(e, OSError):  # a full disk under a writer that did not name its path
            err = write_error(e, e.filename or "output", "file")
            if err is None:
                raise
            e = err
        # escaped: a fix such as pip install "facelab[track]" is text, not Rich markup
        Console(stderr=True).print(f"[bold red]error:[/] {escape(str(e))}", highlight=False)
        sys.exit(2)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        sys.exit(130)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.Abort:
        print("aborted", file=sys.stderr)
        sys.exit(1)
    except Exception as e:  # usage errors: an unknown option, a missing argument, a bad value
        if isinstance(e, _usage_errors()):
            e.show()
            sys.exit(e.exit_code)
        raise
    finally:
        restore_env(old_env)


def _usage_errors() -> tuple[type, ...]:
    """Click's exception classes that print as usage messages. Newer Typer releases vendor their own copy
    of click (``typer._click``, 0.29 here), whose classes are not click's: catching only click's let an
    unknown option end in a traceback."""
    classes: list[type] = []
    try:
        import click

        classes.append(click.ClickException)
    except ImportError:
        pass
    try:
        from typer._click.exceptions import ClickException
    except ImportError:
        pass
    else:
        classes.append(ClickException)
    return tuple(classes)


if __name__ == "__main__":
    main()
