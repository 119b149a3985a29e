"""A small web site on 127.0.0.1 for the collect tests: image files, an image-search result page
in Bing's markup, and the awkward answers of the real web (404, slow, redirect, lies)."""
from __future__ import annotations

import html
import io
import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import numpy as np
from PIL import Image

from predict_support import face, paste


def encode(rgb: np.ndarray, fmt: str = "JPEG", **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, fmt, **kw)
    return buf.getvalue()


def face_photo(seed: int, quality: int = 90) -> bytes:
    """One synthetic face on a noisy 300x300 background, as a JPEG."""
    return encode(paste([face(seed)], size=(300, 300), scale=1.0, seed=seed), quality=quality)


def two_faces_png() -> bytes:
    return encode(paste([face(40), face(41)], size=(480, 300), scale=1.0, positions=[(40, 40), (260, 40)], seed=5),
                  "PNG")


def no_face_photo() -> bytes:
    return encode(paste([], size=(300, 300), seed=9))


def noise_png(side: int = 700) -> bytes:
    """A large, incompressible PNG (over any small size cap)."""
    return encode(np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8), "PNG")


class Site:
    """Routes: path → (status, content type, body, delay s, extra headers). Bing result pages are
    answered from ``results[query]`` (first page only). ``hits`` counts requests per path."""

    def __init__(self):
        self.routes: dict[str, tuple] = {}
        self.results: dict[str, list[str]] = {}
        self.hits: Counter = Counter()
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                parts = urlsplit(self.path)
                with site._lock:
                    site.hits[parts.path] += 1
                if parts.path == "/images/async":
                    q = parse_qs(parts.query)
                    links = site.results.get(q["q"][0], []) if q.get("first") == ["0"] else []
                    divs = "".join('<div class="imgpt"><a class="iusc" m="{}" href="#">x</a></div>'
                                   .format(html.escape(json.dumps({"murl": u, "turl": u}, separators=(",", ":")))) for u in links)
                    return self._answer(200, "text/html; charset=utf-8", f"<html><body>{divs}</body></html>".encode())
                if parts.path in ("/search", "/search/acjson"):  # Google's and Baidu's result pages
                    q = parse_qs(parts.query)
                    first = q.get("start", q.get("pn", ["0"]))[0] == "0"
                    links = site.results.get(q.get("q", q.get("word", [""]))[0], []) if first else []
                    if parts.path == "/search":
                        body = f"<html><script>var d={json.dumps(links)};</script></html>".encode()
                        return self._answer(200, "text/html", body)
                    body = json.dumps({"data": [{"hoverURL": u} for u in links] + [{}]}).encode()
                    return self._answer(200, "application/json", body)
                route = site.routes.get(parts.path)
                if route is None:
                    return self._answer(404, "text/html", b"<h1>not found</h1>")
                status, ctype, body, delay, headers = route
                if delay:
                    time.sleep(delay)
                self._answer(status, ctype, body, headers)

            def _answer(self, status, ctype, body, headers=None):
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    headers = dict(headers or {})
                    if not headers.pop("no-length", False):  # else the body's end is the connection's
                        self.send_header("Content-Length", str(len(body)))
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout, size cap)
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def add(self, path: str, body: bytes, ctype: str = "image/jpeg", status: int = 200, delay: float = 0.0,
            headers: dict | None = None) -> str:
        self.routes[path] = (status, ctype, body, delay, headers or {})
        return self.base + path

    def url(self, path: str) -> str:
        return self.base + path

    def __enter__(self) -> "Site":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def closed_port_url() -> str:
    """A loopback address nothing listens on (connection refused: what no network looks like)."""
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"
