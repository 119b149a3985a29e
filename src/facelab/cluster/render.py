"""The HTML report of :func:`facelab.cluster.report.cluster` (figures and words)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..report import plots
from ..report.embed import tsne_2d
from ..report.html import HtmlReport


def _embeddings(Z: np.ndarray, *, seed: int, tsne_sample: int, notes: list[str]):
    """PCA (first two components), t-SNE on a stated sample and UMAP when installed."""

    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(Z), min(tsne_sample, len(Z)), replace=False))
    pan = [("PCA (components 1-2)", Z[rows, :2] if Z.shape[1] >= 2 else np.c_[Z[rows, :1], np.zeros(len(rows))])]
    if len(rows) >= 10:
        pan.append(("t-SNE", tsne_2d(Z[rows], seed=seed)))
    try:
        import umap  # optional: not a dependency

        pan.append(("UMAP", umap.UMAP(random_state=seed).fit_transform(Z[rows])))
    except ImportError:
        notes.append("UMAP not shown: the umap-learn package is not installed.")
    notes.append(f"2-D views show a random sample of {len(rows):,} of {len(Z):,} images (t-SNE is O(n log n) "
                 "but slow on 2 cores).")
    return rows, pan


def _nearest(Z: np.ndarray, labels: np.ndarray, centers: np.ndarray, n: int = 8) -> list[np.ndarray]:
    """Indices of the ``n`` images nearest each centre (in the clustering space)."""
    c = Z.shape[1] if centers.shape[1] == Z.shape[1] else centers.shape[1]
    d = ((Z[:, :c] - centers[labels]) ** 2).sum(1)
    out = []
    for j in range(len(centers)):
        idx = np.flatnonzero(labels == j)
        out.append(idx[np.argsort(d[idx])[:n]])
    return out


def write_report(rep, *, Z, images, labels, centers, y, seed: int, tsne_sample: int, title: str) -> None:
    html = HtmlReport(title, out=rep.out)
    html.section("About this clustering", "What was clustered and how; every sample is stated.")
    html.bullets([f"Caution: {w}." for w in rep.warnings] + rep.notes)

    html.section("PCA or truncated SVD?", "Both reduce the features before k-means; the one whose clusters "
                                          "separate better (higher silhouette) is kept.")
    html.table(pd.DataFrame([{"reducer": k, **v} for k, v in rep.reducers.items()]))

    html.section("Components x k", "Inertia falls as k grows (look for the elbow); the silhouette (−1 to 1) "
                                   "is higher when clusters are compact and apart.")
    df = pd.DataFrame(rep.sweep)
    ks = sorted(df["k"].unique().tolist())
    sil = {f"{c} comp.": df[df.components == c].sort_values("k")["silhouette"].tolist()
           for c in sorted(df.components.unique())}
    ine = {f"{c} comp.": df[df.components == c].sort_values("k")["inertia"].tolist()
           for c in sorted(df.components.unique())}
    html.figure(plots.lines(ks, sil, xlabel="k", ylabel="silhouette (sample)", title="Silhouette"), "sweep_silhouette")
    html.figure(plots.lines(ks, ine, xlabel="k", ylabel="inertia", title="Elbow (inertia)"), "sweep_inertia")
    html.note(f"Chosen: {rep.chosen['reason']}")
    html.table(df)

    k = rep.chosen["k"]
    html.section("Clusters", f"{k} clusters: their sizes, a 2-D view, and the images nearest each centre.")
    html.figure(plots.bar_counts({f"c{i}": s for i, s in enumerate(rep.sizes)}, "Images per cluster"), "cluster_sizes")
    notes: list[str] = []
    rows, pan = _embeddings(Z[:, :rep.chosen["components"]], seed=seed, tsne_sample=tsne_sample, notes=notes)
    html.bullets(notes)
    rep.notes.extend(notes)
    html.figure(plots.scatter2d(pan, labels[rows], title="Coloured by cluster"), "embedding_clusters")
    if y is not None:
        html.figure(plots.scatter2d(pan, y[rows], legend=rep.classes, title=f"Coloured by {rep.label}"),
                    "embedding_labels")
    near = _nearest(Z[:, :rep.chosen["components"]], labels, centers)
    grid = [(f"c{j} (n={rep.sizes[j]:,})", images[idx]) for j, idx in enumerate(near) if len(idx)]
    html.figure(plots.image_rows(grid, title="The 8 images nearest each cluster centre"), "nearest_images")
    _label_section(html, rep)
    html.write()


def _label_section(html: HtmlReport, rep) -> None:
    html.section("Clusters against the labels",
                 "How well the clusters recover the label. Accuracy needs a cluster-to-class mapping "
                 "(Hungarian: one cluster per class when k <= classes; majority otherwise). ARI and NMI "
                 "need none: 0 = chance, 1 = identical partitions.")
    if rep.matching is None:
        html.skipped("the dataset has no class label.")
        return
    table = []
    for m in (rep.matching, rep.matching_at_classes):
        if m is None:
            continue
        table.append({"k": m["k"], "method": m["method"], "accuracy": m["accuracy"], "ARI": m["ari"],
                      "NMI": m["nmi"], "majority class": m["majority_baseline"]})
    html.table(pd.DataFrame(table).drop_duplicates())
    best = rep.matching_at_classes or rep.matching
    conf = np.asarray(best["confusion"])
    html.figure(plots.heatmap(conf, rep.classes, rep.classes, f"True {rep.label} x matched cluster (k = {best['k']})",
                              cmap="Blues", fmt="{:.0f}", xlabel="cluster's class", ylabel="true class"),
                "confusion")
    cont = np.asarray(rep.matching["contingency"])
    html.figure(plots.heatmap(cont, [f"c{i}" for i in range(len(cont))], rep.classes,
                              f"Cluster x {rep.label} counts (k = {rep.matching['k']})", cmap="Blues", fmt="{:.0f}",
                              xlabel=rep.label, ylabel="cluster"), "contingency")
