"""A request body size limit that holds for chunked uploads too (413 before the body is parsed)."""
from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .logging import request_id_var


class _TooLarge(HTTPException):
    """Raised while the body streams in; an HTTPException so that FastAPI's body parsing passes it on
    (it wraps other errors into a 400) and the error handler answers 413."""

    def __init__(self, max_bytes: int):
        mb = max_bytes / 2**20
        super().__init__(413, f"the request body is larger than the limit of {mb:g} MB")
        self.fix = _fix(mb)


def _fix(mb: float) -> str:
    return f"send a smaller image (or fewer per batch), or start the server with --max-upload-mb above {mb:g}"


def _drain_limit(max_bytes: int) -> int:
    """Bodies up to this size are read (and dropped) before the 413 goes out."""
    return min(4 * max_bytes, 64 * 2**20)


async def _drain(receive: Receive) -> None:
    """Read and drop the request body. A client still sending when the 413 and the close arrive
    gets a connection reset instead of the answer (seen in the soak of bench/serve_load.py: every
    12 MB upload to a 10 MB server); a moderately oversized body is cheaper to read than to lose
    the message. Far larger bodies are refused without reading them."""
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


class BodySizeLimitMiddleware:
    """Answer 413 when a request body is larger than ``max_bytes``.

    The declared ``Content-Length`` is checked first (no byte is read); a body without one is
    counted as it streams in, so a chunked upload cannot slip past the limit.

    Example:
        >>> from starlette.applications import Starlette
        >>> from starlette.responses import PlainTextResponse
        >>> from starlette.routing import Route
        >>> from starlette.testclient import TestClient
        >>> async def size(request):
        ...     return PlainTextResponse(str(len(await request.body())))
        >>> app = BodySizeLimitMiddleware(Starlette(routes=[Route("/", size, methods=["POST"])]), max_bytes=10)
        >>> client = TestClient(app)
        >>> client.post("/", content=b"x" * 5).text, client.post("/", content=b"x" * 50).status_code
        ('5', 413)
    """

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def _reject(self, send: Send) -> None:
        mb = self.max_bytes / 2**20
        body = json.dumps({
            "error": f"the request body is larger than the limit of {mb:g} MB",
            "fix": _fix(mb),
            "request_id": request_id_var.get(),
        }).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                if int(declared) > self.max_bytes:
                    if int(declared) <= _drain_limit(self.max_bytes):
                        await _drain(receive)
                    await self._reject(send)
                    return
            except ValueError:
                pass
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._reject(send)
