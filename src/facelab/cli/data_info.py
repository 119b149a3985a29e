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
        from ..data.faces_info import face_listing
        from ..data.readers.info import source_info

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


# -- rendering (the library's SourceInfo and face listing, as Rich tables) --------------------------------------------------------------------------------
def _pct(n: int, total: int) -> str:
    return f"{100 * n / total:.1f}%" if total else "–"


def _short(path: str, root: Path) -> str:
    """A problem's path relative to the dataset root when it is inside it."""
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return path


def print_info(info, console=None) -> None:
    """Print splits, label balance, problems and notes as Rich tables.

    """
    import numpy as np
    from rich.console import Console
    from rich.table import Table

    from ..data.manifest import SPLITS

    console = console or Console()
    m = info.manifest
    total = len(m)
    console.print(f"[bold]{m.root}[/]  layout [cyan]{m.layout}[/]  "
                  f"[bold]{total:,}[/] images  (read in {info.seconds:.2f} s)")

    splits = m.split_counts()
    t = Table(title="splits", title_justify="left")
    t.add_column("split")
    t.add_column("images", justify="right")
    t.add_column("share", justify="right")
    for s in SPLITS:
        t.add_row(s, f"{splits[s]:,}", _pct(splits[s], total))
    console.print(t)

    split_col = m.table["split"].to_numpy()
    binary = [n for n, i in m.labels.items() if i.kind == "binary"]
    for name, li in m.labels.items():
        if li.kind != "multiclass":
            continue
        y = m.table[name].to_numpy()
        k = len(li.classes)
        if k > 50:
            per = np.bincount(y, minlength=k)
            per = per[per > 0]
            console.print(f"[bold]{name}[/]: {k:,} classes, {len(per):,} present; images per class "
                          f"min {per.min()}, median {np.median(per):.0f}, max {per.max()}")
            continue
        t = Table(title=f"{name} balance", title_justify="left")
        t.add_column("class")
        for s in SPLITS:
            t.add_column(s, justify="right")
        t.add_column("total", justify="right")
        t.add_column("share", justify="right")
        for i, cls in enumerate(li.classes):
            sel = y == i
            n = int(sel.sum())
            t.add_row(cls, *[f"{int((sel & (split_col == s)).sum()):,}" for s in SPLITS], f"{n:,}",
                      _pct(n, total))
        console.print(t)
    if binary:
        t = Table(title=f"attributes: % positive ({len(binary)})", title_justify="left")
        t.add_column("attribute")
        for s in ("all", *SPLITS):
            t.add_column(s, justify="right")
        t.add_column("", no_wrap=True)
        for name in binary:
            y = m.table[name].to_numpy()
            cells = [f"{100 * y.mean():.1f}" if total else "–"]
            for s in SPLITS:
                sel = split_col == s
                cells.append(f"{100 * y[sel].mean():.1f}" if sel.any() else "–")
            bar = "█" * int(round(20 * y.mean())) if total else ""
            t.add_row(name, *cells, f"[green]{bar}[/]")
        console.print(t)

    counts = m.problem_counts()
    if counts:
        t = Table(title="problems (skipped rows/files)", title_justify="left")
        t.add_column("kind")
        t.add_column("count", justify="right")
        t.add_column("what")
        t.add_column("examples", overflow="fold")
        for kind, n in sorted(counts.items(), key=lambda kv: -kv[1]):
            ex = [p for p in m.problems if p.kind == kind and p.count == 1]
            what = ex[0].detail if ex else next(p.detail for p in m.problems if p.kind == kind)
            names = [_short(p.path, m.root) for p in ex[:3]]
            if n > len(names):
                names.append(f"… {n - len(names):,} more")
            t.add_row(kind, f"{n:,}", what, "\n".join(names))
        console.print(t)
    else:
        console.print("[green]no problems found[/]")
    if info.check is not None:
        c = info.check
        if c.skipped_reason:
            console.print(f"check: {c.skipped_reason}")
        else:
            copies = f", [yellow]{c.duplicates:,} byte-identical copies[/]" if c.duplicates else ""
            console.print(f"check: decoded {c.checked:,} images in {c.seconds:.1f} s, "
                          f"[{'red' if c.failed else 'green'}]{c.failed:,} failed[/]{copies}")
    elif m.layout != "fer2013-csv":
        console.print("[dim]images were not decoded: add --check to find corrupt or truncated files[/]")
    for note in m.notes:
        console.print(f"[yellow]note:[/] {note}")


def print_faces(info: dict, show: int = 20) -> None:
    from rich.console import Console

    con = Console()
    con.print(f"[bold]faces[/] (prepared with --crop detect, detector {info['detector']}; {info['cache']}): "
              f"{info['one']} photos with one face, {info['several']} with several ({info['several_policy']}), "
              f"{info['none']} with none ({info['no_face']})", highlight=False)
    for key, what in (("no_face_photos", "no face"), ("several_faces_photos", "several faces")):
        items = info[key]
        for p in items[:show]:
            con.print(f"  {what}: {p}", highlight=False)
        if len(items) > show:
            con.print(f"  ... and {len(items) - show} more {what} (--json lists all)", highlight=False)
