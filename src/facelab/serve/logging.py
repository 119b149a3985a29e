"""Structured JSON logs, one line per event, each request tagged with its id.

The request id comes from the client's ``X-Request-ID`` header (when it is a short, safe token) or
is made here; it is echoed in the response header and in every error body, so a user's report can
be matched to the server's log line.
"""
from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("facelab_request_id", default=None)

_SAFE_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")
# LogRecord attributes that are not user fields.
_STD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object: time, level, logger, message, request id, extras.

    Example:
        >>> h = logging.StreamHandler(); h.setFormatter(JsonFormatter())
    """

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = request_id_var.get()
        if rid:
            out["request_id"] = rid
        for k, v in record.__dict__.items():
            if k not in _STD and not k.startswith("_"):
                out[k] = v if isinstance(v, (str, int, float, bool, type(None), list, dict)) else str(v)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def setup_logging(level: str = "INFO", stream=None, names: tuple[str, ...] = ("facelab",)) -> None:
    """Send the logs of ``names`` (``facelab.*`` by default) as JSON lines to stderr (idempotent:
    the JSON handler replaces the handlers already there, e.g. the CLI's plain lines).

    Example:
        >>> setup_logging("INFO", names=("facelab", "uvicorn"))
    """
    for name in names:
        logger = logging.getLogger(name)
        logger.setLevel(level.upper())
        for h in list(logger.handlers):
            logger.removeHandler(h)
        handler = logging.StreamHandler(stream or sys.stderr)
        handler.setFormatter(JsonFormatter())
        handler._facelab_json = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.propagate = False


class RequestContextMiddleware:
    """Give each request an id, and log method, path, status and duration when it ends.

    A pure ASGI middleware (not ``BaseHTTPMiddleware``) so that the context variable set here is
    visible in the route and its exception handlers.
    """

    def __init__(self, app: ASGIApp):
        self.app = app
        self.log = logging.getLogger("facelab.serve.access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        rid = given if _SAFE_ID.match(given) else uuid.uuid4().hex[:16]
        token = request_id_var.set(rid)
        scope.setdefault("state", {})["request_id"] = rid
        start = time.perf_counter()
        status = {"code": 500}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [(b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            client = scope.get("client")
            self.log.info(
                "request",
                extra={"method": scope.get("method"), "path": scope.get("path"), "status": status["code"],
                       "ms": round((time.perf_counter() - start) * 1000, 1),
                       "client": client[0] if client else None},
            )
            request_id_var.reset(token)
