"""Benchmark: how long reading a source (labels + one folder listing) takes, and `--check` speed.

Usage:
    flock /tmp/facelab-bench.lock /work/venv/bin/python bench/read.py [--repeat 3] [--check 2000]

Reads the real CelebA (202,599 label rows, 15,979 images), FER2013 folders (28,709 images) and
LFW people (1,348 images) from ``$FACELAB_DATA`` (default: the shared data folder). Without real
data it falls back to synthetic sources and says so. Prints a table and writes
``bench/results/read.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from facelab.data.readers import read_source
from facelab.data.readers.info import check_images
from facelab.paths import shared_data


def _sources() -> tuple[dict[str, Path], str]:
    root = shared_data()
    if root is not None and (root / "celeba").is_dir():
        return {k: root / k for k in ("celeba", "fer2013", "people")}, f"real data in {root}"
    from facelab.data.synth import synthesize

    tmp = Path(tempfile.mkdtemp(prefix="facelab-bench-read-"))
    print("NOTE: no real data found (FACELAB_DATA): falling back to SYNTHETIC sources")
    return {
        "celeba": synthesize(tmp / "celeba", kind="celeba", n=2000, seed=0),
        "fer2013": synthesize(tmp / "fer", kind="fer2013", n=2000, seed=0),
        "people": synthesize(tmp / "people", kind="folder", n=400, seed=0, identities=8),
    }, "synthetic (no real data found)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="timed reads per source (median reported)")
    ap.add_argument("--check", type=int, default=2000, help="images decoded per source for the --check figure (0: skip, -1: all)")
    ap.add_argument("--workers", type=int, default=None, help="processes for the check (default: all cores)")
    args = ap.parse_args()

    sources, kind = _sources()
    results: dict = {"data": kind, "cpus": os.cpu_count(), "python": platform.python_version(), "sources": {}}
    print(f"{'source':10s} {'layout':16s} {'images':>8s} {'problems':>9s} {'wall s':>7s} {'cpu s':>6s}")
    for name, path in sources.items():
        read_source(path)  # warm the page cache: we time parsing, not the first disk read
        walls, cpus = [], []
        for _ in range(args.repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            m = read_source(path)
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        row = {"layout": m.layout, "images": len(m), "problems": sum(m.problem_counts().values()),
               "wall_s": round(statistics.median(walls), 3), "cpu_s": round(statistics.median(cpus), 3),
               "splits": m.split_counts()}
        results["sources"][name] = row
        print(f"{name:10s} {m.layout:16s} {len(m):8,d} {row['problems']:9,d} {row['wall_s']:7.2f} {row['cpu_s']:6.2f}")
        if args.check and m.layout != "fer2013-csv":
            if args.check > 0:
                m.table = m.table.head(args.check)
            c = check_images(m, workers=args.workers, progress=False)
            row["check"] = {"images": c.checked, "failed": c.failed, "seconds": c.seconds,
                            "duplicates": c.duplicates, "cross_split_duplicates": c.cross_split_duplicates,
                            "images_per_s": round(c.checked / c.seconds, 1) if c.seconds else None}
            print(f"{'':10s} --check: {c.checked:,} images decoded in {c.seconds:.2f} s "
                  f"({row['check']['images_per_s']}/s), {c.failed} failed, {c.duplicates:,} byte-identical "
                  f"copies ({c.cross_split_duplicates:,} across splits)")
    out = Path(__file__).parent / "results" / "read.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print(f"written {out}")


if __name__ == "__main__":
    main()
