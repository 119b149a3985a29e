"""``facelab identify GALLERY PHOTOS --engine spark --out who.parquet``: open-set identification on Spark.

One ``mapInPandas`` over a DataFrame of photo paths: each executor process opens the gallery once
(its search index) and builds one embedder with the gallery's framing; each partition goes through
:func:`facelab.identity.embed.embed_chunk` and :func:`facelab.identity.identify.identify_faces` —
the functions of the local path — giving the same rows as ``identify --out`` (one per face: file,
face, box, person or ``unknown``, distance, candidates), plus one row per photo without a face.

The gallery file and the photos must be readable by every executor (always so in local mode). The
output is written to ``<out>.partial`` and renamed when the job has succeeded.

Example::

    rep = identify_spark("family", ["shots/"], out="who.parquet")
    rep.faces, rep.known
"""
from __future__ import annotations

import logging

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError
from ..outputs import check_folder
from .spark import get_spark, write_results

log = logging.getLogger(__name__)

_STATE: dict = {}


def _schema(top_k: int) -> str:
    cols = ["order long", "file string", "face int", "x double", "y double", "w double", "h double",
            "person string", "distance double"]
    cols += [c for i in range(top_k) for c in (f"candidate_{i + 1} string", f"distance_{i + 1} double")]
    return ", ".join(cols + ["status string", "message string"])


def _identify_fn(gallery_path: str, threshold: float, top_k: int, chunk: int = 16):
    """mapInPandas body: photo paths → one row per face (the local path's per-photo functions)."""
    def run(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        from ..identity.embed import Embedder, embed_chunk
        from ..identity.gallery import Gallery
        from ..identity.identify import identify_faces

        key = gallery_path
        if key not in _STATE:  # once per executor process (Python workers are reused)
            import cv2

            cv2.setNumThreads(1)
            with Gallery.open(gallery_path) as g:
                fr = g.framing
                _STATE[key] = (g.index(), Embedder.for_framing(fr))
        index, emb = _STATE[key]
        cols = [c.split()[0] for c in _schema(top_k).split(", ")]
        for pdf in frames:
            rows = []
            items = list(zip(pdf["order"], pdf["path"]))
            for s in range(0, len(items), chunk):
                part = items[s:s + chunk]
                for (order, _), ph in zip(part, embed_chunk(emb, [p for _, p in part])):
                    found = identify_faces(index, ph.path, ph.faces, threshold, top_k)
                    if not found:
                        rows.append({"order": int(order), "file": ph.path, "status": ph.status,
                                     "message": ph.error or "no face found"})
                    for f in found:
                        rows.append({"order": int(order), **f.row(top_k), "status": "ok", "message": None})
            out = pd.DataFrame(rows, columns=cols)
            out["face"] = out["face"].astype("Int32")
            yield out
    return run


@dataclass
class SparkIdentifyReport:
    photos: int
    faces: int
    known: int
    no_face: int
    seconds: float
    out: Path

    def to_dict(self) -> dict:
        return {"photos": self.photos, "faces": self.faces, "known": self.known, "no_face": self.no_face,
                "seconds": round(self.seconds, 2), "out": str(self.out)}


def identify_spark(gallery, sources: Iterable, *, out, top_k: int = 3, threshold: float | None = None,
                   master: str | None = None, progress: bool = True) -> SparkIdentifyReport:
    """Identify every face of many photos against a gallery on Spark; write Parquet (one row per face).

    Raises:
        ConfigError: no ``out``, or ``out`` is not a Parquet path or holds a user's files.
        DataError: the gallery is missing or empty; the job failed.
    """
    from pyspark.sql import functions as F

    from ..identity.gallery import open_gallery
    from ..identity.photos import expand_photos
    from ..identity.threshold import resolve_threshold

    t0 = time.perf_counter()
    if out is None:
        raise ConfigError("--engine spark writes its results to a file", fix="add --out who.parquet")
    out = Path(out).expanduser().absolute()
    if out.suffix.lower() not in (".parquet", ".pq"):
        raise ConfigError(f"--engine spark writes Parquet, not {out.suffix or 'a folder'}", path=out,
                          fix="use --out who.parquet")
    check_folder(out, what="Spark results folder")
    with open_gallery(gallery) as g:
        if not len(g):
            raise DataError(f"the gallery {g.name} holds no faces", path=g.path,
                            fix=f"add people first: `facelab gallery add {g.name} people/`")
        th = resolve_threshold(threshold, g, "identify")
        path = str(g.path.resolve())
    paths, _, _ = expand_photos([sources] if isinstance(sources, (str, Path)) else list(sources))
    if not paths:
        raise DataError("no photos to identify", fix="give photos, folders or globs")
    spark = get_spark(master)
    n_part = max(1, min(len(paths), spark.sparkContext.defaultParallelism * 4))
    pdf = pd.DataFrame({"order": np.arange(len(paths), dtype=np.int64), "path": paths})
    df = spark.createDataFrame(pdf, "order long, path string").repartition(n_part, "order")
    table = (df.mapInPandas(_identify_fn(path, th.value, int(top_k)), schema=_schema(int(top_k)))
             .orderBy("order", F.col("face").asc_nulls_first()).drop("order"))
    if progress:
        log.info("identify on Spark (%s): %d photos in %d tasks", spark.sparkContext.master, len(paths), n_part)
    write_results(table, out, job="identify", 
                  fix="run it again; the photos and the gallery must be readable by every executor")
    res = pd.read_parquet(out)
    ok = res["status"] == "ok"
    return SparkIdentifyReport(photos=int(res["file"].nunique()), faces=int(ok.sum()),
                               known=int((ok & (res["person"] != "unknown")).sum()), no_face=int((~ok).sum()),
                               seconds=time.perf_counter() - t0, out=out)
