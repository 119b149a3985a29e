"""Benchmark ``facelab explore`` and ``facelab cluster`` on the real data.

Stages (each in a fresh subprocess, so its peak memory is its own):

- ``explore``: ``explore(<data>/celeba)`` — all 202,599 label rows, image sections from the
  prepared cache if one exists, else a 3,000-image decoded sample. Target: <= 60 s, < 2 GB.
- ``cluster-pixels``: the 28,709 FER2013 training images (cache 48x48 grey), PCA x k sweep with
  k 5-15. Target: <= 120 s. Also ``cluster-hog`` and ``cluster-run`` (features of a trained run:
  ``--run NAME``, else an existing FER run, else a short CNN trained here with ``--train-minutes``).

Cluster-to-emotion accuracy, ARI and NMI are printed side by side (majority class = 25%).

Usage:
    flock /tmp/facelab-bench.lock /work/venv/bin/python bench/explore.py [--run NAME] [--stages ...]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
RESULTS = Path(__file__).resolve().parent / "results"


def _data_root() -> tuple[Path, bool]:
    from facelab.paths import shared_data

    root = shared_data()
    if root is not None and (root / "celeba").is_dir() and (root / "fer2013").is_dir():
        return root, True
    return _synthetic(), False


def _synthetic() -> Path:
    """Fallback when the real data is absent: small synthetic sets (figures NOT comparable)."""
    from facelab.data.synth import synthesize

    base = Path(os.environ.get("TMPDIR", "/tmp")) / "facelab-bench-synth"
    if not (base / "celeba").is_dir():
        synthesize(base / "celeba", kind="celeba", n=2000, seed=0)
        synthesize(base / "fer2013", kind="fer2013", n=2000, seed=0)
    return base


def _peak_mb() -> dict:
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"peak_rss_mb": round(me, 1), "peak_rss_children_mb": round(kids, 1)}


def _fer_cache(root: Path):
    from facelab.data.cache import prepare

    t = time.perf_counter()
    ds = prepare(root / "fer2013", size=48, grey=True, progress=False)
    return ds, round(time.perf_counter() - t, 1)


def _find_run(name: str | None, train_minutes: float, root: Path) -> tuple[str | None, str]:
    from facelab.runs import list_runs

    if name:
        return name, "given with --run"
    for r in list_runs():
        try:
            if r.task.kind == "multiclass" and "emotion" in r.task.targets and int(r.input.get("size", 0)) == 48 \
                    and r.spec.kind == "torch":
                return r.name, "an existing FER2013 run"
        except Exception:  # a run folder from another tool: not usable here
            continue
    if train_minutes <= 0:
        return None, "no FER2013 run and --train-minutes 0"
    from facelab.train.trainer import train

    ds, _ = _fer_cache(root)
    run = train(ds.path, target="emotion", model="cnn", minutes=train_minutes, name=f"bench-fer-cnn-{int(time.time())}",
                progress=False)
    return run.name, f"trained here: cnn, {train_minutes} min, val accuracy {run.metrics.get('val_accuracy')}"


def stage(name: str, args) -> dict:
    root, real = _data_root()
    res: dict = {"stage": name, "real_data": real, "data": str(root)}
    if name == "kmeans-vs-minibatch":
        # why MiniBatchKMeans: time and inertia against KMeans on the FER pixels sweep's data
        from sklearn.cluster import KMeans, MiniBatchKMeans
        from sklearn.preprocessing import StandardScaler

        from facelab.cluster.features import pixel_features
        from facelab.report.sweep import reduce

        ds, _ = _fer_cache(root)
        Z, _ = reduce(StandardScaler().fit_transform(pixel_features(ds.images)), 50, seed=0)
        for label, est in (("KMeans n_init=3", KMeans(7, n_init=3, random_state=0)),
                           ("KMeans n_init=1", KMeans(7, n_init=1, random_state=0)),
                           ("MiniBatchKMeans n_init=3", MiniBatchKMeans(7, n_init=3, batch_size=4096, random_state=0))):
            t = time.perf_counter()
            est.fit(Z)
            res[label] = {"seconds": round(time.perf_counter() - t, 2), "inertia": float(est.inertia_)}
        res.update(_peak_mb())
        return res
    if name == "explore":
        from facelab.explore.report import explore

        t = time.perf_counter()
        rep = explore(root / "celeba", out=RESULTS / "explore-celeba", progress=False, seed=0)
        res.update(seconds=round(time.perf_counter() - t, 1), label_rows=rep.label_rows, images=rep.images,
                   figures=len(rep.figures), steps=rep.seconds, notes=rep.notes[:3],
                   attribute_k=rep.attribute_clusters.get("k"), report=str(rep.html_path))
    else:
        from facelab.cluster.report import cluster

        feats = name.split("-", 1)[1]
        split = None
        if feats.startswith("test-"):  # held-out: images the run never trained on (its test split)
            feats, split = feats[5:], "test"
        ds, prep_s = _fer_cache(root)
        res["prepare_seconds"] = prep_s
        if feats == "run":  # the same run for all-images and held-out stages: the newest bench run
            run, how = _find_run(args.run, args.train_minutes, root)
            res["run"], res["run_source"] = run, how
            if run is None:
                res["pending"] = how
                return res
            feats = f"run:{run}"
        t = time.perf_counter()
        rep = cluster(ds, features=feats, k=range(5, 16), out=RESULTS / f"cluster-fer-{name}", progress=False, seed=0,
                      split=split)
        res.update(seconds=round(time.perf_counter() - t, 1), n=rep.n, split=split, dims=rep.dims, chosen=rep.chosen,
                   steps=rep.seconds, reducers=rep.reducers, report=str(rep.html_path))
        for key in ("matching", "matching_at_classes"):
            m = getattr(rep, key)
            if m:
                res[key] = {k: m[k] for k in ("k", "method", "accuracy", "ari", "nmi", "majority_baseline")}
    res.update(_peak_mb())
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stages", default="explore,cluster-pixels,cluster-hog,cluster-run,kmeans-vs-minibatch,"
                    "cluster-test-pixels,cluster-test-hog,cluster-test-run")
    ap.add_argument("--run", default=None, help="a trained FER2013 run for cluster-run")
    ap.add_argument("--train-minutes", type=float, default=4.0, help="train a CNN this long if no run exists (0: skip)")
    ap.add_argument("--stage", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--json", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.stage:  # child process
        Path(args.json).write_text(json.dumps(stage(args.stage, args), default=str))
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    results = {"cpus": os.cpu_count(), "load_before": os.getloadavg(), "stages": {}}
    previous = RESULTS / "explore.json"
    if previous.is_file():  # stages run separately accumulate in one file
        results["stages"] = json.loads(previous.read_text()).get("stages", {})
    for st in args.stages.split(","):
        out = RESULTS / f".explore-{st}.json"
        cmd = [sys.executable, __file__, "--stage", st, "--json", str(out), "--train-minutes", str(args.train_minutes)]
        if args.run:
            cmd += ["--run", args.run]
        t = time.perf_counter()
        subprocess.run(cmd, check=True)
        r = json.loads(out.read_text())
        r["wall_seconds"] = round(time.perf_counter() - t, 1)
        r["load_average"] = os.getloadavg()
        r["when"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        results["stages"][st] = r
        print(json.dumps(r, indent=1, default=str), flush=True)
    results["load_after"] = os.getloadavg()
    rows = [(st, r.get("matching_at_classes") or r.get("matching")) for st, r in sorted(results["stages"].items())
            if st.startswith("cluster-")]
    if rows:
        print("\nFER2013 clusters vs emotion (k = 7, Hungarian; majority class answers 25%):")
        print(f"{'features':<16}{'images':>8}{'accuracy':>10}{'ARI':>8}{'NMI':>8}{'seconds':>9}")
        for st, m in rows:
            if m:
                print(f"{st[8:]:<16}{results['stages'][st]['n']:>8}{m['accuracy']:>10.1%}{m['ari']:>8.3f}{m['nmi']:>8.3f}"
                      f"{results['stages'][st]['seconds']:>9}")
            else:
                print(f"{st[8:]:<16}  pending: {results['stages'][st].get('pending')}")
    (RESULTS / "explore.json").write_text(json.dumps(results, indent=1, default=str))
    print(f"\nwritten: {RESULTS / 'explore.json'}")


if __name__ == "__main__":
    main()
