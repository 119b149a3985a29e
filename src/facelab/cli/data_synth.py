"""`facelab data synth OUT --kind celeba|fer2013|folder|all --n N --seed S [--identities K]`."""
from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add ``synth`` to the `facelab data` group."""

    @app.command("synth")
    def synth(
        out: Path = typer.Argument(..., help="Folder to write the dataset to (kind=all: one sub-folder per kind)."),
        kind: str = typer.Option("celeba", help="celeba, fer2013, folder or all."),
        n: int = typer.Option(1000, help="Number of images (per kind)."),
        seed: int = typer.Option(0, help="Same seed, same files."),
        identities: int = typer.Option(None, help="Number of people (celeba, folder)."),
        fer_form: str = typer.Option("csv", help="fer2013 as 'csv' (fer2013.csv) or 'folders' (train|test/<emotion>/)."),
        workers: int = typer.Option(None, help="Processes to render with (default: all cores for large n)."),
    ) -> None:
        """Write synthetic faces in the CelebA, FER2013 or folder-per-person layout."""
        from ..data.synth import KINDS, synthesize

        kinds = KINDS if kind == "all" else (kind,)
        for k in kinds:
            target = out / k if kind == "all" else out
            root = synthesize(target, kind=k, n=n, seed=seed, identities=identities, fer_form=fer_form,
                              workers=workers, progress=True)
            typer.echo(f"{k}: {n} images in {root}")
