"""Pictures of a generator: sample grids, the progress strip, loss curves, latent walks.

Example:
    >>> import numpy as np
    >>> grid(np.zeros((6, 8, 8, 3), np.uint8), cols=3).shape
    (22, 32, 3)
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import ConfigError


def grid(images: np.ndarray, cols: int = 8, pad: int = 2, value: int = 255) -> np.ndarray:
    """uint8 (N, H, W, C) → one uint8 (rows·(H+pad)+pad, cols·(W+pad)+pad, 3) picture."""
    n, h, w, c = images.shape
    cols = max(1, min(cols, n))
    rows = -(-n // cols)
    out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, 3), value, np.uint8)
    for i, im in enumerate(images):
        r, k = divmod(i, cols)
        y, x = pad + r * (h + pad), pad + k * (w + pad)
        out[y:y + h, x:x + w] = im if c == 3 else np.repeat(im, 3, axis=2)
    return out


#: written into every picture facelab generate makes (a PNG text chunk, a JPEG/GIF comment): a
#: later ``sample``/``interpolate`` may replace such a file, never a user's own picture
#: (:func:`facelab.outputs.check_file`)
MADE_BY = "facelab generate"
GRID_SUFFIXES = (".png", ".jpg", ".jpeg")
WALK_SUFFIXES = (".png", ".gif")


def is_generated_picture(path: Path) -> bool:
    """True when ``path`` is a picture facelab generate wrote (it carries :data:`MADE_BY`)."""
    with Image.open(path) as im:
        return im.info.get("Software") == MADE_BY or im.info.get("comment") in (MADE_BY, MADE_BY.encode())


def _png_info():
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Software", MADE_BY)
    return info


def save_png(picture: np.ndarray, path: str | Path, scale: int = 1) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.fromarray(picture)
    if scale > 1:
        im = im.resize((im.width * scale, im.height * scale), Image.NEAREST)
    tmp = path.with_name(path.stem + ".tmp" + path.suffix)
    im.save(tmp, optimize=True, pnginfo=_png_info())
    tmp.replace(path)
    return path


def check_samples_out(out: str | Path) -> Path:
    """Refuse, before anything is drawn, a ``--out`` that would replace a user's file or write into
    a user's folder (:mod:`facelab.outputs`): a grid file may replace only a grid facelab wrote,
    a samples folder must be new, empty or facelab's.

    Raises:
        ConfigError: ``out`` is a user's file or folder (or a folder where a grid file was asked for).
    """
    from ..outputs import check_file, check_folder

    out = Path(out).expanduser()
    if out.suffix.lower() in GRID_SUFFIXES:
        return check_file(out, what="sample grid", recognise=is_generated_picture)
    return check_folder(out, what="samples folder")


def check_walk_out(out: str | Path) -> Path:
    """Like :func:`check_samples_out` for a latent walk: a .png strip or a .gif, never a user's file.

    Raises:
        ConfigError: another suffix, or ``out`` is a user's file.
    """
    from ..outputs import check_file

    out = Path(out).expanduser()
    if out.suffix.lower() not in WALK_SUFFIXES:
        raise ConfigError(f"{out}: a walk is written as .png (a strip) or .gif", path=out,
                          fix="end the name in .png or .gif")
    return check_file(out, what="latent walk", recognise=is_generated_picture)


def save_images(images: np.ndarray, out: str | Path, cols: int = 8) -> Path:
    """A grid when ``out`` ends in .png/.jpg, else one PNG per image in the folder ``out`` (claimed
    with :func:`facelab.outputs.claim_folder`). A user's file or folder is refused, never replaced."""
    from ..outputs import claim_folder

    out = check_samples_out(out)
    if out.suffix.lower() in GRID_SUFFIXES:
        if out.suffix.lower() == ".png":
            return save_png(grid(images, cols), out)
        out.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(grid(images, cols)).save(out, quality=95, comment=MADE_BY)
        return out
    out = claim_folder(out, what="samples folder")
    for i, im in enumerate(images):
        Image.fromarray(im if im.shape[2] == 3 else im[..., 0]).save(out / f"sample_{i:04d}.png", pnginfo=_png_info())
    return out


def progress_strip(rows: list[np.ndarray], epochs: list[int], path: str | Path, max_rows: int = 16) -> Path:
    """The same fixed-noise samples, one row per epoch (evenly thinned to ``max_rows``), in one image."""
    if len(rows) > max_rows:
        keep = np.unique(np.linspace(0, len(rows) - 1, max_rows).round().astype(int))
        rows, epochs = [rows[i] for i in keep], [epochs[i] for i in keep]
    pictures = [grid(r, cols=len(r)) for r in rows]
    label_w = 34
    h = sum(p.shape[0] for p in pictures)
    out = np.full((h, pictures[0].shape[1] + label_w, 3), 255, np.uint8)
    y = 0
    from PIL import ImageDraw

    canvas = Image.fromarray(out)
    draw = ImageDraw.Draw(canvas)
    for p, e in zip(pictures, epochs):
        canvas.paste(Image.fromarray(p), (label_w, y))
        draw.text((2, y + p.shape[0] // 2 - 5), f"e{e}", fill=(0, 0, 0))
        y += p.shape[0]
    return save_png(np.asarray(canvas), path)


def plot_curves(history, path: str | Path, title: str = "") -> Path:
    """Losses, D(x)/D(G(z)) and the quality scores per epoch, from ``history.csv`` rows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("loss", ["loss_d", "loss_g"]), ("discriminator output", ["d_x", "d_gz"])]
    if "frechet" in history and history["frechet"].notna().any():
        panels.append(("Fréchet distance (facelab features)", ["frechet"]))
    if "face_rate" in history and history["face_rate"].notna().any():
        panels.append(("face rate", ["face_rate", "real_face_rate"]))
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.2))
    for ax, (name, cols) in zip(np.atleast_1d(axes), panels):
        for c in cols:
            if c in history:
                ax.plot(history["epoch"], history[c], marker="o", ms=3, label=c)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation between latent vectors (stays where Gaussian noise has its mass)."""
    na, nb = a / np.linalg.norm(a), b / np.linalg.norm(b)
    omega = np.arccos(np.clip(np.dot(na, nb), -1.0, 1.0))
    if omega < 1e-6:
        return (1 - t) * a + t * b
    return (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)


def save_walk(frames: np.ndarray, out: str | Path, fps: int = 8) -> Path:
    """A latent walk as a strip (.png) or an animation (.gif); a user's file is refused, never replaced."""
    out = check_walk_out(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".gif":
        ims = [Image.fromarray(f if f.shape[2] == 3 else f[..., 0]).resize((f.shape[1] * 2, f.shape[0] * 2))
               for f in frames]
        ims[0].save(out, save_all=True, append_images=ims[1:] + ims[::-1][1:-1], duration=1000 // fps, loop=0,
                    comment=MADE_BY)
        return out
    return save_png(grid(frames, cols=len(frames)), out)
