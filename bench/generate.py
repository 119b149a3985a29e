"""DCGAN on real CelebA: face rate of 1,000 samples (beside real faces'), Fréchet trend, images/s.

Steps, all timed: prepare a 64 px cache of ``$FACELAB_DATA/celeba`` (seconds: JPEG draft decoding),
train a small facelab classifier on all 40 attributes whose features score the Fréchet distance
(and, for ``--condition``, attribute agreement) — or reuse one with ``--feature-run`` — then train
the GAN for ``--minutes`` and score 1,000 samples of the final generator.

Targets (2 cores): 64×64 RGB in ≤ 30 minutes of GAN training, the detector finds a face
in ≥ 80% of 1,000 samples, and the Fréchet distance falls over the run; conditional on
Smiling,Male: attribute agreement ≥ 85% for both. The defaults are that full run:

    nice -n 10 python bench/generate.py                      # 30 min, threads = free cores
    nice -n 10 python bench/generate.py --condition Smiling,Male
    nice -n 10 python bench/generate.py --minutes 12 --threads 1 --epoch-images 8000 \
        --quality-samples 300 --docs                         # a short run on a busy machine

The Fréchet distance is in the feature space of the facelab classifier run, **not** Inception's:
compare it only between runs scored with the same feature run. Without the real data it falls
back to a small synthetic CelebA and says so loudly (the figures then mean nothing).
"""
from __future__ import annotations

import os
import time

T_START = time.perf_counter()
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # threads sleep, not spin, on a shared machine

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DOCS_IMAGES = ROOT / "docs" / "images"
GOALS = {"face_rate": 0.80, "agreement": 0.85}


def source() -> tuple[Path, bool]:
    from facelab.paths import shared_data

    root = shared_data()
    real = root / "celeba" if root else None
    if real is not None and real.is_dir():
        return real, True
    from facelab.data.synth import synthesize

    print(f"!! no real data at {real}: FALLING BACK TO SYNTHETIC CelebA (the figures mean nothing)", file=sys.stderr)
    return synthesize(Path(tempfile.mkdtemp(prefix="synth-celeba-")), kind="celeba", n=2000, seed=0), False


def load() -> float:
    return round(os.getloadavg()[0], 2)


def small_png(src: Path, dst: Path, max_bytes: int = 300_000) -> Path:
    """Copy a PNG into docs, shrinking it until it is under ``max_bytes``."""
    from PIL import Image

    dst.parent.mkdir(parents=True, exist_ok=True)
    im = Image.open(src).convert("RGB")
    while True:
        im.save(dst, optimize=True)
        if dst.stat().st_size <= max_bytes or im.width < 64:
            return dst
        im = im.resize((int(im.width * 0.8), int(im.height * 0.8)), Image.LANCZOS)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=30.0, help="GAN training minutes (the target: 30)")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--crop", default=None,
                    help="cache framing (default: the --feature-run's, else CelebA's own, face): the judge of "
                         "attribute agreement must see faces framed as it was trained (the shipped "
                         "celeba-attributes model: Smiling 0.908 on real face crops, 0.838 on square ones)")
    ap.add_argument("--condition", default=None, help="e.g. Smiling,Male (the conditional benchmark)")
    ap.add_argument("--feature-run", default=None, help="reuse a classifier run for the Fréchet features")
    ap.add_argument("--feature-minutes", type=float, default=4.0, help="minutes to train the feature classifier")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--ngf", type=int, default=32)
    ap.add_argument("--ndf", type=int, default=32)
    ap.add_argument("--epoch-images", type=int, default=20000)
    ap.add_argument("--ac-weight", type=float, default=1.0,
                    help="conditional runs: the auxiliary classifier's loss weight (0: the label-plane cGAN)")
    ap.add_argument("--quality-samples", type=int, default=1000, help="samples scored after each epoch")
    ap.add_argument("--final-samples", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--docs", action="store_true", help="copy the final grid and strip into docs/images/")
    ap.add_argument("--tag", default=None)
    a = ap.parse_args(argv)

    import numpy as np
    import torch

    import facelab
    from facelab.data.cache import prepare
    from facelab.generate.quality import FeatureSpace, attribute_agreement, face_rate

    if a.threads:
        torch.set_num_threads(a.threads)
    src, real = source()
    load_before = load()
    t0 = time.perf_counter()
    given = facelab.Run.load(a.feature_run) if a.feature_run else None  # opened once, used twice
    if a.crop is None:
        from facelab.data.ensure import DATASET_GEOMETRY

        a.crop = (given.input.get("crop") if given else None) or DATASET_GEOMETRY["celeba"]["crop"]
    ds = prepare(src, size=a.size, crop=a.crop, progress=False)
    prep_s = time.perf_counter() - t0
    print(f"cache: {ds} in {prep_s:.0f} s ({'REAL' if real else 'SYNTHETIC'} data)", flush=True)

    t0 = time.perf_counter()
    if given is not None:
        feature = given
    else:
        feature = facelab.train(ds, target="all", model="cnn", minutes=a.feature_minutes, threads=a.threads,
                                progress=False, name=f"bench-gan-features-{time.strftime('%Y%m%d-%H%M%S')}")
    feat_s = time.perf_counter() - t0
    print(f"feature run {feature.name}: val accuracy (40 attributes) {feature.metrics.get('val_accuracy')}, "
          f"{feat_s:.0f} s", flush=True)

    t0 = time.perf_counter()
    run = facelab.train_gan(ds, size=a.size, minutes=a.minutes, condition=a.condition, seed=a.seed,
                            feature_run=feature, threads=a.threads, batch_size=a.batch_size, ngf=a.ngf,
                            ndf=a.ndf, epoch_images=a.epoch_images, quality_samples=a.quality_samples,
                            ac_weight=a.ac_weight,
                            name=f"bench-gan{a.size}-{time.strftime('%Y%m%d-%H%M%S')}")
    gan_wall = time.perf_counter() - t0
    hist = run.history()

    # The final score: 1,000 new samples (another seed than the per-epoch ones) and 1,000 real faces.
    t0 = time.perf_counter()
    fake, labels = run.sample_with_labels(a.final_samples, seed=12345)
    rows = np.random.default_rng(1).choice(ds.split("test") if len(ds.split("test")) >= a.final_samples
                                           else np.arange(len(ds)), a.final_samples, replace=False)
    real_images = np.asarray(ds.images[np.sort(rows)])
    if real_images.shape[1] != a.size:
        from facelab.generate.quality import _fit_input

        real_images = _fit_input(real_images, a.size, ds.channels)
    fs = FeatureSpace(feature)
    fs.fit_real(real_images)
    res = {
        "benchmark": "generate" + (f"-{a.tag}" if a.tag else ""), "real_data": real, "source": str(src),
        "images": len(ds), "train_images": int(len(ds.split("train"))), "size": a.size, "crop": a.crop,
        "condition": run.condition, "options": {k: run.config[k] for k in
                                                ("nz", "ngf", "ndf", "batch_size", "lr", "beta1", "real_label",
                                                 "epoch_images", "quality_samples", "ac_weight")},
        "minutes": a.minutes, "threads": torch.get_num_threads(), "epochs": run.epochs,
        "train_seconds": round(float(run.state.get("train_seconds", 0)), 1), "gan_wall_seconds": round(gan_wall, 1),
        "prepare_seconds": round(prep_s, 1), "feature_seconds": round(feat_s, 1),
        "feature_run": feature.name, "feature_val_accuracy": feature.metrics.get("val_accuracy"),
        "train_images_per_s": round(float(hist["images"].iloc[-1]) / float(hist["seconds"].sum()), 1),
        "final_samples": a.final_samples,
        "face_rate": face_rate(fake), "real_face_rate": face_rate(real_images),
        "frechet_final": fs.distance(fake),
        "frechet_real_vs_real": None,
        "frechet_per_epoch": [None if v != v else round(float(v), 3) for v in hist.get("frechet", [])],
        "face_rate_per_epoch": [None if v != v else round(float(v), 3) for v in hist.get("face_rate", [])],
        "run": str(run.path), "status": run.status,
    }
    # The floor of the score: two disjoint sets of real faces (train rows against the test rows above).
    other = np.random.default_rng(2).choice(ds.split("train"), a.final_samples, replace=False)
    other_images = np.asarray(ds.images[np.sort(other)])
    res["frechet_real_vs_real"] = fs.distance(other_images if other_images.shape[1] == a.size
                                              else real_images)
    if run.condition:
        res["agreement"] = attribute_agreement(fake, labels, run.condition, feature)
        # the judge's own accuracy on real faces with their true labels: the ceiling of the agreement
        res["real_agreement"] = attribute_agreement(
            real_images, ds.table[list(run.condition)].to_numpy()[np.sort(rows)], run.condition, feature)
        res["meets_agreement_goal"] = all(v >= GOALS["agreement"] for v in res["agreement"].values())
    fd = [v for v in res["frechet_per_epoch"] if v is not None]
    res["frechet_falls"] = bool(len(fd) >= 2 and fd[-1] < fd[0])
    res["meets_face_rate_goal"] = res["face_rate"] >= GOALS["face_rate"]
    res["score_seconds"] = round(time.perf_counter() - t0, 1)
    res["load_average_1m"] = {"before": load_before, "after": load()}
    res["wall_seconds"] = round(time.perf_counter() - T_START, 1)
    if a.docs:
        res["docs_images"] = [  # the strip and the final fixed-noise grid (the curves are copied too)
            str(small_png(run.path / "progress.png", DOCS_IMAGES / "generate-progress.png")),
            str(small_png(sorted((run.path / "samples").glob("epoch_*.png"))[-1], DOCS_IMAGES / "generate-grid.png"))]
        shutil.copy(run.path / "plots" / "curves.png", DOCS_IMAGES / "generate-curves.png")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{res['benchmark']}.json"
    out.write_text(json.dumps(res, indent=1, default=float))
    print(f"\n== DCGAN {a.size}px on {'REAL' if real else 'SYNTHETIC'} CelebA ({res['train_images']} training faces), "
          f"{run.epochs} epochs in {res['train_seconds']:.0f} s of training, {res['train_images_per_s']} images/s, "
          f"{res['threads']} thread(s), load {load_before} → {res['load_average_1m']['after']}")
    print(f"face rate of {a.final_samples} samples {res['face_rate']:.3f} (real faces {res['real_face_rate']:.3f}; "
          f"goal {GOALS['face_rate']}: {'met' if res['meets_face_rate_goal'] else 'NOT met'})")
    print(f"Fréchet (features of {feature.name}, NOT Inception FID) per epoch: {res['frechet_per_epoch']}; "
          f"final {res['frechet_final']:.3f}; real vs real {res['frechet_real_vs_real']:.3f}; "
          f"{'falls' if res['frechet_falls'] else 'does NOT fall'}")
    if run.condition:
        print(f"attribute agreement {res['agreement']} (goal {GOALS['agreement']}); the judge on real faces "
              f"with their true labels: {res['real_agreement']}")
    print(f"written {out}")
    return res


if __name__ == "__main__":
    main()
