"""``cluster(data, features=...)``: k-means on face features, with a report a person can read.

Pipeline: features (pixels, HOG or a run's penultimate layer) -> standard scaling -> PCA and
TruncatedSVD compared by silhouette -> k-means over components x k -> the best setting by
silhouette -> 2-D views, images nearest each centre, and (when labels exist) the clusters
matched to the labels with accuracy, ARI, NMI and a confusion matrix.

Example: docs/python.md#explore-and-cluster.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..paths import home as home_folder
from .features import extract, load_images
from ..report.sweep import Matching, grid_sweep, match_labels, reduce, sample_silhouette, valid_ks

DEFAULT_COMPONENTS = (10, 25, 50, 100)
log = logging.getLogger(__name__)


@dataclass
class ClusterReport:
    """What ``cluster`` found and wrote (``cluster.json`` holds the same).

    Attributes:
        html_path, json_path, out: the report, its JSON and their folder.
        features: feature name; n: images clustered; dims: features per image.
        reducers: silhouette of PCA vs TruncatedSVD (same components and k).
        sweep: one row per (components, k): inertia, silhouette, seconds.
        chosen: {"components", "k", "reason"}.
        label: label column matched (None without labels).
        matching: scores at the chosen k; matching_at_classes: at k = number of classes
            (Hungarian, one cluster per class) when that k was tried.
        notes: samples, scaling and anything dropped, in words. seconds: time per step.
        warnings: what makes the scores read better than they are (a run's features on the
            images it trained on), first in the report and printed by the CLI.
    """

    html_path: Path
    json_path: Path
    out: Path
    features: str
    n: int
    dims: int
    reducers: dict = field(default_factory=dict)
    sweep: list[dict] = field(default_factory=list)
    chosen: dict = field(default_factory=dict)
    label: str | None = None
    classes: list[str] = field(default_factory=list)
    matching: dict | None = None
    matching_at_classes: dict | None = None
    sizes: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("html_path", "json_path", "out"):
            d[k] = str(d[k])
        d["kind"] = "cluster"  # how the dashboard and `facelab.report.kinds` tell reports apart
        return d


def _matching_dict(m: Matching, k: int) -> dict:
    return {"k": k, "method": m.method, "accuracy": m.accuracy, "ari": m.ari, "nmi": m.nmi,
            "majority_baseline": m.majority_baseline, "mapping": {str(a): b for a, b in m.mapping.items()},
            "confusion": m.confusion.tolist(), "contingency": m.contingency.tolist()}


def _select_rows(ds, y, *, per_class, sample, seed, notes, split=None) -> np.ndarray:
    ds_y = y
    rng = np.random.default_rng(seed)
    rows = np.arange(len(ds))
    if split is not None:
        wanted = [s.strip() for s in str(split).split(",") if s.strip()]
        rows = np.flatnonzero(ds.table["split"].isin(wanted).to_numpy())
        if not len(rows):
            have = ", ".join(sorted(ds.table["split"].unique()))
            raise ConfigError(f"no images in split {split!r}", path=ds.path, fix=f"choose from: {have}")
        notes.append(f"Only the {split} split: {len(rows):,} of {len(ds):,} images.")
        if y is not None:
            y = y[rows]
    if per_class is not None:
        if y is None:
            raise ConfigError("per_class needs a class label, and this dataset has none",
                              fix="leave out --per-class, or pass --label with a class column")
        keep = []
        for c in np.unique(y):
            idx = rows[y == c]
            keep.append(rng.choice(idx, min(per_class, len(idx)), replace=False))
        rows = np.sort(np.concatenate(keep))
        counts = np.bincount(ds_y[rows])
        notes.append(f"Equal classes: up to {per_class:,} images per class (seed {seed}); "
                     f"{len(rows):,} images, smallest class {counts[counts > 0].min():,}.")
    if sample is not None and len(rows) > sample:
        rows = np.sort(rng.choice(rows, sample, replace=False))
        notes.append(f"A random sample of {sample:,} images (seed {seed}) is clustered.")
    return rows


def cluster(data, *, features: str = "pixels", k=range(5, 16), components=DEFAULT_COMPONENTS,
            per_class: int | None = None, sample: int | None = None, label: str | None = None,
            split: str | None = None,
            seed: int = 0, out=None, silhouette_sample: int = 5000, tsne_sample: int = 2000,
            algorithm: str = "minibatch", progress: bool = True, runs_dir: str | Path | None = None,
            home: str | Path | None = None) -> ClusterReport:
    """Cluster the images of a dataset and write ``report.html``, PNGs and ``cluster.json``.

    Args:
        data: a source folder, a prepared cache folder, or a PreparedDataset.
        features: ``pixels``, ``hog`` or ``run:<RUN>`` (penultimate layer of a trained run).
        k: numbers of clusters to try (values outside 2..n-1 are dropped, with a note).
        components: numbers of PCA/SVD components to try (capped by the data, with a note).
        per_class: use an equal number of images per class (at most this many each).
        sample: cluster a random sample of this many images.
        label: class column to compare clusters with (default: the dataset's class column).
        split: only these splits (``"test"``, ``"val,test"``), e.g. images a run never trained on.
        seed: seed of every sample and fit.
        out: report folder (default ``<FACELAB_HOME>/reports/<dataset>/cluster-<features>``).
        silhouette_sample: rows per silhouette score; tsne_sample: rows embedded by t-SNE.
        algorithm: ``minibatch`` (MiniBatchKMeans) or ``kmeans``.
        progress: log the steps (``logging``, shown by the CLI) and show progress bars.
        runs_dir: where ``run:<RUN>`` is looked up (default ``$FACELAB_RUNS`` or ``./runs``).
        home: facelab's working folder, for the default ``out`` (default ``$FACELAB_HOME``).

    Returns:
        A :class:`ClusterReport`.
    """
    from . import render
    from ..outputs import check_folder, claim_folder, folder_with_files

    t0 = time.perf_counter()
    secs: dict[str, float] = {}
    say = _say if progress else (lambda m: None)
    legacy = folder_with_files("report.html", "cluster.json")  # a report folder without the marker
    if out:  # refuse a user's folder before the slow part
        check_folder(out, what="report folder", recognise=legacy)
    run = _feature_run(features, runs_dir)  # a missing run fails now, not after loading the images
    sel = _selection(data, label, per_class=per_class, sample=sample, seed=seed, split=split, run=run,
                     progress=progress)
    ks, knotes = valid_ks(k, len(sel.rows))
    sel.notes += knotes

    say(f"features: {features} on {len(sel.rows):,} images")
    t = time.perf_counter()
    feats, X = _features(sel, features, run=run, progress=progress)
    secs["features"] = round(time.perf_counter() - t, 2)

    t = time.perf_counter()
    Z, comps, reducers, use = _reduce(X, feats, components, ks, sel, seed=seed, algorithm=algorithm,
                                      silhouette_sample=silhouette_sample, say=say)
    secs["reduce"] = round(time.perf_counter() - t, 2)

    say(f"k-means over components {comps} x k {ks}")
    t = time.perf_counter()
    gs = _sweep(Z, comps, ks, silhouette_sample=silhouette_sample, seed=seed, algorithm=algorithm,
                progress=progress)
    secs["sweep"] = round(time.perf_counter() - t, 2)
    sel.notes.append(f"Silhouettes on a random sample of {gs.silhouette_sample:,} images "
                     "(exact scores are O(n²)).")

    out = (Path(out).expanduser() if out else
           home_folder(home) / "reports" / sel.name / f"cluster-{feats.name.replace(':', '-')}")
    out = claim_folder(out, what="report folder", recognise=legacy)
    rep, labels, centers = _report(out, sel, feats, reducers, use, gs, ks)
    say("figures and report")
    t = time.perf_counter()
    render.write_report(rep, Z=Z, images=sel.images, labels=labels, centers=centers, y=sel.y, seed=seed,
                        tsne_sample=tsne_sample, title=f"facelab cluster — {sel.name} ({feats.name})")
    secs["report"] = round(time.perf_counter() - t, 2)
    secs["total"] = round(time.perf_counter() - t0, 2)
    rep.seconds = secs
    rep.json_path.write_text(json.dumps(rep.to_dict(), indent=1, default=float))
    return rep


def _say(message: str) -> None:
    log.info("[cluster] %s", message)


def _feature_run(features: str, runs_dir):
    """The run of ``run:<RUN>`` features, opened (None for the other features)."""
    if features not in ("pixels", "hog", "embed") and not (features.startswith("run:") and len(features) > 4):
        raise ConfigError(f"unknown features {features!r}",
                          fix="use --features pixels, hog, embed (dlib) or run:<RUN> (see `facelab runs`)")
    if not features.startswith("run:"):
        return None
    from ..runs import Run, resolve_run

    return Run.load(resolve_run(features[4:], runs_dir))


@dataclass
class _Selection:
    """The images clustered: the cache, the rows chosen, their labels and what was said about them."""

    ds: object
    name: str
    col: str | None
    rows: np.ndarray
    images: np.ndarray
    y: np.ndarray | None
    notes: list[str]
    warnings: list[str]


def _selection(data, label, *, per_class, sample, seed, split, run, progress) -> _Selection:
    ds, origin = load_images(data, progress=progress, run_input=run.input if run is not None else None)
    notes = [f"Images: {origin}."]
    name = Path(ds.manifest.root).name or ds.path.name
    col = label or ds.manifest.default_class_column()
    if col is not None and col not in ds.table.columns:
        raise ConfigError(f"{ds.path} has no label {col!r}", path=ds.path,
                          fix=f"choose one of: {', '.join(ds.labels) or '(none)'}")
    y_all = ds.table[col].to_numpy().astype(int) if col else None
    rows = _select_rows(ds, y_all, per_class=per_class, sample=sample, seed=seed, notes=notes, split=split)
    if len(rows) < 3:
        raise ConfigError(f"only {len(rows)} images to cluster", path=ds.path, fix="use a larger dataset")
    warnings = []
    if run is not None and (seen := run.trained_on(ds, rows)):
        warnings.append(f"{seen:,} of the {len(rows):,} images clustered are ones run {run.name} trained on: its "
                        f"features learned their labels, so the match to {col or 'labels'} reads better than it "
                        f"would on new faces (use --split test, or val,test, for an honest figure)")
    images = ds.images[rows] if len(rows) < len(ds) else np.asarray(ds.images)
    y = y_all[rows] if y_all is not None else None
    return _Selection(ds=ds, name=name, col=col, rows=rows, images=images, y=y, notes=notes, warnings=warnings)


def _features(sel: _Selection, features: str, *, run, progress: bool):
    """The features (``Features``) and their standardised float32 matrix."""
    from sklearn.preprocessing import StandardScaler

    if features == "embed":  # dlib descriptors of the source photos (facelab[dlib]), cached per cache
        from .embed_features import embed_features

        feats = embed_features(sel.ds, sel.rows, progress=progress)
    else:
        feats = extract(sel.images, features, progress=progress, run=run)
    sel.notes.append(f"Features: {feats.note}.")
    X = StandardScaler().fit_transform(feats.X).astype(np.float32)
    sel.notes.append("Scaling: PCA sees every feature standardised to zero mean and unit variance "
                     "(StandardScaler); TruncatedSVD sees the raw features (uncentred, unscaled).")
    return feats, X


def _reduce(X, feats, components, ks, sel: _Selection, *, seed, algorithm, silhouette_sample, say):
    """PCA and TruncatedSVD compared by silhouette at one k; the better one's components are kept."""
    from ..report.sweep import fit_kmeans

    cap = max(2, min(len(sel.rows) - 1, X.shape[1]))
    comps = sorted({min(int(c), cap) for c in components if int(c) >= 2}) or [cap]
    if max(components) > cap:
        sel.notes.append(f"Components capped at {cap} (images and features available).")
    say(f"PCA and TruncatedSVD with {max(comps)} components")
    Zp, evr = reduce(X, max(comps), method="pca", seed=seed)
    # TruncatedSVD on the raw features: on the standardised (centred) ones it would find PCA's
    # directions again, and the comparison would say nothing
    Zs, _ = reduce(np.asarray(feats.X, np.float32), max(comps), method="svd", seed=seed)
    y = sel.y
    k_ref = len(np.unique(y)) if y is not None and len(np.unique(y)) in ks else ks[len(ks) // 2]
    reducers = {}
    for nm, Z in (("PCA", Zp), ("TruncatedSVD", Zs)):
        m = fit_kmeans(Z, k_ref, seed=seed, algorithm=algorithm)
        reducers[nm] = {"components": max(comps), "k": k_ref,
                        "silhouette": sample_silhouette(Z, m.labels_, sample=silhouette_sample, seed=seed)}
    use = max(reducers, key=lambda r: np.nan_to_num(reducers[r]["silhouette"], nan=-1))
    other = min(reducers.values(), key=lambda r: np.nan_to_num(r["silhouette"], nan=-1))
    sel.notes.append(f"{use} kept for the sweep: silhouette {reducers[use]['silhouette']:.3f} vs "
                     f"{other['silhouette']:.3f} (k = {k_ref}, {max(comps)} components). "
                     f"PCA keeps {evr.sum():.0%} of the variance.")
    return (Zp if use == "PCA" else Zs), comps, reducers, use


def _sweep(Z, comps, ks, *, silhouette_sample, seed, algorithm, progress):
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(comps) * len(ks), desc="k-means sweep", unit="fit", disable=None)
    gs = grid_sweep(Z, comps, ks, silhouette_sample=silhouette_sample, seed=seed, algorithm=algorithm,
                    progress=(lambda: bar.update()) if bar else None)
    if bar:
        bar.close()
    return gs


def _report(out: Path, sel: _Selection, feats, reducers, use, gs, ks):
    """The :class:`ClusterReport` of the chosen setting, its labels and centres."""
    c_best, k_best = gs.best
    labels, centers = gs.fits[(c_best, k_best)]
    rep = ClusterReport(html_path=out / "report.html", json_path=out / "cluster.json", out=out, features=feats.name,
                        n=len(sel.rows), dims=int(feats.X.shape[1]), reducers=reducers, sweep=gs.rows,
                        chosen={"components": c_best, "k": k_best, "reason": gs.reason, "reducer": use},
                        sizes=np.bincount(labels, minlength=k_best).tolist(), notes=sel.notes,
                        warnings=sel.warnings)
    y = sel.y
    if y is not None:
        info = sel.ds.labels.get(sel.col)
        rep.label = sel.col
        rep.classes = list(info.classes) if info else [str(v) for v in range(int(y.max()) + 1)]
        nc = len(rep.classes)
        rep.matching = _matching_dict(match_labels(y, labels, nc), k_best)
        if nc in ks:
            rep.matching_at_classes = _matching_dict(match_labels(y, gs.fits[(c_best, nc)][0], nc), nc)
    else:
        sel.notes.append("No class label: cluster-to-label matching is skipped.")
    return rep, labels, centers
