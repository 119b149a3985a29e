"""Identity benchmarks on lfw_more/: verification, open-set identification, grouping, search, build.

Parts (``--parts``, comma-separated):

* ``verify`` — LFW-style 10-fold accuracy (6,000 seeded pairs, people-disjoint folds, threshold
  chosen on the other 9 folds), EER and TAR@FAR=1e-3 over every pair, for each way of making the
  descriptor on the SAME pairs: ``plain`` (dlib's HOG detector, one raw descriptor of dlib's chip,
  as face_recognition does), and facelab's (another detector's box → dlib's 5 points → the chip and
  its mirror, averaged, unit length). A photo where the detector finds no face keeps its pairs,
  decided "different" (an error for a genuine pair).
* ``identify`` — a gallery (SQLite, :mod:`facelab.identity.gallery`) of half the people (seeded),
  3 photos each; probes: their other photos (rank-1) and every photo of the other half, never
  enrolled (share answered ``unknown``), at the open-set threshold calibrated on the enrolled
  people's photos alone (:func:`facelab.identity.calibrate.open_set`: each enrolled person left out
  in turn), as a user would calibrate on their own.
* ``group`` — every photo mixed together, grouped by Ward's linkage and the join step at the cut
  and join distance calibrated on the enrolled people (:func:`facelab.identity.linkage.best_cut`)
  and at the defaults, and by average linkage and Chinese whispers at the pair distance of FAR
  :data:`~facelab.identity.calibrate.GROUP_FAR` on the enrolled people: pairwise precision and
  recall against the folders; then Ward's cut swept on each half of the people (validation: the
  first half of the sorted names, where the default cut was chosen); and the defaults on
  ``people/`` (8 people with 64-530 photos each) when its descriptors are cached
  (``bench/identity_embed.py --data $FACELAB_DATA/people --detectors mtcnn``).
* ``search`` (timing: run alone) — 1,000,000 stored 128-D descriptors: exact search time, HNSW
  build time, query time and recall@10 against exact search, on face-like vectors (a two-level
  Gaussian fitted to the cached descriptors: :func:`face_like`; half the queries are new photos of
  stored people, half photos of people not stored) and on uniform random unit vectors (the worst
  case: no neighbourhood structure).
* ``build`` (timing: run alone) — building a gallery from photos with the default framing:
  faces per second with ``--workers`` processes.

The descriptors of ``verify``/``identify``/``group`` come from ``bench/identity_embed.py`` (cached
under bench/results/; run it first — it takes a while). Figures go to bench/results/identity.json.

Usage:
    nice -n 10 python bench/identity_embed.py
    python bench/identity.py --parts verify,identify,group
    python bench/identity.py --parts search,build          # alone on the machine
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from identity_embed import RESULTS, cache_file, load_parts, photos

from facelab.identity.calibrate import GROUP_FAR, calibrate
from facelab.identity.embed import unit
from facelab.identity.linkage import cluster_vectors, pairwise_precision_recall


def load_cache(root: Path, limit: int | None) -> dict:
    """The cached descriptors; from a partial cache, the photos of the people finished so far."""
    f = cache_file(root, limit)
    if f.is_file():
        z = dict(np.load(f, allow_pickle=False))
        z["paths"], z["labels"] = list(z["paths"]), list(z["labels"])
        return z
    parts = f.with_suffix(".parts")
    if not parts.is_dir():
        raise SystemExit(f"no descriptors cached: run `nice -n 10 python bench/identity_embed.py` first ({f})")
    paths, labels = photos(root, limit)
    z = load_parts(parts, len(paths))
    lab = np.array(labels)
    whole = {p for p in set(labels) if z["done"][lab == p].all()}
    keep = np.array([lab[i] in whole for i in range(len(paths))])
    print(f"partial cache: {keep.sum()} photos of {len(whole)} people finished (of {len(paths)})")
    out = {k: v[keep] for k, v in z.items() if k != "done"}
    out["paths"] = [p for p, k in zip(paths, keep) if k]
    out["labels"] = [p for p, k in zip(labels, keep) if k]
    out["partial"] = True
    return out


def variants(z: dict) -> dict[str, np.ndarray]:
    """Descriptor sets to compare (NaN rows: no face found by that detector)."""
    out = {"plain (HOG, raw)": z["dlib_raw"]} if "dlib_raw" in z else {}
    for d in ("dlib", "haar", "mtcnn"):
        if f"{d}_raw" in z and f"{d}_mirror" in z and np.isfinite(z[f"{d}_mirror"][:, 0]).any():
            if d != "dlib":
                out[f"{d}"] = unit(z[f"{d}_raw"])
            out[f"{d} + mirror"] = unit(unit(z[f"{d}_raw"]) + unit(z[f"{d}_mirror"]))
        if f"{d}_lm_raw" in z:  # the chip placed by the detector's own landmarks, and both chips
            out[f"{d} landmark chip + mirror"] = unit(unit(z[f"{d}_lm_raw"]) + unit(z[f"{d}_lm_mirror"]))
            out[f"{d} both chips"] = unit(unit(z[f"{d}_raw"]) + unit(z[f"{d}_lm_raw"]))
            out[f"{d} both chips + mirror"] = unit(sum(unit(z[f"{d}_{k}"]) for k in ("raw", "mirror", "lm_raw", "lm_mirror")))
    if "haar + mirror" in out:
        best = out["haar + mirror"].copy()
        miss = ~np.isfinite(best[:, 0])
        best[miss] = out.get("dlib + mirror", unit(z["dlib_raw"]))[miss]
        out["haar + mirror, else HOG"] = best
    return out


def part_verify(z: dict, folds: int = 10) -> dict:
    res = {}
    for name, X in variants(z).items():
        r = calibrate(X, z["labels"], folds=folds, pairs_per_fold=600, seed=0, paths=z["paths"])
        res[name] = {"accuracy": round(r.accuracy, 5), "accuracy_std": round(r.accuracy_std, 5),
                     "eer": round(r.eer, 5), "tar_at_far_1e-3": r.tar_at_far.get("0.001", {}).get("tar"),
                     "tar_at_far_1e-2": r.tar_at_far.get("0.01", {}).get("tar"), "threshold": round(r.threshold, 4),
                     "no_face": len(r.no_face), "pairs": r.pairs}
        print(f"  {name:28s} accuracy {r.accuracy:.2%} ± {r.accuracy_std:.2%}  EER {r.eer:.2%}  "
              f"TAR@1e-3 {res[name]['tar_at_far_1e-3']}  no face {len(r.no_face)}")
    return res


def _split(labels: list[str], seed: int = 0) -> tuple[set, set]:
    people = sorted(set(labels))
    perm = np.random.default_rng(seed).permutation(people)
    return set(perm[: len(people) // 2]), set(perm[len(people) // 2:])


def part_identify(z: dict, variant: str, folds: int = 10) -> dict:
    from facelab.identity.embed import Framing
    from facelab.identity.gallery import Gallery

    X = variants(z)[variant]
    lab = np.array(z["labels"])
    ok = np.isfinite(X[:, 0])
    enrolled, never = _split(z["labels"])
    gal_rows, probe_rows = [], []
    for p in sorted(enrolled):
        rows = [i for i in np.flatnonzero(lab == p) if ok[i]]
        gal_rows += rows[:3]
        probe_rows += rows[3:]
    # the threshold: calibrated on the enrolled people's photos (the user's own people)
    ens = np.isin(lab, sorted(enrolled))
    cal = calibrate(X[ens], lab[ens], folds=folds, seed=0)
    t = cal.open_set["threshold"]  # open set: rejects 95% of unknowns (each enrolled person left out in turn)
    with tempfile.TemporaryDirectory() as tmp:
        g = Gallery.create(Path(tmp) / "bench.sqlite", Framing("bench"))
        for p in sorted(enrolled):
            rows = [i for i in gal_rows if lab[i] == p]
            if rows:
                g.add_vectors(p, X[rows], photos=[z["paths"][i] for i in rows])
        idx = g.index()
        known = idx.search(X[probe_rows], k=1)
        rank1 = np.mean([m[0].person == lab[i] for m, i in zip(known, probe_rows)])
        known_accepted = np.mean([m[0].person == lab[i] and m[0].distance <= t for m, i in zip(known, probe_rows)])
        other = [i for i in np.flatnonzero(np.isin(lab, sorted(never))) if ok[i]]
        unk = idx.search(X[other], k=1)
        unknown_rate = np.mean([m[0].distance > t for m in unk])
        unknown_at_verify = np.mean([m[0].distance > cal.threshold for m in unk])
        g.close()
    out = {"variant": variant, "enrolled_people": len(enrolled), "gallery_faces": len(gal_rows),
           "threshold": round(t, 4), "known_probes": len(probe_rows), "rank1": round(float(rank1), 5),
           "known_identified_at_threshold": round(float(known_accepted), 5), "unknown_probes": len(other),
           "unknown_rate": round(float(unknown_rate), 5), "no_face": int((~ok).sum()),
           "calibration_open_set": cal.open_set, "verify_threshold": round(cal.threshold, 4),
           "unknown_rate_at_verify_threshold": round(float(unknown_at_verify), 5),
           "group_threshold": cal.group_threshold, "group_far": GROUP_FAR, "group_cut": cal.group_cut.get("cut"),
           "group_join": cal.group_cut.get("join"), "group_cut_calibration": cal.group_cut}
    print(f"  gallery {len(enrolled)} people x 3: rank-1 {rank1:.2%} ({len(probe_rows)} probes; "
          f"{known_accepted:.2%} named at the threshold {t:.3f}); never enrolled answered unknown "
          f"{unknown_rate:.2%} ({len(other)} probes; {unknown_at_verify:.2%} at the verification threshold "
          f"{cal.threshold:.3f})")
    return out


def part_group(z: dict, variant: str, link_threshold: float, cut: float | None, join: float | None,
               extra: dict | None = None) -> dict:
    """Group every photo: Ward's linkage at the cut and join distance calibrated on the enrolled
    people (and at the defaults), average linkage and Chinese whispers at the pair distance of FAR
    GROUP_FAR; Ward's cut swept on each half of the people (validation: first half of the sorted
    names); and, on ``extra`` descriptors (``people/``: many photos per person), the defaults."""
    from facelab.identity.threshold import DEFAULT_GROUP_CUT, DEFAULT_GROUP_JOIN, DEFAULT_GROUP_THRESHOLD

    def run(X, lab, method, t, j=None, near=None):
        pred = cluster_vectors(X, t, method, join=j, near=near)
        p, r = pairwise_precision_recall(lab, pred)
        return {"threshold": round(float(t), 4), "join": j, "near": near, "precision": round(p, 5),
                "recall": round(r, 5), "clusters": int(pred.max() + 1), "alone": int((np.bincount(pred) == 1).sum())}

    X = variants(z)[variant]
    ok = np.isfinite(X[:, 0])
    lab = np.array(z["labels"])[ok]
    X = X[ok]
    out = {"variant": variant, "photos": int(ok.sum()), "people": len(set(lab))}
    runs = [("ward", cut, join, link_threshold, "calibrated"),
            ("ward", DEFAULT_GROUP_CUT, DEFAULT_GROUP_JOIN, DEFAULT_GROUP_THRESHOLD, "default"),
            ("ward", DEFAULT_GROUP_CUT, None, None, "default, no join or near"),
            ("agglomerative", link_threshold, None, None, "calibrated"),
            ("chinese-whispers", link_threshold, None, None, "calibrated")]
    for method, t, j, k, source in runs:
        if t is None:
            continue
        r = out[f"{method} ({source})"] = run(X, lab, method, t, j, k)
        print(f"  {method} at {t:.3f}{f', join {j:.3f}, near {k:.3f}' if j else ''} ({source}): pairwise precision "
              f"{r['precision']:.4f}, recall {r['recall']:.4f} ({r['clusters']} groups, {r['alone']} alone, "
              f"{len(set(lab))} people)")
    people = sorted(set(lab))
    out["ward_sweep"] = {}
    for half, names in (("val", people[: len(people) // 2]), ("test", people[len(people) // 2:])):
        m = np.isin(lab, names)
        rows = []
        for t in np.round(np.arange(0.50, 0.701, 0.025), 3):
            r = run(X[m], lab[m], "ward", float(t), DEFAULT_GROUP_JOIN, DEFAULT_GROUP_THRESHOLD)
            rows.append({"cut": float(t), "precision": r["precision"], "recall": r["recall"],
                         "f1": round(2 * r["precision"] * r["recall"] / (r["precision"] + r["recall"]), 4)})
        out["ward_sweep"][half] = rows
        print(f"  ward + join {DEFAULT_GROUP_JOIN} + near {DEFAULT_GROUP_THRESHOLD}, {half} half: "
              + "  ".join(f"{row['cut']:.3f}: {row['precision']:.3f}/{row['recall']:.3f}" for row in rows))
        if half == "val":  # how the defaults were chosen: the join at FAR 1e-4, then best_cut
            from scipy.spatial.distance import pdist

            from facelab.identity.calibrate import GROUP_FAR, GROUP_JOIN_FAR, threshold_at_far
            from facelab.identity.linkage import best_cut

            i, j = np.triu_indices(int(m.sum()), 1)
            imp = pdist(X[m].astype(np.float64))[lab[m][i] != lab[m][j]]
            chosen = out["defaults_from_val"] = best_cut(X[m], lab[m], threshold_at_far(imp, GROUP_JOIN_FAR),
                                                         threshold_at_far(imp, GROUP_FAR))
            print(f"  validation half: join {chosen['join']:.3f} (FAR {GROUP_JOIN_FAR:g}), near {chosen['near']:.3f} "
                  f"(FAR {GROUP_FAR:g}), cut {chosen['cut']:.3f} (F1 {chosen['f1']:.4f}) -> defaults "
                  f"{DEFAULT_GROUP_CUT}, {DEFAULT_GROUP_JOIN}, {DEFAULT_GROUP_THRESHOLD}")
    if extra is not None:
        Xe = variants(extra)[variant]
        oke = np.isfinite(Xe[:, 0])
        le, Xe = np.array(extra["labels"])[oke], Xe[oke]
        res = out["people_folder"] = {"photos": int(oke.sum()), "people": len(set(le))}
        for method, t, j, k, source in (
                ("ward", DEFAULT_GROUP_CUT, DEFAULT_GROUP_JOIN, DEFAULT_GROUP_THRESHOLD, "default"),
                ("ward", DEFAULT_GROUP_CUT, None, None, "default, no join or near"),
                ("agglomerative", DEFAULT_GROUP_THRESHOLD, None, None, "default")):
            r = res[f"{method} ({source})"] = run(Xe, le, method, t, j, k)
            print(f"  people/ ({len(set(le))} people, {int(oke.sum())} photos), {method} ({source}): precision "
                  f"{r['precision']:.4f}, recall {r['recall']:.4f} ({r['clusters']} groups)")
    return out


def face_like(X: np.ndarray, labels: list[str], n: int, queries: int, per_person: int = 10,
              seed: int = 0) -> tuple[np.ndarray, np.ndarray, dict]:
    """``n`` stored and ``queries`` query vectors that look like face descriptors.

    A two-level Gaussian fitted to real descriptors ``X`` (unit rows, NaN rows skipped): people's
    centres drawn with the spread of the real people's mean descriptors (between-person covariance),
    faces = centre + the real within-person covariance, ``per_person`` faces each, scaled to unit
    length. Queries: half are new photos of stored people, half photos of people not stored.
    ``check`` compares the median genuine and impostor distances with the real ones.
    """
    ok = np.isfinite(X[:, 0])
    X, lab = X[ok].astype(np.float64), np.array(labels)[ok]
    people = [p for p in np.unique(lab) if (lab == p).sum() >= 2]
    means = np.stack([X[lab == p].mean(0) for p in people])
    within = np.concatenate([X[lab == p] - m for p, m in zip(people, means)])
    rng = np.random.default_rng(seed)
    mu, sb, sw = means.mean(0), np.cov(means.T), np.cov(within.T)
    lb, lw = np.linalg.cholesky(sb + 1e-9 * np.eye(128)), np.linalg.cholesky(sw + 1e-9 * np.eye(128))

    def faces(centres: np.ndarray) -> np.ndarray:
        return unit((centres + rng.normal(size=centres.shape) @ lw.T).astype(np.float32))

    k = -(-n // per_person)
    centres = mu + rng.normal(size=(k, 128)) @ lb.T
    stored = faces(np.repeat(centres, per_person, axis=0)[:n])
    new_people = mu + rng.normal(size=(queries - queries // 2, 128)) @ lb.T
    Q = np.concatenate([faces(centres[rng.choice(k, queries // 2, replace=False)]), faces(new_people)])
    a, b = rng.integers(0, len(X), 4000), rng.integers(0, len(X), 4000)
    same = lab[a] == lab[b]
    ga = np.concatenate([np.flatnonzero(lab == p)[:2] for p in people]).reshape(-1, 2)
    synth_gen = np.linalg.norm(stored[0:per_person * 200:per_person] - stored[1:per_person * 200:per_person], axis=1)
    synth_imp = np.linalg.norm(stored[:2000:per_person] - stored[per_person:2000 + per_person:per_person], axis=1)
    check = {"real_genuine_median": round(float(np.median(np.linalg.norm(X[ga[:, 0]] - X[ga[:, 1]], axis=1))), 3),
             "real_impostor_median": round(float(np.median(np.linalg.norm(X[a[~same]] - X[b[~same]], axis=1))), 3),
             "synthetic_genuine_median": round(float(np.median(synth_gen)), 3),
             "synthetic_impostor_median": round(float(np.median(synth_imp)), 3)}
    return stored, Q, check


def random_unit(n: int, queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Uniform random unit vectors (no neighbourhood structure: the worst case for any index) and
    queries near stored ones."""
    rng = np.random.default_rng(seed)
    X = unit(rng.normal(size=(n, 128)).astype(np.float32))
    Q = unit(X[rng.choice(n, queries, replace=False)] + 0.3 / np.sqrt(128) * rng.normal(size=(queries, 128)))
    return X, Q


def search_figures(X: np.ndarray, Q: np.ndarray, ef_values=(128, 256, 512, 768, 1024)) -> dict:
    """Exact and HNSW (the library's settings) query times and recall@10 against exact search."""
    from facelab.identity.search import HNSW_EF_SEARCH, SearchIndex

    who = np.arange(len(X))
    exact = SearchIndex(X, who, [], exact=True)
    ex_ms, truth = [], []
    for q in Q:
        t0 = time.perf_counter()
        _, pos = exact.nearest_faces(q[None], 10)
        ex_ms.append(1000 * (time.perf_counter() - t0))
        truth.append(set(pos[0].tolist()))
    ann = SearchIndex(X, who, [], exact=False)
    t0 = time.perf_counter()
    ann.build()
    build_s = time.perf_counter() - t0
    sweep = {}
    for ef in sorted(set(ef_values) | {HNSW_EF_SEARCH}):
        ann.ef_search = ef
        ann_ms, hits = [], []
        for q, tr in zip(Q, truth):
            t0 = time.perf_counter()
            _, pos = ann.nearest_faces(q[None], 10)
            ann_ms.append(1000 * (time.perf_counter() - t0))
            hits.append(len(tr & set(pos[0].tolist())) / 10)
        sweep[ef] = {"ms_median": round(float(np.median(ann_ms)), 3), "recall_at_10": round(float(np.mean(hits)), 4)}
        print(f"    HNSW efSearch {ef}: {sweep[ef]['ms_median']} ms, recall@10 {sweep[ef]['recall_at_10']}")
    d = sweep[HNSW_EF_SEARCH]
    return {"faces": len(X), "queries": len(Q), "exact_ms_median": round(float(np.median(ex_ms)), 2),
            "hnsw_ms_median": d["ms_median"], "hnsw_recall_at_10": d["recall_at_10"],
            "hnsw_build_s": round(build_s, 1), "ef_search": HNSW_EF_SEARCH, "ef_sweep": sweep}


def part_search(z: dict | None, variant: str, n: int = 1_000_000, queries: int = 200, seed: int = 0) -> dict:
    """Search figures on face-like vectors (fitted to the cached descriptors, when there are) and on
    uniform random unit vectors."""
    sets = {}
    if z is not None:
        X, Q, check = face_like(variants(z)[variant], z["labels"], n, queries, seed=seed)
        sets["face_like"] = (X, Q, check)
    sets["random"] = (*random_unit(n, queries, seed), {})
    out = {}
    for name, (X, Q, check) in sets.items():
        print(f"  {name} vectors {check or ''}:")
        r = search_figures(X, Q)
        r["check"] = check
        out[name] = r
        print(f"  {name}: {n:,} faces: exact {r['exact_ms_median']} ms; HNSW {r['hnsw_ms_median']} ms at recall@10 "
              f"{r['hnsw_recall_at_10']} (efSearch {r['ef_search']}; build {r['hnsw_build_s']} s)")
        del X, Q
    return out


def part_build(root: Path, n_photos: int | None, workers: int, mirror: bool = True) -> dict:
    from facelab.identity.enroll import add_people
    from facelab.identity.photos import people_folders

    folders = people_folders(root)
    people, k = {}, 0
    for p, fs in folders.items():
        if n_photos and k >= n_photos:
            break
        people[p] = fs
        k += len(fs)
    with tempfile.TemporaryDirectory() as tmp:
        rep = add_people(Path(tmp) / "build.sqlite", people, workers=workers, mirror=mirror)
    out = {"photos": rep.photos, "faces": rep.change.added, "seconds": round(rep.seconds, 1),
           "faces_per_second": round(rep.change.added / rep.seconds, 2), "workers": workers, "mirror": mirror}
    print(f"  built a gallery of {rep.change.added} faces from {rep.photos} photos in {rep.seconds:.0f} s: "
          f"{out['faces_per_second']} faces/s with {workers} workers")
    return out


def main() -> None:
    from facelab.paths import shared_data

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--parts", default="verify,identify,group")
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--limit", type=int, default=None, help="first N people (the embed cache of the same --limit)")
    ap.add_argument("--variant", default="mtcnn both chips + mirror",
                    help="the descriptors for identify/group/search (default: the library's framing)")
    ap.add_argument("--search-n", type=int, default=1_000_000)
    ap.add_argument("--build-photos", type=int, default=None, help="photos for --parts build (default all)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-mirror", action="store_true", help="--parts build: one descriptor per face (half the work)")
    ap.add_argument("--folds", type=int, default=10, help="verification folds (LFW: 10)")
    a = ap.parse_args()
    root = a.data or ((shared_data() or Path("../shared/data")) / "lfw_more")
    parts = a.parts.split(",")
    res: dict = {"data": str(root), "loadavg_start": os.getloadavg(), "parts": parts}
    if {"verify", "identify", "group"} & set(parts):
        z = load_cache(root, a.limit)
        res["photos"], res["people"], res["partial"] = len(z["paths"]), len(set(z["labels"])), bool(z.get("partial"))
        if "verify" in parts:
            print("verification (10 folds, same seeded pairs for every variant):")
            res["verify"] = part_verify(z, a.folds)
        if "identify" in parts or "group" in parts:
            print("open-set identification:")
            res["identify"] = part_identify(z, a.variant, a.folds)
        if "group" in parts:
            print("grouping:")
            extra = root.parent / "people"
            res["group"] = part_group(z, a.variant, res["identify"]["group_threshold"], res["identify"]["group_cut"],
                                      res["identify"]["group_join"],
                                      load_cache(extra, None) if cache_file(extra, None).is_file() else None)
    if "search" in parts:
        print("search:")
        try:
            z = z if "z" in locals() else load_cache(root, a.limit)
        except SystemExit:
            z = None  # no descriptors cached: random vectors only
        res["search"] = part_search(z, a.variant, a.search_n)
    if "build" in parts:
        print("gallery build:")
        res["build"] = part_build(root, a.build_photos, a.workers, not a.no_mirror)
    res["loadavg_end"] = os.getloadavg()
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "identity" + (f"_{a.limit}" if a.limit else "") + ("_" + "_".join(parts) if set(parts) - {"verify", "identify", "group"} else "")
    out = RESULTS / f"{name}.json"
    out.write_text(json.dumps(res, indent=1))
    print(f"figures: {out}")


if __name__ == "__main__":
    main()
