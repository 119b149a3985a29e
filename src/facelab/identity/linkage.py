"""Clustering face descriptors into people, and choosing where to cut on photos of known people.

Three methods:

* ``ward`` (the default): Ward's minimum-variance linkage cut at a merge cost (two single faces
  merge below that distance; larger groups when joining them adds little spread), then groups
  whose faces are on average closer than the *join* distance are joined (average linkage between
  the groups), and a face with no face of its group within the *near* distance (the pair distance
  the other methods cut at) is left alone. Ward's cost grows with the size of the groups it would
  join, so two look-alikes' groups stay apart — and so does one person's many photos taken in
  different years or light: the join step brings those back together. On lfw_more's 548 LFW people
  mixed together (4-19 photos each): pairwise precision 0.972, recall 0.960 with the cut, join and
  near distances calibrated on half of them (0.980 / 0.948 at the defaults); on ``people/`` (8
  people, 64-530 photos each): 1.000 / 0.990, where Ward's linkage alone scatters each person over
  five groups (recall 0.14).
* ``agglomerative``: average linkage cut at a pair distance: 0.948 / 0.953 on lfw_more.
* ``chinese-whispers``: dlib's graph clustering: faces closer than the threshold are linked and
  labels spread along the links; it follows every single link and merges look-alikes (0.24 / 0.97).

(bench/identity.py --parts group; the default cut and join distance were chosen on the validation
half of lfw_more's people and on ``people/``.)

Example:
    >>> X = np.repeat(np.eye(3, 128, dtype=np.float32), 2, axis=0)
    >>> cluster_vectors(X, 0.5).tolist()
    [0, 0, 1, 1, 2, 2]
    >>> pairwise_precision_recall([0, 0, 1, 1], [0, 0, 0, 1])
    (0.3333333333333333, 0.5)
"""
from __future__ import annotations

import heapq
from collections import defaultdict
from typing import Sequence

import numpy as np

from ..errors import ConfigError

METHODS = ("ward", "agglomerative", "chinese-whispers")
#: the methods whose threshold is a pair distance (``ward`` cuts at a merge cost)
LINK_METHODS = ("agglomerative", "chinese-whispers")
#: cuts whose pairwise F1 is within this of the best count as equally good (:func:`best_cut`)
PLATEAU = 0.002
#: above this many faces Ward's linkage runs on a graph of each face's :data:`NEIGHBOURS` nearest
#: faces (scikit-learn; memory grows with the faces, not with their pairs: 20,000 faces would need
#: 1.6 GB of pair distances). On lfw_more's 3,709 faces both give the same groups.
GRAPH_ABOVE = 8000
NEIGHBOURS = 30


def threshold_purpose(method: str) -> str:
    """Which calibrated threshold a method cuts at: ``group_cut`` (Ward's merge cost) or ``group``
    (a pair distance)."""
    return "group_cut" if method == "ward" else "group"


def _renumber(lab: np.ndarray) -> np.ndarray:
    """Labels 0..k-1, largest cluster first, ties by first appearance."""
    uniq, first, counts = np.unique(lab, return_index=True, return_counts=True)
    order = sorted(range(len(uniq)), key=lambda i: (-counts[i], first[i]))
    remap = np.empty(int(uniq.max()) + 1, np.int64)
    remap[uniq[order]] = np.arange(len(uniq))
    return remap[lab]


def join_groups(X: np.ndarray, lab: np.ndarray, join: float, D: np.ndarray | None = None) -> np.ndarray:
    """Join groups (labels 0..k-1) whose faces are on average closer than ``join``, nearest first,
    the distance of a joined group being the mean over all its faces (average linkage over groups).

    Only groups with a pair of faces closer than ``join`` can ever be joined, so only those pairs of
    groups are followed (found by a radius search; ``D``: the faces' distance matrix when the caller
    holds it), and the memory grows with them, not with the square of the number of groups.
    """
    from scipy.spatial.distance import cdist

    lab = np.asarray(lab)
    order = np.argsort(lab, kind="stable")
    bounds = np.flatnonzero(np.r_[True, lab[order][1:] != lab[order][:-1], True])
    members = {int(lab[order[s]]): order[s:e] for s, e in zip(bounds[:-1], bounds[1:])}
    n = {g: len(m) for g, m in members.items()}
    if D is None:
        from sklearn.neighbors import radius_neighbors_graph

        r, c = radius_neighbors_graph(X, join, mode="connectivity", include_self=False).nonzero()
    else:
        r, c = np.nonzero(D <= join)
    a, b = lab[r], lab[c]

    def total(g: int, h: int) -> float:  # the sum of the distances between their faces
        if D is None:
            return float(cdist(X[members[g]], X[members[h]]).sum())
        return float(D[np.ix_(members[g], members[h])].sum())

    def key(g: int, h: int) -> tuple[int, int]:
        return (g, h) if g < h else (h, g)

    sums: dict[tuple[int, int], float] = {}
    linked: dict[int, set] = defaultdict(set)
    heap: list = []
    for g, h in set(zip(a[a < b].tolist(), b[a < b].tolist())):
        sums[(g, h)] = total(g, h)
        linked[g].add(h)
        linked[h].add(g)
        if sums[(g, h)] / (n[g] * n[h]) <= join:
            heapq.heappush(heap, (sums[(g, h)] / (n[g] * n[h]), g, h))
    owner = np.arange(int(lab.max()) + 1)
    while heap:
        m, g, h = heapq.heappop(heap)
        if (g, h) not in sums or sums[(g, h)] / (n[g] * n[h]) != m:
            continue  # one of the two was joined to another group since
        others = (linked[g] | linked[h]) - {g, h}  # h joins g
        for c in others:
            sg, sh = sums.pop(key(g, c), None), sums.pop(key(h, c), None)
            sums[key(g, c)] = (total(g, c) if sg is None else sg) + (total(h, c) if sh is None else sh)
            linked[c].discard(h)
            linked[c].add(g)
        del sums[(g, h)]
        members[g] = np.concatenate([members[g], members.pop(h)])
        n[g] += n.pop(h)
        linked[g] = others
        linked.pop(h, None)
        owner[owner == h] = g
        for c in others:
            mc = sums[key(g, c)] / (n[g] * n[c])
            if mc <= join:
                heapq.heappush(heap, (mc, *key(g, c)))
    return owner[lab]


def leave_alone(X: np.ndarray, lab: np.ndarray, near: float) -> np.ndarray:
    """Labels where every face whose nearest face of its group is farther than ``near`` has a group
    of its own: it is "alone", no face of its group being as close as two photos of one person
    usually are."""
    from scipy.spatial.distance import cdist

    out = lab.copy()
    nxt = int(lab.max()) + 1
    for g in np.flatnonzero(np.bincount(lab) > 1):
        idx = np.flatnonzero(lab == g)
        D = cdist(X[idx], X[idx])
        np.fill_diagonal(D, np.inf)
        for i in idx[D.min(1) > near]:
            out[i], nxt = nxt, nxt + 1
    return out


def _hierarchy(X: np.ndarray, threshold: float, how: str) -> np.ndarray:
    """Labels of ``how`` (ward | average) linkage cut at ``threshold``: SciPy on every pair, or
    above :data:`GRAPH_ABOVE` faces scikit-learn on the nearest-neighbour graph."""
    if len(X) <= GRAPH_ABOVE:
        from scipy.cluster.hierarchy import fcluster, linkage

        return fcluster(linkage(X.astype(np.float64), method=how, metric="euclidean"), t=threshold,
                        criterion="distance").astype(np.int64)
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.neighbors import kneighbors_graph

    graph = kneighbors_graph(X, min(NEIGHBOURS, len(X) - 1), include_self=False)
    model = AgglomerativeClustering(n_clusters=None, distance_threshold=threshold, linkage=how, connectivity=graph)
    return model.fit(X.astype(np.float64)).labels_.astype(np.int64)


def cluster_vectors(X: np.ndarray, threshold: float, method: str = "ward", join: float | None = None,
                    near: float | None = None) -> np.ndarray:
    """Cluster labels 0..k-1 of unit descriptors, numbered by cluster size (largest first).

    ``threshold``: Ward's cut for ``ward``, else a pair distance. ``ward`` only: ``join``, groups
    on average closer than this are joined; ``near``, a face with no face of its group closer than
    this is left alone (None: no such step).
    """
    X = np.asarray(X, np.float32)
    if method not in METHODS:
        raise ConfigError(f"unknown grouping method {method!r}", fix=f"use one of: {', '.join(METHODS)}")
    if len(X) <= 1:
        return np.zeros(len(X), np.int64)
    if method == "chinese-whispers":
        import dlib

        lab = np.asarray(dlib.chinese_whispers_clustering([dlib.vector(v.astype(float).tolist()) for v in X],
                                                          float(threshold)), np.int64)
    else:
        lab = _hierarchy(X, float(threshold), "ward" if method == "ward" else "average")
        if method == "ward" and join is not None:
            lab = join_groups(X, _renumber(lab), float(join))
        if method == "ward" and near is not None:
            lab = leave_alone(X, _renumber(lab), float(near))
    return _renumber(lab)


def _pairs(codes: np.ndarray) -> int:
    """Pairs of items sharing a code."""
    _, c = np.unique(codes, return_counts=True)
    return int((c.astype(np.int64) * (c - 1) // 2).sum())


def pairwise_precision_recall(truth: Sequence, pred: Sequence) -> tuple[float, float]:
    """Pairwise precision (pairs put together that belong together) and recall (pairs that belong
    together that were put together)."""
    t = np.unique(np.asarray([str(v) for v in truth]), return_inverse=True)[1].astype(np.int64)
    p = np.unique(np.asarray([str(v) for v in pred]), return_inverse=True)[1].astype(np.int64)
    if not len(t):
        return 1.0, 1.0
    both, together, same = _pairs(t * (p.max() + 1) + p), _pairs(p), _pairs(t)
    return (both / together if together else 1.0), (both / same if same else 1.0)


def best_cut(X: np.ndarray, labels: Sequence[str], join: float | None, near: float | None = None,
             cuts: Sequence[float] | None = None, max_photos: int = 4000, seed: int = 0) -> dict:
    """Ward's cut (followed by the join step at ``join`` and the faces farther than ``near`` from
    the rest of their group left alone) that groups photos of known people best:
    the middle of the cuts with the highest pairwise F1 against their labels (within
    :data:`PLATEAU`; ``cut`` None with fewer than 10 people of two or more photos, too few to
    choose on).

    Rows of ``X`` that are NaN (no face) are left out; above ``max_photos`` a seeded sample of whole
    people is used (the linkage holds every pair).
    """
    from scipy.cluster.hierarchy import fcluster, linkage

    X = np.asarray(X, np.float32)
    lab = np.asarray([str(v) for v in labels])
    ok = np.isfinite(X).all(1)
    X, lab = X[ok], lab[ok]
    people, counts = np.unique(lab, return_counts=True)
    if (counts >= 2).sum() < 10:
        return {"cut": None, "join": join, "near": near, "people": int(len(people)), "photos": int(len(lab))}
    if len(lab) > max_photos:
        keep, n = [], 0
        for p in np.random.default_rng(seed).permutation(people):
            n += int(counts[people == p][0])
            if n > max_photos:
                break
            keep.append(p)
        m = np.isin(lab, keep)
        X, lab = X[m], lab[m]
    from scipy.spatial.distance import pdist, squareform

    d = pdist(X.astype(np.float64))
    L = linkage(d, method="ward")
    D = squareform(d).astype(np.float32) if join is not None else None
    scores: dict[float, tuple[float, float]] = {}

    def score(t: float) -> float:
        if t not in scores:
            pred = fcluster(L, t, criterion="distance")
            grouped = join_groups(X, _renumber(pred), join, D) if join is not None else pred
            if near is not None:
                grouped = leave_alone(X, _renumber(grouped), near)
            scores[t] = pairwise_precision_recall(lab, grouped)
        p, r = scores[t]
        return 2 * p * r / (p + r) if p + r else 0.0

    if cuts is None:  # every 0.05 from 0.05 to 1.95, then every 0.01 around the best
        coarse = max(np.round(np.arange(0.05, 1.96, 0.05), 2), key=lambda t: (score(float(t)), -t))
        cuts = np.round(np.arange(max(0.01, coarse - 0.05), min(1.99, coarse + 0.05) + 1e-9, 0.01), 2)
    # the middle of the cuts within PLATEAU of the best F1: the curve is flat near its top, and
    # its middle moves least from one set of people to another
    top = max(score(float(t)) for t in cuts)
    flat = [float(t) for t in cuts if score(float(t)) >= top - PLATEAU]
    t = flat[len(flat) // 2]
    p, r = scores[t]
    return {"cut": t, "f1": round(score(t), 5), "precision": round(p, 5), "recall": round(r, 5), "join": join,
            "near": near, "people": int(len(set(lab))), "photos": int(len(lab))}
