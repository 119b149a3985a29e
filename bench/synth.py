"""Benchmark: synthetic faces per second, end to end (render + JPEG/CSV writing), for each kind.

Usage:
    flock /tmp/facelab-bench.lock /work/venv/bin/python bench/synth.py [--n 3000] [--workers N]

Also measures the Haar cascade's detection rate on the synthetic CelebA images (the predictor
pastes synthetic faces into photos and relies on it). No real data is needed: this benchmark is
about the generator itself. Writes ``bench/results/synth.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import tempfile
import time
from pathlib import Path

import cv2

from facelab.data.synth import KINDS, synthesize


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the worker processes)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def haar_rate(root: Path, limit: int = 500) -> float:
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    files = sorted((root / "img_align_celeba").glob("*.jpg"))[:limit]
    hits = sum(len(cascade.detectMultiScale(cv2.imread(str(f), cv2.IMREAD_GRAYSCALE), 1.1, 3,
                                            minSize=(40, 40))) > 0 for f in files)
    return hits / max(len(files), 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=3000, help="images per kind")
    ap.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    workers = args.workers or os.cpu_count() or 1

    tmp = Path(tempfile.mkdtemp(prefix="facelab-synth-bench-"))
    results: dict = {"n": args.n, "workers": workers, "cpus": os.cpu_count(),
                     "machine": platform.processor() or platform.machine(),
                     "load_before": os.getloadavg()[0], "kinds": {}}
    try:
        for kind in KINDS:
            kw = {"identities": 20} if kind == "folder" else {}
            c0, t0 = cpu_seconds(), time.perf_counter()
            root = synthesize(tmp / kind, kind=kind, n=args.n, seed=args.seed, workers=workers, **kw)
            dt, cpu = time.perf_counter() - t0, cpu_seconds() - c0
            size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
            # CPU time does not depend on what else runs on the machine; wall time does.
            results["kinds"][kind] = {"seconds": round(dt, 2), "images_per_s": round(args.n / dt, 1),
                                      "cpu_ms_per_image": round(1000 * cpu / args.n, 2),
                                      "images_per_s_2_idle_cores_est": round(2 * args.n / cpu, 1),
                                      "mb_on_disk": round(size / 2**20, 1)}
            print(f"{kind:8s} {args.n} images in {dt:6.2f} s = {args.n / dt:7.1f} images/s wall "
                  f"({workers} workers); {1000 * cpu / args.n:.2f} ms CPU per image "
                  f"(~{2 * args.n / cpu:.0f} images/s on 2 idle cores); {size / 2**20:.1f} MB")
        rate = haar_rate(tmp / "celeba")
        results["haar_detection_rate_celeba"] = round(rate, 3)
        print(f"Haar frontal-face cascade finds a face in {rate:.1%} of synthetic CelebA images")
        results["load_after"] = os.getloadavg()[0]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out = Path(__file__).resolve().parent / "results" / "synth.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
