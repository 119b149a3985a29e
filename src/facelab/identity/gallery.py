"""A gallery: the people a photo is compared with, in one SQLite file (WAL mode).

Tables::

    meta(key, value)        schema_version, framing (JSON: model, detector, chip, mirror),
                            threshold (JSON: value, source), revision, created
    people(id, name, added)
    faces(id, person_id, photo, face, x, y, w, h, score, embedding BLOB float32[128], thumb BLOB jpeg, added)

Every change (:meth:`Gallery.add`, :meth:`Gallery.remove`, :meth:`Gallery.set_threshold`) is one
transaction (``BEGIN IMMEDIATE``): a process killed in the middle leaves the gallery as it was
before, and two writers at once take turns (the second waits up to ``timeout`` seconds, then gets
a clear error). Faces embedded with another :class:`~facelab.identity.embed.Framing` than the
gallery's are refused.

Search (:mod:`facelab.identity.search`) is exact (numpy) below :data:`~facelab.identity.search.ANN_MIN`
faces, and an HNSW index (faiss) above.

Example:
    >>> import tempfile, pathlib
    >>> from facelab.identity.embed import Framing
    >>> g = Gallery.create(pathlib.Path(tempfile.mkdtemp()) / "g.sqlite", Framing("haar"))
    >>> g.add_vectors("Ann Lee", np.eye(128, dtype=np.float32)[:2], photos=["a.jpg", "b.jpg"]).added
    2
    >>> [(p.name, p.faces) for p in g.people()]
    [('Ann Lee', 2)]
"""
from __future__ import annotations

import json
import logging
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import ConfigError, DataError
from .embed import DIM, FaceEmbedding, Framing, check_framing, unit
from .threshold import check_threshold

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
SUFFIX = ".sqlite"
_HEADER = b"SQLite format 3\x00"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS people (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, added TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS faces (
    id INTEGER PRIMARY KEY, person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    photo TEXT NOT NULL, face INTEGER NOT NULL, x REAL, y REAL, w REAL, h REAL, score REAL,
    embedding BLOB NOT NULL, thumb BLOB, added TEXT NOT NULL, UNIQUE(person_id, photo, face));
CREATE INDEX IF NOT EXISTS faces_person ON faces(person_id);
"""


def gallery_path(name_or_path: str | Path) -> Path:
    """A gallery named by the user: a path (has a separator or ends in ``.sqlite``) is used as
    given; a plain name lives in ``$FACELAB_HOME/galleries/NAME.sqlite``.

    Example:
        >>> gallery_path("family").name
        'family.sqlite'
        >>> gallery_path("../x")
        Traceback (most recent call last):
        ...
        facelab.errors.ConfigError: refused gallery name '../x': a gallery name is a plain file name...
    """
    from ..paths import home
    from ..runs.listing import check_name

    s = str(name_or_path)
    if isinstance(name_or_path, Path) or s.endswith(SUFFIX) or Path(s).expanduser().is_file():
        return Path(s).expanduser()
    try:
        check_name(s, home() / "galleries")
    except ConfigError:
        raise ConfigError(f"refused gallery name {s!r}: a gallery name is a plain file name (letters, digits, "
                          "'-', '_', '.'), or give a path ending in .sqlite", path=home() / "galleries",
                          fix="e.g. `facelab gallery add family people/` or a path such as ./family.sqlite") from None
    return home() / "galleries" / f"{s}{SUFFIX}"


@dataclass
class Person:
    """One person of a gallery: name, number of faces and photos, and (from :meth:`Gallery.person`) the faces."""

    name: str
    faces: int
    photos: int
    added: str = ""
    rows: list[dict] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict:
        d = {"name": self.name, "faces": self.faces, "photos": self.photos, "added": self.added}
        if self.rows:
            d["face_rows"] = self.rows
        return d


@dataclass
class Change:
    """What one transaction did."""

    added: int = 0
    removed: int = 0
    duplicates: int = 0
    people: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"added": self.added, "removed": self.removed, "duplicates": self.duplicates, "people": self.people}


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S")


def _check_file(path: Path) -> None:
    """Refuse what is not a SQLite file, or one shorter than its header says (truncated)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(100)
    except OSError as e:
        raise DataError(f"cannot read the gallery {path} ({e.strerror})", path=path,
                        fix="check the path and its permissions") from None
    if not head.startswith(_HEADER) or len(head) < 100:
        raise DataError(f"{path} is not a facelab gallery (not a SQLite database file)", path=path,
                        fix="give a gallery made by `facelab gallery add`, or a new file name")
    page = int.from_bytes(head[16:18], "big")
    page = 65536 if page == 1 else page
    pages = int.from_bytes(head[28:32], "big")
    if pages and size < page * pages:
        raise DataError(f"the gallery {path} is truncated ({size:,} bytes of {page * pages:,})", path=path,
                        fix="restore it from a copy, or build it again with `facelab gallery add`")


class Gallery:
    """An open gallery file. Use :meth:`open` or :meth:`create` (or :func:`open_gallery`).

    Args:
        path: the SQLite file.
        timeout: seconds a writer waits for another writer before giving up (a clear error).
    """

    def __init__(self, path: Path, conn: sqlite3.Connection, timeout: float):
        self.path, self.conn, self.timeout = Path(path), conn, float(timeout)
        self._cache: tuple[int, object] | None = None

    # -- opening -----------------------------------------------------------------------------------
    @staticmethod
    def _connect(path: Path, timeout: float) -> sqlite3.Connection:
        conn = sqlite3.connect(str(path), timeout=timeout, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a killed process loses no commit
        except sqlite3.DatabaseError as e:
            conn.close()
            raise _db_error(e, path) from None
        return conn

    @classmethod
    def open(cls, path: str | Path, *, timeout: float = 30.0) -> "Gallery":
        """Open an existing gallery, checking that it is one this facelab can read.

        Raises:
            DataError: no such file; not a SQLite file; truncated or damaged; not a gallery;
                made by a newer facelab.
        """
        path = Path(path).expanduser()
        if not path.is_file():
            raise DataError(f"no gallery at {path}", path=path,
                            fix="make one with `facelab gallery add NAME people/` (see `facelab gallery list`)")
        _check_file(path)
        g = cls(path, cls._connect(path, timeout), timeout)
        try:
            rows = dict(g.conn.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as e:
            g.close()
            if "no such table" in str(e):
                raise DataError(f"{path} is a SQLite file but not a facelab gallery (no meta table)", path=path,
                                fix="give a gallery made by `facelab gallery add`, or a new file name") from None
            raise _db_error(e, path) from None
        version = int(rows.get("schema_version", 0) or 0)
        if version > SCHEMA_VERSION:
            g.close()
            raise DataError(f"the gallery {path} was made by a newer facelab (format {version}; this one reads "
                            f"up to {SCHEMA_VERSION})", path=path, fix="upgrade facelab: pip install -U facelab")
        if "framing" not in rows or version < 1:
            g.close()
            raise DataError(f"{path} is not a facelab gallery (its meta table has no framing)", path=path,
                            fix="give a gallery made by `facelab gallery add`")
        return g

    @classmethod
    def create(cls, path: str | Path, framing: Framing, *, timeout: float = 30.0) -> "Gallery":
        """Open the gallery at ``path``, or make an empty one with ``framing`` when there is none.

        Raises:
            ConfigError: the existing gallery holds faces of another framing.
        """
        from ..outputs import check_file

        path = Path(path).expanduser()
        if path.exists():
            g = cls.open(path, timeout=timeout)
            check_framing(framing, g.framing, str(path))
            return g
        check_file(path, what="gallery", option="NAME")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise DataError(f"cannot create the folder of {path} ({e.strerror})", path=path,
                            fix="choose a writable place for the gallery") from None
        g = cls(path, cls._connect(path, timeout), timeout)
        with g.transaction():
            for stmt in _SCHEMA.strip().split(";"):
                if stmt.strip():
                    g.conn.execute(stmt)
            meta = {"schema_version": str(SCHEMA_VERSION), "framing": json.dumps(framing.to_dict()),
                    "threshold": "null", "revision": "0", "created": _now()}
            g.conn.executemany("INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)", meta.items())
        return g

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Gallery":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- meta --------------------------------------------------------------------------------------
    def _meta(self, key: str) -> str | None:
        row = self._q("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else row[0]

    @property
    def name(self) -> str:
        return self.path.name[:-len(SUFFIX)] if self.path.name.endswith(SUFFIX) else self.path.name

    @property
    def framing(self) -> Framing:
        return Framing.from_dict(json.loads(self._meta("framing") or "{}"))

    @property
    def revision(self) -> int:
        return int(self._meta("revision") or 0)

    @property
    def threshold(self) -> dict | None:
        """``{"value": 0.42, "source": "..."}`` when one was saved (``verify-eval --save-threshold``)."""
        return json.loads(self._meta("threshold") or "null")

    def set_threshold(self, value: float, source: str, verify: float | None = None,
                      group: float | None = None, group_cut: float | None = None,
                      group_join: float | None = None) -> None:
        """Save calibrated thresholds (one transaction): ``value`` for identification against this
        gallery, ``verify`` for comparing two photos, ``group`` for grouping a library by pair
        distance (default: ``value``), ``group_cut`` and ``group_join`` for Ward's grouping (default:
        none saved)."""
        check_threshold(value)
        d = {"value": float(value), "verify": float(check_threshold(verify) if verify is not None else value),
             "group": float(check_threshold(group) if group is not None else value), "source": source, "saved": _now()}
        for key, v in (("group_cut", group_cut), ("group_join", group_join)):
            if v is not None:
                d[key] = float(check_threshold(v))
        with self.transaction():
            self.conn.execute("UPDATE meta SET value=? WHERE key='threshold'", (json.dumps(d),))

    # -- reading -----------------------------------------------------------------------------------
    def _q(self, sql: str, args: Sequence = ()) -> sqlite3.Cursor:
        try:
            return self.conn.execute(sql, args)
        except sqlite3.DatabaseError as e:
            raise _db_error(e, self.path) from None

    def people(self) -> list[Person]:
        """Every person, by name, with counts."""
        rows = self._q("SELECT p.name, COUNT(f.id), COUNT(DISTINCT f.photo), p.added FROM people p "
                       "LEFT JOIN faces f ON f.person_id = p.id GROUP BY p.id ORDER BY p.name").fetchall()
        return [Person(n, int(c), int(ph), a) for n, c, ph, a in rows]

    def person(self, name: str) -> Person:
        """One person with their face rows (photo, face, box, thumbnail JPEG bytes).

        Raises:
            DataError: no such person (close names suggested).
        """
        row = self._q("SELECT id, added FROM people WHERE name=?", (name,)).fetchone()
        if row is None:
            raise self._no_person(name)
        faces = self._q("SELECT id, photo, face, x, y, w, h, score, thumb FROM faces WHERE person_id=? ORDER BY id",
                        (row[0],)).fetchall()
        rows = [{"id": i, "photo": p, "face": f, "box": [x, y, w, h], "score": s, "thumb": t}
                for i, p, f, x, y, w, h, s, t in faces]
        return Person(name, len(rows), len({r["photo"] for r in rows}), row[1], rows)

    def _no_person(self, name: str) -> DataError:
        import difflib

        names = [p.name for p in self.people()]
        near = difflib.get_close_matches(name, names, n=3)
        return DataError(f"no person named {name!r} in the gallery {self.name}", path=self.path,
                         fix=(f"did you mean {', '.join(map(repr, near))}? " if near else "")
                         + f"`facelab gallery show {self.name}` lists the people")

    def thumb(self, face_id: int) -> bytes | None:
        row = self._q("SELECT thumb FROM faces WHERE id=?", (int(face_id),)).fetchone()
        return None if row is None else row[0]

    def __len__(self) -> int:
        return int(self._q("SELECT COUNT(*) FROM faces").fetchone()[0])

    def arrays(self) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
        """``(vectors (N, 128) float32, person index (N,), person names, face ids (N,))``."""
        names = [n for (n,) in self._q("SELECT name FROM people ORDER BY id")]
        ids = {i: k for k, (i,) in enumerate(self._q("SELECT id FROM people ORDER BY id"))}
        rows = self._q("SELECT id, person_id, embedding FROM faces ORDER BY id").fetchall()
        if not rows:
            return np.zeros((0, DIM), np.float32), np.zeros(0, np.int64), names, np.zeros(0, np.int64)
        X = np.frombuffer(b"".join(r[2] for r in rows), np.float32).reshape(len(rows), DIM)
        who = np.fromiter((ids[r[1]] for r in rows), np.int64, len(rows))
        return X, who, names, np.fromiter((r[0] for r in rows), np.int64, len(rows))

    def index(self):
        """The search index of the current revision (built on first use, rebuilt after a change)."""
        from .search import SearchIndex

        rev = self.revision
        if self._cache is None or self._cache[0] != rev:
            X, who, names, ids = self.arrays()
            self._cache = (rev, SearchIndex(X, who, names, face_ids=ids))
        return self._cache[1]

    # -- writing -----------------------------------------------------------------------------------
    def transaction(self):
        """``with g.transaction():`` — BEGIN IMMEDIATE … COMMIT (ROLLBACK on error); the revision is bumped."""
        return _Transaction(self)

    def add(self, faces: dict[str, Sequence[tuple[str, FaceEmbedding]]], framing: Framing) -> Change:
        """Add ``{person: [(photo, FaceEmbedding), ...]}`` (people created when new), in ONE transaction.

        A face already stored for the person (same photo and face index) is skipped (``duplicates``).

        Raises:
            ConfigError: the faces were embedded with another framing than the gallery's.
        """
        check_framing(framing, self.framing, str(self.path))
        rows = {p: [(photo, f.index, f.box, f.vector, f.thumb) for photo, f in fs] for p, fs in faces.items()}
        return self._insert(rows)

    def add_vectors(self, person: str, vectors: np.ndarray, *, photos: Sequence[str] | None = None,
                    framing: Framing | None = None) -> Change:
        """Add bare descriptors (unit length, (N, 128)) to ``person`` — benchmarks, imports."""
        from ..faces.detect import FaceBox

        if framing is not None:
            check_framing(framing, self.framing, str(self.path))
        V = np.asarray(vectors, np.float32).reshape(-1, DIM)
        photos = list(photos) if photos is not None else [f"vector-{i}" for i in range(len(V))]
        box = FaceBox(0, 0, 0, 0, 1.0)
        return self._insert({person: [(p, 0, box, v, None) for p, v in zip(photos, V)]})

    def _insert(self, people: dict[str, list]) -> Change:
        names = {check_person(p): rows for p, rows in people.items()}
        ch = Change(people=list(names))
        now = _now()
        with self.transaction():
            for name, rows in names.items():
                self.conn.execute("INSERT OR IGNORE INTO people(name, added) VALUES (?, ?)", (name, now))
                pid = self.conn.execute("SELECT id FROM people WHERE name=?", (name,)).fetchone()[0]
                for photo, face, box, vec, thumb in rows:
                    blob = unit(np.asarray(vec, np.float32).reshape(1, DIM))[0].tobytes()
                    cur = self.conn.execute(
                        "INSERT OR IGNORE INTO faces(person_id, photo, face, x, y, w, h, score, embedding, thumb, "
                        "added) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                        (pid, str(photo), int(face), box.x, box.y, box.w, box.h, box.score, blob, thumb, now))
                    ch.added += cur.rowcount > 0
                    ch.duplicates += cur.rowcount == 0
                    _after_row()
        return ch

    def remove(self, people: Sequence[str]) -> Change:
        """Remove people and all their faces, in one transaction.

        Raises:
            DataError: a name is not in the gallery (nothing is removed).
        """
        ch = Change()
        with self.transaction():
            for name in people:
                row = self.conn.execute("SELECT id FROM people WHERE name=?", (name,)).fetchone()
                if row is None:
                    raise self._no_person(name)
                ch.removed += self.conn.execute("DELETE FROM faces WHERE person_id=?", (row[0],)).rowcount
                self.conn.execute("DELETE FROM people WHERE id=?", (row[0],))
                ch.people.append(name)
        return ch

    def to_dict(self) -> dict:
        ppl = self.people()
        return {"name": self.name, "path": str(self.path), "people": len(ppl), "faces": sum(p.faces for p in ppl),
                "framing": self.framing.to_dict(), "threshold": self.threshold, "revision": self.revision}


class _Transaction:
    def __init__(self, g: Gallery):
        self.g = g

    def __enter__(self):
        try:
            self.g.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as e:
            if "locked" in str(e) or "busy" in str(e):
                raise DataError(f"the gallery {self.g.path} is being written by another process (waited "
                                f"{self.g.timeout:.0f} s)", path=self.g.path,
                                fix="wait for the other `facelab gallery` command to finish, then try again") from None
            raise _db_error(e, self.g.path) from None
        return self.g

    def __exit__(self, kind, exc, tb):
        c = self.g.conn
        if kind is None:
            try:
                c.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key='revision'")
                c.execute("COMMIT")
            except sqlite3.DatabaseError as e:
                c.execute("ROLLBACK")
                raise _db_error(e, self.g.path) from None
            return False
        c.execute("ROLLBACK")
        if isinstance(exc, sqlite3.DatabaseError):
            raise _db_error(exc, self.g.path) from None
        return False


def _after_row() -> None:
    """Called after each stored face, inside the transaction (tests slow it down to kill a writer)."""


def _db_error(e: sqlite3.DatabaseError, path: Path) -> DataError:
    msg = str(e)
    if "not a database" in msg:
        return DataError(f"{path} is not a facelab gallery ({msg})", path=path,
                         fix="give a gallery made by `facelab gallery add`")
    if "locked" in msg or "busy" in msg:
        return DataError(f"the gallery {path} is locked by another process", path=path,
                         fix="wait for the other command to finish, then try again")
    return DataError(f"the gallery {path} is damaged ({msg})", path=path,
                     fix="restore it from a copy, or build it again with `facelab gallery add`")


def check_person(name: str) -> str:
    """A person's name as stored: trimmed, non-empty, at most 200 characters, no control characters.

    Example:
        >>> check_person("  Ann Lee ")
        'Ann Lee'
    """
    s = str(name).strip()
    if not s or len(s) > 200 or any(ord(ch) < 32 for ch in s):
        raise ConfigError(f"refused person name {name!r}", fix="use a readable name of 1-200 characters")
    return s


def open_gallery(name_or_path: str | Path, *, create: Framing | None = None, timeout: float = 30.0) -> Gallery:
    """Open a gallery by name or path (:func:`gallery_path`); with ``create``, make it when absent."""
    path = gallery_path(name_or_path)
    if create is not None:
        return Gallery.create(path, create, timeout=timeout)
    return Gallery.open(path, timeout=timeout)


def list_galleries() -> list[Path]:
    """The gallery files in ``$FACELAB_HOME/galleries``."""
    from ..paths import home

    root = home() / "galleries"
    return sorted(root.glob(f"*{SUFFIX}")) if root.is_dir() else []
