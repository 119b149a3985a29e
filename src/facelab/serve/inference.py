"""The work done in the inference pool: decode an upload, run each requested run's predictor.

Pure functions of bytes and loaded runs (no FastAPI here), so they are easy to test and reuse.
"""
from __future__ import annotations

import base64
import binascii
import re

import numpy as np

from ..errors import ConfigError, DataError
from ..runs.listing import check_name
from .errors import ApiError
from .schemas import PhotoOut, RunPrediction
from .store import RunStore, ServedRun

NO_FACE = ("no face found: the detector saw no face in this image "
           "(send a photo with a frontal face at least ~40 pixels wide)")
_DATA_URL = re.compile(r"^data:[\w/+.\-]*;base64,", re.I)


def b64_to_bytes(text: str, field: str = "image") -> bytes:
    """Decode base64 (plain or a data URL); malformed input is a 422 naming the field.

    Example:
        >>> b64_to_bytes("aGk=")
        b'hi'
    """
    text = _DATA_URL.sub("", text.strip())
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as e:
        raise ApiError(422, f"{field} is not valid base64 ({e})",
                       fix='send the file bytes base64-encoded, e.g. `base64 -w0 photo.jpg`') from None


def decode_image(data: bytes, name: str) -> np.ndarray:
    """Decode an uploaded file to RGB uint8; a non-image is a 415 that names the file."""
    from ..data.image import load_image

    if not data:
        raise ApiError(415, f"{name} is empty", fix="send a JPEG, PNG, WebP or BMP photo")
    try:
        return load_image(data, name=name)
    except DataError as e:
        raise ApiError(415, e.message, fix="send a JPEG, PNG, WebP or BMP photo") from None


def select_runs(store: RunStore, run: str | None) -> list[ServedRun]:
    """The runs a request asks for: one by name, or all (``None``, ``""`` or ``"all"``)."""
    if run in (None, "", "all", "*"):
        return [store.runs[n] for n in store.names]
    try:
        check_name(run)  # the one run-name rule (facelab.runs.listing)
    except ConfigError:
        raise ApiError(400, f"refused run name {run!r}: a run name is a folder name, not a path",
                       fix=f"use one of: {', '.join(store.names)}", available=store.names) from None
    if run not in store.runs:
        raise ApiError(404, f"no run named {run!r} is served",
                       fix=f"use one of: {', '.join(store.names)} (or omit run for all)",
                       available=store.names)
    return [store.runs[run]]


def run_prediction(name: str, result) -> RunPrediction:
    """One run's answer for a :class:`~facelab.predict.results.PhotoResult`, validated from
    :meth:`PhotoResult.to_dict`, so the API's schema and the library's result cannot drift apart
    (the plain path here and the fast path of :mod:`facelab.serve.pipeline` alike)."""
    d = result.to_dict()
    note = d["note"]
    if not d["faces"] and not d["error"]:
        note = note or NO_FACE
    return RunPrediction.model_validate({"run": name, "faces": d["faces"], "note": note, "error": d["error"]})


def predict_one(image: np.ndarray, runs: list[ServedRun]) -> list[RunPrediction]:
    """Run every requested run's predictor on one decoded image."""
    return [run_prediction(served.name, served.predictor.predict(image)) for served in runs]


def predict_bytes(data: bytes, name: str | None, runs: list[ServedRun]) -> PhotoOut:
    """Decode and predict one upload (called in the inference pool)."""
    image = decode_image(data, name or "the upload")
    h, w = image.shape[:2]
    return PhotoOut(source=name, width=int(w), height=int(h), predictions=predict_one(image, runs))
