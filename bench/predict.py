"""Prediction benchmarks on real data: latency, throughput, detection recall, detect-vs-aligned agreement.

Figures (targets from the project brief):

1. ``latency_ms``: one 640x480 JPEG photo end to end (read + decode, detect, align, classify all
   40 attributes) on ONE core (torch/cv2 threads = 1). Target <= 80 ms. Photos are built from
   LFW photos (250x250 upscaled to 400x400, placed at a random spot in a 640x480 frame).
2. ``aligned_faces_per_s``: already-aligned CelebA JPEGs through ``predict_batch(aligned=True)``
   on 2 cores, torch and ONNX Runtime backends. Target >= 1,500 faces/s, ONNX >= torch.
3. ``lfw_recall``: photos of ``people/`` (unaligned LFW) where at least one face is found.
   Target >= 97%.
4. ``smiling_agreement``: CelebA test-split images given as ordinary photos (detect + align) vs
   ``--aligned``: same Smiling label. Target >= 95% (a photo where no face is found counts as a
   disagreement).
5. ``fastpath`` (``--only fastpath``): the fast photo path (``Predictor(fast=True)``, what
   ``facelab serve`` uses) against the plain one. (a) Every LFW photo of ``people/``: the plain
   path's faces that the fast path finds with IoU >= 0.9 (target >= 99%) and whose probabilities
   are within 0.01 of the plain path's. (b) The 640x480 latency photos on one core: CPU time per
   stage (decode, detect, align, classify) for both paths (target: fast <= 15 ms end to end).

Needs a 40-attribute CelebA run: ``--run NAME``; without one, a quick run is trained on the real
cache (``train(target="all", minutes=--minutes)``) and the output says so.

Usage:
    flock /tmp/facelab-bench.lock /work/venv/bin/python bench/predict.py [--run NAME] [--minutes 4]
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # threads sleep, not spin, on a shared machine

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def _data() -> tuple[Path, bool]:
    from facelab.paths import shared_data

    root = shared_data()
    if root is not None and (root / "celeba").is_dir() and (root / "people").is_dir():
        return root, True
    from facelab.data.synth import synthesize

    print("!! no real data (FACELAB_DATA): FALLING BACK TO SYNTHETIC CelebA/people — figures mean little",
          file=sys.stderr)
    tmp = Path(tempfile.mkdtemp(prefix="facelab-bench-predict-"))
    synthesize(tmp / "celeba", kind="celeba", n=1500, seed=0)
    synthesize(tmp / "people", kind="folder", n=200, seed=0, identities=4)
    return tmp, False


def _run(args, root: Path) -> tuple[object, dict]:
    """The run to benchmark: --run, or a quick 40-attribute run trained here on the real cache."""
    from facelab.data.cache import prepare
    from facelab.runs import Run
    from facelab.train.trainer import train

    if args.run:
        run = Run.load(args.run)
        if args.framing == "template":
            return _with_template_framing(run), {"trained_here": False, "framing": "template (added here)"}
        return run, {"trained_here": False}
    t0 = time.perf_counter()
    ds = prepare(root / "celeba", size=args.size, progress=True)
    prep_s = time.perf_counter() - t0
    print(f"no --run given: training a quick 40-attribute cnn for {args.minutes} min on {ds.path}")
    t0 = time.perf_counter()
    run = train(ds.path, target="all", model="cnn", minutes=args.minutes, progress=True, seed=0,
                name=f"bench-predict-all40-{time.strftime('%Y%m%d-%H%M%S')}")
    return run, {"trained_here": True, "prepare_s": round(prep_s, 1), "train_s": round(time.perf_counter() - t0, 1),
                 "val_mean_accuracy": run.metrics.get("val_accuracy"), "cache": str(ds.path)}


def _with_template_framing(run):
    """A copy of ``run`` (in a temporary folder) whose input.json records the five-point template
    framing of its dataset's frame: what the run predicts when served on the template framing
    without retraining."""
    import shutil

    from facelab.data.framing import with_template_framing
    from facelab.runs import Run

    dest = Path(tempfile.mkdtemp(prefix="facelab-bench-framing-")) / f"{run.name}-template"
    shutil.copytree(run.path, dest)
    spec = with_template_framing(json.loads((dest / "input.json").read_text()))
    (dest / "input.json").write_text(json.dumps(spec, indent=1))
    return Run.load(dest)


def _set_threads(n: int) -> None:
    import torch

    torch.set_num_threads(n)
    cv2.setNumThreads(n)


def latency(run, root: Path, n: int, tmp: Path) -> dict:
    """One core, one photo at a time, from the JPEG file to the typed result."""
    from facelab.data.image import load_image
    from facelab.predict import Predictor

    _set_threads(1)
    pred = Predictor.from_run(run, threads=1)
    files = photos_640(root, n, tmp)  # the same photos as the fast-path comparison
    for f in files[:3]:
        pred.predict(f)  # warm-up: cascades loaded, torch kernels chosen
    times, cpu, found = [], [], 0
    for f in files:
        t0, c0 = time.perf_counter(), time.thread_time()
        r = pred.predict(f)
        times.append(1000 * (time.perf_counter() - t0))
        # CPU time of this (single) thread: what the photo costs on a core of its own; the wall
        # time above also counts waiting for other jobs on shared cores
        cpu.append(1000 * (time.thread_time() - c0))
        found += bool(r.faces)
    # where the time goes, on the same photos
    det = pred.detector
    parts = {"decode": [], "detect": []}
    for f in files[:30]:
        t0 = time.perf_counter()
        img = load_image(f)
        t1 = time.perf_counter()
        det.detect(img)
        t2 = time.perf_counter()
        parts["decode"].append(1000 * (t1 - t0))
        parts["detect"].append(1000 * (t2 - t1))
    return {"photos": len(files), "median_ms": round(statistics.median(times), 1),
            "p90_ms": round(float(np.percentile(times, 90)), 1), "mean_ms": round(statistics.mean(times), 1),
            "cpu_median_ms": round(statistics.median(cpu), 1), "cpu_p90_ms": round(float(np.percentile(cpu, 90)), 1),
            "face_found": found, "decode_median_ms": round(statistics.median(parts["decode"]), 1),
            "detect_median_ms": round(statistics.median(parts["detect"]), 1), "target_ms": 80,
            "threads": 1}


def throughput(run, root: Path, n: int, backend: str) -> dict:
    """Aligned CelebA JPEGs, batched, 2 threads decoding + 2 intra-op threads."""
    from facelab.predict import Predictor

    _set_threads(2)
    pred = Predictor.from_run(run, backend=backend, threads=2)
    paths = sorted((root / "celeba").rglob("*.jpg"))[:n]
    list(pred.predict_batch(paths[:256], aligned=True, workers=2, batch_size=256))  # warm-up
    t0 = time.perf_counter()
    faces = sum(len(r.faces) for r in pred.predict_batch(paths, aligned=True, workers=2, batch_size=256))
    secs = time.perf_counter() - t0
    return {"backend": backend, "faces": faces, "seconds": round(secs, 2), "faces_per_s": round(faces / secs, 1),
            "target_faces_per_s": 1500}


def recall(root: Path) -> dict:
    from facelab.data.image import load_image
    from facelab.faces import get_detector

    _set_threads(2)
    det = get_detector()
    paths = sorted((root / "people").glob("*/*.jpg"))
    t0 = time.perf_counter()
    counts = [len(det.detect(load_image(p))) for p in paths]
    secs = time.perf_counter() - t0
    found = sum(c > 0 for c in counts)
    return {"photos": len(paths), "found": found, "recall": round(found / len(paths), 4),
            "mean_faces_per_photo": round(float(np.mean(counts)), 3),
            "photos_with_2plus_faces": int(sum(c > 1 for c in counts)),
            "ms_per_photo": round(1000 * secs / len(paths), 1), "target": 0.97}


def agreement(run, root: Path, n: int, data: str | None = None, offset: int = 0) -> dict:
    """detect+align vs --aligned on CelebA images the run did not train on (the cache's test split)."""
    from facelab.data.prepared import open_prepared
    from facelab.predict import Predictor

    _set_threads(2)
    pred = Predictor.from_run(run)
    if "Smiling" not in pred.classes:
        return {"skipped": f"run {pred.name} has no Smiling output"}
    k = pred.classes.index("Smiling")
    try:
        ds = open_prepared(data or run.config["data"])
        test = ds.table.iloc[ds.split("test")]
        paths = list(test["path"])
    except Exception:  # a run from elsewhere: fall back to a sample of the images
        paths = [str(p) for p in sorted((root / "celeba").rglob("*.jpg"))]
    random.Random(0).shuffle(paths)
    paths = paths[offset:offset + n]
    al = list(pred.predict_batch(paths, aligned=True, workers=2, batch_size=256))
    ph = list(pred.predict_batch(paths, workers=2, batch_size=256))
    # per photo, the classified face nearest the image centre (the aligned face), as in
    # bench/align_fit.py; None when no face was found or none could be classified
    picked = []
    for p in ph:
        faces = [f for f in p.faces if f.classified]
        picked.append(min(faces, key=lambda f: (f.box.center[0] - p.width / 2) ** 2
                          + (f.box.center[1] - p.height / 2) ** 2) if faces else None)
    found = [(a.faces[0], f) for a, f in zip(al, picked) if f is not None]
    nofound = len(paths) - len(found)
    t_s = pred.thresholds[k]
    agree = sum((f.probabilities["Smiling"] >= t_s) == (a.probabilities["Smiling"] >= t_s) for a, f in found)
    diffs = [abs(f.probabilities["Smiling"] - a.probabilities["Smiling"]) for a, f in found]
    per_attr = {}
    for c in pred.classes:
        t = pred.thresholds[pred.classes.index(c)]
        same = [(a.probabilities[c] >= t) == (f.probabilities[c] >= t) for a, f in found]
        per_attr[c] = round(float(np.mean(same)), 4) if same else None
    return {"images": len(paths), "face_found": len(paths) - nofound,
            "smiling_agreement": round(agree / len(paths), 4),
            "smiling_agreement_where_found": round(agree / max(1, len(found)), 4),
            "smiling_mean_abs_prob_diff": round(float(np.mean(diffs)), 4) if diffs else None,
            "mean_agreement_40_attributes_where_found": round(float(np.mean([v for v in per_attr.values() if v is not None])), 4),
            "target": 0.95}


def photos_640(root: Path, n: int, tmp: Path, prefix: str = "fast") -> list[Path]:
    """The latency photos: LFW faces upscaled to 400x400 at a random spot of a 640x480 frame."""
    from facelab.data.image import load_image

    paths = sorted((root / "people").glob("*/*.jpg"))
    random.Random(1).shuffle(paths)
    rng = np.random.default_rng(0)
    files = []
    for i, p in enumerate(paths[:n]):
        face = cv2.resize(load_image(p), (400, 400), interpolation=cv2.INTER_CUBIC)
        frame = np.full((480, 640, 3), 0, np.uint8)
        frame[:] = rng.integers(40, 200, 3)
        x, y = int(rng.integers(0, 241)), int(rng.integers(0, 81))
        frame[y:y + 400, x:x + 400] = face
        f = tmp / f"{prefix}{i:03d}.jpg"
        cv2.imwrite(str(f), frame[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
        files.append(f)
    return files


def fastpath(run, root: Path, n_lfw: int, n_photos: int, tmp: Path, backend: str = "torch") -> dict:
    """The fast photo path vs the plain one: the same faces and probabilities, and CPU per stage."""
    from facelab.faces.detect import box_iou
    from facelab.predict import Predictor
    from facelab.predict.fastpath import prepare_photo

    _set_threads(1)
    plain = Predictor.from_run(run, threads=1, backend=backend)
    fast = Predictor.from_run(run, threads=1, backend=backend, fast=True)
    lfw = sorted((root / "people").glob("*/*.jpg"))
    if n_lfw:
        lfw = lfw[:n_lfw]
    faces = matched = close = 0
    diffs: list[float] = []
    missed = []
    for p in lfw:
        a, b = plain.predict(p), fast.predict(p)
        for fa in a.faces:
            faces += 1
            best = max(b.faces, key=lambda fb: box_iou(fa.box, fb.box), default=None)
            iou = box_iou(fa.box, best.box) if best is not None else 0.0
            if iou < 0.9:
                missed.append({"photo": str(p.relative_to(root)), "side": round(fa.box.w), "iou": round(iou, 3)})
                continue
            matched += 1
            if fa.classified and best.classified:
                d = max(abs(v - best.probabilities[k]) for k, v in fa.probabilities.items())
                diffs.append(d)
                close += d <= 0.01
    agreement = {"photos": len(lfw), "faces_plain": faces, "matched_iou_0_9": matched,
                 "matched_fraction": round(matched / max(1, faces), 4), "target": 0.99,
                 "classified_pairs": len(diffs), "probabilities_within_0_01": close,
                 "probabilities_within_0_01_fraction": round(close / max(1, len(diffs)), 4),
                 "max_abs_prob_diff": round(max(diffs), 5) if diffs else None,
                 "missed": missed[:20]}
    print("fastpath agreement", {k: v for k, v in agreement.items() if k != "missed"}, flush=True)
    files = photos_640(root, n_photos, tmp)
    for f in files[:3]:
        plain.predict(f), fast.predict(f)  # warm-up
    cpu_plain, cpu_fast, wall_fast = [], [], []
    stages: dict[str, list[float]] = {"decode": [], "detect": [], "align": [], "classify": []}
    for f in files:
        c0 = time.thread_time()
        plain.predict(f)
        cpu_plain.append(1000 * (time.thread_time() - c0))
        t0, c0 = time.perf_counter(), time.thread_time()
        data = f.read_bytes()
        ph = prepare_photo(data, f.name, [fast])
        c1 = time.thread_time()
        fast._finish(ph.pending)
        c2 = time.thread_time()
        wall_fast.append(1000 * (time.perf_counter() - t0))
        cpu_fast.append(1000 * (c2 - c0))
        for k in ("decode", "detect", "align"):
            stages[k].append(ph.cpu_ms.get(k, 0.0))
        stages["classify"].append(1000 * (c2 - c1))
    med = lambda v: round(statistics.median(v), 2)  # noqa: E731
    latency = {"photos": len(files), "threads": 1, "backend": backend,
               "plain_cpu_median_ms": med(cpu_plain), "fast_cpu_median_ms": med(cpu_fast),
               "fast_cpu_p90_ms": round(float(np.percentile(cpu_fast, 90)), 2),
               "fast_wall_median_ms": med(wall_fast),
               "fast_cpu_median_ms_by_stage": {k: med(v) for k, v in stages.items()}, "target_ms": 15}
    print("fastpath latency", latency, flush=True)
    return {"lfw_agreement": agreement, "latency_one_core": latency}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="Prediction benchmarks (see the module docstring).")
    ap.add_argument("--run", help="a 40-attribute CelebA run (name or folder); default: train a quick one")
    ap.add_argument("--minutes", type=float, default=4.0, help="training budget when no --run is given")
    ap.add_argument("--size", type=int, default=64, help="cache size when training here")
    ap.add_argument("--latency-photos", type=int, default=60)
    ap.add_argument("--throughput-images", type=int, default=4000)
    ap.add_argument("--agreement-images", type=int, default=1000)
    ap.add_argument("--agreement-offset", type=int, default=0,
                    help="skip this many of the (seeded) shuffled agreement images: a disjoint set")
    ap.add_argument("--only", default="latency,throughput,recall,agreement",
                    help="comma list of latency,throughput,recall,agreement,fastpath")
    ap.add_argument("--fastpath-lfw", type=int, default=0, help="LFW photos compared (default: all)")
    ap.add_argument("--fastpath-backend", default="torch", help="backend of both predictors in --only fastpath")
    ap.add_argument("--data", default=None, help="the run's prepared cache, when its own is gone (the "
                                                 "agreement images are its test split)")
    ap.add_argument("--framing", default="run", choices=("run", "template"),
                    help="run: the run's own framing; template: the run served on the five-point template "
                         "framing of its dataset (a copy of the run with the framing recorded)")
    ap.add_argument("--tag", default=None, help="suffix of the results file")
    args = ap.parse_args(argv)
    root, real = _data()
    run, info = _run(args, root)
    only = set(args.only.split(","))
    out: dict = {"data": "real" if real else "SYNTHETIC", "run": run.name, "run_info": info,
                 "load_average_1m_start": round(os.getloadavg()[0], 2), "cpus": os.cpu_count()}
    tmp = Path(tempfile.mkdtemp(prefix="facelab-bench-photos-"))
    if "latency" in only:
        out["latency"] = latency(run, root, args.latency_photos, tmp)
        print("latency", out["latency"])
    if "throughput" in only:
        from facelab.predict.export import export_onnx

        exp = export_onnx(run)
        out["onnx_export"] = {"max_abs_diff": exp.max_abs_diff, "size_bytes": exp.size_bytes}
        out["throughput"] = [throughput(run, root, args.throughput_images, b) for b in ("torch", "onnx")]
        print("throughput", out["throughput"])
    if "recall" in only:
        out["lfw_recall"] = recall(root)
        print("lfw recall", out["lfw_recall"])
    if "agreement" in only:
        out["agreement"] = agreement(run, root, args.agreement_images, args.data, args.agreement_offset)
        print("agreement", out["agreement"])
    if "fastpath" in only:
        out["fastpath"] = fastpath(run, root, args.fastpath_lfw, args.latency_photos, tmp, args.fastpath_backend)
    out["load_average_1m_end"] = round(os.getloadavg()[0], 2)
    RESULTS.mkdir(parents=True, exist_ok=True)
    dest = RESULTS / (f"predict-{args.tag}.json" if args.tag else "predict.json")
    dest.write_text(json.dumps(out, indent=1, default=str))
    print(json.dumps(out, indent=1, default=str))
    print(f"wrote {dest}")


if __name__ == "__main__":
    main()
