"""`facelab data review DATA [--run RUN]`: a page of near-duplicates, photos with 0 or several faces, top losses."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import runs_dir_option


def review_command(
    path: Path = typer.Argument(..., help="The dataset folder (one sub-folder per class, CelebA, ...)."),
    run: Optional[str] = typer.Option(None, "--run", help="A run trained on it: show its top losses."),
    out: Optional[Path] = typer.Option(None, "--out", help="Report folder (default: ~/.facelab/reports/<data>/review)."),
    faces: bool = typer.Option(True, help="Look for photos with no face or several."),
    threshold: int = typer.Option(6, help="Hash bits (of 64) near-duplicates may differ by."),
    top: int = typer.Option(24, help="How many top losses of --run."),
    runs_dir: Optional[Path] = runs_dir_option(),
) -> None:
    """Write an HTML page of photos to look at again; mark them in exclude.txt / relabel.csv."""
    from ..curate.review import review

    rep = review(path, run=run, out=out, faces=faces, threshold=threshold, top=top, progress=True,
                 runs_dir=runs_dir)
    typer.echo(f"{rep.photos} photos: {len(rep.duplicate_groups)} near-duplicate groups, {len(rep.no_face)} without "
               f"a face, {len(rep.several_faces)} with several" + (f", {len(rep.top_losses)} top losses" if run else ""))
    typer.echo(f"page: {rep.html}")
    typer.echo(f"next: list photos to drop in {Path(path) / 'exclude.txt'} (relabel in relabel.csv: path,label), "
               "then `facelab data prepare` again")


def register(app: typer.Typer) -> None:
    """Add this command to the `facelab data` group."""
    app.command("review")(review_command)
