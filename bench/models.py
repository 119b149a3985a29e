"""Training throughput and inference latency of every registered model at 64×64×3, in one table.

For each name in ``facelab.models.list_models()`` (default parameters, one binary output):

- ``params``: learned numbers; ``MFLOPs``: forward FLOPs of one face (torch's FlopCounterMode;
  for ``logreg`` with PCA the two matrix products, counted by hand; HOG is not counted);
- ``train img/s``: torch: AdamW steps on batches of 128 (forward, backward, step), timed after
  warm-up; ``logreg``: images per second of a whole ``fit`` on ``--fit-n`` faces (scaler, PCA or
  HOG, logistic regression);
- ``latency ms``: median time to score one face (batch 1, one torch/BLAS thread — how a server
  scoring one face per request runs, and steadier on a shared CPU), preprocessing included;
- ``infer faces/s``: scoring a batch of 256.

Real faces from CelebA under ``$FACELAB_DATA`` are used when present (centre-cropped, resized to
64×64 with OpenCV); otherwise synthetic faces from ``facelab.data.synth`` (said in the output). Run
it under the shared benchmark lock:

    flock /tmp/facelab-bench.lock /work/venv/bin/python bench/models.py [--threads 2]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"
SIZE = 64


def load_faces(n: int) -> tuple[np.ndarray, np.ndarray, str]:
    """n faces (n, 64, 64, 3) uint8 and a binary label, and where they came from."""
    import cv2
    import pandas as pd

    from facelab.paths import shared_data

    data = shared_data()
    root = data / "celeba" if data else None
    imgs = sorted((root / "img_align_celeba" / "img_align_celeba").glob("*.jpg"))[:n] if root else []
    if len(imgs) >= n:
        out = np.empty((n, SIZE, SIZE, 3), np.uint8)
        for i, p in enumerate(imgs):
            im = cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)  # 178×218: square centre crop
            h, w = im.shape[:2]
            top = (h - w) // 2
            out[i] = cv2.resize(im[top:top + w], (SIZE, SIZE), interpolation=cv2.INTER_AREA)
        attrs = pd.read_csv(root / "list_attr_celeba.csv").set_index("image_id")
        y = (attrs.loc[[p.name for p in imgs], "Smiling"].to_numpy() > 0).astype(int)
        return out, y, f"real CelebA faces from {root} (first {n}, Smiling labels)"
    from facelab.data.synth import render_face

    rng = np.random.default_rng(0)
    out = np.empty((n, SIZE, SIZE, 3), np.uint8)
    y = rng.integers(0, 2, n)
    for i in range(n):
        face, _ = render_face({"Smiling": int(y[i])}, rng=rng)
        h, w = face.shape[:2]
        top = (h - w) // 2
        out[i] = cv2.resize(face[top:top + w], (SIZE, SIZE), interpolation=cv2.INTER_AREA)
    return out, y, "SYNTHETIC faces (no CelebA under $FACELAB_DATA)"


def _median_ms(fn, repeats: int = 30, budget_s: float = 5.0) -> float:
    for _ in range(3):
        fn()
    times, t_end = [], time.perf_counter() + budget_s
    while len(times) < repeats and (len(times) < 5 or time.perf_counter() < t_end):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def _best_rate(fn, n: int, repeats: int = 3) -> float:
    fn()
    return n / min(_timed(fn) for _ in range(repeats))


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def bench_torch(name: str, spec, x: np.ndarray, y: np.ndarray, steps: int, batch: int) -> dict:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from facelab.runs.preprocess import to_float

    torch.manual_seed(0)
    net = spec.build(3, 1, **spec.default_params).to(memory_format=torch.channels_last)
    params = sum(p.numel() for p in net.parameters())
    mean, std = [0.5, 0.45, 0.4], [0.25, 0.25, 0.25]
    xt = torch.from_numpy(x)
    net.eval()
    with FlopCounterMode(display=False) as fc, torch.inference_mode():
        net(to_float(xt[:1], mean, std))
    flops = fc.get_total_flops()

    # training: the trainer's recipe (AdamW, channels-last, BCE on one output)
    net.train()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=5e-4)
    yb = torch.from_numpy(y[:batch]).float().view(-1, 1)
    xb = to_float(xt[:batch], mean, std).contiguous(memory_format=torch.channels_last)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(net(xb), yb)
        loss.backward()
        opt.step()

    for _ in range(2):
        step()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    train_ips = steps * batch / (time.perf_counter() - t)

    net.eval()

    def infer(n):
        with torch.inference_mode():
            return torch.sigmoid(net(to_float(xt[:n], mean, std)))

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # batch-1 latency single-threaded, as compare measures it
    latency = _median_ms(lambda: infer(1))
    torch.set_num_threads(threads)
    return {"model": name, "kind": "torch", "params": params, "mflops": flops / 1e6,
            "train_img_s": train_ips, "latency_ms": latency,
            "infer_faces_s": _best_rate(lambda: infer(256), 256)}


def bench_logreg(name: str, spec, x: np.ndarray, y: np.ndarray, fit_n: int, features: str) -> dict:
    params = {**spec.default_params, "features": features}
    m = spec.build(3, 1, **params)
    t = time.perf_counter()
    m.fit(x[:fit_n], y[:fit_n], "binary")
    fit_s = time.perf_counter() - t
    n_params = int(sum(np.asarray(v).size for v in m.state_dict().values()))
    if features == "pca":
        k, d = m.components_.shape
        flops = 2 * k * d + 3 * d + 2 * k  # standardise, project, score
    else:
        flops = None
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # one BLAS thread for batch 1, as compare measures it
        latency = _median_ms(lambda: m.predict_proba(x[:1]))
    return {"model": f"{name}({features})", "kind": "classical", "params": n_params,
            "mflops": flops / 1e6 if flops else None, "train_img_s": fit_n / fit_s, "fit_s": fit_s,
            "latency_ms": latency,
            "infer_faces_s": _best_rate(lambda: m.predict_proba(x[:256]), 256)}


def fmt(v, spec: str, width: int) -> str:
    return ("–" if v is None else format(v, spec)).rjust(width)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    ap.add_argument("--steps", type=int, default=5, help="timed training steps per torch model")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--fit-n", type=int, default=4096, help="faces in the timed logreg fit")
    ap.add_argument("--models", default="*", help="glob over registered names")
    args = ap.parse_args(argv)

    import torch

    from facelab.models import get_model, list_models

    torch.set_num_threads(args.threads)
    n = max(args.fit_n, args.batch, 256)
    t = time.perf_counter()
    x, y, source = load_faces(n)
    print(f"faces: {source}; loaded {n} in {time.perf_counter() - t:.1f} s")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch threads "
          f"{args.threads}, load average {os.getloadavg()[0]:.1f} at start")
    rows = []
    for name in list_models(args.models):
        spec = get_model(name)
        print(f"… {name}", flush=True)
        if spec.kind == "torch":
            rows.append(bench_torch(name, spec, x, y, args.steps, args.batch))
        else:
            for feats in ("pca", "hog"):
                rows.append(bench_logreg(name, spec, x, y, args.fit_n, feats))

    head = f"{'model':<16}{'params':>12}{'MFLOPs':>10}{'train img/s':>13}{'latency ms':>12}{'infer faces/s':>15}"
    print("\n" + head + "\n" + "-" * len(head))
    for r in rows:
        print(f"{r['model']:<16}{r['params']:>12,}{fmt(r['mflops'], '.1f', 10)}{r['train_img_s']:>13.0f}"
              f"{r['latency_ms']:>12.2f}{r['infer_faces_s']:>15.0f}")
    print(f"\nload average {os.getloadavg()[0]:.1f} at end (other work on the machine inflates times)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {"source": source, "size": SIZE, "threads": args.threads, "batch": args.batch,
           "fit_n": args.fit_n, "cpus": os.cpu_count(), "python": sys.version.split()[0],
           "torch": torch.__version__, "loadavg_end": os.getloadavg()[0], "rows": rows}
    (RESULTS / "models.json").write_text(json.dumps(out, indent=2))
    print(f"wrote {RESULTS / 'models.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
