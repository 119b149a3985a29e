"""`facelab data info PATH [--json] [--check] [--seed S] [--workers N]`."""
from __future__ import annotations

import json
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add ``info`` to the `facelab data` group."""

    @app.command("info")
    def info(
        path: Path = typer.Argument(..., help="Dataset folder: CelebA (official or Kaggle), FER2013 "
                                              "(fer2013.csv or train/test folders) or one folder per class."),
        json_: bool = typer.Option(False, "--json", help="Print the summary as JSON instead of tables."),
        check: bool = typer.Option(False, help="Decode every image (in parallel) to find corrupt or truncated files."),
        seed: int = typer.Option(0, help="Seed of splits facelab makes when the layout has none."),
        workers: int = typer.Option(None, help="Processes for --check (default: all cores)."),
    ) -> None:
        """Print counts per split, label balance and every problem found in a dataset."""
        from ..data.faces_info import face_listing, print_faces
        from ..data.readers.info import print_info, source_info

        if (path / "meta.json").is_file():  # a prepared cache: the faces found at prepare, if any
            faces = face_listing(path)
            if json_:
                typer.echo(json.dumps({"faces": faces}, indent=1))
            elif faces:
                print_faces(faces)
            else:
                typer.echo(f"{path} is a prepared cache without face detection (info reads source folders)")
            return
        result = source_info(path, check=check, seed=seed, workers=workers, progress=not json_)
        faces = face_listing(path)  # photos without a face / with several, from a --crop detect cache
        if json_:
            typer.echo(json.dumps({**result.to_dict(), **({"faces": faces} if faces else {})}, indent=1))
        else:
            print_info(result)
            if faces:
                print_faces(faces)
