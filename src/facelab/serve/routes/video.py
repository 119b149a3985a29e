"""``POST /v1/predict/video``: faces tracked through an uploaded video.

The upload (multipart field ``file``, or the raw bytes as ``video/*``) is bounded by the server's
``--max-upload-mb`` like every body, written to a private temporary file, and read by
:meth:`Predictor.predict_video <facelab.predict.predictor.Predictor.predict_video>` in the
inference pool — the same call as ``facelab predict clip.mp4``. The answer holds the per-track
summary and the per-frame table.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import APIRouter, Query, Request
from starlette.datastructures import UploadFile

from ...predict.video_predict import HOLD
from ..deps import Pool, Store
from ..errors import ApiError
from ..inference import select_runs
from ..logging import request_id_var
from ..schemas import ErrorBody
from ..video_schemas import VideoOut

router = APIRouter(prefix="/v1", tags=["video"])

_ERRORS = {
    400: {"model": ErrorBody, "description": "a bad option, or runs whose outputs share names"},
    404: {"model": ErrorBody, "description": "unknown run (the answer lists the served ones)"},
    413: {"model": ErrorBody, "description": "body over the size limit"},
    415: {"model": ErrorBody, "description": "not a video: no video stream, corrupt, cut short, unknown codec"},
    422: {"model": ErrorBody, "description": "no `file` field"},
}
_DOC = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary", "description": "a video (MP4, MOV, AVI, MKV, WebM ...)"},
        "run": {"type": "string", "description": "a served run name (optional)"}}}},
    "video/*": {"schema": {"type": "string", "format": "binary"}}}}}
_UPLOAD_TYPES = ("video/", "application/octet-stream", "image/gif")


async def _upload(request: Request) -> tuple[bytes, str, str | None]:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "multipart/form-data":
        form = await request.form()
        item = form.get("file")
        if not isinstance(item, UploadFile):
            raise ApiError(422, "the multipart body has no `file` upload",
                           fix="curl -F file=@clip.mp4 http://HOST:PORT/v1/predict/video")
        run = form.get("run")
        return await item.read(), item.filename or "the upload", run if isinstance(run, str) else None
    if ctype.startswith(_UPLOAD_TYPES):
        return await request.body(), request.query_params.get("filename") or "the upload", None
    raise ApiError(415, f"unsupported content type {ctype or '(none)'!r}",
                   fix="send multipart/form-data with a `file` field, or the video itself as video/mp4")


def _predict(predictors: list, names: list[str], data: bytes, name: str, options: dict) -> VideoOut:
    """Runs in the inference pool: the upload to a private file, through predict_video."""
    from ...predict.combined import CombinedPredictor

    pred = predictors[0] if len(predictors) == 1 else CombinedPredictor(predictors)
    with tempfile.TemporaryDirectory(prefix="facelab-video-") as tmp:
        path = Path(tmp) / ("upload" + Path(name).suffix[:8])
        path.write_bytes(data)
        video = pred.predict_video(path, name=name, **options)
        frames = [fr.to_dict() for fr in video]
        summary = video.summary()
    return VideoOut.model_validate({**summary.to_dict(), "source": name, "runs": names, "classes": summary.classes,
                                    "frames": frames, "request_id": request_id_var.get()})


@router.post("/predict/video", response_model=VideoOut, responses=_ERRORS, openapi_extra=_DOC,
             summary="Faces tracked through a video, with smoothed predictions per track")
async def predict_video(request: Request, store: Store, pool: Pool,
                        run: str | None = Query(None, description="a served run name; omitted or `all`: every "
                                                                   "served run together"),
                        every: int = Query(1, ge=1, le=1000, description="analyse one frame in N"),
                        fps: float | None = Query(None, gt=0, le=240, description="analyse at most F frames a second"),
                        smooth: float = Query(1.0, ge=0, le=60, description="time constant (s) of each track's "
                                                                            "exponential average; 0: off"),
                        hold: float = Query(HOLD, ge=0, lt=0.5, description="label hysteresis: a track's label "
                                            "changes once its probability crosses the threshold by this margin; 0: off"),
                        filename: str | None = Query(None, description="the video's name, for a raw video/* body"),
                        ) -> VideoOut:
    """Detect, classify and track the faces of one uploaded video.

    Send the video as a multipart upload (field `file`) or as the raw bytes with
    `Content-Type: video/mp4` (any `video/*`). The answer gives each face track (first and last
    time, mean probabilities, the dominant label and its share) and every analysed frame's faces
    with raw and smoothed probabilities. A corrupt, cut-short or audio-only file is a 415 naming it.
    """
    data, name, form_run = await _upload(request)
    if not data:
        raise ApiError(415, f"{name} is empty", fix="send a video file")
    runs = select_runs(store, form_run or run)
    options = {"every": every, "fps": fps, "smooth": smooth, "hold": hold}
    return await pool.run(_predict, [s.predictor for s in runs], [s.name for s in runs], data, name, options)
