"""The sections of the explore report. Each takes a :class:`Context`, adds to the HTML and
fills the typed report; a section that cannot apply says why (``rep.skipped``)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..report import plots
from ..report.html import HtmlReport
from .source import ExploreSource

# Attributes whose mean-face difference people ask for first; others follow by balance.
KEY_ATTRIBUTES = ("Smiling", "Male", "Eyeglasses", "Young", "Wearing_Hat", "Blond_Hair")
MEAN_FACE_LIMIT = 20_000  # images averaged for mean faces (a stated sample beyond this)


@dataclass
class Context:
    src: ExploreSource
    html: HtmlReport
    rep: object  # ExploreReport (avoids a circular import)
    seed: int = 0
    logreg_sample: int = 50_000
    tsne_sample: int = 1000
    silhouette_sample: int = 3000
    ks: object = range(2, 11)
    progress: bool = True
    cache: dict = field(default_factory=dict)

    # -- shared derived data -------------------------------------------------------------------
    def class_columns(self) -> list[str]:
        """Multiclass labels with a manageable number of classes (identities are left out)."""
        return [n for n, i in self.src.label_info.items()
                if i.kind == "multiclass" and len(i.classes) <= 50 and n in self.src.labels.columns]

    def attr_stats(self):
        if "stats" not in self.cache:
            from .stats import attribute_stats

            names = self.src.attributes
            X = self.src.labels[names].to_numpy(dtype=np.int8) if names else np.zeros((len(self.src.labels), 0), np.int8)
            self.cache["X"] = X
            self.cache["stats"] = attribute_stats(X, names) if names else None
        return self.cache["stats"]

    def kept_matrix(self) -> np.ndarray:
        st = self.attr_stats()
        idx = [self.src.attributes.index(n) for n in st.names]
        return self.cache["X"][:, idx]

    def key_attributes(self, limit: int = 3) -> list[str]:
        st = self.attr_stats()
        if st is None:
            return []
        keys = [a for a in KEY_ATTRIBUTES if a in st.names]
        rest = sorted((a for a in st.names if a not in keys),
                      key=lambda a: abs(st.prevalence[st.names.index(a)] - 0.5))
        return (keys + rest)[:limit]


def _rng(ctx: Context, salt: int = 0) -> np.random.Generator:
    return np.random.default_rng(ctx.seed + salt)


# -- counts and balance ----------------------------------------------------------------------------
def counts_and_balance(ctx: Context) -> None:
    src, html = ctx.src, ctx.html
    html.section("Counts per split", "How many label rows (and images) fall in each split.")
    counts = src.labels["split"].value_counts()
    order = [s for s in ("train", "val", "test", "unknown") if s in counts] + \
        [s for s in counts.index if s not in ("train", "val", "test", "unknown")]
    html.figure(plots.bar_counts({s: int(counts[s]) for s in order}, "Label rows per split"), "split_counts")
    if src.image_table is not None and len(src.image_table) != len(src.labels):
        ic = src.image_table["split"].value_counts()
        html.figure(plots.bar_counts({s: int(ic.get(s, 0)) for s in order if s in ic},
                                     "Images used per split"), "split_counts_images")
    if not src.label_info:
        return
    html.section("Balance", "How often each class or attribute occurs. Rare classes are hard to learn "
                            "and make plain accuracy misleading.")
    for col in ctx.class_columns():
        info = src.label_info[col]
        vc = src.labels[col].value_counts()
        cnt = {c: int(vc.get(i, 0)) for i, c in enumerate(info.classes)}
        html.figure(plots.bar_counts(cnt, f"{col}: rows per class", horizontal=len(cnt) > 8), f"balance_{col}")
        if len(info.classes) == 1:
            html.note(f"{col} has a single class ({info.classes[0]}): class comparisons are not possible.")
        top = max(cnt.values()) / max(sum(cnt.values()), 1)
        html.text(f"Always answering the most frequent {col} class would be right {top:.1%} of the time.")
    st = ctx.attr_stats()
    if st is not None:
        if len(st.names):
            html.figure(plots.attribute_balance(st.names, st.prevalence), "balance_attributes")
        if st.constant:
            ctx.rep.constant_attributes = dict(st.constant)
            html.note("Constant attributes (the same value in every row; excluded from correlations and "
                      "regressions): " + ", ".join(f"{a} = {v}" for a, v in st.constant.items()))


# -- images -----------------------------------------------------------------------------------------
def _pick(mask: np.ndarray, n: int, rng) -> np.ndarray:
    idx = np.flatnonzero(mask)
    return np.sort(rng.choice(idx, min(n, len(idx)), replace=False)) if len(idx) else idx


def sample_grids(ctx: Context) -> None:
    src, html = ctx.src, ctx.html
    html.section("Sample images", "Random images per class (or with and without an attribute), labels shown.")
    if src.images is None or not len(src.images):
        ctx.rep.skipped.append("sample grids: no images")
        html.skipped("no images could be read.")
        return
    rng = _rng(ctx, 1)
    tab = src.image_table
    for col in ctx.class_columns()[:2]:
        info = src.label_info[col]
        y = tab[col].to_numpy()
        rows = [(info.classes[c], src.images[_pick(y == c, 8, rng)]) for c in range(len(info.classes))[:12]
                if (y == c).any()]
        html.figure(plots.image_rows(rows, title=f"{col}: one row per class"), f"grid_{col}")
    keys = ctx.key_attributes(3)
    if keys:
        rows = []
        for a in keys:
            v = tab[a].to_numpy()
            rows.append((a, src.images[_pick(v == 1, 8, rng)]))
            rows.append((f"not {a}", src.images[_pick(v == 0, 8, rng)]))
        html.figure(plots.image_rows(rows, title="With and without key attributes"), "grid_attributes")
        idx = _pick(np.ones(len(tab), bool), 16, rng)
        # three attributes per image, one per line, so neighbouring captions do not overlap
        caps = [["\n".join([a for a in ctx.attr_stats().names if tab[a].iat[i] == 1][:3]) or "(none)"
                 for i in idx[r * 8:(r + 1) * 8]] for r in range(2)]
        html.figure(plots.image_rows([("", src.images[idx[:8]]), ("", src.images[idx[8:]])], captions=caps,
                                     title="Random images with their first attributes"), "grid_random")
    if not ctx.class_columns() and not keys:
        idx = _pick(np.ones(len(tab), bool), 16, rng)
        html.figure(plots.image_rows([("", src.images[idx[:8]]), ("", src.images[idx[8:]])],
                                     title="Random images (no labels)"), "grid_random")


def _mean_rows(ctx: Context) -> np.ndarray:
    n = len(ctx.src.images)
    if n <= MEAN_FACE_LIMIT:
        return np.arange(n)
    ctx.html.note(f"Mean faces average a random sample of {MEAN_FACE_LIMIT:,} of the {n:,} images.")
    return np.sort(_rng(ctx, 2).choice(n, MEAN_FACE_LIMIT, replace=False))


def mean_faces(ctx: Context) -> None:
    from .contrast import mean_face_contrasts
    from .stats import mean_images

    src, html = ctx.src, ctx.html
    html.section("Mean faces and differences",
                 "The average image of each group, and the difference between groups: red where the "
                 "first group is brighter, blue where it is darker. It shows what the labels look like.")
    if src.images is None or not len(src.images):
        html.skipped("no images.")
        return
    if not src.label_info:
        html.skipped("no labels to group the images by.")
        return
    rows = _mean_rows(ctx)
    imgs = src.images[rows] if len(rows) < len(src.images) else src.images
    tab = src.image_table.iloc[rows]
    # the difference in numbers, for every attribute (the Findings page reads it from explore.json)
    ctx.rep.mean_face_differences = mean_face_contrasts(imgs, tab, list(src.attributes))
    overall = None
    for col in ctx.class_columns()[:2]:
        info = src.label_info[col]
        m = mean_images(imgs, tab[col].to_numpy())
        if overall is None:
            overall = mean_images(imgs, np.zeros(len(imgs), int))[0]
        panels = [("all images", overall, "mean")]
        panels += [(f"{info.classes[c]} (n={(tab[col] == c).sum():,})", m[c], "mean") for c in m]
        panels += [(f"{info.classes[c]} − all", m[c] - overall, "diff") for c in m]
        html.figure(plots.mean_faces(panels, title=f"{col}: mean face per class and against the overall mean"),
                    f"mean_{col}")
    panels = []
    for a in ctx.key_attributes(3):
        m = mean_images(imgs, tab[a].to_numpy())
        if 0 in m and 1 in m:
            panels += [(f"{a}", m[1], "mean"), (f"not {a}", m[0], "mean"), (f"{a} − not {a}", m[1] - m[0], "diff")]
    if "Male" in ctx.key_attributes(6):
        m = mean_images(imgs, tab["Male"].to_numpy())
        if 0 in m and 1 in m and not any(p[0] == "Male" for p in panels):
            panels += [("Male", m[1], "mean"), ("Female", m[0], "mean"), ("Male − Female", m[1] - m[0], "diff")]
    if panels:
        html.figure(plots.mean_faces(panels, ncols=3, title="Mean faces with and without an attribute"),
                    "mean_attributes")


def pixels(ctx: Context) -> None:
    from .stats import pixel_stats

    src, html = ctx.src, ctx.html
    html.section("Pixel statistics", "Brightness and contrast of the images: very dark, very bright or "
                                     "flat images are often broken or badly cropped.")
    if src.images is None or not len(src.images):
        html.skipped("no images.")
        return
    rows = _mean_rows(ctx)
    ps = pixel_stats(src.images[rows] if len(rows) < len(src.images) else src.images)
    ch = ["grey"] if len(ps.channel_mean) == 1 else ["red", "green", "blue"]
    html.table(pd.DataFrame({"channel": ch, "mean (0-255)": ps.channel_mean, "std": ps.channel_std}))
    html.bullets([f"{ps.n:,} images; {ps.too_dark:,} very dark (mean < 40), {ps.too_bright:,} very bright "
                  f"(mean > 215), {ps.low_contrast:,} low-contrast (pixel std < 15).",
                  f"Normalisation for training: mean {[round(v / 255, 3) for v in ps.channel_mean]}, "
                  f"std {[round(v / 255, 3) for v in ps.channel_std]} (0-1 scale)."])
    html.figure(plots.mean_faces([("mean image", ps.mean_image, "mean"),
                                  ("std image (x2)", np.clip(ps.std_image * 2, 0, 255), "mean")], ncols=2),
                "pixel_mean_std")
    html.figure(plots.histogram(ps.brightness_hist, title="Mean brightness per image", xlabel="mean grey level"),
                "pixel_brightness")


# -- attributes --------------------------------------------------------------------------------------
def attribute_statistics(ctx: Context) -> None:
    from .stats import exclusive_pairs, strongest_pairs

    html = ctx.html
    html.section("Attribute correlations and P(A | B)",
                 "Which attributes occur together. The correlation is +1 when two attributes always "
                 "occur together and −1 when never. The conditional table reads: row A, column B = "
                 "the share of rows with B that also have A.")
    st = ctx.attr_stats()
    if st is None or len(st.names) < 2:
        ctx.rep.skipped.append("attribute statistics: fewer than two non-constant binary attributes")
        html.skipped("needs at least two binary attributes that are not constant "
                     "(this dataset's labels are classes, not attributes).")
        return
    html.note(f"Computed on {st.n:,} label rows.")
    html.figure(plots.heatmap(st.corr, st.names, st.names, "Attribute correlation (phi)", vmin=-1, vmax=1),
                "attr_correlation")
    html.figure(plots.heatmap(st.cond, st.names, st.names, "P(row attribute | column attribute)", cmap="viridis",
                              vmin=0, vmax=1, xlabel="given B", ylabel="A"), "attr_conditional")
    # the matrices themselves, for the dashboard's interactive charts (the PNGs are for the HTML)
    ctx.rep.attribute_statistics = {"n": int(st.n), "names": list(st.names),
                                    "prevalence": [float(v) for v in st.prevalence],
                                    "correlation": np.round(st.corr, 4).tolist(),
                                    "conditional": np.round(st.cond, 4).tolist()}
    pos, neg = strongest_pairs(st, 5)
    exc = exclusive_pairs(st, 5)
    ctx.rep.strongest = [p.text for p in pos]
    ctx.rep.opposite = [p.text for p in neg]
    ctx.rep.exclusive = [p.text for p in exc]
    html.text("Strongest pairs:")
    html.bullets(ctx.rep.strongest)
    html.text("Strongest opposites:")
    html.bullets(ctx.rep.opposite)
    html.text("Most exclusive pairs (among attributes present in at least 5% of rows):")
    html.bullets(ctx.rep.exclusive or ["none: no two common attributes are close to exclusive."])


def attribute_regressions(ctx: Context) -> None:
    from .logreg import attribute_models

    html = ctx.html
    html.section("Predicting each attribute from the others",
                 "A logistic regression per attribute, using only the other attributes. High F1 means "
                 "the attribute is mostly implied by the others; compare accuracy with the baseline "
                 "(always answering the majority value).")
    st = ctx.attr_stats()
    if st is None or len(st.names) < 2:
        html.skipped("needs at least two non-constant binary attributes.")
        return
    X = ctx.kept_matrix()
    models = ctx.cache.get("models")  # fitted on every row by Spark MLlib (facelab.scale.stats)
    if len(X) > ctx.logreg_sample and models is None:
        rows = np.sort(_rng(ctx, 3).choice(len(X), ctx.logreg_sample, replace=False))
        X = X[rows]
        html.note(f"Fitted on a random sample of {ctx.logreg_sample:,} of {st.n:,} rows "
                  "(75% to fit, 25% held out for the scores).")
    else:
        html.note(f"All {len(X):,} rows: 75% to fit, 25% held out for the scores.")
    if len(X) < 8:
        html.skipped("fewer than 8 rows.")
        return
    models = models or attribute_models(X, st.names, seed=ctx.seed)
    df = pd.DataFrame([{"attribute": m.target, "share": m.prevalence, "accuracy": m.accuracy,
                        "baseline": m.baseline, "precision": m.precision, "recall": m.recall, "F1": m.f1,
                        "most informative (sign)": m.describe()} for m in models]).sort_values("F1", ascending=False)
    ctx.rep.models = df.to_dict("records")
    html.figure(plots.attribute_balance(df["attribute"].tolist(), df["F1"].to_numpy(),
                                        title="F1 (x100) predicting each attribute from the others"),
                "attr_regression_f1")
    html.table(df)


def attribute_clustering(ctx: Context) -> None:
    from .attributes import cluster_attributes

    html = ctx.html
    html.section("Clustering the attribute table",
                 "k-means groups rows with similar attribute sets (labels only, no images). Each cluster "
                 "is described by the attributes it has more or less often than the whole table.")
    st = ctx.attr_stats()
    if st is None or len(st.names) < 2:
        html.skipped("needs at least two non-constant binary attributes.")
        return
    X = ctx.kept_matrix()
    if len(X) < 3:
        html.skipped(f"only {len(X)} rows.")
        return
    ac = cluster_attributes(X, st.names, ks=ctx.ks, silhouette_sample=ctx.silhouette_sample,
                            tsne_sample=ctx.tsne_sample, seed=ctx.seed)
    sw = ac.sweep
    algo = "MiniBatchKMeans" if ac.n > 5000 else "KMeans"  # the choice made by report.sweep.fit_kmeans
    html.note(f"{algo} on all {ac.n:,} rows for k in {sw.ks}. Chosen: {sw.reason}")
    html.bullets(ac.notes)
    html.figure(plots.elbow_silhouette(sw.ks, sw.inertia, sw.silhouette, sw.chosen_k), "attr_cluster_k")
    html.figure(plots.bar_counts({f"c{i}": s for i, s in enumerate(ac.sizes)}, "Rows per cluster"),
                "attr_cluster_sizes")
    pan = [("PCA", ac.pca)] + ([("t-SNE", ac.tsne)] if ac.tsne is not None else [])
    labs = [sw.labels[ac.plot_rows]] + ([sw.labels[ac.tsne_rows]] if ac.tsne is not None else [])
    if len(pan) == 2 and len(labs[0]) != len(labs[1]):
        # scatter2d colours every panel by one label array: draw the two views separately
        html.figure(plots.scatter2d(pan[:1], labs[0], title="Clusters in 2-D (PCA)"), "attr_cluster_pca")
        html.figure(plots.scatter2d(pan[1:], labs[1], title="Clusters in 2-D (t-SNE)"), "attr_cluster_tsne")
    else:
        html.figure(plots.scatter2d(pan, labs[0], title="Clusters in 2-D"), "attr_cluster_2d")
    k = sw.chosen_k
    html.figure(plots.heatmap(ac.means.T, st.names, [f"c{i}" for i in range(k)], "Share of each attribute per cluster",
                              cmap="viridis", vmin=0, vmax=1, annotate=False), "attr_cluster_means")
    html.figure(plots.heatmap(ac.distances, [f"c{i}" for i in range(k)], [f"c{i}" for i in range(k)],
                              "Distance between cluster centres", cmap="magma_r", fmt="{:.1f}"),
                "attr_cluster_distances")
    html.bullets(ac.descriptions)
    ctx.rep.attribute_clusters = {"k": k, "reason": sw.reason, "sizes": ac.sizes, "descriptions": ac.descriptions,
                                  "sweep": sw.rows(), "notes": ac.notes}
    src = ctx.src
    if src.images is not None and len(src.images) and all(a in src.image_table for a in st.names):
        lab = ac.assign(src.image_table[st.names].to_numpy())
        rng = _rng(ctx, 4)
        rows = [(f"c{c}", src.images[_pick(lab == c, 8, rng)]) for c in range(k) if (lab == c).any()]
        html.figure(plots.image_rows(rows, title="Sample images per cluster (images assigned to the nearest centre)"),
                    "attr_cluster_images")
    else:
        html.skipped("sample images per cluster: no images with these attributes.")
