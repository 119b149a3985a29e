"""Galleries (one SQLite file): search, framing, bad files, locks, two writers, a writer killed mid-add."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from facelab.errors import ConfigError, DataError
from facelab.identity import gallery as G
from facelab.identity.embed import Framing, unit
from facelab.identity.search import SearchIndex

FR = Framing("haar")
ROOT = Path(__file__).resolve().parent.parent


def people_vectors(n_people=3, per=4, seed=0):
    rng = np.random.default_rng(seed)
    centres = unit(rng.normal(size=(n_people, 128)))
    return {f"p{i}": unit(c + 0.05 * rng.normal(size=(per, 128))) for i, c in enumerate(centres)}


@pytest.fixture()
def gal(tmp_path):
    g = G.Gallery.create(tmp_path / "g.sqlite", FR)
    for name, V in people_vectors().items():
        g.add_vectors(name, V, photos=[f"{name}_{i}.jpg" for i in range(len(V))])
    yield g
    g.close()


def test_add_list_search_remove(gal):
    assert [(p.name, p.faces, p.photos) for p in gal.people()] == [("p0", 4, 4), ("p1", 4, 4), ("p2", 4, 4)]
    assert len(gal) == 12 and gal.revision == 4  # created + three adds
    X, who, names, _ = gal.arrays()
    hits = gal.index().search(X[[0, 5, 11]], k=2)
    assert [h[0].person for h in hits] == ["p0", "p1", "p2"]
    assert all(h[0].distance < 1e-3 < h[1].distance for h in hits)
    again = gal.add_vectors("p0", X[:1], photos=["p0_0.jpg"])  # the same photo again: skipped
    assert (again.added, again.duplicates) == (0, 1)
    ch = gal.remove(["p1"])
    assert ch.removed == 4 and [p.name for p in gal.people()] == ["p0", "p2"]
    assert gal.index().search(X[5:6], k=3)[0][0].person != "p1"  # the index follows the change
    with pytest.raises(DataError, match="no person named 'p7'.*"):
        gal.remove(["p0", "p7"])
    assert [p.name for p in gal.people()] == ["p0", "p2"]  # nothing removed: one transaction


def test_hnsw_index_agrees_with_exact_search():
    pytest.importorskip("faiss")
    rng = np.random.default_rng(1)
    X = unit(rng.normal(size=(3000, 128)))
    who = np.arange(3000) // 3
    names = [f"p{i}" for i in range(1000)]
    Q = unit(X[:50] + 0.1 * rng.normal(size=(50, 128)))
    exact = SearchIndex(X, who, names, exact=True).search(Q, k=5)
    approx = SearchIndex(X, who, names, exact=False).search(Q, k=5)
    assert SearchIndex(X, who, names, exact=False).kind == "hnsw"
    agree = np.mean([[m.person for m in a] == [m.person for m in b] for a, b in zip(exact, approx)])
    assert agree >= 0.95 and [m.person for m in exact[0]][0] == "p0"


def test_faces_embedded_otherwise_are_refused(gal):
    with pytest.raises(ConfigError, match="mirror"):
        gal.add_vectors("p9", np.ones((1, 128), np.float32), framing=Framing("haar", mirror=False))
    with pytest.raises(ConfigError, match="embedded as"):
        G.Gallery.create(gal.path, Framing("dlib"))


def test_gallery_names_and_person_names_are_checked(tmp_path):
    assert G.gallery_path("family").name == "family.sqlite"
    for bad in ("../x", "a/b", ""):
        with pytest.raises(ConfigError):
            G.gallery_path(bad)
    g = G.Gallery.create(tmp_path / "n.sqlite", FR)
    with pytest.raises(ConfigError, match="person name"):
        g.add_vectors("  ", np.ones((1, 128), np.float32))


def test_files_that_are_not_galleries_get_clear_errors(tmp_path, gal):
    text = tmp_path / "notes.sqlite"
    text.write_text("my notes, not a database " * 20)
    with pytest.raises(DataError, match="not a facelab gallery"):
        G.Gallery.open(text)
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t(x)").connection.commit()
    with pytest.raises(DataError, match="not a facelab gallery"):
        G.Gallery.open(other)
    with pytest.raises(DataError, match="no gallery at"):
        G.Gallery.open(tmp_path / "missing.sqlite")
    with pytest.raises(DataError, match="not a facelab gallery"):  # a user's file is never made a gallery
        G.Gallery.create(text, FR)
    assert text.read_text().startswith("my notes")


def test_a_gallery_from_a_newer_facelab_is_refused(gal):
    gal.conn.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    with pytest.raises(DataError, match="newer facelab"):
        G.Gallery.open(gal.path)


def test_a_truncated_gallery_is_refused(tmp_path, gal):
    for name, V in people_vectors(20, 20, seed=2).items():
        gal.add_vectors("x" + name, V)
    gal.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    gal.close()
    data = gal.path.read_bytes()
    cut = tmp_path / "cut.sqlite"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="truncated"):
        G.Gallery.open(cut)


def test_a_locked_gallery_gives_a_clear_error(tmp_path, gal):
    other = sqlite3.connect(gal.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        g2 = G.Gallery.open(gal.path, timeout=0.2)
        with pytest.raises(DataError, match="being written by another process"):
            g2.add_vectors("late", np.ones((1, 128), np.float32))
        assert [p.name for p in g2.people()] == ["p0", "p1", "p2"]  # readers are not blocked (WAL)
    finally:
        other.execute("ROLLBACK")


def test_two_writers_take_turns(gal, monkeypatch):
    monkeypatch.setattr(G, "_after_row", lambda: time.sleep(0.02))
    errors = []

    def add(name):
        try:
            with G.Gallery.open(gal.path, timeout=20) as g:
                g.add_vectors(name, unit(np.random.default_rng(len(name)).normal(size=(20, 128))))
        except Exception as e:  # pragma: no cover - the failure is the assertion below
            errors.append(e)

    ts = [threading.Thread(target=add, args=(n,)) for n in ("writer-a", "writer-bb")]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert errors == []
    assert {p.name: p.faces for p in gal.people()}.get("writer-a") == 20
    assert {p.name: p.faces for p in gal.people()}.get("writer-bb") == 20


KILLED_WRITER = """
import sys, time, numpy as np
from pathlib import Path
from facelab.identity import gallery as G
flag = Path(sys.argv[2])
n = [0]
def slow():
    n[0] += 1
    if n[0] == 50:
        flag.write_text("in the middle")
    time.sleep(0.01)
G._after_row = slow
g = G.Gallery.open(sys.argv[1])
g.add_vectors("half", np.random.default_rng(0).normal(size=(2000, 128)).astype(np.float32))
"""


def test_a_writer_killed_mid_add_leaves_the_gallery_as_before(tmp_path, gal):
    before = [(p.name, p.faces) for p in gal.people()]
    flag = tmp_path / "flag"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(gal.path), str(flag)], env=env)
    try:
        deadline = time.time() + 120
        while not flag.exists() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert flag.exists(), "the writer never got into its transaction"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    with G.Gallery.open(gal.path) as g:
        assert [(p.name, p.faces) for p in g.people()] == before
        g.add_vectors("after", np.ones((1, 128), np.float32))  # and it is writable again
        assert "after" in [p.name for p in g.people()]
