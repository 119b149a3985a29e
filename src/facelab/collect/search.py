"""Where the photos come from: an image search (icrawler's parsers) or a user's ``urls.csv``.

An image search is run with icrawler's own result-page parsers (Bing, Google, Baidu) but not its
downloader: icrawler hands us the image links it finds, and :mod:`.fetch` downloads and checks them
(so every failure has a reason and every file a source). The result-page addresses are built here
from a base URL, so a test can point the search at a server on 127.0.0.1.

Example:
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "urls.csv"
    >>> _ = path.write_text("class,url\\nAnne Hathaway,https://example.org/anne.jpg\\n")
    >>> read_urls_csv(path)["Anne Hathaway"][:1]
    ['https://example.org/anne.jpg']
"""
from __future__ import annotations

import csv
import logging
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote_plus, urlencode, urlsplit

from ..errors import ConfigError, DataError


@dataclass(frozen=True)
class Engine:
    """An image search: its public base URL, result-page addresses, and icrawler's parser."""

    name: str
    base_url: str
    page_size: int
    terms: str

    def pages(self, keyword: str, n: int, base_url: str | None = None) -> list[str]:
        """Result-page URLs that list about ``n`` images for ``keyword`` (as icrawler's feeders build them)."""
        base = (base_url or self.base_url).rstrip("/")
        starts = range(0, max(n, 1), self.page_size)
        if self.name == "bing":
            return [f"{base}/images/async?q={quote_plus(keyword)}&first={i}" for i in starts]
        if self.name == "google":
            return [f"{base}/search?" + urlencode(dict(q=keyword, ijn=i // 100, start=i, tbm="isch")) for i in starts]
        return [f"{base}/search/acjson?tn=resultjson_com&ipn=rj&word={quote_plus(keyword)}&pn={i}&rn=30"
                for i in starts]

    def parser_class(self):
        from icrawler.builtin.baidu import BaiduParser
        from icrawler.builtin.bing import BingParser
        from icrawler.builtin.google import GoogleParser

        base = {"bing": BingParser, "google": GoogleParser, "baidu": BaiduParser}[self.name]

        def parse(self, response, **kwargs):
            # a page that is not a result page (an error, a consent wall) yields nothing rather
            # than a parser crash; Google's parser returns None when it finds no links
            if response.status_code != 200:
                return []
            try:
                return list(base.parse(self, response, **kwargs) or [])
            except Exception:  # a changed page layout: no links from this page, the run goes on
                return []

        return type(f"Safe{base.__name__}", (base,), {"parse": parse})


#: ``terms``: where each engine's terms of service are; all of them restrict automated querying
#: and scraping of their results (docs/collect.md).
ENGINES: dict[str, Engine] = {
    "bing": Engine("bing", "https://www.bing.com", 20, "https://www.microsoft.com/servicesagreement"),
    "google": Engine("google", "https://www.google.com", 100, "https://policies.google.com/terms"),
    "baidu": Engine("baidu", "http://image.baidu.com", 30, "https://www.baidu.com/duty/"),
}


def get_engine(name: str) -> Engine:
    if name not in ENGINES:
        raise ConfigError(f"unknown search engine {name!r}", fix=f"use one of: {', '.join(ENGINES)}")
    return ENGINES[name]


@dataclass
class SearchResult:
    """Image links found for one keyword, and how the result pages went."""

    urls: list[str] = field(default_factory=list)
    pages_ok: int = 0
    pages_failed: int = 0
    pages_unreachable: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def unreachable(self) -> bool:
        """No result page could even be connected to (no network, or the address is wrong)."""
        return self.pages_ok == 0 and self.pages_unreachable > 0 and self.pages_unreachable == self.pages_failed


def search(engine: Engine, keyword: str, *, max_num: int, base_url: str | None = None,
           timeout: float = 10.0) -> SearchResult:
    """Image links for ``keyword`` from ``engine``'s result pages (up to ``max_num``, in page order).

    Runs icrawler's crawler (page feeder → the engine's parser) with a downloader that keeps the
    links instead of downloading them.
    """
    from icrawler import Crawler, Downloader, UrlListFeeder
    from icrawler.utils.session import Session

    result = SearchResult()
    lock = threading.Lock()

    class RecordingSession(Session):
        """Counts result pages fetched and failed: icrawler only logs a failed page."""

        def get(self, url, **kwargs):
            kwargs["timeout"] = timeout
            try:
                response = super().get(url, **kwargs)
            except Exception as e:  # whatever the request raised is counted here, then raised again
                with lock:
                    result.pages_failed += 1
                    result.pages_unreachable += 1
                    result.errors.append(f"{urlsplit(url).netloc}: {_why(e)}")
                raise
            with lock:
                if response.status_code == 200:
                    result.pages_ok += 1
                else:
                    result.pages_failed += 1
                    result.errors.append(f"{urlsplit(url).netloc}: HTTP {response.status_code}")
            return response

    class LinkCollector(Downloader):
        def download(self, task, default_ext, timeout=5, **kwargs):
            with self.lock:
                url = task.get("file_url")
                if url and url not in result.urls and len(result.urls) < max_num:
                    result.urls.append(url)
                if len(result.urls) >= max_num:
                    self.signal.set(reach_max_num=True)
            return True

    class LinkCrawler(Crawler):
        def set_session(self, headers=None):
            super().set_session(headers)
            proxy_pool, headers_ = self.session.proxy_pool, dict(self.session.headers)
            self.session = RecordingSession(proxy_pool)
            self.session.headers.update(headers_)

    with tempfile.TemporaryDirectory(prefix="facelab-search-") as scratch:  # icrawler wants a storage; nothing is written
        crawler = LinkCrawler(feeder_cls=UrlListFeeder, parser_cls=engine.parser_class(),
                              downloader_cls=LinkCollector, storage={"backend": "FileSystem", "root_dir": scratch},
                              log_level=logging.CRITICAL)
        crawler.crawl(feeder_kwargs=dict(url_list=engine.pages(keyword, max_num, base_url)),
                      parser_kwargs=dict(queue_timeout=0.2, req_timeout=timeout, max_retry=1),
                      downloader_kwargs=dict(max_num=max_num, queue_timeout=0.2))
    return result


def _why(e: BaseException) -> str:
    """A short cause for a failed request (requests' messages run over several lines)."""
    text = str(e)
    for needle, why in (("NameResolution", "the host name does not resolve (no network or no DNS?)"),
                        ("Name or service not known", "the host name does not resolve (no network or no DNS?)"),
                        ("Connection refused", "connection refused"),
                        ("timed out", "timed out"), ("Network is unreachable", "network unreachable")):
        if needle in text:
            return why
    return type(e).__name__


def read_urls_csv(path: str | Path) -> dict[str, list[str]]:
    """``{class: [url, ...]}`` from a ``class,url`` file (a header row, blank lines and ``#`` comments allowed).

    Raises:
        DataError: a missing file, or a line that is not ``class,url`` with an http(s) URL (the
            line number is named).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError("the URL list does not exist", path=path, fix="give a CSV file with class,url rows") from None
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"cannot read the URL list: {e}", path=path, fix="give a UTF-8 CSV file with class,url rows") from None
    out: dict[str, list[str]] = {}
    for n, row in enumerate(csv.reader(text.splitlines()), start=1):
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        cells = [c.strip() for c in row]
        if n == 1 and [c.lower() for c in cells] == ["class", "url"]:
            continue
        bad = None
        if len(cells) != 2:
            bad = f"{len(cells)} fields"
        elif not cells[0]:
            bad = "an empty class name"
        elif not cells[1].lower().startswith(("http://", "https://")):
            bad = f"{cells[1][:60]!r} is not an http(s) URL"
        if bad:
            raise DataError(f"line {n} of the URL list is not 'class,url': {bad}", path=f"{path}:{n}",
                            fix="write one class,url pair per line (quote a class name that holds a comma)")
        out.setdefault(cells[0], [])
        if cells[1] not in out[cells[0]]:
            out[cells[0]].append(cells[1])
    if not out:
        raise DataError("the URL list holds no class,url rows", path=path, fix="add class,url lines")
    return out
