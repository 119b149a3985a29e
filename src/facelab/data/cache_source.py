"""What ``prepare`` needs to know about its source: fingerprints (for reuse), the subset to keep
(``limit`` / ``per_class``), the typical image size, and FER2013 csv pixel parsing."""
from __future__ import annotations

import hashlib
import math
import os
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ConfigError
from .image import PIL_ERRORS
from .manifest import SPLITS, Manifest

_IMAGE_EXT = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".pgm", ".ppm"}


# -- fingerprints ----------------------------------------------------------------------------------
def source_fingerprint(root: str | Path) -> str:
    """A cheap fingerprint of a source folder, computed without reading any image.

    It covers every folder's path, entry count and mtime (adding, removing or renaming an image
    changes them) and every non-image file's size and mtime (the label files). An image rewritten
    in place under the same name is not seen: use ``force=True`` after editing images.

    Example:
        >>> import tempfile
        >>> from facelab.data.synth import synthesize
        >>> root = synthesize(tempfile.mkdtemp() + "/celeba", kind="celeba", n=3)
        >>> before = source_fingerprint(root)
        >>> (root / "img_align_celeba" / "000001.jpg").unlink()
        >>> before.startswith("sha1:"), source_fingerprint(root) == before
        (True, False)
    """
    root = Path(root)
    h = hashlib.sha1()
    if root.is_file():
        st = root.stat()
        h.update(f"{root.name}|{st.st_size}|{st.st_mtime_ns}".encode())
        return "sha1:" + h.hexdigest()
    stack = [root]
    seen: set[tuple[int, int]] = set()  # folders by (device, inode): a symlink loop is walked once
    while stack:
        d = stack.pop()
        try:
            st = d.stat()
            if (st.st_dev, st.st_ino) in seen:
                h.update(f"L|{d.relative_to(root)}\n".encode())
                continue
            seen.add((st.st_dev, st.st_ino))
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError:
            continue
        h.update(f"D|{d.relative_to(root)}|{len(entries)}|{st.st_mtime_ns}\n".encode())
        for e in entries:
            try:
                is_dir = e.is_dir(follow_symlinks=True)
            except OSError:  # a self-referencing or looping symlink: the reader reports it
                h.update(f"X|{e.name}\n".encode())
                continue
            if is_dir:
                stack.append(Path(e.path))
            elif os.path.splitext(e.name)[1].lower() not in _IMAGE_EXT:
                try:
                    fst = e.stat()
                except OSError:
                    continue
                h.update(f"F|{e.name}|{fst.st_size}|{fst.st_mtime_ns}\n".encode())
    return "sha1:" + h.hexdigest()


def table_fingerprint(table: pd.DataFrame) -> str:
    """A hash of a manifest table's content (rows, order and values)."""
    hashed = pd.util.hash_pandas_object(table, index=False).to_numpy()
    return "sha1:" + hashlib.sha1(hashed.tobytes() + ",".join(map(str, table.columns)).encode()).hexdigest()


# -- subsets ---------------------------------------------------------------------------------------
def _allocate(total: int, counts: dict, rng) -> dict:
    """Split ``total`` over groups in proportion to ``counts`` (largest remainder)."""
    n = sum(counts.values())
    raw = {k: total * v / n for k, v in counts.items()}
    out = {k: min(int(math.floor(r)), counts[k]) for k, r in raw.items()}
    rest = total - sum(out.values())
    for k in sorted(raw, key=lambda k: raw[k] - out[k], reverse=True):
        if rest <= 0:
            break
        if out[k] < counts[k]:
            out[k] += 1
            rest -= 1
    return out


def select_subset(manifest: Manifest, *, limit=None, per_class=None, by=None, seed=0) -> tuple[Manifest, str]:
    """The rows ``prepare`` keeps, in source order, and a note saying how they were chosen.

    ``per_class=N``: at most N training images per class of ``by`` (seeded random); the val and
    test splits keep their natural class mix and are shrunk by the same factor as the training
    split (so accuracy on them still means what it means on the full data). ``limit=N`` then
    keeps N images, a seeded random sample stratified by split (each split keeps its share).

    Example:
        >>> import tempfile
        >>> from facelab.data.readers import read_source
        >>> from facelab.data.synth import synthesize
        >>> m = read_source(synthesize(tempfile.mkdtemp() + "/celeba", kind="celeba", n=40))
        >>> sub, note = select_subset(m, limit=10, seed=0)
        >>> len(sub), note
        (10, 'limit=10 (seed 0): random subset stratified by split')
    """
    t = manifest.table
    idx = np.arange(len(t))
    rng = np.random.default_rng(seed)
    notes = []
    if per_class is not None:
        col = by or manifest.default_class_column()
        if col is None:
            raise ConfigError("per_class needs a label column to balance (this dataset has no single class "
                              "label)", fix="name one with --by, e.g. --by Smiling")
        if col not in t.columns or col not in manifest.labels:
            raise ConfigError(f"unknown label {col!r} for --by",
                              fix=f"choose one of: {', '.join(list(manifest.labels)[:45])}")
        y = t[col].to_numpy()
        split = t["split"].to_numpy()
        train = np.flatnonzero(split == "train")
        keep = []
        for cls in np.unique(y[train]):
            rows = train[y[train] == cls]
            keep.append(rows if len(rows) <= per_class else rng.choice(rows, per_class, replace=False))
        keep = np.concatenate(keep) if keep else np.array([], dtype=np.int64)
        frac = len(keep) / max(len(train), 1)
        parts = [keep]
        for s in ("val", "test"):
            rows = np.flatnonzero(split == s)
            for cls in np.unique(y[rows]):
                r = rows[y[rows] == cls]
                k = int(round(len(r) * frac))
                parts.append(r if k >= len(r) else rng.choice(r, k, replace=False))
        idx = np.sort(np.concatenate(parts)).astype(np.int64)
        notes.append(f"per_class={per_class} by {col} (seed {seed}): train capped per class, val/test "
                     f"shrunk to {frac:.1%} keeping their class mix")
    if limit is not None and limit < len(idx):
        split = t["split"].to_numpy()[idx]
        counts = {s: int((split == s).sum()) for s in SPLITS if (split == s).any()}
        share = _allocate(limit, counts, rng)
        parts = [rng.choice(idx[split == s], share[s], replace=False) for s in counts]
        idx = np.sort(np.concatenate(parts)).astype(np.int64)
        notes.append(f"limit={limit} (seed {seed}): random subset stratified by split")
    if len(idx) == len(t):
        return manifest, ""
    return replace(manifest, table=t.iloc[idx].reset_index(drop=True)), "; ".join(notes)


# -- geometry and csv ------------------------------------------------------------------------------
def csv_rows(table: pd.DataFrame) -> np.ndarray:
    """Boolean mask of rows whose pixels live in a csv (FER2013 ``fer2013.csv``)."""
    if "row" not in table.columns:
        return np.zeros(len(table), dtype=bool)
    return table["path"].astype(str).str.lower().str.endswith(".csv").to_numpy()


def source_size_of(table: pd.DataFrame, sample: int = 25) -> tuple[int, int] | None:
    """The most common (w, h) among the first images (headers only); FER2013 csv → (48, 48);
    None when no image header can be read."""
    from PIL import Image

    is_csv = csv_rows(table)
    if is_csv.all():
        return (48, 48)
    sizes = Counter()
    for p in table["path"].astype(str).to_numpy()[~is_csv][:sample]:
        try:
            with Image.open(p) as im:
                w, h = im.size
                if im.getexif().get(0x0112, 1) in (5, 6, 7, 8):
                    w, h = h, w  # EXIF-rotated: the decoded image is transposed
                sizes[(w, h)] += 1
        except PIL_ERRORS:  # unreadable: prepare reports it
            continue
    if sizes:
        return sizes.most_common(1)[0][0]
    return (48, 48) if is_csv.any() else None


def _parse_ints(text: str) -> np.ndarray | None:
    """Space-separated integers → int32 array; None when any token is not a number (numpy raises
    ValueError on such text, or stops early with a DeprecationWarning on older releases)."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)
            return np.fromstring(text, dtype=np.int32, sep=" ")
    except (ValueError, DeprecationWarning):
        return None


def read_csv_pixels(pixels: list) -> list:
    """``pixels`` strings of FER2013 rows → uint8 (side, side) arrays, or an error string per row.

    The whole chunk is parsed with one numpy call; rows are checked for count and range.
    """
    out: list = [None] * len(pixels)
    ok = []
    for j, p in enumerate(pixels):
        if not isinstance(p, str) or not p.strip():
            out[j] = "empty pixels"
        else:
            ok.append(j)
    if not ok:
        return out
    strs = [pixels[j].strip() for j in ok]
    counts = np.array([s.count(" ") + 1 for s in strs])
    side = int(round(math.sqrt(np.bincount(counts).argmax())))
    flat = _parse_ints(" ".join(strs))
    if flat is not None and flat.size == counts.sum() and (counts == side * side).all():
        arrays = list(flat.reshape(len(strs), side, side))
    else:  # odd spacing, wrong lengths or a non-number somewhere: parse row by row to find them
        arrays = [_parse_ints(s) for s in strs]
        arrays = ["pixel values that are not whole numbers" if a is None else
                  a.reshape(side, side) if a.size == side * side else
                  f"{a.size} pixel values, expected {side * side}" for a in arrays]
    for j, a in zip(ok, arrays):
        if isinstance(a, str):
            out[j] = a
        elif a.min() < 0 or a.max() > 255:
            out[j] = "pixel values outside 0..255"
        else:
            out[j] = a.astype(np.uint8)
    return out
