"""Renderers of the identity results (text, images, HTML); nothing here computes a figure.

Example:
    >>> print(distance_table(["a.jpg", "b.jpg"], np.array([[0, .3], [.3, 0]]), 0.4))
    file   a.jpg    b.jpg
    a.jpg  -        0.300 ✓
    b.jpg  0.300 ✓  -
"""
from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Sequence

import numpy as np


def distance_table(names: Sequence[str], D: np.ndarray, threshold: float) -> str:
    """An N×N text table of distances; ✓ marks "same person" at ``threshold``."""
    short = [Path(n).name for n in names]
    cells = [["file", *short]]
    for i, n in enumerate(short):
        cells.append([n] + ["-" if i == j else f"{D[i, j]:.3f} {'✓' if D[i, j] <= threshold else '✗'}"
                            for j in range(len(short))])
    w = [max(len(r[c]) for r in cells) + 2 for c in range(len(cells[0]))]
    return "\n".join("".join(c.ljust(w[k]) for k, c in enumerate(r)).rstrip() for r in cells)


def verify_lines(result) -> list[str]:
    """One line per pair, then the threshold and its source, then notes on photos with several faces."""
    th = result.threshold
    lines = [f"{Path(p['a']).name} vs {Path(p['b']).name}: distance {p['distance']:.3f} → {p['decision']}"
             for p in result.pairs()]
    lines.append(f"threshold {th.value:.3f} ({th.source}{': ' + th.detail if th.detail else ''})")
    lines += [f"{Path(f.file).name}: {f.note}" for f in result.faces if f.note]
    return lines


def draw_verify(result, images: Sequence[np.ndarray], height: int = 240) -> np.ndarray:
    """The photos side by side (scaled to ``height``), each compared face boxed; distances in the caption."""
    import cv2

    tiles = []
    for img, f in zip(images, result.faces):
        img = np.ascontiguousarray(img[..., :3] if img.ndim == 3 else np.repeat(img[..., None], 3, 2))
        k = height / img.shape[0]
        t = cv2.resize(img, (max(1, round(img.shape[1] * k)), height), interpolation=cv2.INTER_AREA).copy()
        b = f.face.box
        cv2.rectangle(t, (int(b.x * k), int(b.y * k)), (int((b.x + b.w) * k), int((b.y + b.h) * k)), (0, 200, 0), 2)
        tiles.append(t)
    strip = np.concatenate(tiles, axis=1)
    bar = np.full((28, strip.shape[1], 3), 255, np.uint8)
    text = "  ".join(f"{i}-{j}: {result.distance(i, j):.3f} {'same' if result.same(i, j) else 'diff'}"
                     for i in range(len(tiles)) for j in range(i + 1, len(tiles)))
    cv2.putText(bar, text[:200], (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([strip, bar], axis=0)


def _img(data: bytes | None, title: str = "") -> str:
    if not data:
        return ""
    return (f'<img src="data:image/jpeg;base64,{base64.b64encode(data).decode()}" width="80" height="80" '
            f'title="{html.escape(title)}">')


_CSS = ("body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}"
        ".row{display:flex;flex-wrap:wrap;gap:4px;margin:.3em 0 1.2em}img{border:1px solid #ccc}"
        "table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2em .5em}")


def group_html(res) -> str:
    """One row of face thumbnails per person found, then the faces left alone."""
    d = res.to_dict()
    parts = [f"<!doctype html><meta charset='utf-8'><title>People in {d['photos']} photos</title>"
             f"<style>{_CSS}</style><h1>{d['people']} people in {d['photos']} photos</h1>",
             f"<p>{d['faces']} faces; {d['alone']} left alone; {html.escape(res.method)} at distance "
             f"{res.threshold.value:.3f} ({html.escape(res.threshold.source)}).</p>"]
    for person, faces in res.people().items():
        parts.append(f"<h2>{html.escape(person)} <small>({len(faces)} faces)</small></h2><div class='row'>")
        parts += [_img(f.thumb, f"{f.file} face {f.face}") for f in faces]
        parts.append("</div>")
    if res.problems:
        parts.append("<h2>Photos without a face</h2><ul>"
                     + "".join(f"<li>{html.escape(f)}: {html.escape(p)}</li>" for f, p in res.problems) + "</ul>")
    return "\n".join(parts)


def calibration_figures(res, out: Path) -> dict[str, Path]:
    """ROC, DET and distance histograms as PNG files in ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.stats import norm

    out = Path(out)
    files = {}
    far, tar = np.array(res.roc.get("far", [])), np.array(res.roc.get("tar", []))
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    if len(far):
        ax[0].semilogx(np.maximum(far, 1e-6), tar)
        ax[0].set(xlabel="false accept rate (impostor pairs accepted)", ylabel="true accept rate", title="ROC")
        ax[0].grid(True, which="both", alpha=.3)
        clip = lambda v: norm.ppf(np.clip(v, 1e-5, 1 - 1e-5))  # noqa: E731
        ax[1].plot(clip(far), clip(1 - tar))
        ticks = [1e-4, 1e-3, 1e-2, 0.1, 0.5]
        ax[1].set_xticks(clip(np.array(ticks)), [f"{t:g}" for t in ticks])
        ax[1].set_yticks(clip(np.array(ticks)), [f"{t:g}" for t in ticks])
        lim = (clip(np.array(5e-5)), clip(np.array(0.7)))
        ax[1].set(xlabel="false accept rate", ylabel="false reject rate", title=f"DET (EER {res.eer:.2%})",
                  xlim=lim, ylim=lim)
        ax[1].grid(True, alpha=.3)
    fig.tight_layout()
    files["roc"] = out / "roc_det.png"
    fig.savefig(files["roc"], dpi=80)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    bins = np.array(res.hist["bins"])
    for kind, colour in (("genuine", "tab:green"), ("impostor", "tab:red")):
        c = np.array(res.hist[kind], float)
        ax.stairs(c / max(c.sum(), 1), bins, label=f"{kind} pairs", color=colour, fill=True, alpha=.4)
    ax.axvline(res.threshold, color="k", ls="--", label=f"threshold {res.threshold:.3f}")
    ax.set(xlabel="distance", ylabel="share of pairs", title="Distances of genuine and impostor pairs")
    ax.legend()
    fig.tight_layout()
    files["hist"] = out / "histograms.png"
    fig.savefig(files["hist"], dpi=80)
    plt.close(fig)
    return files


def worst_pairs_image(worst: list[dict], side: int = 110) -> np.ndarray | None:
    """The worst pairs as one image: a row per pair (both photos, kind and distance)."""
    import cv2

    from ..data.image import load_image
    from ..errors import FacelabError

    rows = []
    for w in worst:
        tiles = []
        for f in (w["a"], w["b"]):
            try:
                im = load_image(f)
                tiles.append(cv2.resize(im, (side, side), interpolation=cv2.INTER_AREA))
            except FacelabError:
                tiles.append(np.full((side, side, 3), 200, np.uint8))
        label = np.full((side, 190, 3), 255, np.uint8)
        cv2.putText(label, w["kind"], (6, 40), cv2.FONT_HERSHEY_SIMPLEX, .6, (0, 0, 0), 1, cv2.LINE_AA)
        cv2.putText(label, f"{w['distance']:.3f}", (6, 70), cv2.FONT_HERSHEY_SIMPLEX, .6, (0, 0, 0), 1, cv2.LINE_AA)
        rows.append(np.concatenate(tiles + [label], axis=1))
    return np.concatenate(rows, axis=0) if rows else None


def calibration_html(res, figures: dict[str, Path], worst_png: Path | None) -> str:
    """The verify-eval report: headline figures, folds, TAR@FAR, groups, figures, worst pairs."""
    d = res.to_dict()
    tar = "".join(f"<tr><td>{far}</td><td>{v['tar']:.4f}</td><td>{v['threshold']:.4f}</td></tr>"
                  for far, v in d["tar_at_far"].items())
    groups = "".join(f"<tr><td>{html.escape(g)}</td><td>{v['people']}</td><td>{v['eer']:.4f}</td>"
                     f"<td>{v['frr_at_threshold']:.4f}</td><td>{v['far_at_threshold']:.4f}</td></tr>"
                     for g, v in d["groups"].items())
    parts = [f"<!doctype html><meta charset='utf-8'><title>Verification</title><style>{_CSS}</style>",
             f"<h1>Verification on {d['people']} people, {d['photos']} photos</h1>",
             f"<p>{len(d['fold_accuracy'])}-fold accuracy <b>{d['accuracy']:.2%}</b> ± {d['accuracy_std']:.2%} "
             f"({d['pairs']['fold_pairs']} pairs); threshold <b>{d['threshold']:.4f}</b>; EER {d['eer']:.2%} "
             f"(at {d['eer_threshold']:.4f}; {d['pairs']['curve_genuine']} genuine and "
             f"{d['pairs']['curve_impostor']} impostor pairs).</p>",
             f"<table><tr><th>FAR</th><th>TAR</th><th>threshold</th></tr>{tar}</table>"]
    if groups:
        parts.append("<h2>Per group</h2><table><tr><th>group</th><th>people</th><th>EER</th><th>FRR at threshold</th>"
                     f"<th>FAR at threshold</th></tr>{groups}</table>")
    parts += [f"<h2>Curves</h2><img src='{p.name}'>" for p in figures.values()]
    if worst_png is not None:
        parts.append(f"<h2>Worst pairs</h2><img src='{worst_png.name}'>")
    if d["no_face"]:
        parts.append(f"<p>{len(d['no_face'])} photos without a face (their pairs count as 'different').</p>")
    return "\n".join(parts)
