"""The `facelab` command. Argument parsing only: every command calls the Python API.

Each command group lives in its own module with a ``register(app)`` function.
"""
from __future__ import annotations

import sys

import typer

from ..errors import FacelabError

app = typer.Typer(
    name="facelab",
    help="Machine learning on face images: ingest, explore, train, compare, cluster, predict, serve.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

_GROUPS = ("data", "train", "evaluate", "explore", "predict", "serve", "demo")


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


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script: user errors are printed, never a traceback."""
    try:
        # With standalone_mode=False click returns the code of `typer.Exit(code)` instead of exiting.
        code = app(args=argv, standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except FacelabError as e:
        from rich.console import Console

        Console(stderr=True).print(f"[bold red]error:[/] {e}", highlight=False)
        sys.exit(2)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        sys.exit(130)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.Abort:
        print("aborted", file=sys.stderr)
        sys.exit(1)
    except Exception as e:  # click usage errors etc.
        import click

        if isinstance(e, click.ClickException):
            e.show()
            sys.exit(e.exit_code)
        raise


if __name__ == "__main__":
    main()
