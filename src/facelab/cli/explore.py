"""`facelab explore DATA` and `facelab cluster DATA` (argument parsing only)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import runs_dir_option


def explore_command(
    data: Path = typer.Argument(..., help="Source folder (CelebA, FER2013, class folders) or a prepared cache."),
    out: Optional[Path] = typer.Option(None, "--out", help="Report folder (default ~/.facelab/reports/<name>/explore)."),
    sample: int = typer.Option(3000, "--sample", help="Images decoded when there is no prepared cache."),
    seed: int = typer.Option(0, "--seed", help="Seed of every random sample."),
    logreg_sample: int = typer.Option(50_000, "--logreg-sample", help="Label rows for the per-attribute regressions."),
    tsne_sample: int = typer.Option(1000, "--tsne-sample", help="Label rows embedded by t-SNE."),
    k: str = typer.Option("2-10", "--k", help="Numbers of clusters tried for the attribute clustering, "
                                               "e.g. 2-10 or 3,5,8 (as `facelab cluster --k`)."),
    ks: Optional[str] = typer.Option(None, "--ks", hidden=True, help="Deprecated: --k."),
    engine: str = typer.Option("local", "--engine", help="local, or spark: label statistics and regressions "
                                                         "on Spark (every row; needs the spark extra)."),
    master: Optional[str] = typer.Option(None, "--master", help="Spark master with --engine spark (default local[2])."),
) -> None:
    """Write an HTML report: counts, balance, sample grids, mean faces, pixel and attribute statistics."""
    from rich.console import Console

    from ..report.sweep import parse_ints
    from ..explore.report import explore

    kw = dict(out=out, sample=sample, seed=seed, progress=True, logreg_sample=logreg_sample,
              tsne_sample=tsne_sample, ks=parse_ints(ks or k, what="k"))
    if engine != "local":  # scale-out: label statistics and regressions on Spark
        from ..scale.stats import explore_spark

        rep = explore_spark(data, engine=engine, master=master, **kw)
    else:
        rep = explore(data, **kw)
    con = Console()
    con.print(f"{rep.label_rows:,} label rows, {rep.images:,} images, {len(rep.figures)} figures, "
              f"{rep.seconds.get('total', 0):.1f} s")
    for s in rep.skipped:
        con.print(f"[yellow]skipped[/]: {s}")
    con.print(f"report: {rep.html_path}")


def cluster_command(
    data: Path = typer.Argument(..., help="Source folder or prepared cache."),
    features: str = typer.Option("pixels", "--features", help="pixels | hog | embed (dlib face embedding) | run:<RUN>"),
    k: str = typer.Option("5-15", "--k", help="Numbers of clusters, e.g. 5-15 or 5,7,10."),
    components: str = typer.Option("10,25,50,100", "--components", help="PCA/SVD components to try."),
    per_class: Optional[int] = typer.Option(None, "--per-class", help="Equal classes: at most N images per class."),
    sample: Optional[int] = typer.Option(None, "--sample", help="Cluster a random sample of N images."),
    label: Optional[str] = typer.Option(None, "--label", help="Class column to compare with (default: the dataset's)."),
    split: Optional[str] = typer.Option(None, "--split", help="Only these splits, e.g. test or val,test."),
    seed: int = typer.Option(0, "--seed", help="Seed of every sample and fit."),
    out: Optional[Path] = typer.Option(None, "--out", help="Report folder."),
    algorithm: str = typer.Option("minibatch", "--algorithm", help="minibatch | kmeans"),
    by: Optional[str] = typer.Option(None, "--by", help="identity: group a photo library by person (faces, "
                                                        "verification threshold) instead of k-means."),
    threshold: Optional[float] = typer.Option(None, "--threshold", help="With --by identity: where to cut (ward: the "
                                                                        "merge cost; the others: a pair distance)."),
    method: str = typer.Option("ward", "--method", help="With --by identity: ward | agglomerative | chinese-whispers."),
    link: bool = typer.Option(False, "--link", help="With --by identity --out: link the photos instead of copying."),
    gallery: Optional[str] = typer.Option(None, "--gallery", help="With --by identity: use this gallery's framing "
                                                                   "and the thresholds verify-eval saved in it."),
    runs_dir: Optional[Path] = runs_dir_option(),
) -> None:
    """Cluster images (pixels, HOG or a trained run's features) and match clusters to labels; with
    --by identity, group a photo library by person."""
    from rich.console import Console

    if by is not None:
        from .identity import group_command

        return group_command(data, by=by, threshold=threshold, method=method, out=out, link=link, gallery=gallery)

    from ..cluster.report import cluster
    from ..report.sweep import parse_ints

    rep = cluster(data, features=features, k=parse_ints(k, what="k"),
                  components=parse_ints(components, what="components"), per_class=per_class, sample=sample,
                  label=label, split=split, seed=seed, out=out, algorithm=algorithm, progress=True,
                  runs_dir=runs_dir)
    con = Console()
    con.print(f"{rep.n:,} images, {rep.features} ({rep.dims} values each): {rep.chosen['reason']}")
    at_classes = rep.matching_at_classes
    if at_classes and rep.matching and at_classes["k"] == rep.matching["k"]:
        at_classes = None  # the chosen k is the number of classes: one line says it
    for m in (rep.matching, at_classes):
        if m:
            con.print(f"k = {m['k']} vs {rep.label} ({m['method']}): accuracy {m['accuracy']:.1%}, "
                      f"ARI {m['ari']:.3f}, NMI {m['nmi']:.3f} (majority class {m['majority_baseline']:.1%})")
    for w in rep.warnings:
        con.print(f"[yellow]caution[/]: {w}")
    con.print(f"report: {rep.html_path}")


def register(app: typer.Typer) -> None:
    """Add `explore` and `cluster` to the main app."""
    app.command("explore")(explore_command)
    app.command("cluster")(cluster_command)
