"""Sorting a photo library by person: embed every face, cluster the descriptors
(:mod:`.linkage`: Ward's linkage and a join step by default), and write the result.

A cluster of one face is a face "alone". The result renders as an HTML page (one row of faces per
person), a CSV (photo, face, person) and, with ``out``, a new folder per person filled with copies
(or links) of the photos — the user's files are never moved.
"""
from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import ConfigError, DataError
from .embed import Embedder
from .linkage import METHODS, cluster_vectors, threshold_purpose
from .threshold import Threshold, check_threshold, resolve_threshold

ALONE = "alone"


@dataclass
class GroupedFace:
    file: str
    face: int
    box: tuple[float, float, float, float]
    person: str
    thumb: bytes | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        return {"file": self.file, "face": self.face, "box": [round(float(v), 1) for v in self.box],
                "person": self.person}


@dataclass
class GroupResult:
    """Every face with the person it was grouped into (``person_001`` ... or ``alone``)."""

    faces: list[GroupedFace]
    threshold: Threshold
    method: str
    photos: int
    problems: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    out: Path | None = None
    html: Path | None = None
    csv: Path | None = None
    #: ``ward``: groups on average closer than this distance were joined
    join: Threshold | None = None
    #: ``ward``: a face with no face of its group this close was left alone
    near: Threshold | None = None

    def people(self) -> dict[str, list[GroupedFace]]:
        """``{person: faces}`` in order (largest group first), ``alone`` last."""
        out: dict[str, list[GroupedFace]] = {}
        for f in sorted(self.faces, key=lambda f: (f.person == ALONE, f.person)):
            out.setdefault(f.person, []).append(f)
        return out

    def to_dict(self) -> dict:
        ppl = self.people()
        return {"threshold": self.threshold.to_dict(), "join": self.join.to_dict() if self.join else None,
                "near": self.near.to_dict() if self.near else None, "method": self.method, "photos": self.photos,
                "faces": len(self.faces), "people": len([p for p in ppl if p != ALONE]),
                "alone": len(ppl.get(ALONE, [])), "groups": {p: [f.to_dict() for f in fs] for p, fs in ppl.items()},
                "problems": [{"file": f, "problem": p} for f, p in self.problems],
                "seconds": round(self.seconds, 2), "out": str(self.out) if self.out else None,
                "html": str(self.html) if self.html else None, "csv": str(self.csv) if self.csv else None}

    def table(self):
        import pandas as pd

        return pd.DataFrame([{"file": f.file, "face": f.face, "person": f.person, "x": f.box[0], "y": f.box[1],
                              "w": f.box[2], "h": f.box[3]} for f in self.faces],
                            columns=["file", "face", "person", "x", "y", "w", "h"])


def name_clusters(labels: np.ndarray) -> list[str]:
    """``person_001`` ... for clusters of two or more faces, ``alone`` for the rest.

    Example:
        >>> name_clusters(np.array([0, 0, 1]))
        ['person_001', 'person_001', 'alone']
    """
    counts = np.bincount(labels) if len(labels) else np.zeros(0, int)
    return [f"person_{int(v) + 1:03d}" if counts[v] > 1 else ALONE for v in labels]


def group_photos(photos: Sequence[str | Path], *, threshold: float | None = None, method: str = "ward",
                 detector: str | None = None, mirror: bool = True, workers: int = 1, gallery=None,
                 out: str | Path | None = None, link: bool = False, copies: bool = True,
                 progress: bool = False) -> GroupResult:
    """Group every face of photos, folders or globs by person.

    Args:
        threshold: where to cut (default: ``gallery``'s calibrated one, else the default): for
            ``ward``, the merge cost (two single faces: their distance); otherwise a pair distance.
        method: ``ward``, ``agglomerative`` or ``chinese-whispers``.
        gallery: a gallery whose framing and calibrated threshold to use.
        out: a NEW folder: ``index.html``, ``groups.csv`` and one folder per person with copies
            (``link=True``: hard links, or symbolic links across file systems) of the photos.
        copies: ``False``: write the page and the CSV only (no folder per person).

    Raises:
        ConfigError: a bad threshold or method; ``out`` holds files facelab did not make.
        DataError: no photo, or no face in any photo.
    """
    from .identify import photo_problems
    from .photos import expand_photos

    t0 = time.time()
    if threshold is not None:
        check_threshold(threshold)
    if method not in METHODS:
        raise ConfigError(f"unknown grouping method {method!r}", fix=f"use one of: {', '.join(METHODS)}")
    if gallery is not None and not hasattr(gallery, "framing"):
        from .gallery import open_gallery

        gallery = open_gallery(gallery)
    if out is not None:
        from ..outputs import check_folder

        check_folder(out, what="grouping folder")
    th = resolve_threshold(threshold, gallery, threshold_purpose(method))
    join = resolve_threshold(None, gallery, "group_join") if method == "ward" else None
    near = resolve_threshold(None, gallery, "group") if method == "ward" else None
    paths, bad, _ = expand_photos(photos)
    if not paths:
        raise DataError("no photos to group", fix="give photos, folders or globs")
    fr = gallery.framing if gallery is not None else None
    emb = (Embedder.for_framing(fr, workers=workers, thumbs=True) if fr
           else Embedder(detector, mirror=mirror, workers=workers, thumbs=True))
    found = emb.embed_paths(paths, progress=progress)
    faces = [(p.path, f) for p in found for f in p.faces]
    if not faces:
        raise DataError(f"no face found in any of the {len(paths)} photos",
                        fix="give photos where the faces are visible and at least ~40 px wide")
    labels = cluster_vectors(np.stack([f.vector for _, f in faces]), th.value, method,
                             join=join.value if join is not None else None,
                             near=near.value if near is not None else None)
    names = name_clusters(labels)
    grouped = [GroupedFace(p, f.index, (f.box.x, f.box.y, f.box.w, f.box.h), n, f.thumb)
               for (p, f), n in zip(faces, names)]
    res = GroupResult(grouped, th, method, len(paths), bad + photo_problems(found), join=join, near=near)
    if out is not None:
        write_group_folder(res, out, link=link, copies=copies)
    res.seconds = time.time() - t0
    return res


def write_group_folder(res: GroupResult, out: str | Path, *, link: bool = False, copies: bool = True) -> Path:
    """``out/index.html``, ``out/groups.csv`` and ``out/<person>/`` with copies (or links) of the photos."""
    from ..outputs import claim_folder
    from .render import group_html

    out = claim_folder(out, what="grouping folder")
    for person, fs in res.people().items() if copies else ():
        d = out / person
        d.mkdir(exist_ok=True)
        for f in {f.file for f in fs}:
            dest = d / Path(f).name
            k = 2
            while dest.exists():
                dest = d / f"{Path(f).stem}_{k}{Path(f).suffix}"
                k += 1
            _place(Path(f), dest, link)
    res.out = out
    res.csv = out / "groups.csv"
    res.table().to_csv(res.csv, index=False)
    res.html = out / "index.html"
    res.html.write_text(group_html(res), encoding="utf-8")
    return out


def _place(src: Path, dest: Path, link: bool) -> None:
    """Copy (or link) ``src`` to ``dest``; the source is only read."""
    if link:
        try:
            os.link(src, dest)
            return
        except OSError:
            os.symlink(src.resolve(), dest)
            return
    shutil.copy2(src, dest)
