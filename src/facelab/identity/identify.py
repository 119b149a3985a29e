"""Who is this? Every face of some photos against a gallery: the nearest people, or ``unknown``.

Open-set: a face whose nearest person is farther than the threshold is ``unknown`` — someone the
gallery does not hold. The per-photo step (:func:`identify_faces`) is shared by the local path,
the REST API and Spark's batch path.

Example:
    >>> from facelab.faces.detect import FaceBox
    >>> from facelab.identity.embed import FaceEmbedding
    >>> index = SearchIndex(np.eye(128, dtype=np.float32)[:2], np.array([0, 1]), ["Ann Lee", "Bob Ray"])
    >>> face = FaceEmbedding(0, FaceBox(10, 10, 80, 80, 1.0), np.eye(128, dtype=np.float32)[1])
    >>> [(f.person, f.distance) for f in identify_faces(index, "shot.jpg", [face], threshold=0.4)]
    [('Bob Ray', 0.0)]

    ``identify("family", ["shots/"], top_k=3)`` does the same for every face of photos, folders or globs.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ..errors import ConfigError, DataError
from .embed import Embedder, FaceEmbedding, PhotoFaces
from .search import Match, SearchIndex
from .threshold import Threshold, resolve_threshold

UNKNOWN = "unknown"
FORMATS = ("csv", "json", "parquet")


@dataclass
class FaceIdentity:
    """One face: where it is, who it is (or ``unknown``), and the next candidates."""

    file: str
    face: int
    box: tuple[float, float, float, float]
    person: str
    distance: float
    candidates: list[Match] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"file": self.file, "face": self.face, "box": [round(float(v), 1) for v in self.box],
                "person": self.person, "distance": round(float(self.distance), 4),
                "candidates": [c.to_dict() for c in self.candidates]}

    def row(self, top_k: int) -> dict:
        """A flat row: file, face, x, y, w, h, person, distance, candidate_i, distance_i."""
        r = {"file": self.file, "face": self.face, "x": self.box[0], "y": self.box[1], "w": self.box[2],
             "h": self.box[3], "person": self.person, "distance": round(float(self.distance), 4)}
        for i in range(top_k):
            c = self.candidates[i] if i < len(self.candidates) else None
            r[f"candidate_{i + 1}"] = c.person if c else None
            r[f"distance_{i + 1}"] = round(c.distance, 4) if c else None
        return r


@dataclass
class IdentifyReport:
    """Every face found, and every photo without one (``problems``: file → status or error)."""

    gallery: str
    threshold: Threshold
    top_k: int
    photos: int
    faces: list[FaceIdentity]
    problems: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    out: Path | None = None

    @property
    def known(self) -> int:
        return sum(f.person != UNKNOWN for f in self.faces)

    def to_dict(self) -> dict:
        return {"gallery": self.gallery, "threshold": self.threshold.to_dict(), "top_k": self.top_k,
                "photos": self.photos, "known": self.known, "unknown": len(self.faces) - self.known,
                "faces": [f.to_dict() for f in self.faces],
                "problems": [{"file": f, "problem": p} for f, p in self.problems],
                "seconds": round(self.seconds, 3), "out": str(self.out) if self.out else None}

    def table(self):
        """One row per face (pandas)."""
        import pandas as pd

        cols = ["file", "face", "x", "y", "w", "h", "person", "distance"]
        cols += [c for i in range(self.top_k) for c in (f"candidate_{i + 1}", f"distance_{i + 1}")]
        return pd.DataFrame([f.row(self.top_k) for f in self.faces], columns=cols)


def identify_faces(index: SearchIndex, file: str, faces: Sequence[FaceEmbedding], threshold: float,
                   top_k: int = 3) -> list[FaceIdentity]:
    """Name each face of one photo from a gallery's search index (the per-photo step)."""
    if not faces:
        return []
    found = index.search(np.stack([f.vector for f in faces]), k=top_k)
    out = []
    for f, cands in zip(faces, found):
        best = cands[0] if cands else None
        person = best.person if best is not None and best.distance <= threshold else UNKNOWN
        out.append(FaceIdentity(file, f.index, (f.box.x, f.box.y, f.box.w, f.box.h), person,
                                best.distance if best else float("nan"), cands))
    return out


def identify_image(gallery, image, *, name: str = "the upload", top_k: int = 3, threshold: float | None = None,
                   embedder: Embedder | None = None) -> IdentifyReport:
    """Identify the faces of one photo (an RGB array or the file's bytes) — the API's and dashboard's call.

    Raises:
        ConfigError: ``top_k`` < 1 or a bad threshold.
        DataError: the gallery is empty; the bytes are not an image.
    """
    from ..data.image import load_image
    from .embed import shared_embedder

    t0 = time.time()
    if int(top_k) < 1:
        raise ConfigError(f"top_k must be at least 1 (got {top_k})", fix="use top_k=1 or more")
    th = resolve_threshold(threshold, gallery, "identify")
    if not len(gallery):
        raise DataError(f"the gallery {gallery.name} holds no faces", path=gallery.path,
                        fix=f"add people first: `facelab gallery add {gallery.name} people/`")
    img = load_image(image, name=name) if isinstance(image, (bytes, bytearray)) else np.asarray(image)
    emb = embedder or shared_embedder(gallery.framing)
    faces, small = emb.embed_images([img])[0]
    found = identify_faces(gallery.index(), name, faces, th.value, int(top_k))
    problems = photo_problems([PhotoFaces(name, faces, too_small=small)])
    return IdentifyReport(gallery.name, th, int(top_k), 1, found, problems, time.time() - t0)


def photo_problems(photos: Iterable[PhotoFaces]) -> list[tuple[str, str]]:
    """(file, what went wrong) for unreadable photos and photos without a face."""
    out = []
    for p in photos:
        if p.error:
            out.append((p.path, p.error))
        elif not p.faces:
            out.append((p.path, "no face found" + (f" ({p.too_small} too small)" if p.too_small else "")))
    return out


def identify(gallery, photos: Sequence[str | Path], *, top_k: int = 3, threshold: float | None = None,
             workers: int = 1, progress: bool = False, out: str | Path | None = None,
             format: str | None = None) -> IdentifyReport:
    """Identify every face of photos, folders or globs against a gallery.

    Args:
        gallery: a gallery name, path or open :class:`~facelab.identity.gallery.Gallery`.
        photos: files, folders (recursive) or globs.
        top_k: candidates reported per face.
        threshold: distance threshold (default: the gallery's calibrated one, else the default).
        workers: embedding processes.
        out: write one row per face to this CSV, JSON or Parquet file.

    Raises:
        ConfigError: ``top_k`` < 1, a bad threshold, an unknown output format.
        DataError: the gallery is missing, empty or damaged; no photo was given.
    """
    from .gallery import open_gallery
    from .photos import expand_photos

    t0 = time.time()
    if int(top_k) < 1:
        raise ConfigError(f"top_k must be at least 1 (got {top_k})", fix="use --top-k 1 or more")
    g = gallery if hasattr(gallery, "framing") else open_gallery(gallery)
    if not len(g):
        raise DataError(f"the gallery {g.name} holds no faces", path=g.path,
                        fix=f"add people first: `facelab gallery add {g.name} people/`")
    th = resolve_threshold(threshold, g, "identify")
    paths, bad, _ = expand_photos(photos)
    if not paths and not bad:
        raise DataError("no photos to identify", fix="give photos, folders or globs")
    fr = g.framing
    emb = Embedder.for_framing(fr, workers=workers)
    found = emb.embed_paths(paths, progress=progress)
    index = g.index()
    faces = [fi for p in found for fi in identify_faces(index, p.path, p.faces, th.value, int(top_k))]
    rep = IdentifyReport(g.name, th, int(top_k), len(paths), faces,
                         bad + photo_problems(found), time.time() - t0)
    if out is not None:
        rep.out = write_identities(rep, out, format=format)
    return rep


def _format(out: Path, format: str | None) -> str:
    fmt = (format or out.suffix.lstrip(".") or "csv").lower()
    fmt = "parquet" if fmt == "pq" else fmt
    if fmt not in FORMATS:
        raise ConfigError(f"unknown output format {fmt!r}", path=out, fix="use a .csv, .json or .parquet file")
    return fmt


def is_identities_file(path: Path) -> bool:
    """A file an earlier ``identify --out`` wrote (it may be replaced)."""
    fmt = Path(path).suffix.lower().lstrip(".")
    if fmt == "json":
        from ..outputs import json_with_keys

        return json_with_keys("gallery", "faces", "threshold")(path)
    if fmt in ("parquet", "pq"):
        import pyarrow.parquet as pq

        names = pq.read_schema(path).names
    else:
        with open(path, encoding="utf-8", errors="replace") as f:
            names = f.readline().strip().split(",")
    return names[:3] == ["file", "face", "x"] and "person" in names


def write_identities(report: IdentifyReport, out: str | Path, *, format: str | None = None) -> Path:
    """Write one row per face: CSV or Parquet (flat) or JSON (the report, nested)."""
    from ..outputs import check_file

    out = Path(out).expanduser()
    fmt = _format(out, format)
    check_file(out, what="results file", recognise=is_identities_file)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "json":
            out.write_text(json.dumps({**report.to_dict(), "out": str(out)}, indent=1))
        elif fmt == "csv":
            report.table().to_csv(out, index=False)
        else:
            report.table().to_parquet(out, index=False)
    except OSError as e:
        raise DataError(f"cannot write {out}: {e.strerror or e}", path=out, fix="choose a writable --out path") from None
    return out
