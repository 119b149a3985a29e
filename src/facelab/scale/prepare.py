"""``prepare_spark(...)`` (``facelab data prepare --engine spark``): the cache's image chunks decoded by Spark executors.

Everything but the decoding is the local prepare (:mod:`facelab.data.cache`): the same manifest,
subset, chunk jobs, ``<out>.partial/`` folder, compaction, manifest and ``meta.json`` written
last, then the rename. Only the runner of the chunk jobs changes (``prepare(..., runner=)``: data/ imports nothing above it, so
this layer injects the runner): each job (a JSON line, as the
local workers get it) becomes a row of a Spark DataFrame, and ``mapInPandas`` calls
:func:`facelab.data.cache_worker.decode_chunk` on it, the very function the local workers call.
The decoded rows are therefore the same bytes (a test compares the files).

Why this is safe to retry: a chunk writes fixed rows of the images file with ``pwrite`` and then
its done-marker, so a task Spark re-runs after a kill writes the same bytes again; a job that
fails altogether raises before ``meta.json`` exists, so no cache is ever marked complete, and
the finished chunks' markers let the next run resume.

Where the files must be: executors write the images file in place, so the output folder must be
on storage every executor sees (local mode: always; a cluster: a shared file system such as NFS,
mounted at the same path). FER2013's csv rows are parsed on the driver, as locally (one pass
over one file gains nothing from a cluster).

Example: docs/python.md#scale-out.
"""
from __future__ import annotations

import json
import logging
from typing import Iterator

from ..errors import DataError
from .spark import check_engine, get_spark

log = logging.getLogger(__name__)

#: the schema of what each Spark task returns: the chunk's first row and its failures (JSON)
RESULT_SCHEMA = "k long, failures string, images long"


def decode_partition(frames: Iterator) -> Iterator:
    """mapInPandas body: decode each chunk job of the partition with the local prepare's function."""
    import cv2
    import pandas as pd

    from ..data.cache_worker import decode_chunk

    cv2.setNumThreads(1)  # one Python worker per core already: OpenCV's own threads only contend
    for pdf in frames:
        out = []
        for line in pdf["job"]:
            job = json.loads(line)
            k, failures = decode_chunk(job)
            out.append((k, json.dumps(failures), len(job["rows"])))
        yield pd.DataFrame(out, columns=["k", "failures", "images"])


def spark_decode(jobs: list[dict], master: str | None = None) -> list:
    """Decode image chunk jobs on Spark; returns the failures ``[row, reason, path, message]``.

    Raises:
        DataError: the Spark job failed (finished chunks keep their markers; run again to resume).
    """
    if not jobs:
        return []
    spark = get_spark(master)
    sc = spark.sparkContext
    # one chunk per task: a retried task redoes 512 images at most, and the chunks spread evenly
    rdd = sc.parallelize([(json.dumps(j),) for j in jobs], numSlices=len(jobs))
    df = spark.createDataFrame(rdd, "job string")
    try:
        rows = df.mapInPandas(decode_partition, schema=RESULT_SCHEMA).collect()
    except Exception as e:  # the Spark job: whatever the JVM or an executor raised becomes one DataError
        msg = str(e).strip().splitlines()
        reason = next((m for m in msg if "Error" in m and "Traceback" not in m), msg[0] if msg else repr(e))
        raise DataError(f"the Spark prepare job failed: {reason[:400]}", path=jobs[0]["images"],
                        fix="run the same command again (finished chunks are kept and skipped); the output "
                            "folder must be on storage every executor can write") from None
    failures: list = []
    for r in sorted(rows, key=lambda r: r.k):
        failures.extend(json.loads(r.failures))
    return failures


def engine_runner(engine: str, master: str | None = None):
    """The job runner ``prepare`` uses for ``engine`` (None for the local one).

    The returned callable has the signature of the local runner
    (``jobs, done, n, workers, progress, procs``) and returns every failure.
    """
    if check_engine(engine) == "local":
        return None
    get_spark(master)  # fail (pyspark, Java) before any reading or writing

    def run(jobs: list[dict], done: list, n: int, workers, progress: bool, procs=None) -> list:
        from ..data.cache import decode_csv_jobs

        failures = list(done) + decode_csv_jobs(jobs)
        img = [j for j in jobs if j["kind"] == "img"]
        if progress:
            log.info("prepare on Spark: %d images in %d tasks", sum(len(j["rows"]) for j in img), len(img))
        failures.extend(spark_decode(img, master))
        return failures

    return run


def prepare_spark(data, *, master: str | None = None, engine: str = "spark", **kwargs):
    """:func:`facelab.data.cache.prepare` with the chunks decoded on Spark (``engine="local"``:
    the local worker processes); the same cache, byte for byte. ``kwargs`` go to ``prepare``."""
    from ..faces.prepare_align import prepare  # the data layer's prepare, with --crop detect/auto

    return prepare(data, runner=engine_runner(engine, master), **kwargs)
