"""Face detection benchmarks on real data: faces found, a composite recall test, landmarks, stage times.

1. ``photos``: the share of ``people/`` and ``lfw_more/`` photos (LFW, 250x250) where a detector
   finds at least one face, for each detector (``mtcnn``, ``haar``, ``dlib``). Target >= 99.5%.
2. ``composite``: canvases built from real faces: aligned CelebA faces (where the face lies is
   known: the five-point template of :mod:`facelab.data.framing`) cut out with a soft elliptical
   edge, scaled so the face box is 24-48 px, turned in the image plane by up to ±45°, 1-6 per
   canvas, pasted over varied procedural backgrounds (colour fields, shapes, lines, noise) of
   320x240. A detection matches a face when its centre is within half the face's size of the
   face centre and its size within a factor of 2 (each face matched once). Target: recall >= 95%
   at <= 1 false face per 20 canvases (0.05 per canvas); recall by size and by angle beside it.
3. ``landmarks``: MTCNN's eye centres against dlib's 5-point predictor on ``lfw_more/`` (the face
   nearest the centre, both detectors finding it): dlib's five points are the two corners of each
   eye and the base of the nose, so the eye centres (mean of the two corners) are comparable,
   normalised by dlib's inter-ocular distance; MTCNN's nose is the tip, dlib's the base (reported,
   not a target); mouth corners have no dlib counterpart. Target: mean eye error <= 5% of the
   inter-ocular distance.
5. ``fer``: the shipped FER2013 model on FER2013 crops (4x, padded) given as photos against
   ``--aligned`` (same emotion), on its template framing and on the Haar box framing.
4. ``stages`` (timing — run it alone on a quiet machine): one 640x480 photo through the photo path
   with the shipped models (40 attributes + 7 emotions), one thread: CPU ms per stage (decode,
   detect, align, classify). Target <= 15 ms median.

Usage:
    FACELAB_DATA=/work/shared/data nice -n 10 python bench/detect.py --only photos,composite,landmarks
    FACELAB_DATA=/work/shared/data python bench/detect.py --only stages          # alone, for timings
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
DETECTORS = ("mtcnn", "mtcnn-pnet", "haar", "dlib")
#: benchmark names of detector settings: MTCNN with its own first stages (P-net, R-net)
VARIANTS = {"mtcnn-pnet": ("mtcnn", {"first_stage": "pnet"})}


def _detector(name: str):
    from facelab.faces import get_detector

    base, kw = VARIANTS.get(name, (name, {}))
    try:
        return get_detector(base, **kw)
    except Exception as e:  # dlib without its extra
        print(f"skipping {name}: {e}")
        return None


# -- 1. photos ----------------------------------------------------------------------------------
def photos(root: Path, names: list[str], limit: int | None) -> dict:
    from facelab.data.image import load_image

    out = {}
    for folder in ("people", "lfw_more"):
        paths = _sample(sorted((root / folder).glob("*/*.jpg")), limit)
        images = [load_image(p) for p in paths]
        unseen = _unseen(root, paths)  # lfw_more's second half: never read by bench/train_proposer.py
        res = {}
        for name in names:
            det = _detector(name)
            if det is None:
                continue
            t0 = time.perf_counter()
            counts = [len(det.detect(im)) for im in images]
            secs = time.perf_counter() - t0
            found = sum(c > 0 for c in counts)
            res[name] = {"photos": len(paths), "found": found, "found_fraction": round(found / len(paths), 4),
                         **({"unseen_people_photos": int(unseen.sum()),
                             "unseen_people_found_fraction": round(float(np.mean(np.array(counts)[unseen] > 0)), 4)}
                            if unseen.any() else {}),
                         "photos_with_2plus_faces": int(sum(c > 1 for c in counts)),
                         "missed": [str(p.relative_to(root)) for p, c in zip(paths, counts) if c == 0][:15],
                         "ms_per_photo_loaded_machine": round(1000 * secs / len(paths), 1)}
            print(folder, name, {k: v for k, v in res[name].items() if k != "missed"}, flush=True)
        out[folder] = res
    out["target"] = 0.995
    return out


def _sample(paths: list[Path], limit: int | None) -> list[Path]:
    """``limit`` of ``paths`` drawn with seed 0 (sorted), or all of them."""
    if not limit:
        return paths
    paths = list(paths)
    random.Random(0).shuffle(paths)
    return sorted(paths[:limit])


def _central(faces: list, shape: tuple) -> object | None:
    """The face nearest the centre of an image of ``shape`` (LFW photos are centred on the person)."""
    h, w = shape[:2]
    return min(faces, key=lambda f: math.hypot(f.center[0] - w / 2, f.center[1] - h / 2)) if faces else None


def _unseen(root: Path, paths: list[Path]) -> np.ndarray:
    """Which of ``paths`` belong to the second half of ``lfw_more/``'s sorted people."""
    people = sorted(d.name for d in (root / "lfw_more").iterdir() if d.is_dir())
    later = set(people[len(people) // 2:])
    return np.array([p.parent.parent.name == "lfw_more" and p.parent.name in later for p in paths], bool)


# -- 2. composite -------------------------------------------------------------------------------
def _background(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """A varied face-free background: a smooth colour field, shapes, lines, texture noise."""
    small = rng.integers(0, 256, (rng.integers(2, 8), rng.integers(2, 8), 3)).astype(np.uint8)
    bg = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    for _ in range(int(rng.integers(3, 12))):
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        kind = rng.integers(0, 3)
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        if kind == 0:
            cv2.rectangle(bg, (x, y), (x + int(rng.integers(10, 120)), y + int(rng.integers(10, 120))), colour, -1)
        elif kind == 1:
            cv2.ellipse(bg, (x, y), (int(rng.integers(5, 60)), int(rng.integers(5, 60))), float(rng.uniform(0, 180)),
                        0, 360, colour, -1)
        else:
            cv2.line(bg, (x, y), (int(rng.integers(0, w)), int(rng.integers(0, h))), colour, int(rng.integers(1, 6)))
    noise = rng.normal(0, rng.uniform(2, 18), (h, w, 3))
    bg = np.clip(bg.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    return cv2.GaussianBlur(bg, (3, 3), 0) if rng.random() < 0.5 else bg


def _face_patch(img: np.ndarray, face_px: float, angle: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An aligned CelebA image scaled so its face is ``face_px`` wide and turned by ``angle``
    (degrees, counter-clockwise as cv2): (patch RGB, alpha 0-1, the face centre in the patch)."""
    from facelab.data.framing import TEMPLATE

    # the face in the 178x218 frame: the template's eyes-to-mouth box, about 1.9 inter-ocular wide
    centre = TEMPLATE.mean(0)
    iod = float(np.linalg.norm(TEMPLATE[1] - TEMPLATE[0]))
    k = face_px / (2.2 * iod)  # an MTCNN box is about 2.2 inter-ocular distances wide
    side = int(math.ceil(1.6 * 2.2 * iod * k)) | 1  # room for the head, turned
    m = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, k)
    m[:, 2] += (side / 2 - centre[0], side / 2 - centre[1])
    patch = cv2.warpAffine(img, m, (side, side), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32)
    r = np.hypot((xx - side / 2) / (0.62 * 1.05 * face_px), (yy - side / 2 - 0.05 * face_px) / (0.62 * 1.35 * face_px))
    alpha = np.clip((1.15 - r) / 0.3, 0, 1)[:, :, None]  # the head, fading out at the hair
    return patch, alpha, np.array([side / 2, side / 2])


def composite_set(root: Path, n: int, seed: int = 0, w: int = 320, h: int = 240) -> list[tuple[np.ndarray, list[dict]]]:
    """``n`` canvases of 1-6 real faces each: (RGB, faces as {cx, cy, size, angle})."""
    from facelab.data.image import load_image

    paths = sorted((root / "celeba" / "img_align_celeba").rglob("*.jpg"))
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        canvas = _background(rng, w, h).astype(np.float32)
        faces: list[dict] = []
        for _ in range(int(rng.integers(1, 7))):
            size = float(rng.uniform(24, 48))
            for _try in range(30):
                cx, cy = float(rng.uniform(size, w - size)), float(rng.uniform(size, h - size))
                if all(math.hypot(cx - f["cx"], cy - f["cy"]) > 1.5 * (size + f["size"]) for f in faces):
                    break
            else:
                continue
            angle = float(rng.uniform(-45, 45))
            patch, alpha, c = _face_patch(load_image(paths[int(rng.integers(0, len(paths)))]), size, angle)
            x0, y0 = int(round(cx - c[0])), int(round(cy - c[1]))
            ph, pw = patch.shape[:2]
            sx0, sy0, sx1, sy1 = max(0, -x0), max(0, -y0), min(pw, w - x0), min(ph, h - y0)
            region = canvas[y0 + sy0:y0 + sy1, x0 + sx0:x0 + sx1]
            a = alpha[sy0:sy1, sx0:sx1]
            region[:] = a * patch[sy0:sy1, sx0:sx1] + (1 - a) * region
            faces.append({"cx": cx, "cy": cy, "size": size, "angle": angle})
        out.append((canvas.astype(np.uint8), faces))
    return out


def _match(found, faces: list[dict]) -> tuple[list[bool], int]:
    """Which faces were found, and how many detections matched none."""
    hit = [False] * len(faces)
    false = 0
    for f in sorted(found, key=lambda f: -f.score):
        cx, cy = f.center
        best = None
        for i, g in enumerate(faces):
            if hit[i]:
                continue
            if math.hypot(cx - g["cx"], cy - g["cy"]) <= 0.5 * g["size"] and 0.5 <= f.size / g["size"] <= 2.0:
                best = i
                break
        if best is None:
            false += 1
        else:
            hit[best] = True
    return hit, false


def composite(root: Path, names: list[str], n: int) -> dict:
    canvases = composite_set(root, n)
    total = sum(len(f) for _, f in canvases)
    out = {"canvases": n, "faces": total, "canvas": [320, 240], "face_px": [24, 48], "angles": [-45, 45],
           "target_recall": 0.95, "target_false_per_canvas": 0.05}
    for name in names:
        det = _detector(name)
        if det is None:
            continue
        hits, false = [], 0
        rows = []
        for img, faces in canvases:
            h, f = _match(det.detect(img), faces)
            hits += h
            false += f
            rows += [(g["size"], abs(g["angle"]), ok) for g, ok in zip(faces, h)]
        by_size = {f"{a}-{b}px": _rate([r for r in rows if a <= r[0] < b]) for a, b in ((24, 32), (32, 40), (40, 49))}
        by_angle = {f"{a}-{b}deg": _rate([r for r in rows if a <= r[1] < b]) for a, b in ((0, 15), (15, 30), (30, 46))}
        out[name] = {"recall": round(sum(hits) / max(1, total), 4), "false_faces": false,
                     "false_per_canvas": round(false / n, 4), "recall_by_size": by_size, "recall_by_angle": by_angle}
        print("composite", name, out[name], flush=True)
    return out


def _rate(rows: list) -> float | None:
    return round(sum(r[2] for r in rows) / len(rows), 4) if rows else None


# -- 3. landmarks -------------------------------------------------------------------------------
def landmarks(root: Path, limit: int | None, name: str = "mtcnn") -> dict:
    from facelab.data.image import load_image
    from facelab.faces.detect import box_iou

    mt, dl = _detector(name), _detector("dlib")
    if dl is None:
        return {"skipped": "dlib is not installed"}
    paths = _sample(sorted((root / "lfw_more").glob("*/*.jpg")), limit)
    eye_err, nose_err, pairs = [], [], 0
    for p in paths:
        img = load_image(p)
        a, b = _central(mt.detect(img), img.shape), _central(dl.detect(img), img.shape)
        if a is None or b is None or box_iou(a, b) < 0.2:
            continue
        d = np.array([b.landmarks[f"dlib_{i}"] for i in range(5)])
        eyes = sorted([d[0:2].mean(0), d[2:4].mean(0)], key=lambda q: q[0])  # image left, right
        iod = float(np.linalg.norm(eyes[1] - eyes[0]))
        if iod <= 0:
            continue
        pairs += 1
        mine = [np.array(a.landmarks["left_eye"]), np.array(a.landmarks["right_eye"])]
        eye_err.append(float(np.mean([np.linalg.norm(m - e) for m, e in zip(mine, eyes)])) / iod)
        nose_err.append(float(np.linalg.norm(np.array(a.landmarks["nose"]) - d[4])) / iod)
    out = {"photos": len(paths), "pairs": pairs, "eye_error_iod_mean": round(float(np.mean(eye_err)), 4),
           "eye_error_iod_median": round(float(np.median(eye_err)), 4),
           "eye_error_iod_p95": round(float(np.percentile(eye_err, 95)), 4),
           "nose_tip_vs_nose_base_iod_median": round(float(np.median(nose_err)), 4),
           "note": "eyes: MTCNN eye centre vs the mean of dlib's two eye corners; nose: MTCNN's tip vs dlib's "
                   "base (different points, not a target); mouth: no dlib counterpart",
           "target": 0.05, "detector": name}
    print("landmarks", out, flush=True)
    return out


# -- 3b. the same framing whatever proposes the boxes ----------------------------------------------
def framing(root: Path, limit: int | None) -> dict:
    """MTCNN's faces with facelab's proposal network against MTCNN's own first stages, on the
    ``lfw_more/`` people the proposal network never saw: boxes and five landmarks (in inter-ocular
    distances), the face nearest the centre of each photo."""
    from facelab.data.image import load_image
    from facelab.faces.detect import box_iou
    from facelab.faces.mtcnn import LANDMARKS

    a_det, b_det = _detector("mtcnn"), _detector("mtcnn-pnet")
    paths = sorted((root / "lfw_more").glob("*/*.jpg"))
    paths = [p for p, u in zip(paths, _unseen(root, paths)) if u]
    paths = _sample(paths, limit)
    err, ious, both = [], [], 0
    for p in paths:
        img = load_image(p)
        a, b = _central(a_det.detect(img), img.shape), _central(b_det.detect(img), img.shape)
        if a is None or b is None:
            continue
        both += 1
        iod = math.dist(b.landmarks["left_eye"], b.landmarks["right_eye"])
        ious.append(box_iou(a, b))
        err.append([math.dist(a.landmarks[k], b.landmarks[k]) / max(iod, 1e-6) for k in LANDMARKS])
    e = np.array(err)
    out = {"photos": len(paths), "both_found": both, "box_iou_median": round(float(np.median(ious)), 4),
           "box_iou_p5": round(float(np.percentile(ious, 5)), 4),
           "landmark_shift_iod_mean": round(float(e.mean()), 4), "landmark_shift_iod_median": round(float(np.median(e)), 4),
           "landmark_shift_iod_p95": round(float(np.percentile(e, 95)), 4),
           "by_point_mean": {k: round(float(v), 4) for k, v in zip(LANDMARKS, e.mean(0))}}
    print("framing", out, flush=True)
    return out


# -- 5. the shipped FER2013 model: template vs Haar box framing ------------------------------------
def fer(root: Path, n: int) -> dict:
    """FER2013 crops upscaled 4x and padded as photos, against ``--aligned``: the same emotion, with
    the shipped model on its template framing and on the Haar box framing (a copy without it)."""
    import shutil
    import tempfile

    import torch

    from facelab.data.image import load_image
    from facelab.predict import Predictor
    from facelab.pretrained import shipped_path

    torch.set_num_threads(2)
    tmp = Path(tempfile.mkdtemp(prefix="facelab-bench-fer-"))
    variants = {}
    for framing in ("template", "haar-box"):
        dest = tmp / f"fer-emotions-{framing}"
        shutil.copytree(shipped_path("fer-emotions"), dest)
        spec = json.loads((dest / "input.json").read_text())
        if framing == "template":
            from facelab.data.framing import with_template_framing

            spec = with_template_framing(spec)
        else:
            spec.pop("framing", None)
        (dest / "input.json").write_text(json.dumps(spec))
        variants[framing] = dest
    paths = sorted((root / "fer2013" / "train").glob("*/*.jpg"))
    random.Random(5).shuffle(paths)
    paths = paths[:n]
    photos_ = [cv2.copyMakeBorder(cv2.resize(load_image(p), None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC),
                                  48, 48, 48, 48, cv2.BORDER_REPLICATE) for p in paths]
    out = {"images": len(paths), "note": "FER2013 training crops (4x, padded) as photos vs --aligned"}
    for framing, run in variants.items():
        pred = Predictor.from_run(run)
        al = list(pred.predict_batch(paths, aligned=True, workers=2))
        ph = list(pred.predict_batch(photos_, workers=2))
        agree = found = 0
        for a, r in zip(al, ph):
            faces = [f for f in r.faces if f.classified]
            if not faces:
                continue
            f = min(faces, key=lambda f: (f.box.center[0] - r.width / 2) ** 2 + (f.box.center[1] - r.height / 2) ** 2)
            found += 1
            agree += a.faces[0].labels == f.labels
        out[framing] = {"detector": pred.detector_name, "found": round(found / len(paths), 4),
                        "agreement": round(agree / len(paths), 4), "agreement_where_found": round(agree / max(1, found), 4)}
        print("fer", framing, out[framing], flush=True)
    return out


# -- 4. stage times -----------------------------------------------------------------------------
def stages(root: Path, n: int, framing: str = "template", backend: str = "auto", first_stage: str | None = None) -> dict:
    """The shipped models on 640x480 photos, one thread: CPU ms per stage of the photo path.

    ``framing="template"``: the shipped models on the five-point framing (MTCNN detection);
    ``"haar-box"``: copies of them without the record (Haar box framing, ``haar-fast``).
    """
    import shutil
    import tempfile

    import torch

    from facelab.data.framing import with_template_framing
    from facelab.predict import Predictor
    from facelab.predict.combined import CombinedPredictor
    from facelab.predict.fastpath import prepare_photo
    from facelab.pretrained import shipped_names, shipped_path

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    tmp = Path(tempfile.mkdtemp(prefix="facelab-bench-detect-"))
    runs = []
    for name in shipped_names():
        dest = tmp / f"{name}-{framing}"
        shutil.copytree(shipped_path(name), dest)
        spec = json.loads((dest / "input.json").read_text())
        spec = with_template_framing(spec) if framing == "template" else {k: v for k, v in spec.items() if k != "framing"}
        (dest / "input.json").write_text(json.dumps(spec))
        extra = {"first_stage": first_stage} if first_stage and framing == "template" else {}
        runs.append(Predictor.from_run(dest, threads=1, fast=True, backend=backend, **extra))
    pred = CombinedPredictor(runs)
    from predict import photos_640  # bench/predict.py's latency photos (bench/ is first on sys.path)

    files = photos_640(root, n, tmp, prefix="photo")
    for f in files[:3]:
        pred.predict(f.read_bytes())
    parts: dict[str, list[float]] = {"decode": [], "detect": [], "align": [], "classify": [], "total": []}
    for f in files:
        data = f.read_bytes()
        c0 = time.thread_time()
        photo = prepare_photo(data, f.name, pred.predictors)
        c1 = time.thread_time()
        for p, pending in zip(pred.predictors, photo.pending):
            p._finish([pending])
        c2 = time.thread_time()
        for k in ("decode", "detect", "align"):
            parts[k].append(photo.cpu_ms.get(k, 0.0))
        parts["classify"].append(1000 * (c2 - c1))
        parts["total"].append(1000 * (c2 - c0))
    med = {k: round(statistics.median(v), 2) for k, v in parts.items()}
    out = {"photos": len(files), "threads": 1, "models": pred.name, "framing": framing, "backend": sorted({p.backend for p in pred.predictors}), "detectors": sorted({p.detector_name for p in pred.predictors}), "first_stage": first_stage or "default",
           "cpu_median_ms": med, "cpu_p90_total_ms": round(float(np.percentile(parts["total"], 90)), 2), "target_ms": 15}
    print("stages", out, flush=True)
    return out


def main(argv=None) -> None:
    from facelab.paths import shared_data

    ap = argparse.ArgumentParser(description="Face detection benchmarks (see the module docstring).")
    ap.add_argument("--only", default="photos,composite,landmarks", help="comma list of photos,composite,landmarks,framing,fer,stages")
    ap.add_argument("--detectors", default=",".join(DETECTORS))
    ap.add_argument("--limit", type=int, default=None, help="photos per folder (default: all)")
    ap.add_argument("--canvases", type=int, default=400)
    ap.add_argument("--fer-images", type=int, default=1000)
    ap.add_argument("--stage-photos", type=int, default=60)
    ap.add_argument("--framing", default="template", choices=("template", "haar-box"),
                    help="stages: the shipped models on the template framing (MTCNN) or the Haar box framing")
    ap.add_argument("--backend", default="auto", choices=("auto", "torch", "onnx"), help="stages: the models' backend (auto: as `facelab predict`)")
    ap.add_argument("--first-stage", default=None, choices=("proposer", "pnet"),
                    help="stages: what proposes MTCNN's boxes (default: the detector's default)")
    ap.add_argument("--tag", default=None)
    args = ap.parse_args(argv)
    cv2.setNumThreads(1)
    root = shared_data()
    if root is None:
        raise SystemExit("set FACELAB_DATA to the real data (people/, lfw_more/, celeba/)")
    names = [d for d in args.detectors.split(",") if d]
    only = set(args.only.split(","))
    out: dict = {"load_average_1m_start": round(os.getloadavg()[0], 2), "cpus": os.cpu_count(), "limit": args.limit}
    if "photos" in only:
        out["photos"] = photos(root, names, args.limit)
    if "composite" in only:
        out["composite"] = composite(root, names, args.canvases)
    if "landmarks" in only:
        out["landmarks"] = {n: landmarks(root, args.limit, n) for n in names if n.startswith("mtcnn")}
    if "framing" in only:
        out["framing"] = framing(root, args.limit)
    if "fer" in only:
        out["fer"] = fer(root, args.fer_images)
    if "stages" in only:
        out["stages"] = stages(root, args.stage_photos, args.framing, args.backend, args.first_stage)
    out["load_average_1m_end"] = round(os.getloadavg()[0], 2)
    RESULTS.mkdir(parents=True, exist_ok=True)
    dest = RESULTS / (f"detect-{args.tag}.json" if args.tag else "detect.json")
    dest.write_text(json.dumps(out, indent=1))
    print(f"wrote {dest}")


if __name__ == "__main__":
    main()
