"""``/v1/verify``, ``/v1/identify`` and ``/v1/galleries/...``: who is in a photo.

Reading needs nothing; writing (``POST``/``DELETE /v1/galleries/...``) needs the server started with
``--token`` and the request carrying it (``Authorization: Bearer <token>``) — otherwise 401 and
nothing is written. A gallery is named, never given as a path: ``NAME`` lives in the server's
galleries folder.
"""
from __future__ import annotations

import hmac
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from ..deps import Pool, Settings
from ..errors import ApiError
from ..inference import b64_to_bytes
from ..logging import request_id_var
from ..schemas import TINY_JPEG_B64, ErrorBody, ImageIn

router = APIRouter(prefix="/v1", tags=["identity"])

_ERRORS = {
    400: {"model": ErrorBody, "description": "a bad gallery name, threshold or option"},
    401: {"model": ErrorBody, "description": "writing without the server's token"},
    404: {"model": ErrorBody, "description": "no such gallery or person"},
    415: {"model": ErrorBody, "description": "a file that is not an image, or a photo without a face"},
    422: {"model": ErrorBody, "description": "malformed JSON or base64"},
}


class VerifyIn(BaseModel):
    """``POST /v1/verify``: two or more photos."""

    model_config = {"json_schema_extra": {"examples": [{"images": [{"image": TINY_JPEG_B64}, {"image": TINY_JPEG_B64}]}]}}

    images: list[ImageIn] = Field(..., min_length=2, max_length=16)
    face: int | None = Field(None, ge=0, description="which face of each photo (0 = largest; default the largest)")
    threshold: float | None = Field(None, description="distance threshold in (0, 2)")
    gallery: str | None = Field(None, description="use this gallery's framing and calibrated threshold")


class IdentifyIn(ImageIn):
    """``POST /v1/identify``: one photo against a gallery."""

    gallery: str
    top_k: int = Field(3, ge=1, le=50)
    threshold: float | None = None


class PeopleIn(BaseModel):
    """``POST /v1/galleries/{name}/people``: photos of one person."""

    person: str = Field(..., min_length=1, max_length=200)
    images: list[ImageIn] = Field(..., min_length=1, max_length=64)


def _galleries_dir(settings) -> Path:
    from ...paths import home

    return Path(settings.galleries_dir) if settings.galleries_dir else home() / "galleries"


def _path(settings, name: str) -> Path:
    """The file of gallery ``name`` inside the galleries folder (a client's name is never a path)."""
    from ...errors import ConfigError
    from ...runs.listing import check_name

    try:
        check_name(name)
    except ConfigError:
        raise ApiError(400, f"refused gallery name {name!r}", fix="a plain name: letters, digits, '-', '_', '.'") from None
    return _galleries_dir(settings) / f"{name}.sqlite"


def _open(settings, name: str, *, create=None):
    from ...identity.gallery import Gallery

    path = _path(settings, name)
    if create is None and not path.is_file():
        raise ApiError(404, f"no gallery named {name!r}", fix="GET /v1/galleries lists them")
    return Gallery.create(path, create) if create is not None else Gallery.open(path)


def require_token(request: Request, settings: Settings) -> None:
    """Refuse (401) a writing request unless the server has a token and the request carries it."""
    if not settings.token:
        raise ApiError(401, "writing is disabled: the server was started without a token",
                       fix="start it with `facelab serve --token TOKEN` and send `Authorization: Bearer TOKEN`")
    got = request.headers.get("authorization", "")
    scheme, _, value = got.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), settings.token.encode()):
        raise ApiError(401, "missing or wrong token" if got else "this request needs the server's token",
                       fix="send `Authorization: Bearer TOKEN` with the token the server was started with")


Writer = Annotated[None, Depends(require_token)]


async def _images(request: Request, field: str) -> list[tuple[str, bytes]]:
    """Photos from a multipart body (field ``field``, repeated)."""
    form = await request.form()
    files = form.getlist(field) or form.getlist("file")
    if not files:
        raise ApiError(422, f"the multipart body has no `{field}` field", fix=f"curl -F {field}=@a.jpg ...")
    out = []
    for f in files:
        if isinstance(f, str):
            raise ApiError(422, f"the `{field}` field must be a file upload, not text", fix=f"curl -F {field}=@a.jpg")
        out.append((f.filename or field, await f.read()))
    return out


def _is_multipart(request: Request) -> bool:
    return request.headers.get("content-type", "").lower().startswith("multipart/form-data")


async def _body(request: Request, model) -> Any:
    from pydantic import ValidationError

    try:
        return model.model_validate_json(await request.body())
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "body"
        raise ApiError(422, f"the request body is invalid: {where}: {first.get('msg')}", fix="see /docs") from None


@router.post("/verify", responses=_ERRORS, summary="Are these photos of the same person?")
async def verify(request: Request, settings: Settings, pool: Pool) -> dict:
    """JSON `{"images": [{"image": b64}, ...], "face", "threshold", "gallery"}` or multipart `files`
    (with form fields `face`, `threshold`, `gallery`): distances between the main faces, the decision
    per pair, and the threshold with its source."""
    from ...identity.embed import Framing, shared_embedder
    from ...identity.verify import verify as verify_photos

    if _is_multipart(request):
        items = await _images(request, "files")
        form = await request.form()
        try:
            face = int(form["face"]) if form.get("face") else None
            threshold = float(form["threshold"]) if form.get("threshold") else None
        except ValueError:
            raise ApiError(422, "face must be an integer and threshold a number", fix="e.g. -F face=0 -F threshold=0.4") from None
        gname = form.get("gallery") or None
    else:
        body = await _body(request, VerifyIn)
        items = [(im.filename or f"photo {i + 1}", b64_to_bytes(im.image, f"images[{i}].image"))
                 for i, im in enumerate(body.images)]
        face, threshold, gname = body.face, body.threshold, body.gallery
    if len(items) < 2:
        raise ApiError(422, "verify needs two or more photos", fix="send two files or two images")

    def work():
        from ...faces.detect import DEFAULT_DETECTOR

        g = _open(settings, gname) if gname else None
        try:
            emb = shared_embedder(g.framing if g else Framing(settings.detector or DEFAULT_DETECTOR))
            res = verify_photos(*[d for _, d in items], face=face, threshold=threshold, gallery=g, embedder=emb)
        finally:
            if g is not None:
                g.close()
        for f, (name, _) in zip(res.faces, items):
            f.file = name
        return res.to_dict()

    return {**await pool.run(work), "request_id": request_id_var.get()}


@router.post("/identify", responses=_ERRORS, summary="Who is in this photo? (top-k people of a gallery, or unknown)")
async def identify(request: Request, settings: Settings, pool: Pool,
                   gallery: str | None = Query(None, description="gallery name (multipart)"),
                   top_k: int = Query(3, ge=1, le=50), threshold: float | None = Query(None)) -> dict:
    """JSON `{"image": b64, "gallery": NAME, "top_k": 3}` or multipart `file` with `?gallery=NAME`:
    per face, the nearest people with distances, and `unknown` beyond the threshold."""
    from ...identity.identify import identify_image

    if _is_multipart(request):
        (name, data), = (await _images(request, "file"))[:1]
    else:
        body = await _body(request, IdentifyIn)
        name, data = body.filename or "the upload", b64_to_bytes(body.image)
        gallery, top_k, threshold = body.gallery, body.top_k, body.threshold if body.threshold is not None else threshold
    if not gallery:
        raise ApiError(422, "no gallery named", fix="send ?gallery=NAME (multipart) or \"gallery\" in the JSON")

    def work():
        with _open(settings, gallery) as g:
            return identify_image(g, data, name=name, top_k=top_k, threshold=threshold).to_dict()

    return {**await pool.run(work), "request_id": request_id_var.get()}


@router.get("/galleries", summary="The galleries")
async def galleries(settings: Settings) -> dict:
    from ...errors import FacelabError
    from ...identity.gallery import Gallery

    out = []
    root = _galleries_dir(settings)
    for p in sorted(root.glob("*.sqlite")) if root.is_dir() else []:
        try:
            with Gallery.open(p) as g:
                d = g.to_dict()
                d.pop("path")
                out.append(d)
        except FacelabError as e:
            out.append({"name": p.stem, "error": e.message})
    return {"galleries": out}


@router.get("/galleries/{name}", responses=_ERRORS, summary="A gallery: framing, threshold, people")
async def gallery(name: str, settings: Settings) -> dict:
    with _open(settings, name) as g:
        d = g.to_dict()
        d.pop("path")
        ppl = []
        for p in g.people():
            faces = g.person(p.name).rows
            ppl.append({**p.to_dict(), "face_ids": [r["id"] for r in faces]})
        return {**d, "people_list": ppl}


@router.get("/galleries/{name}/faces/{face_id}.jpg", responses=_ERRORS, summary="A stored face's thumbnail")
async def face_thumb(name: str, face_id: int, settings: Settings) -> Response:
    with _open(settings, name) as g:
        data = g.thumb(face_id)
    if not data:
        raise ApiError(404, f"no thumbnail for face {face_id} in {name}", fix="face ids come from GET /v1/galleries/NAME")
    return Response(data, media_type="image/jpeg")


@router.post("/galleries/{name}/people", responses=_ERRORS, summary="Add photos of a person (needs the token)")
async def add_person(name: str, request: Request, settings: Settings, pool: Pool, _: Writer,
                     person: str | None = Query(None, description="the person's name (multipart)")) -> dict:
    """JSON `{"person": "Ann Lee", "images": [...]}` or multipart `files` with `?person=`: one
    transaction; a new gallery is made with the server's detector."""
    from ...faces.detect import DEFAULT_DETECTOR
    from ...identity.embed import Framing
    from ...identity.enroll import add_images

    if _is_multipart(request):
        items = await _images(request, "files")
        person = person or (await request.form()).get("person")
    else:
        body = await _body(request, PeopleIn)
        items = [(im.filename or f"photo {i + 1}", b64_to_bytes(im.image, f"images[{i}].image"))
                 for i, im in enumerate(body.images)]
        person = body.person
    if not person:
        raise ApiError(422, "no person named", fix="send ?person=NAME (multipart) or \"person\" in the JSON")

    def work():
        with _open(settings, name, create=Framing(settings.detector or DEFAULT_DETECTOR)) as g:
            return add_images(g, person, items).to_dict()

    d = await pool.run(work)
    d.pop("path", None)
    return {**d, "request_id": request_id_var.get()}


@router.delete("/galleries/{name}/people/{person}", responses=_ERRORS, summary="Remove a person (needs the token)")
async def remove_person(name: str, person: str, settings: Settings, _: Writer) -> dict:
    from ...errors import DataError

    with _open(settings, name) as g:
        if person not in {p.name for p in g.people()}:
            raise ApiError(404, f"no person named {person!r} in {name}", fix=f"GET /v1/galleries/{name} lists them")
        try:
            ch = g.remove([person])
        except DataError as e:
            raise ApiError(409, e.message, fix=e.fix) from None
        return {**ch.to_dict(), "request_id": request_id_var.get()}
