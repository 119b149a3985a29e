"""``POST /v1/predict`` and ``POST /v1/predict/batch``: multipart uploads or JSON with base64.

Both forms share one path, so the body is read from the request by content type; the OpenAPI
document still describes both (``openapi_extra``) so that ``/docs`` offers a working form.
"""
from __future__ import annotations

import asyncio

from fastapi import APIRouter, Query, Request, Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from ..deps import Pool, Settings, Store
from ..errors import ApiError
from ..inference import b64_to_bytes, select_runs
from ..logging import request_id_var
from ..pipeline import predict_photo, server_timing
from ..schemas import TINY_JPEG_B64, BatchIn, BatchOut, ErrorBody, PredictIn, PredictOut

router = APIRouter(prefix="/v1", tags=["predict"])

_ERRORS = {
    400: {"model": ErrorBody, "description": "a run name that is a path"},
    404: {"model": ErrorBody, "description": "unknown run (the answer lists the served ones)"},
    413: {"model": ErrorBody, "description": "body over the size limit, or too many images"},
    415: {"model": ErrorBody, "description": "not multipart/JSON, or a file that is not an image"},
    422: {"model": ErrorBody, "description": "malformed JSON or base64"},
}
_UPLOAD_TYPES = ("image/", "application/octet-stream")
_RUN_QUERY = Query(None, description="a served run name; omitted or `all`: every served run")
_EXPLAIN_QUERY = Query(None, description="outputs to explain (Smiling, Smiling,Male, all, top): each face gets "
                                         "a saliency map and its heat-map PNG (base64); the first request "
                                         "loads the run's torch model")


def _body_doc(json_model, multipart_schema: dict, json_example: dict, raw: bool = False) -> dict:
    raw_doc = {"image/*": {"schema": {"type": "string", "format": "binary"}}} if raw else {}
    return {"requestBody": {"required": True, "content": {
        **raw_doc,
        "multipart/form-data": {"schema": multipart_schema},
        "application/json": {"schema": json_model.model_json_schema(ref_template="#/components/schemas/{model}"),
                             "example": json_example},
    }}}


_ONE_DOC = _body_doc(PredictIn, {"type": "object", "required": ["file"], "properties": {
    "file": {"type": "string", "format": "binary", "description": "a photo (JPEG, PNG, ...)"},
    "run": {"type": "string", "description": "a served run name (optional)"}}},
    {"image": TINY_JPEG_B64, "filename": "white.jpg"}, raw=True)
_BATCH_DOC = _body_doc(BatchIn, {"type": "object", "required": ["files"], "properties": {
    "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
    "run": {"type": "string"}}},
    {"images": [{"image": TINY_JPEG_B64, "filename": "a.jpg"}, {"image": TINY_JPEG_B64, "filename": "b.jpg"}]})


def _kind(request: Request) -> str:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "multipart/form-data":
        return "multipart"
    if ctype == "application/json" or ctype.endswith("+json"):
        return "json"
    if ctype.startswith(_UPLOAD_TYPES):
        return "raw"  # the photo's bytes as the body (curl --data-binary @photo.jpg)
    raise ApiError(415, f"unsupported content type {ctype or '(none)'!r}",
                   fix="send multipart/form-data with a `file` field, application/json "
                       'with {"image": "<base64>"}, or the photo itself as image/jpeg (see /docs)')


async def _json(request: Request, model):
    raw = await request.body()
    try:
        return model.model_validate_json(raw)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "body"
        kind = "malformed JSON" if first.get("type") == "json_invalid" else f"{where}: {first.get('msg')}"
        raise ApiError(422, f"the request body is invalid: {kind}",
                       fix='send JSON like {"image": "<base64 of the file>", "run": "<name>"} (see /docs)') from None


async def _read_upload(item, field: str) -> tuple[bytes, str]:
    if not isinstance(item, UploadFile):
        raise ApiError(422, f"the `{field}` field must be a file upload, not text",
                       fix=f"curl -F {field}=@photo.jpg ...")
    name = item.filename or field
    ctype = (item.content_type or "application/octet-stream").lower()
    if not ctype.startswith(_UPLOAD_TYPES):
        raise ApiError(415, f"{name} was sent as {ctype!r}, not an image",
                       fix="send a JPEG, PNG, WebP or BMP photo (content type image/*)")
    return await item.read(), name


@router.post("/predict", response_model=PredictOut, responses=_ERRORS, openapi_extra=_ONE_DOC,
             summary="Faces in one photo, with box, probabilities and labels")
async def predict(request: Request, response: Response, store: Store, pool: Pool,
                  run: str | None = _RUN_QUERY,
                  filename: str | None = Query(None, description="the photo's name, for a raw image/* body"),
                  explain: str | None = _EXPLAIN_QUERY) -> PredictOut:
    """Detect the faces in one photo and predict with one served run, or all of them.

    Send the photo as a multipart upload (field `file`), as JSON `{"image": "<base64>"}`, or as
    the raw bytes with `Content-Type: image/jpeg` (or any `image/*`). A photo with no face is a
    200 with empty `faces` and a `note` saying why. The `Server-Timing` header gives the
    milliseconds spent decoding, detecting, aligning and classifying. `explain=Smiling` adds each
    face's saliency map (method, 16×16 map, heat-map PNG in base64) for that output.
    """
    kind = _kind(request)
    if kind == "json":
        body = await _json(request, PredictIn)
        data, name, run = b64_to_bytes(body.image), body.filename, body.run or run
        explain = body.explain or explain
    elif kind == "raw":
        data, name = await request.body(), filename or "the upload"
    else:
        form = await request.form()
        if "file" not in form:
            raise ApiError(422, "the multipart body has no `file` field",
                           fix="curl -F file=@photo.jpg http://HOST:PORT/v1/predict")
        data, name = await _read_upload(form["file"], "file")
        run = form.get("run") or run
        explain = form.get("explain") or explain
    runs = select_runs(store, run if isinstance(run, str) else None)
    photo, timings = await predict_photo(data, name, runs, pool, request.app.state.batchers,
                                         request.app.state.photo_workers)
    if isinstance(explain, str) and explain.strip():
        from ..explain import add_explanations

        photo = await pool.run(add_explanations, photo, data, runs, explain)
    response.headers["Server-Timing"] = server_timing(timings)
    return PredictOut(**photo.model_dump(), request_id=request_id_var.get())


@router.post("/predict/batch", response_model=BatchOut, responses=_ERRORS, openapi_extra=_BATCH_DOC,
             summary="Faces in several photos in one request")
async def predict_batch(request: Request, store: Store, pool: Pool, settings: Settings,
                        run: str | None = _RUN_QUERY) -> BatchOut:
    """Like `/v1/predict` for several photos: multipart field `files` (repeated) or JSON `{"images": [...]}`.

    Results come back in the order sent.
    """
    kind = _kind(request)
    if kind == "raw":
        raise ApiError(415, "a batch is sent as multipart (field `files`) or JSON, not as one raw image",
                       fix="POST one raw image to /v1/predict, or use -F files=@a.jpg -F files=@b.jpg here")
    if kind == "json":
        body = await _json(request, BatchIn)
        items = [(b64_to_bytes(im.image, f"images[{i}].image"), im.filename) for i, im in enumerate(body.images)]
        run = body.run or run
    else:
        form = await request.form()
        files = form.getlist("files") or form.getlist("file")
        if not files:
            raise ApiError(422, "the multipart body has no `files` field",
                           fix="curl -F files=@a.jpg -F files=@b.jpg http://HOST:PORT/v1/predict/batch")
        items = [await _read_upload(f, "files") for f in files]
        run = form.get("run") or run
    if len(items) > settings.max_batch:
        raise ApiError(413, f"{len(items)} images in one batch; the limit is {settings.max_batch}",
                       fix="split the batch, or start the server with a larger --max-batch")
    runs = select_runs(store, run if isinstance(run, str) else None)
    # One pool task per image: a batch uses every worker, and the loop stays free meanwhile.
    batchers = request.app.state.batchers
    workers = request.app.state.photo_workers
    results = await asyncio.gather(*(predict_photo(data, name, runs, pool, batchers, workers) for data, name in items))
    return BatchOut(request_id=request_id_var.get(), results=[photo for photo, _ in results])
