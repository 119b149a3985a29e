"""matplotlib figures (Agg backend) for the explore and cluster reports.

Every function returns a ``Figure``; :class:`facelab.report.html.HtmlReport` saves and embeds it.

Example:
    >>> fig = bar_counts({"train": 80, "val": 10, "test": 10}, "Images per split")
    >>> type(fig).__name__
    'Figure'
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # no display on servers; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def bar_counts(counts: dict[str, int], title: str, *, horizontal: bool = False):
    """Bar chart of counts with the numbers written on the bars."""
    names, vals = list(counts), list(counts.values())
    if horizontal:
        fig, ax = plt.subplots(figsize=(7, 0.25 * len(names) + 1))
        ax.barh(names, vals, color="#4c78a8")
        ax.invert_yaxis()
        for i, v in enumerate(vals):
            ax.text(v, i, f" {v:,}", va="center", fontsize=7)
    else:
        fig, ax = plt.subplots(figsize=(max(4, 0.7 * len(names) + 1), 3))
        ax.bar(names, vals, color="#4c78a8")
        for i, v in enumerate(vals):
            ax.text(i, v, f"{v:,}", ha="center", va="bottom", fontsize=8)
        ax.tick_params(axis="x", rotation=30 if len(names) > 5 else 0)
    ax.set_title(title)
    return fig


def attribute_balance(names: list[str], prevalence: np.ndarray, title: str = "Share of rows with each attribute"):
    """Horizontal bars of the positive share of each binary attribute, sorted."""
    order = np.argsort(prevalence)[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.2 * len(names) + 1))
    ax.barh([names[i] for i in order], prevalence[order] * 100, color="#4c78a8")
    ax.axvline(50, color="#999", lw=0.8, ls="--")
    ax.invert_yaxis()
    ax.set_xlabel("% of rows")
    ax.set_xlim(0, 100)
    ax.tick_params(axis="y", labelsize=7)
    ax.set_title(title)
    return fig


def heatmap(m: np.ndarray, rows: list[str], cols: list[str], title: str, *, cmap: str = "RdBu_r",
            vmin: float | None = None, vmax: float | None = None, annotate: bool | None = None,
            fmt: str = "{:.2f}", xlabel: str = "", ylabel: str = ""):
    """A labelled heatmap; numbers are written in the cells when the matrix is small."""
    h, w = m.shape
    size = max(3.5, 0.22 * max(h, w) + 2)
    fig, ax = plt.subplots(figsize=(size * max(1, w / max(h, 1)) ** 0.5, size))
    im = ax.imshow(m, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto", interpolation="nearest")
    fs = 7 if max(h, w) > 20 else 9
    ax.set_xticks(range(w), cols, rotation=90, fontsize=fs)
    ax.set_yticks(range(h), rows, fontsize=fs)
    if annotate is None:
        annotate = h * w <= 225
    if annotate:
        for i in range(h):
            for j in range(w):
                ax.text(j, i, fmt.format(m[i, j]), ha="center", va="center", fontsize=7)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    fig.colorbar(im, ax=ax, fraction=0.04)
    return fig


def _show(ax, img: np.ndarray) -> None:
    img = np.asarray(img)
    if img.ndim == 3 and img.shape[2] == 1:
        ax.imshow(img[..., 0], cmap="gray", vmin=0, vmax=255)
    else:
        ax.imshow(img.astype(np.uint8) if img.dtype != np.uint8 else img)
    ax.set_xticks([])
    ax.set_yticks([])


def image_rows(rows: list[tuple[str, np.ndarray]], *, ncols: int = 8, title: str = "",
               captions: list[list[str]] | None = None):
    """A grid with one labelled row per group (class, cluster, attribute value)."""
    n = max(len(rows), 1)
    extra = 0.45 if captions else 0.0  # room for three caption lines above each image
    fig, axes = plt.subplots(n, ncols, figsize=(ncols * 1.1 + 1.2, n * (1.25 + extra) + 0.4), squeeze=False)
    for r, (label, imgs) in enumerate(rows):
        for c in range(ncols):
            ax = axes[r, c]
            if c < len(imgs):
                _show(ax, imgs[c])
                if captions and captions[r] and c < len(captions[r]):
                    ax.set_title(captions[r][c], fontsize=5.5)
            else:
                ax.axis("off")
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def mean_faces(panels: list[tuple[str, np.ndarray, str]], *, ncols: int = 4, title: str = ""):
    """Mean faces and difference images.

    Args:
        panels: (title, float image HxWxC, kind) with kind ``mean`` (0-255 values) or ``diff``
            (signed; shown in a diverging map of its grey level, red = brighter, blue = darker).
    """
    n = len(panels)
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * 2.1, nrows * 2.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (t, img, kind) in zip(axes.flat, panels):
        ax.axis("on")
        if kind == "diff":
            g = img.mean(axis=2)
            lim = max(float(np.abs(g).max()), 1e-6)
            ax.imshow(g, cmap="RdBu_r", vmin=-lim, vmax=lim)
            t = f"{t}\n(±{lim:.0f} grey levels)"
        else:
            _show(ax, np.clip(img, 0, 255).astype(np.uint8))
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(t, fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def elbow_silhouette(ks: list[int], inertia: list[float], silhouette: list[float], chosen: int,
                     title: str = "Choosing k"):
    """Inertia (elbow) and silhouette against k, the chosen k marked."""
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.2))
    a1.plot(ks, inertia, "o-")
    a1.set_xlabel("k")
    a1.set_ylabel("inertia")
    a1.set_title("Elbow")
    a2.plot(ks, silhouette, "o-", color="#f58518")
    a2.set_xlabel("k")
    a2.set_ylabel("silhouette (sample)")
    a2.set_title("Silhouette")
    for a in (a1, a2):
        a.axvline(chosen, color="#999", ls="--")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def lines(x: list, series: dict[str, list[float]], *, xlabel: str, ylabel: str, title: str):
    """Several lines on one axis (e.g. silhouette vs k for each number of components)."""
    fig, ax = plt.subplots(figsize=(6, 3.4))
    for name, ys in series.items():
        ax.plot(x, ys, "o-", label=name, ms=3)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def scatter2d(panels: list[tuple[str, np.ndarray]], labels: np.ndarray, *, legend: list[str] | None = None,
              title: str = ""):
    """2-D embeddings side by side, points coloured by ``labels``."""
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4.2), squeeze=False)
    labels = np.asarray(labels)
    cmap = plt.get_cmap("tab20" if labels.max(initial=0) >= 10 else "tab10")
    for ax, (t, z) in zip(axes[0], panels):
        for v in np.unique(labels):
            sel = labels == v
            name = legend[v] if legend is not None and v < len(legend) else str(v)
            ax.scatter(z[sel, 0], z[sel, 1], s=4, alpha=0.6, color=cmap(int(v) % cmap.N), label=name)
        ax.set_title(t, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, -1].legend(fontsize=6, markerscale=3, loc="center left", bbox_to_anchor=(1, 0.5))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def histogram(hist: np.ndarray, *, title: str, xlabel: str, lo: float = 0, hi: float = 255):
    edges = np.linspace(lo, hi, len(hist) + 1)
    fig, ax = plt.subplots(figsize=(5, 2.8))
    ax.bar(edges[:-1], hist, width=np.diff(edges), align="edge", color="#4c78a8")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("images")
    ax.set_title(title)
    fig.tight_layout()
    return fig
