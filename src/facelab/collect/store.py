"""The collection folder: kept images per class, ``rejected/`` with reasons, the logs, the report.

Layout of ``OUT/`` (what facelab's folder reader reads, plus files it ignores)::

    OUT/<class>/0001.jpg ...        kept images, one folder per name
    OUT/rejected/<class>/...        set aside (no face, duplicate, not an image, too small)
    OUT/rejected/reasons.csv        every URL set aside or failed: file, class, url, reason, time
    OUT/sources.csv                 every kept image: file, class, url, time
    OUT/review.csv                  kept but worth a look: several faces, same photo under another name
    OUT/collection.json             the report
    OUT/.facelab-collect.json       marks the folder as a collection; "complete" once a run finished

Every row is appended as soon as its file is in place (files are written to a temporary name and
renamed), so an interrupted run loses nothing and a second run carries on.
"""
from __future__ import annotations

import csv
import json
import re
import time
from pathlib import Path

from ..errors import ConfigError, DataError
from ..outputs import atomic_file, write_error, writing
from ..data.readers._common import is_image_name
from ..data.readers.folder import SET_ASIDE  # inside rejected/: the folder reader does not take it for a class

MARKER = ".facelab-collect.json"
REJECTED = "rejected"
SOURCES, REVIEW, REPORT = "sources.csv", "review.csv", "collection.json"
REASONS = f"{REJECTED}/reasons.csv"
_COLUMNS = {SOURCES: ["file", "class", "url", "time"],
            REASONS: ["file", "class", "url", "reason", "time"],
            REVIEW: ["file", "class", "url", "flag", "time"]}


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def folder_name(name: str) -> str:
    """The class folder for a name: path separators and leading dots replaced, spaces kept.

    Example:
        >>> folder_name("Anne Hathaway"), folder_name("AC/DC")
        ('Anne Hathaway', 'AC_DC')
    """
    safe = re.sub(r"[/\\\x00-\x1f]", "_", name.strip()).lstrip(".").strip()
    if not safe:
        raise ConfigError(f"{name!r} cannot be a class folder name", fix="give a name with letters or digits")
    if safe.lower() == REJECTED:
        raise ConfigError(f"{name!r} is the folder of set-aside images", fix="give the class another name")
    return safe


class Store:
    """Reads and writes one collection folder (single-threaded: the downloads run in threads, the
    writes happen in the caller's thread)."""

    def __init__(self, out: str | Path):
        self.out = Path(out).expanduser()
        self._urls: dict[str, str] | None = None  # kept file → its URL, read from sources.csv once

    # -- claiming the folder -------------------------------------------------------------------
    def claim(self, options: dict) -> None:
        """Make sure ``out`` may be written, then mark it as a collection in progress.

        Raises:
            ConfigError: ``out`` holds something that is not an earlier collection.
            DataError: ``out`` cannot be created or written.
        """
        out = self.out
        if out.exists() and not out.is_dir():
            raise ConfigError("--out is a file, not a folder", path=out, fix="give a folder path")
        if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
            raise ConfigError("--out holds files that are not a facelab collection: nothing was written",
                              path=out, fix="give an empty or new folder, or the folder of an earlier collection")
        try:
            (out / REJECTED).mkdir(parents=True, exist_ok=True)
            (out / REJECTED / SET_ASIDE).touch()
            self._write_json(MARKER, {"tool": "facelab data collect", "complete": False, "started": now(),
                                      "options": options})
        except OSError as e:
            full = write_error(e, out, "collection folder")
            if full is not None:
                raise full from None
            raise DataError(f"cannot write the collection folder: {e.strerror or e}", path=out,
                            fix="choose a folder you can write to (--out)") from None

    def finish(self, report: dict, *, complete: bool) -> None:
        """Write the report; mark the collection complete only when the run went through."""
        self._write_json(REPORT, report)
        marker = self._read_json(MARKER) or {}
        marker.update(complete=complete, finished=now())
        self._write_json(MARKER, marker)

    # -- what is already there -----------------------------------------------------------------
    def class_dir(self, cls: str) -> Path:
        return self.out / folder_name(cls)

    def kept(self, cls: str) -> list[Path]:
        """Image files in the class folder (kept by earlier runs, or added by the user)."""
        d = self.class_dir(cls)
        if not d.is_dir():
            return []
        return sorted(p for p in d.rglob("*") if p.is_file() and is_image_name(p.name))

    def tried(self) -> dict[str, set[str]]:
        """URLs already downloaded or set aside, per class: a second run does not fetch them again."""
        out: dict[str, set[str]] = {}
        for name in (SOURCES, REASONS):
            for row in self.rows(name):
                out.setdefault(row.get("class", ""), set()).add(row.get("url", ""))
        return out

    def url_of(self, rel: str) -> str:
        """The URL a kept file came from ('' for a file the user added)."""
        if self._urls is None:
            self._urls = {r.get("file", ""): r.get("url", "") for r in self.rows(SOURCES)}
        return self._urls.get(rel, "")

    def rows(self, name: str) -> list[dict]:
        path = self.out / name
        if not path.is_file():
            return []
        with open(path, newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))

    # -- writing -------------------------------------------------------------------------------
    def keep(self, cls: str, data: bytes, ext: str, url: str) -> str:
        rel = self._place(self.class_dir(cls), data, ext)
        self._append(SOURCES, [rel, cls, url, now()])
        if self._urls is not None:
            self._urls[rel] = url
        return rel

    def reject(self, cls: str, url: str, reason: str, data: bytes | None = None, ext: str = ".bin") -> str:
        """Log a URL set aside; its bytes (when there are any) go to ``rejected/<class>/``."""
        rel = self._place(self.out / REJECTED / folder_name(cls), data, ext) if data else ""
        self._append(REASONS, [rel, cls, url, reason, now()])
        return rel

    def flag(self, rel: str, cls: str, url: str, flag: str) -> None:
        self._append(REVIEW, [rel, cls, url, flag, now()])

    def _place(self, folder: Path, data: bytes, ext: str) -> str:
        folder.mkdir(parents=True, exist_ok=True)
        taken = [int(p.stem) for p in folder.iterdir() if p.stem.isdigit()]
        n = max(taken, default=0) + 1
        target = folder / f"{n:04d}{ext}"
        with atomic_file(target, "collection folder") as tmp:  # a full disk: WriteError, no half photo
            tmp.write_bytes(data)
        return target.relative_to(self.out).as_posix()

    def _append(self, name: str, row: list) -> None:
        path = self.out / name
        new = not path.is_file()
        with writing(path, "collection folder"), open(path, "a", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            if new:
                w.writerow(_COLUMNS[name])
            w.writerow(row)

    def _write_json(self, name: str, obj: dict) -> None:
        with atomic_file(self.out / name, "collection folder") as tmp:
            tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    def _read_json(self, name: str) -> dict | None:
        try:
            return json.loads((self.out / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
