"""``facelab predict RUN PATHS --engine spark --out results.parquet``: batch prediction on Spark.

Three steps, each a Spark transformation over a DataFrame of photo paths:

1. ``mapInPandas``: every photo is decoded, its faces detected and aligned by the run's
   :class:`~facelab.predict.predictor.Predictor` (``_prepare``, the code the local batch runs),
   giving one row per face (or per photo without a classifiable face) with the aligned crop;
2. ``pyspark.ml.functions.predict_batch_udf``: the crops are classified in batches by the run's
   model, loaded once per executor process (ONNX Runtime with ``backend="onnx"`` after
   ``facelab export RUN``, torch otherwise);
3. the labels are derived with the run's thresholds, and the table is written as Parquet with
   the columns of :func:`facelab.predict.batch.results_table`.

The output is written to ``<out>.partial`` and renamed when the job has succeeded: a killed job
leaves no ``<out>`` (Spark retries a killed task on its own). Spark writes Parquet as a folder of
part files (``pandas.read_parquet(out)`` reads it whole), in the order of the input paths.

Executors read the photos and the run folder at the paths the driver names: in local mode
always; on a cluster both must be on shared storage.

Example: docs/python.md#scale-out.
"""
from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError
from ..outputs import check_folder
from .spark import get_spark, write_results

log = logging.getLogger(__name__)


def is_spark_results(path: Path) -> bool:
    """A folder of Parquet part files Spark wrote (a facelab ``--engine spark`` result)."""
    names = [p.name for p in path.iterdir()]
    return "_SUCCESS" in names and all(n.startswith(("part-", "_", ".")) for n in names)

#: one Predictor per executor process (Python workers are reused across tasks). Crops travel as
#: ``array<tinyint>`` (Spark has no unsigned byte): the uint8 bits viewed as int8, and back.
_PREDICTORS: dict = {}

STAGE1 = ("order long, file string, width int, height int, face int, status string, x double, y double, "
          "w double, h double, angle double, score double, message string, crop array<tinyint>")


def _predictor(opts: dict):
    key = json.dumps(opts, sort_keys=True)
    p = _PREDICTORS.get(key)
    if p is None:
        import cv2

        from ..predict.predictor import Predictor

        cv2.setNumThreads(1)
        p = _PREDICTORS[key] = Predictor.from_run(opts["run"], backend=opts["backend"], min_face=opts["min_face"],
                                                  threads=1, **opts["detector_params"])
    return p


def _faces(opts: dict):
    """mapInPandas body of step 1: photos → one row per face with its aligned crop."""
    def run(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        pred = _predictor(opts)
        for pdf in frames:
            rows = []
            for order, path in zip(pdf["order"], pdf["path"]):
                p = pred._prepare(path, opts["aligned"])
                r = p.result
                base = {"order": int(order), "file": r.source, "width": r.width, "height": r.height}
                if r.error or not r.faces:
                    rows.append({**base, "face": None, "status": "error" if r.error else "no face",
                                 "message": r.error or r.note, "crop": None})
                    continue
                crops = dict(zip(p.slots, p.crops))
                for f in r.faces:
                    b = f.box
                    c = crops.get(f.index)
                    rows.append({**base, "face": f.index, "status": "ok" if c is not None else "too small",
                                 "x": round(b.x, 1), "y": round(b.y, 1), "w": round(b.w, 1), "h": round(b.h, 1),
                                 "angle": round(b.angle, 1), "score": round(b.score, 3), "message": f.note,
                                 "crop": None if c is None else c.reshape(-1).view(np.int8)})
            out = pd.DataFrame(rows, columns=[c.split()[0] for c in STAGE1.split(", ")])
            out["face"] = out["face"].astype("Int32")
            yield out
    return run


def _make_predict_fn(opts: dict, shape: tuple[int, int, int]):
    """predict_batch_udf's factory: called once per executor process, returns the batch function."""
    def make():
        pred = _predictor(opts)

        def predict(crops: np.ndarray) -> np.ndarray:
            x = crops.reshape((-1, *shape)).astype(np.int8).view(np.uint8)  # uint8 sent as Spark bytes
            return np.asarray(pred.classify(x), np.float32).reshape(len(x), -1)
        return predict
    return make


def _labels_fn(classes: list[str], kind: str, thresholds: list[float]):
    """mapInPandas body of step 3: probabilities → p_<class> columns and labels, as results_table."""
    from ..predict.results import verdict

    def run(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        t = np.asarray(thresholds, np.float32)
        for pdf in frames:
            labels, verdicts, probs = [], [], {c: [] for c in classes}
            for status, p in zip(pdf["status"], pdf["proba"]):
                if status != "ok" or p is None:
                    labels.append(None)
                    verdicts.append(None)
                    for c in classes:
                        probs[c].append(math.nan)
                    continue
                p = np.asarray(p, np.float32)
                if kind == "multiclass":
                    labels.append(classes[int(np.argmax(p))])
                else:
                    labels.append(";".join(c for c, v, th in zip(classes, p, t) if v >= th))
                for c, v in zip(classes, p):
                    probs[c].append(float(v))
                verdicts.append(verdict(dict(zip(classes, p.tolist())), kind, thresholds))
            out = pdf.drop(columns=["proba"])
            out.insert(out.columns.get_loc("score") + 1, "labels", labels)
            out.insert(out.columns.get_loc("labels") + 1, "verdict", verdicts)
            at = out.columns.get_loc("verdict") + 1
            for k, c in enumerate(classes):
                out.insert(at + k, f"p_{c}", np.asarray(probs[c], np.float64))
            yield out
    return run


def _sources_frame(sources) -> tuple[list[str], list, int]:
    """Paths from files/folders/globs (as ``facelab predict``) or from a table with a ``path``
    column (a pandas DataFrame, or a .parquet/.csv file)."""
    from ..predict.batch import expand_sources

    if isinstance(sources, pd.DataFrame):
        return sources["path"].astype(str).tolist(), [], 0
    items = [sources] if isinstance(sources, (str, Path)) else list(sources)
    if len(items) == 1 and Path(str(items[0])).suffix.lower() in (".parquet", ".csv") and Path(str(items[0])).is_file():
        p = Path(str(items[0]))
        table = pd.read_parquet(p) if p.suffix.lower() == ".parquet" else pd.read_csv(p)
        if "path" not in table.columns:
            raise DataError(f"{p} has no 'path' column", path=p, fix="give a table with one photo path per row")
        return table["path"].astype(str).tolist(), [], 0
    return expand_sources(items)


def predict_spark(run, sources: Iterable, *, out, aligned: bool = False, backend: str = "torch",
                  min_face: int = 24, batch_size: int = 64, master: str | None = None,
                  progress: bool = True, **detector_params):
    """Predict every face of many photos on Spark and write the results as Parquet.

    Args:
        run: the run (name or folder).
        sources: files, folders, globs; or a table (DataFrame, .parquet, .csv) with a ``path`` column.
        out: the Parquet output (a folder of part files).
        aligned, backend, min_face, batch_size: as :func:`facelab.predict.batch.predict_files`.
        master: the Spark master (default ``local[2]``).
        progress: log what is being done (``logging``; the CLI shows it).
        **detector_params: passed to the face detector (e.g. ``max_side``).

    Returns:
        a :class:`facelab.predict.batch.BatchReport` (without the per-photo ``results``).
    """
    from pyspark.ml.functions import predict_batch_udf
    from pyspark.sql import functions as F
    from pyspark.sql.types import ArrayType, FloatType

    from ..faces.align import crop_geometry
    from ..predict.batch import BatchReport
    from ..predict.predictor import Predictor

    t0 = time.perf_counter()
    if out is None:
        raise ConfigError("--engine spark writes its results to a file", fix="add --out results.parquet")
    out = Path(out).expanduser().absolute()
    if out.suffix.lower() not in (".parquet", ".pq", ""):
        raise ConfigError(f"--engine spark writes Parquet, not {out.suffix}", path=out,
                          fix="use --out results.parquet")
    check_folder(out, what="Spark results folder", recognise=is_spark_results)  # never over a user's data
    local = Predictor.from_run(run, backend=backend, min_face=min_face, **detector_params)  # fails early
    from ..runs.listing import resolve_run

    run_path = str(resolve_run(run)) if not hasattr(run, "path") else str(run.path)
    opts = {"run": run_path, "backend": backend, "min_face": int(min_face), "aligned": bool(aligned),
            "detector_params": detector_params}
    paths, problems, skipped = _sources_frame(sources)
    spark = get_spark(master)
    n_part = max(1, min(len(paths), spark.sparkContext.defaultParallelism * 4))
    pdf = pd.DataFrame({"order": np.arange(len(paths), dtype=np.int64), "path": paths})
    photos = spark.createDataFrame(pdf, "order long, path string").repartition(n_part, "order")
    faces = photos.mapInPandas(_faces(opts), schema=STAGE1)
    size, grey, _ = crop_geometry(local.input_spec)
    shape = (size, size, 1 if grey else 3)
    classify = predict_batch_udf(_make_predict_fn(opts, shape), return_type=ArrayType(FloatType()),
                                 batch_size=batch_size, input_tensor_shapes=[[int(np.prod(shape))]])
    # nulls (no face, unreadable photo) skip the model; the classified rows get their probabilities
    scored = faces.where(F.col("crop").isNotNull()).withColumn("proba", classify(F.col("crop")))
    rest = faces.where(F.col("crop").isNull()).withColumn("proba", F.lit(None).cast(ArrayType(FloatType())))
    both = scored.unionByName(rest).drop("crop")
    cols = ["file", "face", "status", "x", "y", "w", "h", "angle", "score", "labels", "verdict"] + \
        [f"p_{c}" for c in local.classes] + ["width", "height", "message"]
    schema = ("order long, file string, width int, height int, face int, status string, x double, y double, "
              "w double, h double, angle double, score double, labels string, verdict string, "
              + "".join(f"`p_{c}` double, " for c in local.classes) + "message string")
    table = (both.mapInPandas(_labels_fn(local.classes, local.kind, [float(v) for v in local.thresholds]),
                              schema=schema)
             .orderBy("order", F.col("face").asc_nulls_first()).select(*[F.col(f"`{c}`") for c in cols]))
    if problems:  # names that do not exist: rows like the local table's, first as locally
        prob = pd.DataFrame([{"file": r.source, "status": "error", "message": r.error, "width": 0, "height": 0}
                             for r in problems])
        table = spark.createDataFrame(prob.reindex(columns=cols).astype({"face": "Int32"}),
                                      table.schema).unionByName(table)
    if progress:
        log.info("predict on Spark (%s): %d photos in %d tasks", spark.sparkContext.master, len(paths), n_part)
    write_results(table, out, job="predict", 
                  fix="run it again; photos and the run folder must be readable by every executor")
    res = spark.read.parquet(str(out))
    counts = {r["status"]: int(r["count"]) for r in res.groupBy("status").count().collect()}
    per_photo = res.groupBy("file").agg(F.sum(F.col("face").isNotNull().cast("int")).alias("faces"),
                                        F.first("status").alias("status"), F.first("message").alias("message"))
    failed = [(r["file"], r["message"]) for r in per_photo.where(F.col("status") == "error").collect()]
    n_photos = per_photo.count()
    faces_n = counts.get("ok", 0) + counts.get("too small", 0)
    return BatchReport(photos=n_photos, faces=faces_n, classified=counts.get("ok", 0),
                       no_face=counts.get("no face", 0), failed=failed, skipped_files=skipped,
                       seconds=time.perf_counter() - t0, out=out)
