"""Settings of the REST API: one validated model, built by the caller (never at import time).

Example:
    >>> s = ServeSettings(runs=["smiling-cnn"], runs_dir="runs", max_upload_mb=5)
    >>> s.max_upload_bytes
    5242880
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


def _cores() -> int:
    # sched_getaffinity respects container CPU limits; cpu_count does not.
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class ServeSettings(BaseModel):
    """How `facelab serve` runs.

    Args:
        runs: run names (folders inside ``runs_dir``) to load at start-up; empty means every run
            found in ``runs_dir``.
        runs_dir: the runs folder (default ``$FACELAB_RUNS`` or ``./runs``).
        home: facelab's working folder, where ONNX copies of read-only runs are kept (default
            ``$FACELAB_HOME`` or ``~/.facelab``).
        max_upload_mb: the largest request body accepted (413 above it).
        max_batch: the most images in one ``/v1/predict/batch`` request.
        processes: photo worker processes (default: the number of cores, at most 8): the fast
            path's decode → detect → align of each upload runs in one of them
            (:mod:`facelab.serve.photo_workers`), off the server's GIL, while the server process
            parses HTTP and classifies the crops of concurrent requests together. 0: the photo
            path runs in the server's inference threads (one GIL for everything).
        workers: inference threads (default: the number of cores).
        torch_threads: torch threads per inference call; workers x torch_threads should not
            exceed the cores, or calls fight over them.
        detector: the face detector name (``facelab.faces.detect.DETECTORS``; default: the one each
            run's cache was aligned with, else haar).
        backend: ``torch``, ``onnx``, or ``auto`` (ONNX Runtime when onnxruntime is installed
            and the run has, or can make, a ``model.onnx``; torch otherwise).
        fast: the fast photo path (:mod:`facelab.predict.fastpath`) and micro-batching
            (:mod:`facelab.serve.batching`); off: one predictor call per request.
        batch_window_ms: how long a batch waits for concurrent requests to join it.
        batch_max_faces: the most face crops classified in one batch.
        batch_timeout_s: a request waiting longer than this for the model gets a 503; an inference
            queue where no call finished for this long makes ``/v1/health`` answer 503.
        health_timeout_s: how long ``/v1/health`` waits for every run to classify a blank face.
        log_level: level of the JSON request log.
        token: the bearer token that writing endpoints (``POST``/``DELETE /v1/galleries/...``) require;
            ``None``: they are refused (401) and nothing is written.
        galleries_dir: where ``/v1/galleries/NAME`` lives (default ``$FACELAB_HOME/galleries``).

    Example:
        >>> s = ServeSettings(runs=[], runs_dir="runs")
        >>> s.processes >= 1 and s.workers >= 1
        True
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    runs: list[str] = Field(default_factory=list)
    runs_dir: Path = Field(default_factory=lambda: _runs_root())
    home: Path = Field(default_factory=lambda: _home())
    max_upload_mb: float = Field(10.0, gt=0, le=1024)
    max_batch: int = Field(16, ge=1, le=256)
    processes: int = Field(default_factory=lambda: min(_cores(), 8), ge=0, le=64)
    workers: int = Field(default_factory=_cores, ge=1, le=64)
    torch_threads: int = Field(1, ge=1, le=64)
    detector: str | None = None  # None: each run's own (its framing record's, input.json "detector", else haar)
    backend: Literal["torch", "onnx", "auto"] = "auto"
    fast: bool = True
    batch_window_ms: float = Field(3.0, ge=0, le=1000)
    batch_max_faces: int = Field(32, ge=1, le=1024)
    batch_timeout_s: float = Field(10.0, gt=0, le=600)
    health_timeout_s: float = Field(2.0, gt=0, le=60)
    log_level: str = "INFO"
    token: str | None = Field(None, min_length=8, repr=False)
    galleries_dir: Path | None = None

    @field_validator("runs_dir", mode="before")
    @classmethod
    def _expand(cls, v):
        return Path(v).expanduser() if v is not None else _runs_root()

    @property
    def max_upload_bytes(self) -> int:
        """The request size limit in bytes."""
        return int(self.max_upload_mb * 1024 * 1024)


def _runs_root() -> Path:
    from ..paths import runs_root

    return runs_root()


def _home() -> Path:
    from ..paths import home

    return home()
