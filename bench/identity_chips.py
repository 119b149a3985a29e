"""Chip framings for dlib's ResNet from an MTCNN detection, compared on lfw_more/ (exploration).

Two steps, both on the face nearest each photo's centre:

* ``fit`` (validation people only: folder names in the first half of the sorted list): dlib's shape
  predictor on the MTCNN box gives dlib's own chip; MTCNN's five landmarks are mapped into that
  chip's coordinates, and their per-point median is the template (``mtcnn_template.json``;
  :data:`facelab.faces.dlibface.LANDMARK_CHIP_TEMPLATE`). The same photos give where dlib's HOG
  rectangle lies relative to the MTCNN box (medians: within 2% of the side and 6% lower, close to
  the box the library already gives the shape predictor, so it was not embedded).
* ``embed`` (every photo, validation people first; resumable): descriptors of the chip and its
  mirror for two framings — ``sp`` (dlib's shape predictor on the MTCNN box) and ``m5`` (the
  similarity of MTCNN's five points onto the template).
* ``compare`` / ``group`` (one half of the people): verification figures of every framing and of
  averages of them; grouping precision/recall for linkages and FAR-calibrated thresholds.

Usage:
    nice -n 10 python bench/identity_chips.py fit [--n 400]
    nice -n 10 python bench/identity_chips.py embed [--workers 2]
    python bench/identity_chips.py compare --half val      # choose; then --half test to confirm
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from identity_embed import RESULTS, _nearest, load_parts, network, photos, run_chunks

LM = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
TEMPLATE = RESULTS / "mtcnn_template.json"
PARTS = RESULTS / "identity_chips.parts"


def split_people(labels: list[str]) -> tuple[set, set]:
    """(validation, test): folder names in the first / second half of the sorted list."""
    people = sorted(set(labels))
    return set(people[: len(people) // 2]), set(people[len(people) // 2:])


def chip_to_image(cd) -> np.ndarray:
    """2x3 affine taking dlib chip pixel coordinates to image coordinates (dlib's extract_image_chip)."""
    import cv2

    r, a = cd.rect, cd.angle
    c = np.array([(r.left() + r.right()) / 2, (r.top() + r.bottom()) / 2])
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    corners = np.array([[r.left(), r.top()], [r.right(), r.top()], [r.right(), r.bottom()]])
    src = (corners - c) @ rot.T + c
    dst = np.array([[0, 0], [cd.cols - 1, 0], [cd.cols - 1, cd.rows - 1]], float)
    return cv2.getAffineTransform(dst.astype(np.float32), src.astype(np.float32))


def apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return pts @ m[:, :2].T + m[:, 2]


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (2x3) taking points ``src`` onto ``dst`` (Umeyama)."""
    ms, md = src.mean(0), dst.mean(0)
    s, d = src - ms, dst - md
    u, sig, vt = np.linalg.svd(d.T @ s / len(src))
    e = np.diag([1, np.sign(np.linalg.det(u @ vt))])
    r = u @ e @ vt
    k = np.trace(np.diag(sig) @ e) / (s ** 2).sum(1).mean()
    return np.hstack([k * r, (md - k * r @ ms)[:, None]])


def _rect(cx, cy, side):
    import dlib

    return dlib.rectangle(int(round(cx - side / 2)), int(round(cy - side / 2)),
                          int(round(cx + side / 2)), int(round(cy + side / 2)))


def fit(root: Path, n: int) -> dict:
    import dlib

    from facelab.data.image import load_image
    from facelab.faces.detect import get_detector
    from facelab.faces.dlibface import _load

    paths, labels = photos(root)
    val, _ = split_people(labels)
    idx = [i for i in range(len(paths)) if labels[i] in val]
    idx = sorted(np.random.default_rng(0).choice(idx, min(n, len(idx)), replace=False).tolist())
    det, sp, hog = get_detector("mtcnn"), _load("shape5"), dlib.get_frontal_face_detector()
    pts, rel = [], []
    for i in idx:
        img = load_image(paths[i])
        b = _nearest(det.detect(img), img.shape[1], img.shape[0])
        if b is None or not b.landmarks:
            continue
        cx, cy = b.center
        shape = sp(img, _rect(cx, cy, b.size * 0.973))
        m = chip_to_image(dlib.get_face_chip_details(shape, 150, 0.25))
        inv = np.vstack([m, [0, 0, 1]])
        inv = np.linalg.inv(inv)[:2]
        pts.append(apply(inv, np.array([b.landmarks[k] for k in LM])))
        rects = hog(img, 1)
        if len(rects):
            r = min(rects, key=lambda r: (r.center().x - cx) ** 2 + (r.center().y - cy) ** 2)
            rel.append([((r.left() + r.right()) / 2 - cx) / b.size, ((r.top() + r.bottom()) / 2 - cy) / b.size,
                        r.width() / b.size])
    pts, rel = np.array(pts), np.array(rel)
    out = {"photos": len(pts), "hog_photos": len(rel), "points": LM,
           "template": np.median(pts, 0).round(3).tolist(),
           "template_iqr": (np.percentile(pts, 75, 0) - np.percentile(pts, 25, 0)).round(2).tolist(),
           "hog_box": dict(zip(("dx", "dy", "side"), np.median(rel, 0).round(4).tolist()))}
    RESULTS.mkdir(parents=True, exist_ok=True)
    TEMPLATE.write_text(json.dumps(out, indent=1))
    print(json.dumps(out))
    return out


_state: dict = {}


def _init() -> None:
    import cv2

    from facelab.faces.detect import get_detector

    cv2.setNumThreads(1)
    _state["det"] = get_detector("mtcnn")
    _state["fit"] = json.loads(TEMPLATE.read_text())
    _state["names"] = ("sp", "m5")


def _chips(img: np.ndarray, b) -> dict[str, np.ndarray]:
    import cv2
    import dlib

    from facelab.faces.dlibface import _load

    f = _state["fit"]
    sp = _load("shape5")
    cx, cy = b.center
    out = {"sp": np.asarray(dlib.get_face_chip(img, sp(img, _rect(cx, cy, b.size * 0.973)), size=150))}
    m = similarity(np.array([b.landmarks[k] for k in LM]), np.array(f["template"]))
    out["m5"] = cv2.warpAffine(img, m, (150, 150), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out


def _chunk(paths: list[str]) -> dict[str, np.ndarray]:
    from facelab.data.image import load_image

    names = _state["names"]
    out = {f"{c}_{k}": np.full((len(paths), 128), np.nan, np.float32) for c in names for k in ("raw", "mirror")}
    out["lm"] = np.full((len(paths), 10), np.nan, np.float32)
    out["box"] = np.full((len(paths), 4), np.nan, np.float32)
    chips, where = [], []
    for i, p in enumerate(paths):
        img = np.ascontiguousarray(load_image(p))
        b = _nearest(_state["det"].detect(img), img.shape[1], img.shape[0])
        if b is None:
            continue
        out["box"][i] = (b.x, b.y, b.w, b.h)
        out["lm"][i] = np.array([b.landmarks[k] for k in LM]).ravel()
        for c, chip in _chips(img, b).items():
            chips += [np.ascontiguousarray(chip), np.ascontiguousarray(chip[:, ::-1])]
            where += [(c, "raw", i), (c, "mirror", i)]
    if chips:
        v = network(chips)
        for (c, k, i), row in zip(where, v):
            out[f"{c}_{k}"][i] = row
    return out


def embed(root: Path, workers: int, chunk: int = 16) -> None:
    paths, labels = photos(root)
    val, _ = split_people(labels)
    order = sorted(range(len(paths)), key=lambda i: (labels[i] not in val, labels[i], paths[i]))
    chunks = [order[i:i + chunk] for i in range(0, len(order), chunk)]
    run_chunks(PARTS, paths, chunks, _chunk, workers, _init)


def load(root: Path) -> dict:
    paths, labels = photos(root)
    z = load_parts(PARTS, len(paths))
    z["paths"], z["labels"] = paths, labels
    return z


def descriptor_sets(z: dict) -> dict[str, np.ndarray]:
    """The framings compared (unit length; NaN rows: no face)."""
    from facelab.identity.embed import unit

    u = {k: unit(z[k]) for k in z if k.endswith(("_raw", "_mirror"))}
    out = {}
    for c in ("sp", "m5"):
        if f"{c}_raw" in u:
            out[f"{c}"] = u[f"{c}_raw"]
            out[f"{c} + mirror"] = unit(u[f"{c}_raw"] + u[f"{c}_mirror"])
    if "m5_raw" in u:
        out["sp + m5"] = unit(u["sp_raw"] + u["m5_raw"])
        out["sp + m5 mirror"] = unit(u["sp_raw"] + u["m5_mirror"])
        out["sp + m5, mirror"] = unit(u["sp_raw"] + u["sp_mirror"] + u["m5_raw"] + u["m5_mirror"])
    return out


def compare(root: Path, half: str) -> dict:
    """10-fold accuracy, EER and TAR@1e-3 of every framing on one half of the people."""
    from facelab.identity.calibrate import calibrate

    z = load(root)
    val, test = split_people(z["labels"])
    keep = np.array([(lab in (val if half == "val" else test)) for lab in z["labels"]]) & z["done"]
    lab = np.array(z["labels"])[keep]
    paths = [p for p, k in zip(z["paths"], keep) if k]
    res = {"half": half, "people": len(set(lab)), "photos": int(keep.sum())}
    for name, X in descriptor_sets(z).items():
        r = calibrate(X[keep], lab, folds=10, pairs_per_fold=600, seed=0, paths=paths)
        res[name] = {"accuracy": round(r.accuracy, 5), "eer": round(r.eer, 5),
                     "tar_at_far_1e-3": r.tar_at_far.get("0.001", {}).get("tar"), "no_face": len(r.no_face)}
        print(f"  {name:20s} accuracy {r.accuracy:.2%} ± {r.accuracy_std:.2%}  EER {r.eer:.2%}  "
              f"TAR@1e-3 {res[name]['tar_at_far_1e-3']}  no face {len(r.no_face)}", flush=True)
    (RESULTS / f"identity_chips_{half}.json").write_text(json.dumps(res, indent=1))
    return res


def far_threshold(X: np.ndarray, lab: np.ndarray, far: float) -> float:
    """The distance below which a share ``far`` of the impostor pairs of these photos fall."""
    from scipy.spatial.distance import pdist

    ok = np.isfinite(X[:, 0])
    X, lab = X[ok], lab[ok]
    d = pdist(X.astype(np.float64))
    i, j = np.triu_indices(len(X), 1)
    return float(np.quantile(d[lab[i] != lab[j]], far))


def cluster(X: np.ndarray, method: str, t: float) -> np.ndarray:
    from scipy.cluster.hierarchy import fcluster, linkage

    from facelab.identity.linkage import cluster_vectors

    if method == "chinese-whispers":
        return cluster_vectors(X, t, method)
    return fcluster(linkage(X.astype(np.float64), method=method, metric="euclidean"), t=t, criterion="distance")


def group_sweep(root: Path, half: str, framing: str, fars=(2e-3, 1.5e-3, 1e-3, 7e-4, 5e-4, 3e-4, 2e-4)) -> dict:
    """Pairwise precision/recall of grouping one half of the people, for linkages and thresholds set
    at a false-accept rate on a random half of that half's people (the enrolled ones)."""
    from facelab.identity.linkage import pairwise_precision_recall

    z = load(root)
    val, test = split_people(z["labels"])
    lab_all = np.array(z["labels"])
    X = descriptor_sets(z)[framing]
    keep = np.isin(lab_all, sorted(val if half == "val" else test)) & np.isfinite(X[:, 0]) & z["done"]
    X, lab = X[keep], lab_all[keep]
    people = sorted(set(lab))
    enrolled = set(np.random.default_rng(0).permutation(people)[: len(people) // 2])
    ens = np.isin(lab, sorted(enrolled))
    res = {"half": half, "framing": framing, "photos": int(len(X)), "people": len(people), "rows": []}
    for far in fars:
        t = far_threshold(X[ens], lab[ens], far)
        for method in ("average", "complete", "weighted", "chinese-whispers"):
            for k in ((1.0,) if method != "complete" else (1.2, 1.3)):
                p, r = pairwise_precision_recall(lab, cluster(X, method, t * k))
                res["rows"].append({"far": far, "threshold": round(t * k, 4), "method": method, "scale": k,
                                    "precision": round(p, 4), "recall": round(r, 4)})
                print(f"  FAR {far:g} t {t * k:.3f} {method:16s} x{k}: precision {p:.4f} recall {r:.4f}", flush=True)
    (RESULTS / f"identity_group_{half}.json").write_text(json.dumps(res, indent=1))
    return res


def main() -> None:
    from facelab.paths import shared_data

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("step", choices=("fit", "embed", "compare", "group"))
    ap.add_argument("--framing", default="sp + mirror")
    ap.add_argument("--half", choices=("val", "test"), default="val")
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    root = a.data or (shared_data() / "lfw_more")
    if a.step == "fit":
        fit(root, a.n)
    elif a.step == "embed":
        embed(root, a.workers)
    elif a.step == "compare":
        compare(root, a.half)
    else:
        group_sweep(root, a.half, a.framing)


if __name__ == "__main__":
    main()
