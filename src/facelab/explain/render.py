"""Pictures of saliency maps: heat-map overlays on faces, and the dataset figures.

Computing lives in :mod:`~facelab.explain.saliency` and :mod:`~facelab.explain.dataset`; this
module only draws. Overlays use OpenCV's ``inferno`` colour map (dark = not used, yellow = what
raised the output most), blended over the face in proportion to the map, so that the face shows
unchanged where the model did not look.

Example:
    >>> face = np.full((8, 8, 3), 128, np.uint8)
    >>> m = np.zeros((8, 8), np.float32); m[2:4, 2:4] = 1
    >>> overlay(face, m, scale=2).shape
    (16, 16, 3)
"""
from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np

#: how much of the heat map shows over the face where the map is 1 (it fades to the bare face at 0)
ALPHA = 0.75


def heat(m: np.ndarray) -> np.ndarray:
    """A 0–1 map as RGB uint8 (inferno colour map)."""
    u8 = np.clip(np.asarray(m, np.float32) * 255, 0, 255).astype(np.uint8)
    return cv2.applyColorMap(u8, cv2.COLORMAP_INFERNO)[:, :, ::-1]


def overlay(face: np.ndarray, m: np.ndarray, *, scale: int = 4, alpha: float = ALPHA) -> np.ndarray:
    """``face`` (uint8 H×W×C, grey or RGB) with map ``m`` (H×W, 0–1) blended over it, enlarged
    ``scale`` times (nearest-neighbour for the face, so its pixels stay honest)."""
    face = np.asarray(face)
    if face.ndim == 2:
        face = face[:, :, None]
    rgb = np.repeat(face, 3, axis=2) if face.shape[2] == 1 else face[:, :, :3]
    h, w = rgb.shape[:2]
    if m.shape != (h, w):
        m = cv2.resize(np.asarray(m, np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    a = alpha * np.clip(np.asarray(m, np.float32), 0, 1)[:, :, None]
    out = (1 - a) * rgb.astype(np.float32) + a * heat(m).astype(np.float32)
    out = np.clip(out, 0, 255).astype(np.uint8)
    if scale > 1:
        out = cv2.resize(out, (w * scale, h * scale), interpolation=cv2.INTER_NEAREST)
    return out


def overlay_png(face: np.ndarray, m: np.ndarray, *, scale: int = 4) -> bytes:
    """:func:`overlay` as PNG bytes (the REST API's base64 field, the dashboard's picture)."""
    ok, buf = cv2.imencode(".png", overlay(face, m, scale=scale)[:, :, ::-1])
    return buf.tobytes()


def save_overlay(face: np.ndarray, m: np.ndarray, path: str | Path, *, scale: int = 4) -> Path:
    """Write :func:`overlay` to ``path`` (PNG); the caller chose a folder through the write guard."""
    path = Path(path)
    path.write_bytes(overlay_png(face, m, scale=scale))
    return path


def explain_file_name(stem: str, face: int, output: str) -> str:
    """The file of one face's map: ``photo.face0.explain-Smiling.png`` (unsafe characters of an
    output name become ``_``).

    Example:
        >>> explain_file_name("group", 2, "Wearing Hat/1")
        'group.face2.explain-Wearing_Hat_1.png'
    """
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in output)
    return f"{stem}.face{face}.explain-{safe}.png"


def save_face_explanations(faces: list, folder: Path | None, stem: str) -> list[Path]:
    """Write each face's explanations as heat-map PNGs into ``folder`` (claimed by the caller
    through :mod:`facelab.outputs`), named by :func:`explain_file_name`, then drop their full
    maps (:meth:`~facelab.explain.faces.FaceExplanation.release`). ``folder`` None: release only."""
    written = []
    for f in faces:
        for e in f.explain:
            if folder is not None and e.map is not None and e.crop is not None:
                path = save_overlay(e.crop, e.map, Path(folder) / explain_file_name(stem, f.index, e.output))
                e.file = path.name
                written.append(path)
            e.release()
    return written


def dataset_figure(rows: list, title: str = ""):
    """A matplotlib figure: one row per :class:`~facelab.explain.dataset.GroupMaps` — the mean face
    with the output, without it, their difference, and the mean saliency over the mean face.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(rows), 4, figsize=(8.4, 2.3 * len(rows)), squeeze=False)
    for ax_row, g in zip(axes, rows):
        panels = [(f"{g.output}: yes (n={g.n_with})", g.mean_with, "face"),
                  (f"{g.output}: no (n={g.n_without})", g.mean_without, "face"),
                  ("mean-face difference", g.difference, "diff"),
                  (f"saliency ({g.method})", None, "heat")]
        for ax, (t, img, kind) in zip(ax_row, panels):
            ax.set_xticks([])
            ax.set_yticks([])
            if kind == "diff":
                d = img.mean(axis=2) if img is not None and img.ndim == 3 else img
                lim = max(float(np.abs(d).max()) if d is not None and d.size else 0.0, 1e-6)
                ax.imshow(d, cmap="RdBu_r", vmin=-lim, vmax=lim)
                t = f"{t} (±{lim:.0f})"
            elif kind == "heat":
                top = max(float(g.saliency.max()), 1e-9)  # a mean of maps: scaled to its own peak
                ax.imshow(overlay(np.clip(g.mean_all, 0, 255).astype(np.uint8), g.saliency / top, scale=1))
            else:
                face = np.clip(img, 0, 255).astype(np.uint8)
                ax.imshow(face[:, :, 0] if face.shape[2] == 1 else face, cmap="gray" if face.shape[2] == 1 else None)
            ax.set_title(t, fontsize=7)
        ax_row[0].set_ylabel(g.group, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def figure_png(fig, path: str | Path | None = None, dpi: int = 80) -> bytes:
    """A figure as PNG bytes (written to ``path`` too when given), closed afterwards."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    data = buf.getvalue()
    if path is not None:
        Path(path).write_bytes(data)
    return data


__all__ = ["dataset_figure", "explain_file_name", "figure_png", "heat", "overlay", "overlay_png",
           "save_face_explanations", "save_overlay"]
