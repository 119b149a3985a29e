"""Saliency benchmarks on real CelebA: do the maps point at what the model uses, and what they cost.

Parts (``--parts``, comma-separated):

1. ``deletion`` (load-independent): on the shipped 40-attribute model (``celeba-attributes``)
   and ``--faces`` CelebA images of the reader's seeded test split (the split the model card
   says was held out), for each attribute the mean drop of its probability when the 10% most
   salient pixels of each face are blurred, against 10% random pixels. Target: salient > random
   for >= 36 of 40 attributes. Every ``--methods`` entry is measured (``gradcam:8`` = Grad-CAM on
   the deepest stage at least 8 cells wide; ``integrated-gradients:8:1`` = 8 steps from the
   blurred face, smoothed by 1 px); the first is the one facelab uses.
2. ``maps``: the dataset maps (:func:`facelab.explain.dataset.dataset_saliency`) of Smiling, Male,
   Eyeglasses, Wearing_Hat and Young over the same faces, by Male, written as small PNGs to
   ``docs/images/explain-<attribute>.png``.
3. ``checks``: weight randomisation (Spearman of trained vs re-initialised maps, against the
   trained maps under 1–2 px shifts) on 100 of the faces, for the same five attributes.
4. ``cost`` (a timing: run it alone on a quiet machine): extra milliseconds per face on ONE core
   for one explained output (Smiling) and for all 40, faces one at a time as ``predict`` does.

Usage:
    nice -n 10 /work/main/.venv/bin/python bench/explain.py --parts deletion,maps,checks
    python bench/explain.py --parts cost          # alone, quiet machine
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
IMAGES = ROOT / "docs" / "images"
FIVE = ["Smiling", "Male", "Eyeglasses", "Wearing_Hat", "Young"]


def test_faces(n: int, seed: int = 0):
    """(crops uint8 (n, 64, 64, 3), table rows) of the CelebA reader's test split, decoded exactly
    as the shipped model's cache was (``--aligned``)."""
    from facelab.data.readers import read_source
    from facelab.paths import shared_data
    from facelab.predict import Predictor
    from facelab.pretrained import shipped_path

    root = shared_data()
    if root is None or not (root / "celeba").is_dir():
        sys.exit("needs the real data: FACELAB_DATA=/work/shared/data (celeba/)")
    m = read_source(root / "celeba")
    test = m.table[m.table["split"] == "test"].reset_index(drop=True)
    order = list(range(len(test)))
    random.Random(seed).shuffle(order)
    test = test.iloc[order[:n]].reset_index(drop=True)
    pred = Predictor.from_run(shipped_path("celeba-attributes"))
    res = list(pred.predict_batch(list(test["path"]), aligned=True, keep_crops=True, workers=2, batch_size=256))
    crops = np.stack([r.faces[0].crop for r in res])
    return crops, test


def part_deletion(run, crops, methods: list[str], fraction: float) -> dict:
    from facelab.explain.checks import deletion_drops
    from facelab.explain.saliency import explainer_for, normalise

    classes = run.task.classes
    idx = list(range(len(classes)))
    out = {}
    for spec in methods:
        name, *opts = spec.split(":")
        kw = {}
        if opts and name == "gradcam":
            kw["min_side"] = int(opts[0])
        elif opts:  # integrated-gradients:STEPS[:SMOOTH]
            kw["steps"] = int(opts[0])
            if len(opts) > 1:
                kw["smooth"] = float(opts[1])
        ex = explainer_for(run, name, **kw)
        t0 = time.perf_counter()
        maps = np.concatenate([normalise(ex(crops[i:i + 16], idx)) for i in range(0, len(crops), 16)])
        t_maps = time.perf_counter() - t0
        sal, rnd, p0 = deletion_drops(run.predict_proba, crops, maps, idx, fraction=fraction)
        rows = [{"attribute": c, "salient_drop": round(float(sal[:, j].mean()), 4),
                 "random_drop": round(float(rnd[:, j].mean()), 4),
                 "positive_faces": int((p0[:, j] >= 0.5).sum()),
                 "salient_drop_positive": round(float(sal[p0[:, j] >= 0.5, j].mean()), 4)
                 if (p0[:, j] >= 0.5).any() else None,
                 "random_drop_positive": round(float(rnd[p0[:, j] >= 0.5, j].mean()), 4)
                 if (p0[:, j] >= 0.5).any() else None}
                for j, c in enumerate(classes)]
        wins = sum(r["salient_drop"] > r["random_drop"] for r in rows)
        out[spec] = {"method": ex.method, "faces": len(crops), "fraction": fraction, "wins": wins,
                     "target": 36, "met": wins >= 36, "maps_seconds": round(t_maps, 1), "table": rows}
        print(f"{spec}: salient > random for {wins}/40 attributes (maps {t_maps:.0f} s)", flush=True)
    return out


def part_maps(run, crops, test) -> dict:
    from facelab.explain.dataset import dataset_saliency
    from facelab.explain.render import dataset_figure, figure_png

    labels = (test[FIVE].to_numpy() > 0).astype(int)
    male = (test["Male"].to_numpy() > 0).astype(int)
    ds = dataset_saliency(run, crops, labels, FIVE, {"Male": male}, {"Male": ["not Male", "Male"]}, batch=32)
    IMAGES.mkdir(parents=True, exist_ok=True)
    files = {}
    for a in FIVE:
        path = IMAGES / f"explain-{a}.png"
        figure_png(dataset_figure(ds.rows(a), f"{a}: {ds.n} CelebA test faces, shipped model ({ds.method})"),
                   path, dpi=60)
        small(path)
        files[a] = str(path.relative_to(ROOT))
    summary = [{k: v for k, v in g.to_dict().items() if k != "saliency"} for g in ds.groups]
    for g in summary:
        print({k: v for k, v in g.items() if k != "saliency"}, flush=True)
    return {"files": files, "groups": summary}


def small(path: Path, colours: int = 96) -> None:
    """Rewrite a PNG with a palette of ``colours``: a few tens of kB for the docs."""
    from PIL import Image

    with Image.open(path) as im:
        q = im.convert("RGB").quantize(colours, method=Image.Quantize.MEDIANCUT)
    q.save(path, optimize=True)


def part_checks(run, crops) -> dict:
    from facelab.explain.checks import randomisation_check

    out = {}
    for method in ("integrated-gradients", "gradcam"):
        for a in FIVE:
            c = randomisation_check(run, crops[:100], a, method=method)
            out[f"{method}/{a}"] = c.to_dict()
            print(method, a, out[f"{method}/{a}"], flush=True)
    return out


def part_cost(run, crops, n: int) -> dict:
    import torch

    from facelab.explain.saliency import explainer_for

    torch.set_num_threads(1)
    ex = explainer_for(run)
    k = run.task.classes.index("Smiling")
    faces = crops[:n]
    run.predict_proba(faces[:1])
    ex(faces[:1], [k])  # warm-up
    t0 = time.perf_counter()
    for f in faces:
        run.predict_proba(f[None])
    base = (time.perf_counter() - t0) / n
    t0 = time.perf_counter()
    for f in faces:
        ex(f[None], [k])
    one = (time.perf_counter() - t0) / n
    allk = list(range(len(run.task.classes)))
    m = max(n // 4, 5)
    t0 = time.perf_counter()
    for f in faces[:m]:
        ex(f[None], allk)
    every = (time.perf_counter() - t0) / m
    res = {"threads": 1, "faces": n, "classify_ms": round(1000 * base, 2), "one_output_ms": round(1000 * one, 2),
           "all_40_ms": round(1000 * every, 2), "target_one_output_ms": 30, "method": ex.method}
    print(res, flush=True)
    return res


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--parts", default="deletion,maps,checks", help="deletion, maps, checks, cost")
    ap.add_argument("--faces", type=int, default=1000, help="CelebA test faces")
    ap.add_argument("--methods", default="integrated-gradients:4:1,gradcam:8,integrated-gradients:8:1,gradcam:4",
                    help="explainers compared in the deletion part (the first is facelab's default)")
    ap.add_argument("--fraction", type=float, default=0.1, help="share of the pixels blurred")
    ap.add_argument("--cost-faces", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2, help="torch threads outside the cost part")
    ap.add_argument("--tag", default=None)
    a = ap.parse_args(argv)
    import torch

    from facelab.pretrained import shipped_path
    from facelab.runs import Run

    torch.set_num_threads(a.threads)
    parts = set(a.parts.split(","))
    run = Run.load(shipped_path("celeba-attributes"))
    crops, test = test_faces(a.faces)
    out: dict = {"run": "celeba-attributes (shipped)", "faces": len(crops), "split": "reader's seeded test split",
                 "load_average_1m_start": round(os.getloadavg()[0], 2), "cpus": os.cpu_count()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    dest = RESULTS / (f"explain-{a.tag}.json" if a.tag else "explain.json")

    def save() -> None:  # after every part: a long run that is stopped keeps what it measured
        out["load_average_1m_end"] = round(os.getloadavg()[0], 2)
        dest.write_text(json.dumps(out, indent=1))

    if "deletion" in parts:
        out["deletion"] = {}
        for spec in a.methods.split(","):
            out["deletion"].update(part_deletion(run, crops, [spec], a.fraction))
            save()
    if "maps" in parts:
        out["maps"] = part_maps(run, crops, test)
        save()
    if "checks" in parts:
        out["randomisation"] = part_checks(run, crops)
        save()
    if "cost" in parts:
        out["cost"] = part_cost(run, crops, a.cost_faces)
    save()
    print(f"wrote {dest}")


if __name__ == "__main__":
    main()
