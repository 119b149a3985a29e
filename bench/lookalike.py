"""Pretrained-embedding benchmarks on people/ (LFW photos): look-alike, identity, detectors.

Figures (and their targets):

1. ``lookalike``: a seeded choice of 3 people of ``people/`` with 50 photos each (seeded), 80/20
   stratified splits over 5 seeds: the mean held-out error of ``embed-logreg`` (dlib's pretrained
   embedding + logistic regression) and of ``cnn`` from scratch (small budget, one thread) on the
   SAME folds. Target: mean error <= 0.02 for the embedding model.
2. ``identity``: all 8 people, the folder's own seeded 80/10/10 split: ``embed-logreg`` accuracy on
   val and test. Target >= 98%.
3. ``detector``: photos of people/ where at least one face is found (target >= 99.5%), Haar and
   dlib HOG; latency per 640x480 photo (an LFW photo upscaled to 400x400 at a random spot of a
   640x480 frame), one thread, median over ``--latency-n`` photos.

Each fold is a folder ``train/<person>`` + ``val/<person>`` of copies (in a temp folder), prepared
like a user's; the embedding model computes its descriptors from those source photos.

Usage:
    FACELAB_DATA=/work/shared/data nice -n 10 python bench/lookalike.py [--parts lookalike,identity,detector]
        [--cnn-epochs 30] [--cnn-minutes 1.5]
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def _people() -> tuple[Path, bool]:
    from facelab.paths import shared_data

    root = shared_data()
    if root is not None and (root / "people").is_dir():
        return root / "people", True
    from facelab.data.synth import synthesize

    print("!! no real data (FACELAB_DATA): FALLING BACK TO SYNTHETIC people — figures mean little",
          file=sys.stderr)
    tmp = Path(tempfile.mkdtemp(prefix="facelab-bench-lookalike-"))
    return synthesize(tmp / "people", kind="folder", n=480, seed=0, identities=8), False


def _photos(people: Path) -> dict[str, list[Path]]:
    return {d.name: sorted(p for p in d.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
            for d in sorted(people.iterdir()) if d.is_dir()}


def lookalike(people: Path, work: Path, args) -> dict:
    import facelab
    from sklearn.model_selection import train_test_split

    rng = random.Random(args.seed)
    photos = _photos(people)
    names = rng.sample(sorted(n for n, ps in photos.items() if len(ps) >= 50), 3)
    chosen = {n: rng.sample(photos[n], 50) for n in names}
    files = [(n, p) for n in names for p in chosen[n]]
    y = [n for n, _ in files]
    folds = []
    for seed in range(5):
        tr, va = train_test_split(np.arange(len(files)), test_size=0.2, random_state=seed, stratify=y)
        root = work / f"fold{seed}"
        for split, rows in (("train", tr), ("val", va)):
            for i in rows:
                n, p = files[i]
                (root / split / n).mkdir(parents=True, exist_ok=True)
                shutil.copy2(p, root / split / n / p.name)
        ds = facelab.prepare(root, size=64, progress=False, out=work / f"cache{seed}")
        row = {"seed": seed, "val": int(len(va))}
        for model, kw in (("embed-logreg", {}),
                          ("cnn", {"epochs": args.cnn_epochs, "minutes": args.cnn_minutes, "threads": 1})):
            t = time.perf_counter()
            run = facelab.train(ds, target="label", model=model, seed=seed, progress=False, **kw)
            row[model] = {"val_error": round(1 - float(run.metrics["val_accuracy"]), 4),
                          "seconds": round(time.perf_counter() - t, 1)}
        print(f"fold {seed}: " + ", ".join(f"{m} error {row[m]['val_error']:.3f} ({row[m]['seconds']} s)"
                                           for m in ("embed-logreg", "cnn")), flush=True)
        folds.append(row)
    out = {"people": names, "photos_per_person": 50, "folds": folds}
    for m in ("embed-logreg", "cnn"):
        errs = [f[m]["val_error"] for f in folds]
        out[f"{m}_mean_error"] = round(statistics.mean(errs), 4)
        out[f"{m}_errors"] = errs
    out["cnn_budget"] = {"epochs": args.cnn_epochs, "minutes": args.cnn_minutes, "threads": 1}
    out["target_embed_mean_error"] = 0.02
    return out


def identity(people: Path, work: Path, args) -> dict:
    import facelab
    from facelab.faces.embeddings import dataset_embeddings

    ds = facelab.prepare(people, size=64, progress=False, out=work / "cache-all")
    t = time.perf_counter()
    emb = dataset_embeddings(ds, progress=False)
    t_emb = time.perf_counter() - t
    run = facelab.train(ds, target="label", model="embed-logreg", progress=False)
    ev = facelab.evaluate(run, data=ds.path, split="test", progress=False, out=work / "eval")
    out = {"images": len(ds), "val_accuracy": round(float(run.metrics["val_accuracy"]), 4),
           "test_accuracy": round(float(ev.overall["accuracy"]), 4), "test_images": int(ev.n),
           "embedding_seconds": round(t_emb, 1), "embedding_per_photo_ms": round(1000 * t_emb / len(ds), 1),
           "embedding_status": emb.counts(), "target_accuracy": 0.98}
    print(f"identity (8 people): val {out['val_accuracy']:.4f}, test {out['test_accuracy']:.4f} "
          f"({out['test_images']} test photos); descriptors {t_emb:.0f} s for {len(ds)} photos", flush=True)
    return out


def detector(people: Path, args) -> dict:
    import cv2

    from facelab.data.image import load_image
    from facelab.faces import get_detector

    cv2.setNumThreads(1)
    files = [p for ps in _photos(people).values() for p in ps]
    out = {"photos": len(files), "target_found": 0.995}
    rng = np.random.default_rng(args.seed)
    frames = []
    for p in rng.choice(files, args.latency_n, replace=False):
        img = cv2.resize(load_image(str(p)), (400, 400), interpolation=cv2.INTER_CUBIC)
        frame = np.full((480, 640, 3), 110, np.uint8)
        x, y = int(rng.integers(0, 240)), int(rng.integers(0, 80))
        frame[y:y + 400, x:x + 400] = img
        frames.append(frame)
    for name, kw in (("haar", {}), ("dlib", {"model": "hog"})):
        det = get_detector(name, **kw)
        t = time.perf_counter()
        found = sum(bool(det.detect(load_image(str(p)))) for p in files)
        secs = time.perf_counter() - t
        lat = []
        for f in frames:
            t = time.perf_counter()
            det.detect(f)
            lat.append(1000 * (time.perf_counter() - t))
        out[name] = {"found": found, "found_rate": round(found / len(files), 4),
                     "ms_per_250px_photo": round(1000 * secs / len(files), 1),
                     "latency_640x480_ms_median": round(statistics.median(lat), 1)}
        print(f"{name}: faces found on {found}/{len(files)} = {found / len(files):.2%}; "
              f"640x480 latency median {out[name]['latency_640x480_ms_median']} ms", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", default="lookalike,identity,detector")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cnn-epochs", type=int, default=30)
    ap.add_argument("--cnn-minutes", type=float, default=1.5)
    ap.add_argument("--latency-n", type=int, default=40)
    args = ap.parse_args()
    people, real = _people()
    work = Path(tempfile.mkdtemp(prefix="facelab-lookalike-"))
    os.environ.setdefault("FACELAB_RUNS", str(work / "runs"))
    res = {"real_data": real, "people": str(people), "load_average_start": os.getloadavg()}
    try:
        for part in args.parts.split(","):
            t = time.perf_counter()
            res[part] = {"lookalike": lambda: lookalike(people, work, args),
                         "identity": lambda: identity(people, work, args),
                         "detector": lambda: detector(people, args)}[part]()
            res[part]["seconds"] = round(time.perf_counter() - t, 1)
            res[part]["load_average"] = os.getloadavg()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    res["load_average_end"] = os.getloadavg()
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"lookalike-{'-'.join(args.parts.split(','))}.json"
    path.write_text(json.dumps(res, indent=1))
    print(f"written {path}; load average {res['load_average_end']}")


if __name__ == "__main__":
    main()
