"""`facelab data ...`: synth (cli/data_synth.py), info (cli/data_info.py), prepare (cli/data_prepare.py),
collect (cli/data_collect.py)."""
from __future__ import annotations

import typer

data_app = typer.Typer(help="Datasets: make synthetic faces, inspect a source, prepare the cache.",
                       no_args_is_help=True)


def register(app: typer.Typer) -> None:
    from . import data_collect, data_info, data_prepare, data_synth

    for mod in (data_synth, data_info, data_prepare, data_collect):
        mod.register(data_app)
    app.add_typer(data_app, name="data")
