"""Sorting a photo library by person: cluster every face's descriptor at the grouping threshold.

Three methods, each cut at its own threshold:

* ``ward`` (the default): Ward's minimum-variance linkage cut at :data:`~.threshold.DEFAULT_GROUP_CUT`
  (two single faces merge below that distance; larger groups merge when joining them adds little
  spread, so one person's many photos stay one group while two look-alikes' groups stay apart).
  On lfw_more's 548 people mixed together: pairwise precision 0.970, recall 0.960 at the cut
  calibrated on half of them (bench/identity.py --parts group; the default cut was chosen on the
  validation half of the people).
* ``agglomerative``: average linkage cut at a pair distance (the distance at a false-accept rate of
  7e-4): precision 0.944, recall 0.947 on the same photos.
* ``chinese-whispers``: dlib's graph clustering: faces closer than the threshold are linked and
  labels spread along the links; it follows every single link and merges look-alikes (precision 0.24).

A cluster of one face is a face "alone". The result renders as an HTML page (one row of faces per person), a CSV (photo, face,
person) and, with ``out``, a new folder per person filled with copies (or links) of the photos —
the user's files are never moved.

Example:
    >>> X = np.repeat(np.eye(3, 128, dtype=np.float32), 2, axis=0)
    >>> cluster_vectors(X, 0.5).tolist()
    [0, 0, 1, 1, 2, 2]
    >>> pairwise_precision_recall([0, 0, 1, 1], [0, 0, 0, 1])
    (0.3333333333333333, 0.5)
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
from .threshold import Threshold, check_threshold, resolve_threshold

METHODS = ("ward", "agglomerative", "chinese-whispers")
#: the methods whose threshold is a pair distance (``ward`` cuts at a merge cost: :data:`CUT_METHODS`)
LINK_METHODS = ("agglomerative", "chinese-whispers")
CUT_METHODS = ("ward",)
ALONE = "alone"


def threshold_purpose(method: str) -> str:
    """Which calibrated threshold a method cuts at: ``group_cut`` (Ward's merge cost) or ``group``
    (a pair distance)."""
    return "group_cut" if method in CUT_METHODS else "group"


def cluster_vectors(X: np.ndarray, threshold: float, method: str = "ward") -> np.ndarray:
    """Cluster labels 0..k-1 of unit descriptors, numbered by cluster size (largest first)."""
    X = np.asarray(X, np.float32)
    if method not in METHODS:
        raise ConfigError(f"unknown grouping method {method!r}", fix=f"use one of: {', '.join(METHODS)}")
    if len(X) == 0:
        return np.zeros(0, np.int64)
    if len(X) == 1:
        return np.zeros(1, np.int64)
    if method == "chinese-whispers":
        import dlib

        lab = np.asarray(dlib.chinese_whispers_clustering([dlib.vector(v.astype(float).tolist()) for v in X],
                                                          float(threshold)), np.int64)
    else:
        from scipy.cluster.hierarchy import fcluster, linkage

        how = "ward" if method == "ward" else "average"
        lab = fcluster(linkage(X.astype(np.float64), method=how, metric="euclidean"),
                       t=float(threshold), criterion="distance").astype(np.int64)
    # renumber: largest cluster first, ties by first appearance
    uniq, first, counts = np.unique(lab, return_index=True, return_counts=True)
    order = sorted(range(len(uniq)), key=lambda i: (-counts[i], first[i]))
    remap = {int(uniq[i]): k for k, i in enumerate(order)}
    return np.array([remap[int(v)] for v in lab], np.int64)


def best_cut(X: np.ndarray, labels: Sequence[str], cuts: Sequence[float] | None = None,
             max_photos: int = 6000, seed: int = 0) -> dict:
    """Ward's cut that groups photos of known people best: the highest pairwise F1 against their
    labels (``cut`` None with fewer than 10 people of two or more photos, too few to choose on).

    Rows of ``X`` that are NaN (no face) are left out; above ``max_photos`` a seeded sample of whole
    people is used (the linkage holds every pair).
    """
    from scipy.cluster.hierarchy import fcluster, linkage

    X = np.asarray(X, np.float32)
    lab = np.asarray([str(v) for v in labels])
    ok = np.isfinite(X).all(1)
    X, lab = X[ok], lab[ok]
    people, counts = np.unique(lab, return_counts=True)
    if (counts >= 2).sum() < 10:
        return {"cut": None, "people": int(len(people)), "photos": int(len(lab))}
    if len(lab) > max_photos:
        keep, n = [], 0
        for p in np.random.default_rng(seed).permutation(people):
            n += int(counts[people == p][0])
            if n > max_photos:
                break
            keep.append(p)
        m = np.isin(lab, keep)
        X, lab = X[m], lab[m]
    L = linkage(X.astype(np.float64), method="ward")
    best = None
    for t in (np.round(np.arange(0.05, 1.96, 0.01), 2) if cuts is None else cuts):
        p, r = pairwise_precision_recall(lab, fcluster(L, float(t), criterion="distance"))
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        if best is None or f1 > best["f1"]:
            best = {"cut": float(t), "f1": round(f1, 5), "precision": round(p, 5), "recall": round(r, 5)}
    return {**best, "people": int(len(set(lab))), "photos": int(len(lab))}


def _pairs(codes: np.ndarray) -> int:
    """Pairs of items sharing a code."""
    _, c = np.unique(codes, return_counts=True)
    return int((c.astype(np.int64) * (c - 1) // 2).sum())


def pairwise_precision_recall(truth: Sequence, pred: Sequence) -> tuple[float, float]:
    """Pairwise precision (pairs put together that belong together) and recall (pairs that belong
    together that were put together)."""
    t = np.unique(np.asarray([str(v) for v in truth]), return_inverse=True)[1].astype(np.int64)
    p = np.unique(np.asarray([str(v) for v in pred]), return_inverse=True)[1].astype(np.int64)
    if not len(t):
        return 1.0, 1.0
    both, together, same = _pairs(t * (p.max() + 1) + p), _pairs(p), _pairs(t)
    return (both / together if together else 1.0), (both / same if same else 1.0)


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

    def people(self) -> dict[str, list[GroupedFace]]:
        """``{person: faces}`` in order (largest group first), ``alone`` last."""
        out: dict[str, list[GroupedFace]] = {}
        for f in sorted(self.faces, key=lambda f: (f.person == ALONE, f.person)):
            out.setdefault(f.person, []).append(f)
        return out

    def to_dict(self) -> dict:
        ppl = self.people()
        return {"threshold": self.threshold.to_dict(), "method": self.method, "photos": self.photos,
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
    labels = cluster_vectors(np.stack([f.vector for _, f in faces]), th.value, method)
    names = name_clusters(labels)
    grouped = [GroupedFace(p, f.index, (f.box.x, f.box.y, f.box.w, f.box.h), n, f.thumb)
               for (p, f), n in zip(faces, names)]
    res = GroupResult(grouped, th, method, len(paths), bad + photo_problems(found))
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
