"""Choosing the threshold on your own people: LFW-style 10-fold verification, ROC/DET, EER, TAR@FAR.

Pairs (:func:`make_pairs`): the people are split into ``folds`` people-disjoint folds (seeded); in
each fold, up to ``pairs_per_fold / 2`` genuine pairs (two photos of one person) and as many
impostor pairs (two people) are drawn. The accuracy of fold *i* is measured at the threshold that
is best on the other folds, as in LFW's protocol; the threshold to keep is the best on all pairs.

The curves (ROC, DET, EER, TAR at FAR 1e-2 and 1e-3, histograms) use EVERY genuine pair and every
impostor pair (up to :data:`MAX_IMPOSTORS`, seeded), so that a FAR of 1e-3 rests on thousands of
pairs rather than three. A photo without a face keeps its pairs: they are decided "different
people" (an error for a genuine pair), as a verification system that cannot see the face must.

Example:
    >>> X = np.repeat(np.eye(4, 128, dtype=np.float32), 3, axis=0)
    >>> res = calibrate(X, [str(i // 3) for i in range(12)], folds=2, seed=0)
    >>> res.accuracy, res.eer
    (1.0, 0.0)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ..errors import ConfigError, DataError

FARS = (1e-2, 1e-3)
#: Share of unknown faces the identification threshold rejects (a margin above the 95% asked of it).
OPEN_SET_REJECT = 0.97
#: Grouping a library by pair distance (``--method agglomerative`` or ``chinese-whispers``) cuts at
#: the distance with this false-accept rate, and Ward's grouping leaves a face alone beyond it (its
#: cut: :func:`.linkage.best_cut`): one wrong link merges two people, so grouping asks for fewer
#: false accepts than verifying a pair. Chosen on lfw_more's validation people (the best of
#: precision and recall together among FARs 2e-4 to 2e-3 and average, complete, weighted linkage
#: and Chinese whispers: bench/identity_chips.py group).
GROUP_FAR = 7e-4
#: Ward's groups are joined below the mean distance with this false-accept rate
#: (:data:`~.threshold.DEFAULT_GROUP_JOIN`).
GROUP_JOIN_FAR = 1e-4
MAX_IMPOSTORS = 2_000_000
MISSING = 9.0  # the distance of a pair with a photo without a face: beyond any threshold


@dataclass
class Pairs:
    """Index pairs into the photos, whether each is genuine, and its fold."""

    a: np.ndarray
    b: np.ndarray
    same: np.ndarray
    fold: np.ndarray

    def __len__(self) -> int:
        return len(self.a)


def make_pairs(labels: Sequence[str], *, folds: int = 10, pairs_per_fold: int = 600, seed: int = 0) -> Pairs:
    """People-disjoint folds of genuine and impostor pairs (seeded).

    Raises:
        ConfigError: fewer people than folds, or fewer than 2 folds.
        DataError: no person has two photos (no genuine pair).
    """
    labels = np.asarray([str(v) for v in labels])
    people = np.unique(labels)
    if folds < 2:
        raise ConfigError(f"folds must be at least 2 (got {folds})", fix="use --folds 10 (LFW's protocol)")
    if len(people) < folds:
        raise ConfigError(f"{len(people)} people cannot be split into {folds} people-disjoint folds",
                          fix=f"give at least {folds} people, or fewer --folds")
    rng = np.random.default_rng(seed)
    order = rng.permutation(people)
    A, B, S, F = [], [], [], []
    half = max(1, pairs_per_fold // 2)
    for k, group in enumerate(np.array_split(order, folds)):
        idx = np.flatnonzero(np.isin(labels, group))
        gen = [(i, j) for p in group for ids in [np.flatnonzero(labels == p)]
               for x, i in enumerate(ids) for j in ids[x + 1:]]
        if len(gen) > half:
            gen = [gen[t] for t in rng.choice(len(gen), half, replace=False)]
        imp: set[tuple[int, int]] = set()
        tries = 0
        while len(imp) < min(half, len(gen) or half) and tries < 50 * half and len(group) > 1:
            i, j = rng.choice(idx, 2, replace=False)
            tries += 1
            if labels[i] != labels[j]:
                imp.add((min(i, j), max(i, j)))
        for (i, j), s in [(g, True) for g in gen] + [(g, False) for g in sorted(imp)]:
            A.append(i), B.append(j), S.append(s), F.append(k)
    if not any(S):
        raise DataError("no person has two photos with a face: there is no genuine pair to calibrate on",
                        fix="give at least two photos of several people (one folder each)")
    return Pairs(np.array(A), np.array(B), np.array(S, bool), np.array(F))


def pair_distances(X: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distances of index pairs; a pair with a missing descriptor (NaN row) gets :data:`MISSING`."""
    d = np.empty(len(a), np.float32)
    for s in range(0, len(a), 200_000):  # chunks: 2M pairs at once would be a 1 GB difference array
        d[s:s + 200_000] = np.linalg.norm(X[a[s:s + 200_000]] - X[b[s:s + 200_000]], axis=1)
    return np.where(np.isfinite(d), d, MISSING)


def best_threshold(d: np.ndarray, same: np.ndarray) -> tuple[float, float]:
    """The threshold (a midpoint between distances) with the best accuracy, and that accuracy.

    Example:
        >>> best_threshold(np.array([0.1, 0.2, 0.8, 0.9]), np.array([True, True, False, False]))
        (0.5, 1.0)
    """
    if not len(d):
        raise DataError("no pairs to choose a threshold on",
                        fix="give more people (one folder each, two or more photos), or fewer folds")
    order = np.argsort(d, kind="stable")
    ds, ss = d[order], same[order]
    # accuracy when the first i pairs (sorted) are called "same": genuine among them + impostors after
    gen = np.concatenate([[0], np.cumsum(ss)])
    imp_after = (~ss).sum() - np.concatenate([[0], np.cumsum(~ss)])
    acc = (gen + imp_after) / len(d)
    ok = np.concatenate([[True], ds[1:] > ds[:-1], [True]])  # cut only between distinct distances
    acc = np.where(ok, acc, -1)
    i = int(np.argmax(acc))
    lo = min(ds[i - 1], 1.98) if i > 0 else 0.0
    hi = min(ds[i] if i < len(ds) else ds[-1] + 0.1, 2.0)  # distances lie in [0, 2] (MISSING is beyond)
    return float(max((lo + hi) / 2, 1e-3)), float(acc[i])


@dataclass
class CalibrationResult:
    """Verification figures of a set of photos of known people."""

    accuracy: float
    accuracy_std: float
    fold_accuracy: list[float]
    fold_threshold: list[float]
    threshold: float
    eer: float
    eer_threshold: float
    tar_at_far: dict[str, dict]
    pairs: dict[str, int]
    roc: dict[str, list[float]] = field(repr=False, default_factory=dict)
    hist: dict[str, list[float]] = field(repr=False, default_factory=dict)
    groups: dict[str, dict] = field(default_factory=dict)
    worst: list[dict] = field(default_factory=list, repr=False)
    photos: int = 0
    people: int = 0
    no_face: list[str] = field(default_factory=list)
    framing: dict = field(default_factory=dict)
    open_set: dict = field(default_factory=dict)
    #: the distance at :data:`GROUP_FAR` over every impostor pair (grouping a library cuts there)
    group_threshold: float = float("nan")
    #: Ward's cut that grouped these photos best, with its join and near distances
    #: (:func:`.linkage.best_cut`; ``cut`` None with fewer than 10 people)
    group_cut: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        r = lambda v: round(float(v), 5)  # noqa: E731
        return {"accuracy": r(self.accuracy), "accuracy_std": r(self.accuracy_std),
                "fold_accuracy": [r(v) for v in self.fold_accuracy],
                "fold_threshold": [r(v) for v in self.fold_threshold], "threshold": r(self.threshold),
                "eer": r(self.eer), "eer_threshold": r(self.eer_threshold), "tar_at_far": self.tar_at_far,
                "pairs": self.pairs, "groups": self.groups, "worst": self.worst, "photos": self.photos,
                "people": self.people, "no_face": self.no_face, "framing": self.framing, "open_set": self.open_set,
                "group_threshold": r(self.group_threshold), "group_far": GROUP_FAR, "group_cut": self.group_cut,
                "roc": self.roc, "hist": self.hist}


def curve_figures(d: np.ndarray, same: np.ndarray) -> dict:
    """EER (and its threshold), TAR at each FAR of :data:`FARS`, and a thinned ROC."""
    from sklearn.metrics import roc_curve

    if same.all() or not same.any():
        return {"eer": float("nan"), "eer_threshold": float("nan"), "tar_at_far": {}, "roc": {}}
    fpr, tpr, thr = roc_curve(same.astype(int), -d, drop_intermediate=True)
    thr = np.clip(-thr, 0.0, MISSING)  # sklearn's first threshold is infinite: nothing accepted below 0
    i = int(np.argmin(np.abs(fpr - (1 - tpr))))
    eer = float((fpr[i] + 1 - tpr[i]) / 2)
    tar = {}
    for far in FARS:
        ok = np.flatnonzero(fpr <= far)
        j = ok[-1] if len(ok) else 0
        tar[f"{far:g}"] = {"tar": round(float(tpr[j]), 5), "threshold": round(float(min(thr[j], MISSING)), 5),
                           "impostor_pairs": int((~same).sum())}
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(len(fpr), 400)).astype(int))
    roc = {"far": fpr[keep].tolist(), "tar": tpr[keep].tolist(),
           "threshold": np.minimum(thr[keep], MISSING).tolist()}
    return {"eer": eer, "eer_threshold": float(min(thr[i], MISSING)), "tar_at_far": tar, "roc": roc}


def all_pairs(labels: np.ndarray, seed: int = 0, max_impostors: int = MAX_IMPOSTORS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every genuine pair and every impostor pair (a seeded sample above ``max_impostors``)."""
    n = len(labels)
    i, j = np.triu_indices(n, 1)
    same = labels[i] == labels[j]
    imp = np.flatnonzero(~same)
    if len(imp) > max_impostors:
        imp = np.sort(np.random.default_rng(seed).choice(imp, max_impostors, replace=False))
    keep = np.concatenate([np.flatnonzero(same), imp])
    return i[keep], j[keep], same[keep]


def calibrate(X: np.ndarray, labels: Sequence[str], *, groups: dict[str, str] | None = None, folds: int = 10,
              pairs_per_fold: int = 600, seed: int = 0, paths: Sequence[str] | None = None,
              worst: int = 8) -> CalibrationResult:
    """10-fold verification accuracy and the curves of descriptors ``X`` (NaN rows: no face) of ``labels``.

    Args:
        groups: person → group, for per-group figures (e.g. from ``--groups people.csv``).
        paths: the photos, named in the worst pairs.
        worst: how many worst genuine and impostor pairs to keep.
    """
    from .linkage import best_cut

    labels = np.asarray([str(v) for v in labels])
    X = np.asarray(X, np.float32)
    P = make_pairs(labels, folds=folds, pairs_per_fold=pairs_per_fold, seed=seed)
    d = pair_distances(X, P.a, P.b)
    accs, thrs = [], []
    for k in range(folds):
        test = P.fold == k
        if not test.any() or test.all():
            continue
        t, _ = best_threshold(d[~test], P.same[~test])
        accs.append(float(((d[test] <= t) == P.same[test]).mean()))
        thrs.append(t)
    if not accs:
        raise DataError(f"{len(set(labels))} people give no fold with pairs on both sides",
                        fix="give more people (two or more photos each), or fewer folds")
    threshold, _ = best_threshold(d, P.same)
    ai, bi, same = all_pairs(labels, seed)
    dall = pair_distances(X, ai, bi)
    cf = curve_figures(dall, same)
    bins = np.linspace(0, 1.6, 65)
    fin = dall < MISSING
    hist = {"bins": bins.tolist(), "genuine": np.histogram(dall[same & fin], bins)[0].tolist(),
            "impostor": np.histogram(dall[~same & fin], bins)[0].tolist()}
    names = list(paths) if paths is not None else [str(i) for i in range(len(labels))]
    impostor = dall[~same]
    link = threshold_at_far(impostor, GROUP_FAR)  # grouping links faces below it
    return CalibrationResult(
        accuracy=float(np.mean(accs)), accuracy_std=float(np.std(accs)), fold_accuracy=accs, fold_threshold=thrs,
        threshold=threshold, eer=cf["eer"], eer_threshold=cf["eer_threshold"], tar_at_far=cf["tar_at_far"],
        pairs={"fold_pairs": len(P), "fold_genuine": int(P.same.sum()), "fold_impostor": int((~P.same).sum()),
               "curve_genuine": int(same.sum()), "curve_impostor": int((~same).sum())},
        roc=cf["roc"], hist=hist, groups=group_figures(dall, same, ai, bi, labels, groups, threshold) if groups else {},
        worst=worst_pairs(dall, same, ai, bi, names, worst), photos=len(labels), people=len(set(labels)),
        no_face=[names[i] for i in np.flatnonzero(~np.isfinite(X).all(1))], open_set=open_set(X, labels),
        group_threshold=link, group_cut=best_cut(X, labels, _usable(threshold_at_far(impostor, GROUP_JOIN_FAR)),
                                                 _usable(link), seed=seed))


def _usable(t: float) -> float | None:
    """A threshold in (0, 2), else None (no impostor pairs, or every pair missing a face)."""
    return t if 0 < t < 2 else None


def threshold_at_far(impostor: np.ndarray, far: float) -> float:
    """The distance at or below which a share ``far`` of the impostor pairs lie (NaN without pairs).

    Example:
        >>> threshold_at_far(np.linspace(0, 1, 1001), 0.01)
        0.01
    """
    if not len(impostor):
        return float("nan")
    return round(float(min(np.quantile(impostor, far), MISSING)), 5)


def open_set(X: np.ndarray, labels: Sequence[str], *, per_person: int = 3, reject: float = OPEN_SET_REJECT) -> dict:
    """The threshold for identification against a gallery of these people (open set), by leaving
    each person out in turn.

    Each person's first ``per_person`` photos with a face form the gallery; their other photos are
    probes. A probe's distance to its own person's faces is what a KNOWN face gets; its distance to
    the nearest OTHER person is what it would get if its person were not enrolled — an unknown face
    against a gallery of the others. The threshold rejects ``reject`` of those unknowns.

    Returns:
        ``{}`` when fewer than 3 people have a probe; else threshold, unknown_rejected, rank1
        (nearest person right), known_identified (right and within the threshold), sizes.
    """
    from .verify import distance_matrix

    lab = np.asarray([str(v) for v in labels])
    ok = np.isfinite(np.asarray(X, np.float32)).all(1)
    g_rows, p_rows = [], []
    for p in np.unique(lab):
        rows = [i for i in np.flatnonzero(lab == p) if ok[i]]
        g_rows += rows[:per_person]
        p_rows += rows[per_person:]
    if len({lab[i] for i in p_rows}) < 3:
        return {}
    D = distance_matrix(X[p_rows], X[g_rows])
    mine = lab[p_rows][:, None] == lab[g_rows][None]
    own = np.where(mine, D, np.inf).min(1)
    other = np.where(mine, np.inf, D).min(1)
    t = float(np.quantile(other, 1 - reject))
    return {"threshold": round(t, 5), "reject_target": reject, "unknown_rejected": round(float((other > t).mean()), 5),
            "rank1": round(float((own < other).mean()), 5),
            "known_identified": round(float(((own < other) & (own <= t)).mean()), 5),
            "gallery_per_person": per_person, "gallery_people": len(np.unique(lab[g_rows])), "probes": len(p_rows)}


def group_figures(d: np.ndarray, same: np.ndarray, a: np.ndarray, b: np.ndarray, labels: np.ndarray,
                  groups: dict[str, str], threshold: float) -> dict[str, dict]:
    """Per group: genuine pairs of its people and impostor pairs of two of its people — EER, TAR@FAR,
    and the error rates at ``threshold`` (FRR: genuine pairs refused; FAR: impostor pairs accepted)."""
    g = np.array([groups.get(p, "") for p in labels])
    out = {}
    for name in sorted(set(g.tolist()) - {""}):
        sel = (g[a] == name) & (same | (g[b] == name))
        cf = curve_figures(d[sel], same[sel])
        gs, im = d[sel & same], d[sel & ~same]
        out[name] = {"people": int(len(set(labels[g == name]))), "genuine_pairs": int(len(gs)),
                     "impostor_pairs": int(len(im)), "eer": round(cf["eer"], 5), "tar_at_far": cf["tar_at_far"],
                     "frr_at_threshold": round(float((gs > threshold).mean()) if len(gs) else float("nan"), 5),
                     "far_at_threshold": round(float((im <= threshold).mean()) if len(im) else float("nan"), 5)}
    return out


def worst_pairs(d: np.ndarray, same: np.ndarray, a: np.ndarray, b: np.ndarray, names: list[str],
                n: int) -> list[dict]:
    """The genuine pairs farthest apart and the impostor pairs closest together."""
    out = []
    for kind, sel, order in (("genuine", same, -1), ("impostor", ~same, 1)):
        idx = np.flatnonzero(sel)
        idx = idx[np.argsort(order * d[idx], kind="stable")][:n]
        out += [{"kind": kind, "a": names[a[i]], "b": names[b[i]], "distance": round(float(d[i]), 4)} for i in idx]
    return out


def read_groups(path) -> dict[str, str]:
    """``person → group`` from a CSV with columns ``person,group`` (or its first two columns).

    Raises:
        DataError: the file cannot be read or has fewer than two columns.
    """
    import pandas as pd

    try:
        t = pd.read_csv(path, dtype=str)
    except (OSError, ValueError) as e:
        raise DataError(f"cannot read the groups file {path} ({e})", path=path,
                        fix="a CSV with a header: person,group") from None
    if t.shape[1] < 2:
        raise DataError(f"the groups file {path} needs two columns (person, group)", path=path,
                        fix="a CSV with a header: person,group")
    cols = ["person", "group"] if {"person", "group"} <= set(t.columns) else list(t.columns[:2])
    return {str(p): str(g) for p, g in zip(t[cols[0]], t[cols[1]]) if isinstance(p, str)}
