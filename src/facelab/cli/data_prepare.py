"""`facelab data prepare PATH`: decode a dataset once into the prepared cache (argument parsing only)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def prepare_command(
    path: Path = typer.Argument(..., help="Source folder (CelebA, FER2013, folder of classes)."),
    size: int = typer.Option(64, "--size", help="Output side in pixels."),
    crop: str = typer.Option("auto", "--crop", help="auto | detect | square | face | full | x0,y0,x1,y1 (source "
                             "pixels). auto: detect for folders of photos, square otherwise."),
    grey: bool = typer.Option(False, "--grey", help="One luminance channel instead of RGB."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Keep N images (seeded, stratified by split)."),
    per_class: Optional[int] = typer.Option(None, "--per-class", help="At most N training images per class of --by."),
    by: Optional[str] = typer.Option(None, "--by", help="Label column for --per-class (CelebA: e.g. Smiling)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the subset selection."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Decoding processes (default: all cores)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Cache folder (default: under ~/.facelab/prepared)."),
    force: bool = typer.Option(False, "--force", help="Rebuild even if a matching cache exists."),
    detector: Optional[str] = typer.Option(None, "--detector", help="--crop detect: mtcnn (default), haar, or dlib "
                                                                  "(facelab[dlib])."),
    no_face: str = typer.Option("skip", "--no-face", help="--crop detect: photos without a face: skip | keep."),
    several: str = typer.Option("largest", "--several", help="--crop detect: photos with several faces: "
                                                             "largest | skip."),
    engine: str = typer.Option("local", "--engine", help="local, or spark: Spark executors decode the images "
                                                         "(same cache, byte for byte; needs the spark extra)."),
    master: Optional[str] = typer.Option(None, "--master", help="Spark master with --engine spark "
                                                                "(default local[2]; spark://host:7077, yarn)."),
) -> None:
    """Decode every image once into a uint8 cache (resumable, reused when nothing changed)."""
    from rich.console import Console

    from ..faces.prepare_align import prepare  # the data layer's prepare, with --crop detect/auto

    kw = dict(size=size, crop=crop, grey=grey, limit=limit, per_class=per_class, by=by,
              seed=seed, workers=workers, out=out, progress=True, force=force, detector=detector,
              no_face=no_face, several=several)
    if engine != "local":  # scale-out: the same prepare with the chunks decoded on Spark
        from ..scale.prepare import prepare_spark

        ds = prepare_spark(path, engine=engine, master=master, **kw)
    else:
        ds = prepare(path, **kw)
    meta, con = ds.meta, Console()
    con.print(f"[bold]{len(ds)}[/] images, {ds.size}x{ds.size}x{ds.channels}, crop {meta['crop']} "
              f"(box {meta['crop_box']} of {meta['source_size'][0]}x{meta['source_size'][1]})")
    if meta.get("faces"):
        f = meta["faces"]
        con.print(f"faces ({meta['detector']}): {f['one']} photos with one, {f['several']} with several "
                  f"({f['several_policy']}), {f['none']} with none ({f['no_face']}); {f['kept']} kept")
    for note in ds.manifest.notes:  # the user's marks (exclude.txt / relabel.csv), counted
        if note.startswith(("exclude.txt", "relabel.csv", "warning: ")):
            con.print(("[yellow]" if note.startswith("warning") else "") + note, highlight=False)
    splits = ds.table["split"].value_counts().to_dict()
    con.print("splits: " + ", ".join(f"{s} {splits.get(s, 0)}" for s in ("train", "val", "test")))
    if meta.get("skipped"):
        con.print("[yellow]skipped[/]: " + ", ".join(f"{v} {k}" for k, v in sorted(meta["skipped"].items()))
                  + "  (details: manifest.json problems)")
    con.print(f"time {meta['seconds']:.1f} s ({meta['images_per_s']:.0f} images/s when built)")
    con.print(f"cache: {ds.path}")
    target = ds.manifest.default_class_column() or ("Smiling" if "Smiling" in ds.attributes
                                                     else ds.attributes[0] if ds.attributes else "LABEL")
    con.print(f"next:  facelab train {ds.path} --target {target}")


def register(app: typer.Typer) -> None:
    """Add this command to the `facelab data` group."""
    app.command("prepare")(prepare_command)
