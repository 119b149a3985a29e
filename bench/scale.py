"""Scale-out benchmarks: local vs Spark local[2], and DDP with 1 vs 2 processes.

Parts (``--parts``, default all; each result is merged into ``bench/results/scale.json`` with the
load average before and after, since the machine is shared):

- ``prepare``: the CelebA images (``$FACELAB_DATA/celeba``, 15,979 JPEGs) -> 64x64 RGB cache,
  local (2 worker processes) vs Spark ``local[2]``; images/s both, Spark's session start-up and
  the fixed cost of one tiny Spark job. Both caches are compared byte for byte.
- ``stats``: label statistics over all 202,599 CelebA label rows, pandas/numpy vs Spark (counts,
  P(A|B), correlations, balance per split), largest differences; the per-attribute logistic
  regression for ``--logreg-targets`` attributes, scikit-learn (liblinear) vs MLlib, on every row.
- ``predict``: batch prediction of the aligned crops (``--predict-n``, default all) with a run
  (``--run``; else one trained for ``--train-minutes`` on the cache and said so), local vs Spark;
  largest probability difference.
- ``ddp``: training the same budget (``--ddp-minutes``) with 1 and 2 processes; images/s and
  validation accuracy.
- ``projection``: time for N executors from the measured per-image costs and fixed overheads.

Usage::

    FACELAB_DATA=/work/shared/data nice -n 10 python bench/scale.py [--parts prepare,stats,...]
"""
from __future__ import annotations

import argparse
import filecmp
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "scale.json"
MASTER = "local[2]"


def load() -> float:
    return round(os.getloadavg()[0], 2)


def say(msg: str) -> None:
    print(msg, flush=True)


def celeba() -> Path:
    from facelab.paths import shared_data

    root = shared_data()
    if root is None or not (root / "celeba").is_dir():
        sys.exit("no real CelebA under $FACELAB_DATA/celeba: this benchmark needs the real data (no synthetic fallback)")
    return root / "celeba"


def part_prepare(work: Path, res: dict) -> None:
    from facelab.data.cache import prepare
    from facelab.scale.spark import get_spark
    from facelab.scale.prepare import prepare_spark

    src = celeba()
    t = time.perf_counter()
    a = prepare(src, size=64, out=work / "local64", progress=False, workers=2, force=True)
    local_s = time.perf_counter() - t
    t = time.perf_counter()
    get_spark(MASTER)
    start_s = time.perf_counter() - t
    t = time.perf_counter()
    get_spark(MASTER).range(10).count()
    job_s = time.perf_counter() - t  # a tiny job: scheduling + Python worker start
    t = time.perf_counter()
    b = prepare_spark(src, size=64, out=work / "spark64", progress=False, master=MASTER, force=True)
    spark_s = time.perf_counter() - t
    same = all(filecmp.cmp(a.path / f, b.path / f, shallow=False)
               for f in ("images.u8", "manifest.parquet", "manifest.json"))
    n = len(a)
    res["prepare"] = {
        "images": n, "local_seconds": round(local_s, 2), "local_images_per_s": round(n / local_s, 1),
        "local_decode_images_per_s": a.meta["decode_images_per_s"],
        "spark_seconds": round(spark_s, 2), "spark_images_per_s": round(n / spark_s, 1),
        "spark_decode_seconds": b.meta["decode_seconds"],
        "spark_decode_images_per_s": b.meta["decode_images_per_s"],
        "spark_session_start_s": round(start_s, 2), "spark_tiny_job_s": round(job_s, 2),
        "byte_identical": same}
    say(f"prepare {n} images: local {local_s:.1f} s ({n / local_s:.0f}/s), Spark {spark_s:.1f} s "
        f"({n / spark_s:.0f}/s; decode stage {b.meta['decode_seconds']:.1f} s), session start {start_s:.1f} s, "
        f"tiny job {job_s:.1f} s, byte-identical: {same}")


def _labels():
    from facelab.data.readers import read_source
    from facelab.explore.source import full_celeba_labels

    m = read_source(celeba())
    table, _ = full_celeba_labels(m)
    return table, [c for c in table.columns if c != "split"]


def part_stats(work: Path, res: dict, targets: int) -> None:
    from facelab.explore.logreg import attribute_models
    from facelab.explore.stats import attribute_stats
    from facelab.scale.stats import (spark_attribute_models, spark_attribute_stats, split_balance,
                                     split_balance_pandas, to_spark)

    labels, names = _labels()
    t = time.perf_counter()
    st = attribute_stats(labels[names].to_numpy(np.int8), names)
    bal = split_balance_pandas(labels, names)
    pandas_s = time.perf_counter() - t
    df = to_spark(labels, names, master=MASTER).cache()
    df.count()
    t = time.perf_counter()
    sst = spark_attribute_stats(df, names)
    sbal = split_balance(df, names)
    spark_s = time.perf_counter() - t
    diff = max(float(np.abs(sst.cond - st.cond).max()), float(np.abs(sst.corr - st.corr).max()),
               float(np.abs(sst.prevalence - st.prevalence).max()), float(np.abs(sbal.to_numpy() - bal.to_numpy()).max()))
    chosen = st.names[:targets]
    X = labels[st.names].to_numpy(np.int8)
    t = time.perf_counter()
    loc = [m for m in attribute_models(X, st.names) if m.target in chosen]
    sk_s = time.perf_counter() - t  # fits all attributes: scaled to the chosen ones below
    sk_per = sk_s / len(st.names)
    t = time.perf_counter()
    spk = spark_attribute_models(df, st.names, targets=chosen)
    ml_s = time.perf_counter() - t
    acc = max(abs(a.accuracy - b.accuracy) for a, b in zip(loc, spk))
    f1 = max(abs(a.f1 - b.f1) for a, b in zip(loc, spk))
    res["stats"] = {"rows": int(st.n), "attributes": len(names), "pandas_seconds": round(pandas_s, 3),
                    "spark_seconds": round(spark_s, 2), "counts_equal": bool((sst.counts == st.counts).all()),
                    "max_abs_diff_probabilities": diff,
                    "logreg_targets": chosen, "sklearn_seconds_per_attribute": round(sk_per, 2),
                    "mllib_seconds_per_attribute": round(ml_s / len(chosen), 2),
                    "max_abs_diff_accuracy": round(acc, 5), "max_abs_diff_f1": round(f1, 5)}
    df.unpersist()
    say(f"stats on {st.n} rows: pandas {pandas_s:.2f} s, Spark {spark_s:.1f} s, counts equal "
        f"{res['stats']['counts_equal']}, max |diff| {diff:.1e}; logreg per attribute: sklearn {sk_per:.2f} s, "
        f"MLlib {ml_s / len(chosen):.1f} s; max |diff| accuracy {acc:.4f}, F1 {f1:.4f}")


def _run(work: Path, run: str | None, minutes: float, res: dict):
    from facelab.runs.run import Run
    from facelab.train.trainer import train

    if run:
        return Run.load(run)
    say(f"no --run: training a quick Smiling cnn for {minutes} min on the real cache (said so in the JSON)")
    res.setdefault("notes", []).append(f"predict used a cnn trained {minutes} min by the benchmark itself")
    return train(str(work / "local64"), target="Smiling", model="cnn", minutes=minutes, seed=0, progress=False,
                 threads=2, name=f"bench-scale-{int(time.time())}")


def part_predict(work: Path, res: dict, run: str | None, minutes: float, n: int | None) -> None:
    import pandas as pd

    from facelab.predict.batch import predict_files
    from facelab.scale.predict import predict_spark

    r = _run(work, run, minutes, res)
    imgs = sorted((celeba() / "img_align_celeba" / "img_align_celeba").glob("*.jpg"))[:n]
    listing = work / "paths.parquet"
    pd.DataFrame({"path": [str(p) for p in imgs]}).to_parquet(listing)
    t = time.perf_counter()
    a = predict_files(r, [str(p) for p in imgs], out=work / "local.parquet", aligned=True, progress=False)
    local_s = time.perf_counter() - t
    t = time.perf_counter()
    b = predict_spark(r.name if run is None else run, [str(listing)], out=work / "spark.parquet", aligned=True,
                      progress=False, master=MASTER)
    spark_s = time.perf_counter() - t
    pa, pb = pd.read_parquet(a.out), pd.read_parquet(b.out)
    col = [c for c in pa.columns if c.startswith("p_")][0]
    diff = float(np.nanmax(np.abs(pa[col].to_numpy(float) - pb[col].to_numpy(float))))
    res["predict"] = {"faces": len(imgs), "local_seconds": round(local_s, 2), "local_faces_per_s": round(len(imgs) / local_s, 1),
                      "spark_seconds": round(spark_s, 2), "spark_faces_per_s": round(len(imgs) / spark_s, 1),
                      "same_rows": bool(len(pa) == len(pb) and (pa["file"] == pb["file"]).all()),
                      "max_abs_diff_probability": diff, "run": r.name}
    say(f"predict {len(imgs)} aligned faces: local {local_s:.1f} s ({len(imgs) / local_s:.0f}/s), Spark {spark_s:.1f} s "
        f"({len(imgs) / spark_s:.0f}/s), max |diff| p {diff:.1e}")


def part_ddp(work: Path, res: dict, minutes: float) -> None:
    from facelab.scale.ddp import train_ddp
    from facelab.train.trainer import train

    out = {}
    for nproc in (1, 2):
        t = time.perf_counter()
        fit = train if nproc == 1 else (lambda *a, **k: train_ddp(*a, nproc=nproc, **k))
        run = fit(str(work / "local64"), target="Smiling", model="cnn", minutes=minutes, seed=0, progress=False,
                  threads=None if nproc == 1 else 1, name=f"bench-ddp{nproc}-{int(time.time())}")
        wall = time.perf_counter() - t
        m, st = run.metrics, run.state
        bs = run.config.get("batch_size") or 128
        ips = st["step"] * bs / max(st["elapsed"], 1e-9)  # all processes together
        out[f"nproc{nproc}"] = {"wall_seconds": round(wall, 1), "train_seconds": round(st["elapsed"], 1),
                                "steps": st["step"], "epochs": st["epoch"], "images_per_s": round(ips, 1),
                                "val_accuracy": round(m["val_accuracy"], 4)}
        say(f"DDP nproc={nproc}: {st['step']} steps in {st['elapsed']:.0f} s ({ips:.0f} images/s), "
            f"val accuracy {m['val_accuracy']:.4f}")
    res["ddp"] = {"minutes": minutes, **out}


def projection(res: dict) -> dict:
    """Time on N executors = fixed overhead + images x per-image cost / N (cost from local[2])."""
    p = res.get("prepare")
    if not p:
        return {}
    per_image_2 = p["spark_decode_seconds"] / p["images"]  # 2 cores busy
    per_core = per_image_2 * 2
    fixed = p["spark_session_start_s"] + p["spark_seconds"] - p["spark_decode_seconds"]
    rows = {}
    for n in (2, 8, 32, 128):
        rows[n] = {"celeba_202599_s": round(fixed + 202_599 * per_core / n, 1),
                   "one_million_s": round(fixed + 1_000_000 * per_core / n, 1)}
    return {"per_image_core_seconds": per_core, "fixed_seconds": round(fixed, 1), "cores": rows}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--parts", default="prepare,stats,predict,ddp")
    ap.add_argument("--work", default=None, help="scratch folder (default: a temporary one, kept for reuse)")
    ap.add_argument("--logreg-targets", type=int, default=4)
    ap.add_argument("--run", default=None)
    ap.add_argument("--train-minutes", type=float, default=1.0)
    ap.add_argument("--predict-n", type=int, default=None)
    ap.add_argument("--ddp-minutes", type=float, default=1.0)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(2)
    work = Path(args.work or Path(tempfile.gettempdir()) / "facelab-bench-scale")
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("FACELAB_RUNS", str(work / "runs"))
    res = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    parts = args.parts.split(",")
    for part in parts:
        before = load()
        t = time.perf_counter()
        if part == "prepare":
            part_prepare(work, res)
        elif part == "stats":
            part_stats(work, res, args.logreg_targets)
        elif part == "predict":
            part_predict(work, res, args.run, args.train_minutes, args.predict_n)
        elif part == "ddp":
            part_ddp(work, res, args.ddp_minutes)
        else:
            sys.exit(f"unknown part {part}")
        res.setdefault("load", {})[part] = {"before_1m": before, "after_1m": load(),
                                            "seconds": round(time.perf_counter() - t, 1)}
        res["projection"] = projection(res)
        res["cpus"] = os.cpu_count()
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(res, indent=1))
    say(json.dumps(res.get("projection", {}), indent=1))
    say(f"written {RESULTS}")


if __name__ == "__main__":
    main()
