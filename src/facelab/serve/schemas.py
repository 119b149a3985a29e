"""Request and response bodies of the REST API (Pydantic), with the examples shown at ``/docs``."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# A 1x1 white JPEG: small enough for the docs, a real image the server decodes (it has no face,
# so the answer shows the "no face" note).
TINY_JPEG_B64 = (
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwc"
    "KDcpLDAxNDQ0Hyc5PTgyPC4zNDL/wAALCAABAAEBAREA/8QAFAABAAAAAAAAAAAAAAAAAAAACf/EABQQAQAAAAAAAAAA"
    "AAAAAAAAAAD/2gAIAQEAAD8AKp//2Q=="
)


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer: what is wrong and how to fix it."""

    error: str
    fix: str | None = None
    request_id: str | None = None
    available: list[str] | None = Field(None, description="the served runs (unknown run name)")


class ImageIn(BaseModel):
    """One image as base64 (plain or a ``data:image/...;base64,`` URL)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"image": TINY_JPEG_B64, "filename": "white.jpg"}]})

    image: str = Field(..., description="the image file's bytes, base64-encoded", min_length=1)
    filename: str | None = Field(None, description="a name echoed back in the answer")


class PredictIn(ImageIn):
    """``POST /v1/predict`` as JSON."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"image": TINY_JPEG_B64, "filename": "white.jpg", "run": None}]})

    run: str | None = Field(None, description="a served run name; omitted: every served run")
    explain: str | None = Field(None, description="outputs to explain: Smiling, Smiling,Male, all or top")


class BatchIn(BaseModel):
    """``POST /v1/predict/batch`` as JSON."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"images": [{"image": TINY_JPEG_B64, "filename": "a.jpg"},
                    {"image": TINY_JPEG_B64, "filename": "b.jpg"}], "run": None}]})

    images: list[ImageIn] = Field(..., min_length=1)
    run: str | None = None


class BoxOut(BaseModel):
    x: float
    y: float
    w: float
    h: float
    score: float | None = None
    angle: float | None = None
    landmarks: dict[str, list[float]] | None = None


class ExplainOut(BaseModel):
    """Where the model looked for one output of one face (``explain=`` on ``/v1/predict``)."""

    output: str
    method: str | None = Field(None, description="gradcam, integrated-gradients, occlusion or logreg-weights")
    probability: float | None = None
    map: list[list[float]] | None = Field(None, description="16×16 saliency in 0–1 on the aligned face")
    png: str | None = Field(None, description="the aligned face with the heat map, PNG in base64")
    note: str | None = Field(None, description="why there is no map (e.g. a face too small to explain)")
    file: str | None = None


class FaceOut(BaseModel):
    index: int
    box: BoxOut
    probabilities: dict[str, float] = Field(description="empty when the face was found but not classified")
    labels: list[str]
    verdict: str | None = Field(None, description="the decision in words with its probability, e.g. "
                                                  "'Smiling 0.93' or 'not Smiling 0.88'")
    note: str | None = Field(None, description="why a face was not classified (e.g. too small)")
    explain: list[ExplainOut] | None = Field(None, description="saliency maps, when asked with explain=")


class RunPrediction(BaseModel):
    """The faces one run found in one image."""

    run: str
    faces: list[FaceOut]
    note: str | None = Field(None, description="why there are no faces, or a caveat")
    error: str | None = None


class PhotoOut(BaseModel):
    """One image's answer: its size and, per run, the faces with box, probabilities and labels."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "source": "photo.jpg", "width": 640, "height": 480,
        "predictions": [{"run": "smiling-cnn", "note": None, "error": None, "faces": [{
            "index": 0, "box": {"x": 250, "y": 130, "w": 140, "h": 140, "score": 0.996},
            "probabilities": {"Smiling": 0.93}, "labels": ["Smiling"], "verdict": "Smiling 0.93"}]}]}]})

    source: str | None
    width: int
    height: int
    predictions: list[RunPrediction]


class PredictOut(PhotoOut):
    request_id: str | None = None


class BatchOut(BaseModel):
    request_id: str | None = None
    results: list[PhotoOut]


class ModelOut(BaseModel):
    name: str
    target: str
    task: str | None = None
    classes: list[str] = []
    model: str | None = None
    metrics: dict[str, Any] = {}
    input: dict[str, Any] = {}


class ModelsOut(BaseModel):
    models: list[ModelOut]
    failed: dict[str, str] = Field(default_factory=dict, description="runs that could not be loaded, and why")


class HealthOut(BaseModel):
    #: ``ok`` (HTTP 200) or ``unhealthy`` (HTTP 503, ``problems`` says why)
    status: str
    problems: list[str] = []
    version: str
    runs: list[str]
    failed: dict[str, str] = {}
    #: photo worker processes (0: the photo path runs in the inference threads)
    processes: int = 0
    workers: int
    uptime_s: float
    #: requests waiting for or in the inference pool, plus face crops waiting for a batch
    queue_depth: int = 0
    #: the same, per queue: ``inference`` and ``batching`` (per run)
    queues: dict = {}
