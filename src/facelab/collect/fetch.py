"""Polite downloads: a timeout per request and for the whole body, a size cap, a request rate shared
by all threads, and a reason for every failure (one bad link never stops the others).

Example:
    >>> f = Fetcher(timeout=10, max_bytes=10_000_000, rate=2.0)
    >>> got = f.get("ftp://example.org/a.jpg")             # refused before any request
    >>> got.ok, got.kind
    (False, 'bad_url')
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

#: Content types that may hold an image even though they do not say so.
_GENERIC_TYPES = ("application/octet-stream", "binary/octet-stream", "")

#: Says who is asking (image hosts may answer a non-browser agent differently; that is their right).
USER_AGENT = "facelab-collect/0.1 (dataset collection for research; python-requests)"


@dataclass
class Fetched:
    """One download: the bytes, or why there are none.

    ``kind`` is a short category for the report (``ok``, ``http``, ``timeout``, ``too_large``,
    ``not_image``, ``network``, ``bad_url``); ``reason`` the sentence for ``rejected/reasons.csv``.
    """

    url: str
    kind: str
    reason: str = ""
    data: bytes | None = None
    final_url: str = ""
    content_type: str = ""

    @property
    def ok(self) -> bool:
        return self.kind == "ok"


class RateLimiter:
    """At most ``rate`` request starts per second, over all threads (``rate <= 0``: no limit)."""

    def __init__(self, rate: float):
        self.interval = 1.0 / rate if rate and rate > 0 else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            time.sleep(start - now)


class Fetcher:
    """Downloads with ``requests``: one session per thread (sessions are not thread-safe).

    Args:
        timeout: seconds to connect, to wait for the first byte, and for the whole body.
        max_bytes: a larger file (by its Content-Length, or as it streams) is abandoned.
        rate: request starts per second over all threads.
    """

    def __init__(self, *, timeout: float = 10.0, max_bytes: int = 10_000_000, rate: float = 2.0,
                 user_agent: str = USER_AGENT):
        self.timeout, self.max_bytes = float(timeout), int(max_bytes)
        self.limiter = RateLimiter(rate)
        self.user_agent = user_agent
        self._local = threading.local()

    def _session(self):
        import requests

        s = getattr(self._local, "session", None)
        if s is None:
            s = self._local.session = requests.Session()
            s.headers["User-Agent"] = self.user_agent
            s.headers["Accept"] = "image/*,*/*;q=0.5"
        return s

    def get(self, url: str) -> Fetched:
        """Download ``url`` (redirects followed); never raises for a bad link."""
        import requests

        self.limiter.wait()
        t0 = time.monotonic()
        try:
            with self._session().get(url, timeout=(self.timeout, self.timeout), stream=True,
                                     allow_redirects=True) as r:
                final = r.url
                if r.status_code != 200:
                    return Fetched(url, "http", f"HTTP {r.status_code}", final_url=final)
                ctype = r.headers.get("Content-Type", "").split(";")[0].strip().lower()
                if not (ctype.startswith("image/") or ctype in _GENERIC_TYPES):
                    return Fetched(url, "not_image", f"not an image (Content-Type {ctype})", final_url=final,
                                   content_type=ctype)
                length = r.headers.get("Content-Length", "")
                if length.isdigit() and int(length) > self.max_bytes:
                    return Fetched(url, "too_large", f"larger than the size cap ({int(length)} > {self.max_bytes} bytes)",
                                   final_url=final, content_type=ctype)
                chunks, size = [], 0
                for chunk in r.iter_content(64 * 1024):
                    size += len(chunk)
                    if size > self.max_bytes:
                        return Fetched(url, "too_large", f"larger than the size cap (> {self.max_bytes} bytes)",
                                       final_url=final, content_type=ctype)
                    if time.monotonic() - t0 > self.timeout:  # a server trickling bytes
                        return Fetched(url, "timeout", f"slower than the timeout ({self.timeout:g} s)", final_url=final)
                    chunks.append(chunk)
                return Fetched(url, "ok", data=b"".join(chunks), final_url=final, content_type=ctype)
        except requests.exceptions.Timeout:
            return Fetched(url, "timeout", f"no answer within the timeout ({self.timeout:g} s)")
        except requests.exceptions.TooManyRedirects:
            return Fetched(url, "http", "too many redirects")
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                requests.exceptions.InvalidSchema) as e:
            return Fetched(url, "bad_url", f"not a valid URL ({type(e).__name__})")
        except requests.exceptions.ConnectionError as e:
            return Fetched(url, "network", f"cannot connect ({_short(e)})")
        except requests.exceptions.RequestException as e:
            return Fetched(url, "network", f"download failed ({type(e).__name__}: {_short(e)})")


def _short(e: BaseException, n: int = 120) -> str:
    text = str(e).replace("\n", " ")
    return text if len(text) <= n else text[: n - 1] + "…"
