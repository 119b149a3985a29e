"""`facelab data collect NAMES... --per-class 50 --out people/ [--engine bing|google|baidu] [--urls urls.csv]`."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer


def collect_command(
    names: Optional[List[str]] = typer.Argument(None, help="Names to collect (one class each); with --urls, "
                                                "a subset of the file's classes."),
    per_class: int = typer.Option(50, "--per-class", help="Images to keep per class (a later run tops up)."),
    out: Path = typer.Option(Path("people"), "--out", help="Collection folder: new, empty, or an earlier collection."),
    engine: str = typer.Option("bing", "--engine", help="Image search: bing, google or baidu (needs internet access)."),
    urls: Optional[Path] = typer.Option(None, "--urls", help="CSV of class,url rows to download instead of searching."),
    detector: Optional[str] = typer.Option(None, "--detector", help="Face detector (registry name; default mtcnn)."),
    min_side: int = typer.Option(64, "--min-side", help="Smallest accepted image side, pixels."),
    max_bytes: int = typer.Option(10_000_000, "--max-bytes", help="Size cap per download, bytes."),
    timeout: float = typer.Option(10.0, "--timeout", help="Seconds per request."),
    rate: float = typer.Option(2.0, "--rate", help="Requests per second, over all threads."),
    threads: int = typer.Option(4, "--threads", help="Parallel downloads."),
    dup_distance: int = typer.Option(6, "--dup-distance", help="Perceptual-hash bits (of 64) within which photos are duplicates."),
    search_url: Optional[str] = typer.Option(None, "--search-url", help="Base URL of the search engine (default: its public address)."),
) -> None:
    """Download photos of each name, de-duplicate them and check the faces, into a folder per class."""
    from rich.console import Console

    from ..collect import collect

    rep = collect(names or [], per_class=per_class, out=out, engine=engine, urls=urls, detector=detector,
                  min_side=min_side, max_bytes=max_bytes, timeout=timeout, rate=rate, threads=threads,
                  dup_distance=dup_distance, search_url=search_url, progress=True)
    con = Console()
    con.print(rep.table())
    con.print(f"sources: {rep.out / 'sources.csv'}   set aside: {rep.out / 'rejected'}   "
              f"to review: {rep.out / 'review.csv'}   report: {rep.out / 'collection.json'}")
    con.print(f"[italic]{rep.rights}[/]")
    if rep.terms:
        con.print(f"[italic]{rep.terms} (automated querying is restricted: see docs/collect.md)[/]")
    con.print(f"next:  facelab data prepare {rep.out}")


def register(app: typer.Typer) -> None:
    """Add this command to the `facelab data` group."""
    app.command("collect")(collect_command)
