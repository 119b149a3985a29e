"""Errors of the REST API: every failure is JSON ``{"error", "fix", "request_id"}``, never a traceback.

``FacelabError``s map to 4xx by kind; a request the schema rejects is a 422 in the same shape.
"""
from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import ConfigError, DataError, FacelabError, RunError, WriteError
from .logging import request_id_var

log = logging.getLogger("facelab.serve")


class ApiError(Exception):
    """An answer other than 200, with the status, the message and the fix.

    Example:
        >>> e = ApiError(415, "photo.txt is not an image", fix="send a JPEG or PNG")
        >>> e.status, e.error, e.fix
        (415, 'photo.txt is not an image', 'send a JPEG or PNG')
    """

    def __init__(self, status: int, error: str, *, fix: str | None = None, **extra):
        super().__init__(error)
        self.status, self.error, self.fix, self.extra = status, error, fix, extra


def error_response(status: int, error: str, fix: str | None = None, **extra) -> JSONResponse:
    body = {"error": error, "fix": fix, "request_id": request_id_var.get(), **extra}
    return JSONResponse(body, status_code=status)


def _status_of(e: FacelabError) -> int:
    # A bad image is "unsupported media" for an API client; a bad option or name is a bad request;
    # a full disk on the server is the server's "insufficient storage".
    if isinstance(e, WriteError):
        return 507
    if isinstance(e, DataError):
        return 415
    if isinstance(e, RunError):
        return 404
    if isinstance(e, ConfigError):
        return 400
    return 400


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every error into the JSON error body."""

    @app.exception_handler(ApiError)
    async def _api(request: Request, e: ApiError):
        return error_response(e.status, e.error, e.fix, **e.extra)

    @app.exception_handler(FacelabError)
    async def _facelab(request: Request, e: FacelabError):
        return error_response(_status_of(e), e.message, e.fix)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, e: RequestValidationError):
        problems = []
        for err in e.errors()[:5]:
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            problems.append(f"{where or 'body'}: {err.get('msg')}")
        return error_response(422, "the request is malformed: " + "; ".join(problems),
                              "see the request schema and examples at /docs")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, e: StarletteHTTPException):
        fix = getattr(e, "fix", None) or ("see /docs for the endpoints" if e.status_code in (404, 405) else None)
        return error_response(e.status_code, str(e.detail), fix)

    @app.exception_handler(Exception)
    async def _crash(request: Request, e: Exception):
        log.exception("unhandled error")
        return error_response(500, f"internal error ({type(e).__name__})",
                              "this is a bug: report it with the request id")
