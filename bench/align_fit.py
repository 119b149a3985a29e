"""Fit and check the face framings of facelab.faces.align on real data.

For each dataset the default Haar detector is run on the dataset's own images; the true frame is
the image itself (CelebA aligned 178x218, FER2013 48x48, LFW 250x250), so each detection gives
one solution of "frame centre and width in units of the box side". The medians over a FIT half
become the constants in ``src/facelab/faces/align.py``; the CHECK half measures how well
re-aligning with those constants reproduces the original framing:

- IoU of the re-aligned frame (a rotated rectangle when eyes give an angle) with the true frame;
- mean pixel offset of the frame corners, in source pixels;
- Pearson correlation between the cache-style crop (``square``, 64 px) of the original and the
  crop :func:`facelab.faces.align` produces from the detection, for several ``snap_angle``
  thresholds (eye angles below it are set to 0; 90 = never rotate).

Usage:
    flock /tmp/facelab-bench.lock /work/venv/bin/python bench/align_fit.py [--n 3000]
"""
from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from facelab.data.image import crop_box, load_image, resize_box
from facelab.faces.align import Framing, align, frame_corners
from facelab.faces.detect import FaceBox, HaarDetector
from facelab.paths import shared_data


def _images(kind: str, root: Path, n: int, seed: int) -> list[Path]:
    pats = {"celeba": "celeba/img_align_celeba/img_align_celeba/*.jpg", "fer2013": "fer2013/train/*/*.jpg",
            "lfw": "people/*/*.jpg"}
    paths = sorted(root.glob(pats[kind]))
    random.Random(seed).shuffle(paths)
    return paths[:n]


def _prepare(kind: str, img: np.ndarray) -> tuple[np.ndarray, float, int]:
    """FER crops are tiny and tight: upscale 4x and pad so the cascade sees a whole face."""
    if kind != "fer2013":
        return img, 1.0, 0
    k, pad = 4.0, 48
    big = cv2.resize(img, None, fx=k, fy=k, interpolation=cv2.INTER_CUBIC)
    if big.ndim == 2:
        big = big[:, :, None]
    big = cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    if big.ndim == 2:
        big = big[:, :, None]
    return big, k, pad


def _pick(faces: list[FaceBox], cx: float, cy: float) -> FaceBox | None:
    """The detection nearest the frame's centre (LFW photos can hold several people)."""
    if not faces:
        return None
    return min(faces, key=lambda f: math.hypot(f.center[0] - cx, f.center[1] - cy))


def _solution(f: FaceBox, w: int, h: int, pad: int) -> tuple[float, float, float]:
    """(dx, dy, width) that would map this box exactly onto the true frame (angle ignored:
    the datasets' frames are upright, so the eye angle is detector noise here)."""
    s = f.size
    return ((w / 2 - f.center[0]) / s, (h / 2 - f.center[1]) / s, (w - 2 * pad) / s)


def _poly_iou(a: np.ndarray, b: np.ndarray) -> float:
    inter, _ = cv2.intersectConvexConvex(a.astype(np.float32), b.astype(np.float32))
    ua = cv2.contourArea(a.astype(np.float32)) + cv2.contourArea(b.astype(np.float32)) - inter
    return float(inter / ua) if ua > 0 else 0.0


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a = a.astype(np.float64).ravel()
    b = b.astype(np.float64).ravel()
    return float(np.corrcoef(a, b)[0, 1])


def fit(kind: str, root: Path, n: int, seed: int) -> dict:
    det = HaarDetector()
    paths = _images(kind, root, n, seed)
    rows = []
    t0 = time.perf_counter()
    for p in paths:
        img = load_image(p)
        big, k, pad = _prepare(kind, img)
        h, w = big.shape[:2]
        f = _pick(det.detect(big), w / 2, h / 2)
        rows.append((img, big, f, k, pad))
    secs = time.perf_counter() - t0
    found = [r for r in rows if r[2] is not None]
    half = len(found) // 2
    fit_rows, check_rows = found[:half], found[half:]
    sol = np.array([_solution(f, big.shape[1], big.shape[0], pad) for _, big, f, _, pad in fit_rows])
    med = np.median(sol, axis=0)
    iqr = np.percentile(sol, 75, axis=0) - np.percentile(sol, 25, axis=0)
    src_w, src_h = rows[0][0].shape[1], rows[0][0].shape[0]
    framing = Framing(float(med[0]), float(med[1]), float(med[2]), (src_w, src_h))
    spec = {"size": 64, "grey": kind == "fer2013", "crop_box": list(crop_box("square", (src_w, src_h))),
            "source_size": [src_w, src_h]}
    snaps = (0.0, 3.0, 6.0, 10.0, 90.0)  # 90: the angle is never used
    ious, offs, angles = [], [], []
    corrs: dict[float, list[float]] = {t: [] for t in snaps}
    for img, big, f, k, pad in check_rows:
        h, w = big.shape[:2]
        # the true frame, in the (possibly upscaled+padded) detection image
        truth = np.array([[pad, pad], [w - pad, pad], [w - pad, h - pad], [pad, h - pad]], float)
        got = frame_corners(f, framing)
        ious.append(_poly_iou(truth, got))
        offs.append(float(np.mean(np.hypot(*(got - truth).T))) / k)
        ref = resize_box(img if not spec["grey"] else cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)[:, :, None],
                         spec["crop_box"], 64)
        raw = f.angle  # the eye angle before snapping, from the landmarks (turned retries aside)
        if f.landmarks and abs(f.angle) < 20:
            (lx, ly), (rx, ry) = f.landmarks["left_eye"], f.landmarks["right_eye"]
            raw = math.degrees(math.atan2(ry - ly, rx - lx))
        for t in snaps:
            g = FaceBox(f.x, f.y, f.w, f.h, f.score, f.landmarks, raw if abs(raw) >= t else 0.0)
            corrs[t].append(_corr(ref, align(big, g, spec, framing=framing)))
        angles.append(raw)
    q = lambda a: {"median": round(float(np.median(a)), 4), "p10": round(float(np.percentile(a, 10)), 4),  # noqa: E731
                   "mean": round(float(np.mean(a)), 4)}
    return {
        "dataset": kind, "images": len(rows), "found": len(found), "found_rate": round(len(found) / len(rows), 4),
        "detect_ms_per_image": round(1000 * secs / len(rows), 1),
        "fit_images": len(fit_rows), "check_images": len(check_rows),
        "framing": {"dx": round(float(med[0]), 4), "dy": round(float(med[1]), 4), "width": round(float(med[2]), 4),
                    "source_size": [src_w, src_h]},
        "iqr": {"dx": round(float(iqr[0]), 4), "dy": round(float(iqr[1]), 4), "width": round(float(iqr[2]), 4)},
        "check": {"frame_iou": q(ious), "corner_offset_px": q(offs), "crop_corr_by_snap_angle": {str(t): q(c) for t, c in corrs.items()}, "abs_eye_angle_deg": q(np.abs(angles)),
                  "eyes_found": round(float(np.mean([r[2].landmarks is not None for r in check_rows])), 4)},
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=3000, help="images per dataset (half fit, half check)")
    ap.add_argument("--datasets", default="celeba,fer2013,lfw")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    cv2.setNumThreads(1)
    root = shared_data()
    if root is None or not (root / "celeba").is_dir():
        sys.exit("align_fit needs the real datasets (set FACELAB_DATA); there is no synthetic fallback: "
                 "the point is to fit the real framings")
    out = {"machine": "2 shared CPU cores", "results": []}
    for kind in args.datasets.split(","):
        r = fit(kind, root, args.n, args.seed)
        out["results"].append(r)
        print(json.dumps(r, indent=1))
    dest = Path(__file__).parent / "results" / "align_fit.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(out, indent=1))
    print(f"wrote {dest}")


if __name__ == "__main__":
    main()
