"""Collect a dataset by name: download photos of each class, de-duplicate, check the faces.

``collect(["Anne Hathaway", "Julia Roberts"], per_class=50, out="people/")`` searches the web for
each name (Bing by default, through icrawler's result parsers; see :mod:`.search`), or downloads
the links of a ``class,url`` file, and keeps a photo only if it is a real image, large enough, not
a duplicate (perceptual hash, across all classes) and shows a face (facelab's detector registry).
The rest goes to ``rejected/`` with its reason. The folder is the class-per-folder layout
``facelab data prepare`` reads; :mod:`.store` describes it.

A second run tops each class up to ``per_class``: what is there is counted, what was tried is not
fetched again.

Example: docs/python.md#collect.
"""
from __future__ import annotations

import logging
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import ConfigError, DataError
from .check import HashIndex, Rejected, decode
from .fetch import Fetcher
from .search import ENGINES, get_engine, read_urls_csv, search
from .store import Store, folder_name

log = logging.getLogger(__name__)

__all__ = ["collect", "CollectionReport", "ClassReport", "ENGINES", "RIGHTS_NOTE"]

RIGHTS_NOTE = ("The images keep their owners' rights: sources.csv lists where each came from, so you can "
               "trace and credit it. Use them for research on your own machine; do not redistribute them "
               "without permission.")


@dataclass
class ClassReport:
    """What happened to one class: ``rejected`` counts set-aside or failed links by reason kind."""

    name: str
    folder: str
    asked: int
    before: int = 0
    downloaded: int = 0
    candidates: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    several_faces: int = 0
    note: str = ""

    @property
    def kept(self) -> int:
        return self.before + self.downloaded

    @property
    def short(self) -> int:
        return max(0, self.asked - self.kept)

    def count(self, kind: str) -> None:
        self.rejected[kind] = self.rejected.get(kind, 0) + 1

    def to_dict(self) -> dict:
        return {**asdict(self), "kept": self.kept, "short": self.short}


@dataclass
class CollectionReport:
    """The collection's report (also written to ``OUT/collection.json``)."""

    out: Path
    source: str
    per_class: int
    classes: list[ClassReport]
    terms: str = ""
    complete: bool = False
    seconds: float = 0.0
    rights: str = RIGHTS_NOTE

    def to_dict(self) -> dict:
        return {"out": str(self.out), "source": self.source, "per_class": self.per_class,
                "terms": self.terms, "complete": self.complete, "seconds": round(self.seconds, 2), "rights": self.rights,
                "classes": [c.to_dict() for c in self.classes]}

    def table(self):
        """A rich table: one row per class."""
        from rich.table import Table

        t = Table(title=f"collection {self.out}")
        for col in ("class", "asked", "had", "new", "kept", "several faces", "set aside / failed", "note"):
            t.add_column(col, justify="left" if col in ("class", "set aside / failed", "note") else "right")
        for c in self.classes:
            why = ", ".join(f"{n} {k}" for k, n in sorted(c.rejected.items(), key=lambda kv: -kv[1]))
            t.add_row(c.name, str(c.asked), str(c.before), str(c.downloaded), str(c.kept), str(c.several_faces),
                      why or "-", c.note)
        return t


def collect(names: list[str] | tuple[str, ...] = (), *, per_class: int = 50, out: str | Path = "people",
            engine: str = "bing", urls: str | Path | None = None, detector: str | None = None,
            min_side: int = 64, max_bytes: int = 10_000_000, timeout: float = 10.0, rate: float = 2.0,
            threads: int = 4, dup_distance: int = 6, search_url: str | None = None,
            progress: bool = False) -> CollectionReport:
    """Download ``per_class`` checked photos of each name into ``out/<name>/``.

    Args:
        names: the classes (people) to collect; with ``urls``, a subset of the file's classes
            (default: all of them).
        per_class: images to keep per class; a later run tops up to this.
        out: the collection folder (new, empty, or an earlier collection).
        engine: image search for names: ``bing``, ``google`` or ``baidu`` (needs internet access).
        urls: a CSV of ``class,url`` rows to download instead of searching.
        detector: face detector registry name (``facelab.faces.detect.DETECTORS``; default: the
            default detector, MTCNN).
        min_side: smallest accepted image side, in pixels.
        max_bytes: size cap per download.
        timeout: seconds per request (connect, first byte, whole body).
        rate: request starts per second, over all threads.
        threads: parallel downloads.
        dup_distance: photos within this many bits of perceptual hash (of 64) are duplicates.
        search_url: base URL of the search engine (default its public address; tests use a local server).
        progress: log a line per class (``logging``; the CLI shows it).

    Returns:
        The :class:`CollectionReport` (also in ``out/collection.json``).

    Raises:
        ConfigError: bad options, or ``out`` holding something else.
        DataError: an unreadable or malformed ``urls`` file (line named), an unwritable ``out``,
            or no network (nothing could be reached; the collection is not marked complete).
    """
    from ..faces.detect import get_detector

    if per_class < 1 or threads < 1 or timeout <= 0 or max_bytes < 1:
        raise ConfigError("per_class, threads, timeout and max_bytes must be positive",
                          fix="e.g. --per-class 50 --threads 4 --timeout 10")
    names, listed, eng = _what_to_collect(names, urls, engine)
    _require("imagehash", *(["icrawler"] if listed is None else []))
    det = get_detector(detector)
    store = Store(out)
    t0 = time.perf_counter()
    source = f"urls:{urls}" if listed is not None else f"search:{engine}"
    store.claim({"names": names, "per_class": per_class, "source": source})
    report = CollectionReport(store.out, source, per_class, [],
                              terms=f"{eng.name}'s terms of service: {eng.terms}" if eng else "")
    tried = store.tried()
    index = HashIndex(dup_distance)
    hashes_from_disk(store, names, index)
    fetcher = Fetcher(timeout=timeout, max_bytes=max_bytes, rate=rate)
    reached = failed_network = 0
    try:
        for name in names:
            cr = ClassReport(name, folder_name(name), per_class, before=len(store.kept(name)))
            report.classes.append(cr)
            need = cr.short
            if need == 0:
                cr.note = "already complete"
                continue
            seen = tried.get(name, set())
            links = (listed[name] if listed is not None else
                     _search_links(cr, eng, name, max_num=min(1000, len(seen) + 2 * need + 10),
                                   search_url=search_url, timeout=timeout))
            reached += 1 if listed is None else 0
            cr.candidates = len(links)
            todo = [u for u in links if u not in seen]
            if not links:
                cr.note = cr.note or ("no results" if listed is None else "no links")
            elif not todo:
                cr.note = "every link was tried before"
            r, f = _fill(cr, todo, store, fetcher, det, index, min_side, threads)
            reached, failed_network = reached + r, failed_network + f
            if cr.short and not cr.note:
                cr.note = f"{cr.short} short: not enough usable results"
            if progress:
                log.info("%s: %d/%d kept (%d new)", name, cr.kept, per_class, cr.downloaded)
        if reached == 0 and failed_network:
            raise DataError("no URL could be reached: no network?",
                            fix="check the internet connection and run the same command again (it resumes)")
        report.complete = True
    finally:
        report.seconds = time.perf_counter() - t0
        store.finish(report.to_dict(), complete=report.complete)
    return report


def _what_to_collect(names, urls, engine: str):
    """The class names (checked), the URL list's links by class (None when searching) and the search
    engine (None with a URL list)."""
    listed = read_urls_csv(urls) if urls is not None else None
    if listed is not None:
        missing = [n for n in names if n not in listed]
        if missing:
            raise DataError(f"{', '.join(map(repr, missing))} not in the URL list", path=urls,
                            fix=f"use class names from the file: {', '.join(list(listed)[:8])}")
        names = list(names) or list(listed)
    eng = None if listed is not None else get_engine(engine)
    names = list(dict.fromkeys(n.strip() for n in names if n.strip()))
    if not names:
        raise ConfigError("no names to collect", fix='give names, e.g. facelab data collect "Anne Hathaway"')
    for n in names:
        folder_name(n)  # refuse an impossible name before anything is written
    return names, listed, eng


def _search_links(cr: ClassReport, eng, name: str, *, max_num: int, search_url, timeout: float) -> list[str]:
    """The image search's links for ``name`` (a failed search is noted on ``cr``; no answer at all raises)."""
    found = search(eng, name, max_num=max_num, base_url=search_url, timeout=timeout)
    if found.unreachable:
        cr.note = f"search failed: {found.errors[0] if found.errors else 'no answer'}"
        raise DataError(f"cannot reach the {eng.name} image search: {found.errors[0]}",
                        fix="check the internet connection (image search needs it), or give "
                            "--urls with links you have")
    if not found.urls and found.pages_ok == 0 and found.errors:
        cr.note = f"search failed: {found.errors[0]}"
    return found.urls


def _require(*modules: str) -> None:
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(f"facelab data collect needs {' and '.join(missing)}, which is not installed",
                          fix='pip install "facelab[collect]"')


def hashes_from_disk(store: Store, names: list[str], index: HashIndex) -> None:
    """Index the perceptual hashes of every kept image, so a top-up run sees earlier duplicates."""
    import imagehash
    from PIL import Image

    from ..data.image import load_image

    others = [p.name for p in store.out.iterdir() if p.is_dir() and not p.name.startswith(".")
              and p.name != "rejected" and p.name not in {folder_name(n) for n in names}]
    for cls in list(names) + others:
        for path in store.kept(cls):
            try:
                index.add(imagehash.phash(Image.fromarray(load_image(path))), cls, path.relative_to(store.out).as_posix())
            except DataError:  # an unreadable file left by the user: prepare will report it
                continue


def _fill(cr: ClassReport, todo: list[str], store: Store, fetcher: Fetcher, det, index: HashIndex,
          min_side: int, threads: int) -> tuple[int, int]:
    """Download ``todo`` in threads until ``cr`` has its images; check and file each in this thread.

    Returns ``(answered, network failures)``: how many links got an HTTP answer, how many could not connect.
    """
    answered = network = 0
    links = iter(todo)
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="collect") as pool:
        running: set = set()
        while True:
            # keep only as many downloads in flight as could still be needed
            while len(running) < min(threads, cr.short) and (url := next(links, None)) is not None:
                running.add(pool.submit(fetcher.get, url))
            if not running:
                break
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for fut in done:
                got = fut.result()
                if got.kind == "network":
                    network += 1
                else:
                    answered += 1
                if cr.short == 0 and got.ok:
                    continue  # enough already: not logged as tried, a later run may use it
                _file(cr, got, store, det, index, min_side)
    return answered, network


def _file(cr: ClassReport, got, store: Store, det, index: HashIndex, min_side: int) -> None:
    """Check one download and file it: kept, kept and flagged, or set aside with its reason."""
    if not got.ok:
        cr.count(got.kind if got.kind != "http" else got.reason)
        store.reject(cr.name, got.url, got.reason)
        return
    try:
        img = decode(got.data, min_side=min_side, name=got.url)
        twin = index.find(img.phash, prefer=cr.name)
        if twin is not None and twin[0] == cr.name:
            raise Rejected("duplicate", f"duplicate of {twin[1]}", img.ext)
        faces = len(det.detect(img.rgb))
        if faces == 0:
            raise Rejected("no_face", "no face found", img.ext)
    except Rejected as r:
        cr.count(r.kind)
        store.reject(cr.name, got.url, r.reason, got.data, r.ext)
        return
    if twin is not None:  # the same photo under another name: which label is right is unknown
        cr.count("same_photo_other_class")
        rel = store.reject(cr.name, got.url, f"same photo as {twin[1]} (class {twin[0]})", got.data, img.ext)
        store.flag(twin[1], twin[0], store.url_of(twin[1]), f"same photo also found under {cr.name!r}: {rel} ({got.url})")
        return
    rel = store.keep(cr.name, got.data, img.ext, got.url)
    index.add(img.phash, cr.name, rel)
    cr.downloaded += 1
    if faces > 1:
        cr.several_faces += 1
        store.flag(rel, cr.name, got.url, f"{faces} faces: check that the right person is the main face")
