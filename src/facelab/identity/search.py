"""Nearest people of a descriptor: exact (numpy) search, or an HNSW index (faiss) for large galleries.

A person's distance is the distance to their nearest face. Descriptors are unit length, so the
squared Euclidean distance is ``2 - 2·cos`` and one matrix product ranks every stored face.

Exact search is used below :data:`ANN_MIN` faces; above it an HNSW graph (``faiss.IndexHNSWFlat``,
``facelab[identity]``) answers in a few milliseconds. ``bench/identity.py --parts search`` measures
both on 1,000,000 face-like descriptors (fitted to real ones) and on random unit vectors (exact
time, index build time, query time, recall@10).

Example:
    >>> X = np.eye(128, dtype=np.float32)[:3]
    >>> idx = SearchIndex(X, np.array([0, 0, 1]), ["ann", "bob"])
    >>> [(m.person, round(m.distance, 3)) for m in idx.search(X[2:3], k=2)[0]]
    [('bob', 0.0), ('ann', 1.414)]
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError

log = logging.getLogger(__name__)

#: Faces above which a gallery is searched through an HNSW index instead of exactly. Exact search
#: costs one (N × 128) product per query: ~5 ms at 100k faces, ~60 ms at 1M on one core
#: (bench/identity.py --parts search); an HNSW index needs a build (about 30 s per 100k faces on 2 cores).
ANN_MIN = 200_000
#: HNSW graph degree, build breadth and search breadth. On 1,000,000 face-like 128-D descriptors
#: (bench/identity.py's two-level Gaussian fitted to lfw_more's; half the queries of stored people,
#: half of strangers): recall@10 0.9915 at about 4 ms a query, built in under 5 minutes on 2 cores;
#: efSearch 512: 0.98 at about 2 ms. Uniform random vectors, with no neighbourhood structure, get
#: far less from the same graph (bench/identity.py --parts search measures both).
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 64
HNSW_EF_SEARCH = 1024


@dataclass(frozen=True)
class Match:
    """A person near a query: their name, distance (to their nearest face) and that face's id."""

    person: str
    distance: float
    face_id: int = -1

    def to_dict(self) -> dict:
        return {"person": self.person, "distance": round(float(self.distance), 4), "face_id": int(self.face_id)}


def require_faiss():
    """Import faiss, or raise a ConfigError that names the extra."""
    try:
        import faiss
    except ImportError:
        raise ConfigError("a large gallery is searched with faiss, which is not installed",
                          fix='pip install "facelab[identity]"  (or pass exact=True)') from None
    return faiss


class SearchIndex:
    """The faces of a gallery, ready to search.

    Args:
        X: (N, 128) unit descriptors.
        who: (N,) the person index of each face.
        names: person index → name.
        face_ids: (N,) the faces' ids in the gallery (default 0..N-1).
        exact: True: always exact; False: always the index; None: the index from :data:`ANN_MIN` faces.
    """

    def __init__(self, X: np.ndarray, who: np.ndarray, names: list[str], *, face_ids: np.ndarray | None = None,
                 exact: bool | None = None, ef_search: int = HNSW_EF_SEARCH):
        self.X = np.ascontiguousarray(X, np.float32)
        self.who = np.asarray(who, np.int64)
        self.names = list(names)
        self.face_ids = np.arange(len(X)) if face_ids is None else np.asarray(face_ids, np.int64)
        self.exact = len(X) < ANN_MIN if exact is None else bool(exact)
        self.ef_search = int(ef_search)
        self._hnsw = None
        self.n_people = len(np.unique(self.who))

    def __len__(self) -> int:
        return len(self.X)

    @property
    def kind(self) -> str:
        return "exact" if self.exact else "hnsw"

    def build(self):
        """Build the HNSW index now (otherwise on the first search)."""
        if self._hnsw is None and not self.exact:
            faiss = require_faiss()
            idx = faiss.IndexHNSWFlat(self.X.shape[1], HNSW_M)
            idx.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            idx.add(self.X)
            self._hnsw = idx
        return self

    def nearest_faces(self, Q: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
        """(distances (Q, m), positions (Q, m)) of the ``m`` nearest stored faces, nearest first."""
        Q = np.ascontiguousarray(np.asarray(Q, np.float32).reshape(-1, self.X.shape[1]))
        m = min(int(m), len(self.X))
        if m == 0:
            return np.zeros((len(Q), 0), np.float32), np.zeros((len(Q), 0), np.int64)
        if not self.exact:
            self.build()
            self._hnsw.hnsw.efSearch = max(self.ef_search, m)
            d2, pos = self._hnsw.search(Q, m)
            return np.sqrt(np.maximum(d2, 0)), pos.astype(np.int64)
        sim = Q @ self.X.T  # (Q, N)
        if m < len(self.X):
            part = np.argpartition(-sim, m - 1, axis=1)[:, :m]
        else:
            part = np.tile(np.arange(len(self.X)), (len(Q), 1))
        s = np.take_along_axis(sim, part, 1)
        order = np.argsort(-s, axis=1)
        pos = np.take_along_axis(part, order, 1)
        d = np.sqrt(np.maximum(2.0 - 2.0 * np.take_along_axis(s, order, 1), 0.0))
        return d.astype(np.float32), pos

    def search(self, Q: np.ndarray, k: int = 3) -> list[list[Match]]:
        """The ``k`` nearest people of each query descriptor, nearest first."""
        Q = np.asarray(Q, np.float32).reshape(-1, self.X.shape[1] if len(self.X) else 128)
        if not len(self.X):
            return [[] for _ in Q]
        k = max(1, int(k))
        n_people = self.n_people
        m = min(len(self.X), max(8 * k, 32))
        while True:
            d, pos = self.nearest_faces(Q, m)
            out = [self._people(d[i], pos[i], k) for i in range(len(Q))]
            if m >= len(self.X) or all(len(r) >= min(k, n_people) for r in out):
                return out
            m = min(len(self.X), m * 4)  # many faces of few people in front: look further

    def _people(self, d: np.ndarray, pos: np.ndarray, k: int) -> list[Match]:
        seen: dict[int, Match] = {}
        for dist, p in zip(d, pos):
            if p < 0:
                continue
            w = int(self.who[p])
            if w not in seen:
                seen[w] = Match(self.names[w], float(dist), int(self.face_ids[p]))
                if len(seen) == k:
                    break
        return list(seen.values())
