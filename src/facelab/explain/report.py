"""The saliency part of an evaluation report (``facelab evaluate RUN --saliency``).

:func:`write_saliency` averages the maps of up to ``max_faces`` evaluated faces
(:func:`~facelab.explain.dataset.dataset_saliency`) and writes, into the evaluation folder::

    saliency.json               every group's figures and its 16×16 mean map
    saliency-<output>.png       per output: mean faces with / without it, their difference and the
                                mean saliency, for all faces and per subgroup
    saliency.html               the figures on one page (the dashboard's Models page shows them)

Example:
    >>> figure_name("Wearing_Hat"), sample_rows(1000, 3).shape
    ('saliency-Wearing_Hat.png', (3,))
"""
from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np

from .dataset import DatasetSaliency, dataset_saliency
from .render import dataset_figure, explain_file_name, figure_png

SALIENCY_JSON = "saliency.json"
SALIENCY_HTML = "saliency.html"
#: faces averaged by default: enough for a stable mean map, a minute on one core for 40 outputs
MAX_FACES = 256


def sample_rows(n: int, max_faces: int, seed: int = 0) -> np.ndarray:
    """Up to ``max_faces`` of ``n`` positions, seeded and sorted.

    Example:
        >>> sample_rows(5, 10).tolist()
        [0, 1, 2, 3, 4]
    """
    if n <= max_faces:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, max_faces, replace=False))


def figure_name(output: str) -> str:
    """``saliency-Smiling.png`` (unsafe characters become ``_``)."""
    return explain_file_name("saliency", 0, output).replace(".face0.explain-", "-")


def write_saliency(run, images: np.ndarray, labels: np.ndarray, groups: dict, names: dict, folder: Path, *,
                   outputs: list[str] | None = None, method: str = "auto", progress: bool = False) -> dict:
    """Compute the dataset maps of ``run`` on ``images`` and write them into ``folder`` (an
    evaluation folder, already claimed through the write guard).

    Args:
        images: uint8 (N, H, W, C) faces at the run's input size.
        labels: (N, O) 0/1 true labels of every output of the run (multiclass: one-hot).
        groups, names: subgroup columns → values, and their value names.
        outputs: the outputs to map (default all).

    Returns:
        ``{"json": path, "html": path, "<output>": png path, ...}``.
    """
    from ..runs import Run

    run = Run.load(run)
    outputs = list(outputs or run.task.classes)
    idx = [run.task.classes.index(o) for o in outputs]
    ds = dataset_saliency(run, images, np.asarray(labels)[:, idx], outputs, groups, names, method=method,
                          progress=progress)
    folder = Path(folder)
    files: dict[str, Path] = {}
    for o in outputs:
        rows = ds.rows(o)
        if rows:
            fig = dataset_figure(rows, f"{run.name}: {o} on {ds.n} faces ({ds.method})")
            files[o] = folder / figure_name(o)
            figure_png(fig, files[o], dpi=70)
    files["json"] = folder / SALIENCY_JSON
    files["json"].write_text(json.dumps(ds.to_dict(), indent=1))
    files["html"] = folder / SALIENCY_HTML
    files["html"].write_text(saliency_html(ds, {o: p.name for o, p in files.items() if o in outputs}))
    return files


def saliency_html(ds: DatasetSaliency, figures: dict[str, str]) -> str:
    """A page with one figure per output and the groups' figures (a table)."""
    esc = html.escape
    rows = "".join(
        f"<tr><td>{esc(g.output)}</td><td>{esc(g.group)}</td><td>{g.n}</td><td>{g.n_with}</td>"
        f"<td>{g.n_without}</td><td>{'' if g.agreement() is None else g.agreement()}</td></tr>"
        for g in ds.groups)
    figs = "".join(f'<figure><img src="{esc(f)}" alt="{esc(o)}"><figcaption>{esc(o)}</figcaption></figure>'
                   for o, f in figures.items())
    return (f"<!doctype html><meta charset='utf-8'><title>Saliency of {esc(ds.run)}</title>"
            "<style>body{font-family:sans-serif;max-width:60em;margin:auto}img{max-width:100%}"
            "td,th{padding:2px 8px;text-align:left}</style>"
            f"<h1>Where {esc(ds.run)} looks</h1>"
            f"<p>Mean saliency ({esc(ds.method)}) over {ds.n} evaluated faces, each face's map weighted by its "
            "probability of the output, beside the mean faces of the faces with and without the output "
            "(true labels) and their difference: the difference says where the groups differ, the saliency "
            "where the model looks. <i>agreement</i>: Spearman rank correlation of the two maps.</p>"
            "<table><tr><th>output</th><th>group</th><th>faces</th><th>with</th><th>without</th>"
            f"<th>agreement</th></tr>{rows}</table>{figs}")


__all__ = ["MAX_FACES", "SALIENCY_HTML", "SALIENCY_JSON", "figure_name", "sample_rows", "saliency_html",
           "write_saliency"]
