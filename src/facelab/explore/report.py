"""``explore(data)``: one self-contained HTML report about a face dataset.

Sections: counts per split, class/attribute balance, sample grids, mean faces and difference
images, pixel statistics, attribute correlations and P(A | B), a logistic regression per
attribute, and a clustering of the attribute table. Sections that cannot apply (no labels, no
images, fewer than two attributes) say so instead of disappearing. Every sample is stated.

Example: docs/python.md#explore-and-cluster.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..paths import home
from . import sections
from ..report.html import HtmlReport
from .source import load_for_explore

log = logging.getLogger(__name__)


@dataclass
class ExploreReport:
    """What ``explore`` wrote and found (also saved as ``explore.json`` beside the report).

    Attributes:
        html_path: the report; ``out`` its folder (PNG figures beside it).
        name: dataset name. label_rows: rows used for label statistics; images: images used.
        constant_attributes: attributes with one value everywhere (excluded from correlations).
        strongest, opposite, exclusive: attribute pairs, in words.
        models: logistic regression of each attribute from the others (dicts).
        attribute_clusters: chosen k, the reason and one description per cluster.
        mean_face_differences: per attribute, the mean-face difference and its chance
            baseline (:func:`facelab.explore.contrast.mean_face_contrasts`).
        attribute_statistics: ``names``, ``prevalence``, ``correlation`` and ``conditional``
            (P(row | column)) matrices, ``n`` rows: what the dashboard charts.
        skipped: sections not shown, with the reason. notes: samples and sources, in words.
        seconds: time per step.
    """

    html_path: Path
    out: Path
    name: str
    label_rows: int
    images: int
    figures: list[Path] = field(default_factory=list)
    constant_attributes: dict[str, int] = field(default_factory=dict)
    strongest: list[str] = field(default_factory=list)
    opposite: list[str] = field(default_factory=list)
    exclusive: list[str] = field(default_factory=list)
    models: list[dict] = field(default_factory=list)
    attribute_clusters: dict = field(default_factory=dict)
    mean_face_differences: dict = field(default_factory=dict)
    attribute_statistics: dict = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["html_path"], d["out"] = str(self.html_path), str(self.out)
        d["figures"] = [p.name for p in self.figures]
        d["kind"] = "explore"  # how the dashboard and `facelab.report.kinds` tell reports apart
        return d


def default_out(name: str) -> Path:
    """``<FACELAB_HOME>/reports/<dataset>/explore``."""
    return home() / "reports" / name / "explore"


def explore(data, *, out=None, sample: int = 3000, seed: int = 0, progress: bool = True,
            logreg_sample: int = 50_000, tsne_sample: int = 1000, silhouette_sample: int = 3000,
            ks=range(2, 11), statistics=None) -> ExploreReport:
    """Write the explore report of a dataset.

    Args:
        data: a source folder (CelebA, FER2013, class folders), a prepared cache folder, or a
            :class:`facelab.data.prepared.PreparedDataset`.
        out: report folder (default ``<FACELAB_HOME>/reports/<dataset>/explore``).
        sample: images decoded for the image sections when there is no prepared cache.
        seed: seed of every random sample.
        progress: log each step (``logging``; the CLI shows it).
        logreg_sample: label rows used by the per-attribute logistic regressions.
        tsne_sample: label rows embedded by t-SNE in the attribute clustering.
        silhouette_sample: rows per silhouette score.
        ks: numbers of clusters tried for the attribute clustering.
        statistics: called with the sections' ``Context`` before they run, to fill its cache with
            label statistics computed elsewhere (the scale-out layer injects Spark's:
            :func:`facelab.scale.stats.explore_spark`); None (default): numpy/scikit-learn.

    Returns:
        An :class:`ExploreReport`; ``.html_path`` is the report.

    Example: docs/python.md#explore-and-cluster.
    """
    from ..outputs import check_folder, claim_folder, folder_with_files

    legacy = folder_with_files("report.html", "explore.json")  # a report folder without the marker
    if out:  # refuse a user's folder before the slow part
        check_folder(out, what="report folder", recognise=legacy)
    t_all = time.perf_counter()
    timer = _Timer(progress)
    with timer("read labels and images"):
        src = load_for_explore(data, sample=sample, seed=seed, progress=progress)
    out = claim_folder(Path(out).expanduser() if out else default_out(src.name), what="report folder",
                       recognise=legacy)
    html = HtmlReport(f"facelab explore — {src.name}", out=out)
    rep = ExploreReport(html_path=out / "report.html", out=out, name=src.name, label_rows=len(src.labels),
                        images=0 if src.images is None else len(src.images))
    rep.notes = [src.label_rows_note, src.image_note] + src.notes
    ctx = sections.Context(src=src, html=html, rep=rep, seed=seed, logreg_sample=logreg_sample,
                           tsne_sample=tsne_sample, silhouette_sample=silhouette_sample, ks=ks,
                           progress=progress)
    if statistics is not None:  # scale-out hook: label statistics computed elsewhere (Spark)
        with timer("label statistics (injected)"):
            statistics(ctx)

    html.section("About this report", "What was read, and which rows and images each section uses.")
    html.bullets(rep.notes)
    if not src.label_info:
        rep.skipped.append("label sections: the dataset has no labels")
        html.note("This dataset has no labels: the balance, correlation, regression and attribute "
                  "clustering sections are skipped. Image sections are shown.")
    steps = [("counts and balance", sections.counts_and_balance),
             ("sample grids", sections.sample_grids),
             ("mean faces", sections.mean_faces),
             ("pixel statistics", sections.pixels),
             ("attribute statistics", sections.attribute_statistics),
             ("attribute regressions", sections.attribute_regressions),
             ("attribute clustering", sections.attribute_clustering)]
    for title, fn in steps:
        with timer(title):
            fn(ctx)
    html.section("Timing")
    html.bullets([f"{k}: {v:.1f} s" for k, v in timer.seconds.items()])
    rep.seconds = dict(timer.seconds)
    rep.seconds["total"] = round(time.perf_counter() - t_all, 2)
    rep.figures = list(html.figures)
    rep.html_path = html.write()
    (out / "explore.json").write_text(json.dumps(rep.to_dict(), indent=1, default=_jsonable))
    return rep


def explore_synthetic(out=None, *, n: int = 400, seed: int = 0, progress: bool = False) -> ExploreReport:
    """The explore report of a freshly generated synthetic CelebA (for ``facelab demo``).

    Example: docs/python.md#explore-and-cluster.
    """
    import tempfile

    from ..data.synth import synthesize

    with tempfile.TemporaryDirectory(prefix="facelab-synth-") as tmp:
        root = synthesize(Path(tmp) / "synthetic-celeba", kind="celeba", n=n, seed=seed)
        return explore(root, out=out or default_out("synthetic-celeba"), seed=seed, progress=progress,
                       tsne_sample=min(500, n))


class _Timer:
    def __init__(self, progress: bool):
        self.progress = progress
        self.seconds: dict[str, float] = {}

    def __call__(self, name: str):
        timer = self

        class _Ctx:
            def __enter__(self):
                self.t = time.perf_counter()
                if timer.progress:
                    log.info("[explore] %s ...", name)

            def __exit__(self, *exc):
                timer.seconds[name] = round(time.perf_counter() - self.t, 2)
                return False

        return _Ctx()


def _jsonable(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    return str(o)
