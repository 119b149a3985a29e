"""dlib face embeddings of a prepared dataset, computed once and cached beside the cache.

The embedding network was trained on dlib's own 150×150 face chips, so each row's embedding is
computed from its SOURCE photo (the manifest's ``path``): detect (dlib HOG) → 5 landmarks → chip →
128-D descriptor. The small cached crop would lose most of the detail the network uses.

Layout, beside the cache folder ``<cache>``::

    <cache>.dlib-embed/
        key.json        # the cache it belongs to (fingerprint, rows, created) + the status per row
        emb.f32         # float32 (N, 128), row i <-> cache row i
        chunks/NNNNNNNN.json   # per finished chunk: the status of its rows (resume markers)

It is reused while the key matches; a cache rebuilt (source changed, other rows) gets a new key
and the embeddings are computed again. An interrupted run resumes at the first unfinished chunk.

Per-row status: ``ok``; ``several`` (several faces: the face the cache chose when it recorded
one, else the largest); ``no_face`` (no face found: the landmarks are predicted on the cache's
crop region, a weaker embedding); ``too_small``; ``no_photo`` (a CSV row, e.g. FER2013: the cached
crop is used); ``unreadable``. Nothing here raises for one bad photo.

Example: docs/python.md#faces-embeddings-detect-caches-review.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .detect import FaceBox

log = logging.getLogger(__name__)

CHUNK = 64
DIM = 128
VERSION = 1  # bump when the way embeddings are computed changes


@dataclass
class DatasetEmbeddings:
    """The embeddings of every row of a prepared cache, and how each was obtained."""

    X: np.ndarray  # (N, 128) float32
    status: list[str]
    path: Path

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.status:
            out[s] = out.get(s, 0) + 1
        return out

    def problems(self, ds) -> list[tuple[str, str]]:
        """(path, status) of every row that was not a clean single face."""
        paths = ds.table["path"].astype(str).tolist()
        return [(paths[i], s) for i, s in enumerate(self.status) if s != "ok"]


def cache_key(ds) -> str:
    """Identifies the cache's content: source fingerprint, options, rows, and when it was built."""
    meta = ds.meta
    rows = hashlib.sha1("\n".join(ds.table["path"].astype(str)).encode()).hexdigest()
    blob = json.dumps([VERSION, meta.get("source", {}).get("fingerprint"), meta.get("options"),
                       meta.get("created"), int(meta.get("n", 0)), rows], sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:16]


def embeddings_dir(ds) -> Path:
    p = Path(ds.path)
    return p.with_name(p.name + ".dlib-embed")


def _atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _recorded_box(table, i: int) -> FaceBox | None:
    """The face a ``--crop detect`` cache chose for row ``i`` (face_x/face_y/face_w/face_angle)."""
    if "face_w" not in table.columns:
        return None
    r = table.iloc[i]
    try:
        w = float(r["face_w"])
    except (TypeError, ValueError):
        return None
    if not np.isfinite(w) or w <= 0:
        return None
    return FaceBox(float(r["face_x"]), float(r["face_y"]), w, w, 1.0, None, float(r.get("face_angle", 0.0) or 0.0))


def _crop_region_box(ds, w: int, h: int) -> FaceBox:
    """No face found: the part of the photo the cache cropped, as a box for the landmark predictor."""
    x0, y0, x1, y1 = (float(v) for v in ds.meta.get("crop_box") or (0, 0, 1, 1))
    side = min((x1 - x0) * w, (y1 - y0) * h)
    cx, cy = (x0 + x1) / 2 * w, (y0 + y1) / 2 * h
    return FaceBox(cx - side / 2, cy - side / 2, side, side, 0.0)


def _embed_row(ds, embedder, i: int) -> tuple[np.ndarray, str]:
    from ..data.image import load_image
    from ..errors import FacelabError
    from .dlibface import face_chip

    table = ds.table
    path = str(table["path"].iloc[i])
    if "row" in table.columns and path.lower().endswith(".csv"):
        crop = np.asarray(ds.images[i])
        return embedder.embed_crop(crop), "no_photo"
    try:
        img = load_image(path)
    except FacelabError:
        return np.zeros(DIM, np.float32), "unreadable"
    box = _recorded_box(table, i)
    status = "ok"
    if box is None:
        boxes = embedder.detector.detect(img)
        if not boxes:
            box, status = _crop_region_box(ds, img.shape[1], img.shape[0]), "no_face"
        else:
            box, status = boxes[0], ("several" if len(boxes) > 1 else "ok")
    elif "n_faces" in table.columns and int(table["n_faces"].iloc[i]) > 1:
        status = "several"
    if box.size < embedder.min_face and status != "no_face":
        return np.zeros(DIM, np.float32), "too_small"
    return embedder.embed_chip(face_chip(img, box)), status


def dataset_embeddings(ds, *, progress: bool = True, force: bool = False) -> DatasetEmbeddings:
    """The dlib embeddings of every row of ``ds`` (computed on first use, then read back).

    Args:
        ds: a :class:`~facelab.data.prepared.PreparedDataset`.
        progress: a progress bar and a logged summary (``logging``; the CLI shows it).
        force: compute again even when a matching cache exists.
    """
    from .dlibface import CropEmbedder

    out = embeddings_dir(ds)
    key, n = cache_key(ds), len(ds)
    key_file = out / "key.json"
    try:
        saved = json.loads(key_file.read_text())
    except (OSError, ValueError):
        saved = {}
    emb_file = out / "emb.f32"
    if not force and saved.get("key") == key and saved.get("complete") and emb_file.is_file() \
            and emb_file.stat().st_size == n * DIM * 4:
        X = np.fromfile(emb_file, np.float32).reshape(n, DIM)
        return DatasetEmbeddings(X, list(saved["status"]), out)
    if force or saved.get("key") != key:
        import shutil

        shutil.rmtree(out, ignore_errors=True)
    (out / "chunks").mkdir(parents=True, exist_ok=True)
    _atomic(key_file, json.dumps({"key": key, "n": n, "complete": False, "cache": str(ds.path)}))
    if not emb_file.is_file() or emb_file.stat().st_size != n * DIM * 4:
        with open(emb_file, "wb") as f:
            f.truncate(n * DIM * 4)
    X = np.memmap(emb_file, np.float32, mode="r+", shape=(n, DIM))
    status: list[str] = [""] * n
    embedder = CropEmbedder()
    from tqdm.auto import tqdm

    bar = tqdm(total=n, unit="face", desc="dlib embeddings", disable=None if progress else True, dynamic_ncols=True)
    for start in range(0, n, CHUNK):
        stop = min(n, start + CHUNK)
        marker = out / "chunks" / f"{start:08d}.json"
        try:
            status[start:stop] = json.loads(marker.read_text())
            bar.update(stop - start)
            continue
        except (OSError, ValueError):
            pass
        for i in range(start, stop):
            X[i], status[i] = _embed_row(ds, embedder, i)
        X.flush()  # the rows before the marker: a marker means the chunk is on disk
        _atomic(marker, json.dumps(status[start:stop]))
        bar.update(stop - start)
    bar.close()
    X.flush()
    del X
    _atomic(key_file, json.dumps({"key": key, "n": n, "complete": True, "cache": str(ds.path),
                                  "status": status}))
    import shutil

    shutil.rmtree(out / "chunks", ignore_errors=True)
    res = DatasetEmbeddings(np.fromfile(emb_file, np.float32).reshape(n, DIM), status, out)
    if progress:
        c = res.counts()
        bad = {k: v for k, v in c.items() if k != "ok"}
        log.info(f"dlib embeddings of {n} images in {out}"
                 + (f"; {', '.join(f'{v} {k}' for k, v in sorted(bad.items()))}" if bad else ""))
        for p, s in res.problems(ds)[:10]:
            log.info(f"  {s}: {p}")
    return res
