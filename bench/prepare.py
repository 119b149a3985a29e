"""Benchmark `facelab data prepare`: speed on real data, memory as the dataset grows.

Cases (each in a fresh child process, always a fresh output folder, so nothing is reused):

- ``celeba64``: real CelebA (``$FACELAB_DATA/celeba``, 15,979 JPEGs 178x218) -> 64x64 RGB.
  Target: >= 3,000 images/s on 2 cores.
- ``fer48``: real FER2013 folders (``$FACELAB_DATA/fer2013``, 28,709 JPEGs 48x48) -> 48x48 grey.
  Target: >= 8,000 images/s.
- ``fercsv48``: the same FER2013 images rewritten as ``fer2013.csv`` -> 48x48 grey (the csv path:
  pixels parsed with numpy, no image decoding).
- ``synth10k`` / ``synth50k``: class folders of 178x218 JPEGs -> 64x64 RGB; peak memory must stay
  flat as the dataset grows (decoded images are never all held in memory).

For each: wall time, images/s end to end (reading the source included) and for the decoding
stage alone, CPU seconds (parent + workers) and images per CPU-second (comparable when other work
shares the cores), peak RSS of the parent and of the largest worker.

Usage::

    flock /tmp/facelab-bench.lock python bench/prepare.py [--cases celeba64,fer48,synth10k,synth50k]
        [--workers W] [--synth-source quick|synthesize]

Writes ``bench/results/prepare.json``. When real data is absent the real cases are skipped and
the output says so.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGETS = {"celeba64": 3000, "fer48": 8000}


def _peak_rss_self_kb() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a
    child of a big benchmark driver would report the driver's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1])
    except OSError:
        pass
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _one(source: str, size: int, grey: bool, workers: int | None, out: str) -> dict:
    """Run one prepare in this (child) process and measure it."""
    from facelab.data.cache import prepare

    t0 = time.perf_counter()
    c0 = os.times()
    ds = prepare(source, size=size, grey=grey, workers=workers, out=out, progress=False, force=True)
    wall = time.perf_counter() - t0
    c1 = os.times()
    cpu = (c1.user - c0.user) + (c1.system - c0.system) + (c1.children_user - c0.children_user) \
        + (c1.children_system - c0.children_system)
    n = len(ds)
    return {
        "images": n, "skipped": ds.meta["skipped"], "wall_s": round(wall, 2),
        "images_per_s": round(n / wall, 1),
        "decode_s": ds.meta["decode_seconds"], "decode_images_per_s": ds.meta["decode_images_per_s"],
        "cpu_s": round(cpu, 2), "images_per_cpu_s": round(n / max(cpu, 1e-9), 1),
        "peak_rss_parent_mb": round(_peak_rss_self_kb() / 1024, 1),
        "peak_rss_worker_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
        "cache_mb": round(ds.images.nbytes / 2**20, 1),
    }


def _child(source: Path, size: int, grey: bool, workers: int | None, tmp: Path) -> dict:
    cmd = [sys.executable, __file__, "--one", str(source), "--size", str(size), "--out", str(tmp / "cache")]
    if grey:
        cmd.append("--grey")
    if workers:
        cmd += ["--workers", str(workers)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"benchmark child failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def _quick_folder(root: Path, n: int) -> Path:
    """n 178x218 JPEGs in 4 class folders; 64 distinct images repeated (fast to write)."""
    import numpy as np
    from PIL import Image
    import io

    rng = np.random.default_rng(0)
    blobs = []
    yy, xx = np.mgrid[0:218, 0:178]
    for k in range(64):
        a = np.stack([(xx * (k + 1)) % 256, (yy * 3 + k * 5) % 256, (xx + yy + k * 9) % 256], 2)
        a = np.clip(a + rng.integers(-4, 5, a.shape), 0, 255).astype(np.uint8)  # ~CelebA file sizes
        b = io.BytesIO()
        Image.fromarray(a).save(b, "JPEG", quality=90)
        blobs.append(b.getvalue())
    for c in range(4):
        (root / f"class{c}").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (root / f"class{i % 4}" / f"{i:06d}.jpg").write_bytes(blobs[i % 64])
    return root


def _fer_csv(fer_folders: Path, root: Path) -> Path:
    """The FER2013 folders rewritten as the original ``fer2013.csv`` (emotion,pixels,Usage)."""
    import cv2

    from facelab.data.readers.fer2013 import EMOTIONS as emotions
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "fer2013.csv", "w") as f:  # streamed: keeps this driver process small
        f.write("emotion,pixels,Usage\n")
        for code, emo in enumerate(emotions):
            for p in sorted((fer_folders / "train" / emo).glob("*.jpg")):
                a = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
                if a is not None and a.shape == (48, 48):
                    f.write(f"{code},{' '.join(map(str, a.ravel().tolist()))},Training\n")
    return root


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default="celeba64,fer48,fercsv48,synth10k,synth50k")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--synth-source", choices=["quick", "synthesize"], default="quick",
                    help="quick: repeated JPEGs written directly; synthesize: facelab.data.synth (slow)")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--size", type=int, default=64, help=argparse.SUPPRESS)
    ap.add_argument("--grey", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(_one(args.one, args.size, args.grey, args.workers, args.out)))
        return

    from facelab.paths import shared_data

    data = shared_data()
    results: dict = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                 "platform": platform.platform(),
                                 "load_avg_at_start": [round(x, 2) for x in os.getloadavg()]},
                     "workers": args.workers or os.cpu_count(), "cases": {}, "notes": []}
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    with tempfile.TemporaryDirectory(prefix="facelab-bench-") as tmp:
        tmp = Path(tmp)
        os.environ["FACELAB_HOME"] = str(tmp / "home")
        for case in cases:
            if case in ("celeba64", "fer48"):
                src = (data / ("celeba" if case == "celeba64" else "fer2013")) if data else None
                if src is None or not src.is_dir():
                    msg = f"{case}: real data not found ({src}); skipped (set FACELAB_DATA)"
                    print(msg)
                    results["notes"].append(msg)
                    continue
                r = _child(src, 64 if case == "celeba64" else 48, case == "fer48", args.workers, tmp)
                r["source"] = f"real: {src}"
                r["target_images_per_s"] = TARGETS[case]
            elif case == "fercsv48":
                src = (data / "fer2013") if data else None
                if src is None or not src.is_dir():
                    msg = f"{case}: real FER2013 not found ({src}); skipped (set FACELAB_DATA)"
                    print(msg)
                    results["notes"].append(msg)
                    continue
                root = _fer_csv(src, tmp / "fercsv")
                r = _child(root, 48, True, args.workers, tmp)
                r["source"] = f"real FER2013 images rewritten as fer2013.csv ({root})"
            elif case.startswith("synth"):
                n = int(case[5:].replace("k", "000"))
                root = tmp / f"synth{n}"
                t = time.perf_counter()
                if args.synth_source == "synthesize":
                    from facelab.data.synth import synthesize

                    synthesize(root, kind="folder", n=n, identities=4)
                else:
                    _quick_folder(root, n)
                print(f"{case}: wrote {n} synthetic images ({args.synth_source}) in {time.perf_counter() - t:.0f} s")
                r = _child(root, 64, False, args.workers, tmp)
                r["source"] = f"synthetic ({args.synth_source}) class folders, 178x218 JPEG"
                import shutil

                shutil.rmtree(root, ignore_errors=True)
            else:
                raise SystemExit(f"unknown case {case!r}")
            results["cases"][case] = r
            print(f"{case}: {r['images']} images in {r['wall_s']} s = {r['images_per_s']} img/s "
                  f"(decode stage {r['decode_images_per_s']} img/s), {r['images_per_cpu_s']} img/CPU-s, "
                  f"peak RSS parent {r['peak_rss_parent_mb']} MB / worker {r['peak_rss_worker_mb']} MB")
    results["machine"]["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    s10, s50 = results["cases"].get("synth10k"), results["cases"].get("synth50k")
    if s10 and s50:
        results["memory_growth_10k_to_50k_mb"] = {
            "parent": round(s50["peak_rss_parent_mb"] - s10["peak_rss_parent_mb"], 1),
            "worker": round(s50["peak_rss_worker_mb"] - s10["peak_rss_worker_mb"], 1),
            "cache_file": round(s50["cache_mb"] - s10["cache_mb"], 1)}

    print()
    hdr = f"{'case':10} {'images':>7} {'wall s':>7} {'img/s':>8} {'decode/s':>9} {'img/CPU-s':>10} {'RSS par':>8} {'RSS wrk':>8}  target"
    print(hdr)
    print("-" * len(hdr))
    for case, r in results["cases"].items():
        tgt = r.get("target_images_per_s")
        print(f"{case:10} {r['images']:>7} {r['wall_s']:>7} {r['images_per_s']:>8} {r['decode_images_per_s']:>9} "
              f"{r['images_per_cpu_s']:>10} {r['peak_rss_parent_mb']:>8} {r['peak_rss_worker_mb']:>8}  "
              + (f">= {tgt} img/s: {'met' if r['images_per_s'] >= tgt else 'NOT met'}" if tgt else ""))
    if "memory_growth_10k_to_50k_mb" in results:
        print(f"peak RSS growth 10k -> 50k images (MB): {results['memory_growth_10k_to_50k_mb']}")
    print(f"load average start/end: {results['machine']['load_avg_at_start']} / {results['machine']['load_avg_at_end']}"
          " (other work shares the cores when this is above ~0.5)")
    out = HERE / "results" / "prepare.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
