"""Accuracy within a wall-time budget on real FER2013 (7 emotions, 48×48 grey).

The budget covers preparing the cache from the 28,709 JPEGs (fresh temporary folder) and
training. The folder layout has only ``train/``, so the reader carves a seeded, stratified
80/10/10 train/val/test split out of it; the model is tuned on ``val`` and ``test`` is reported
untouched. FER2013 has about 6% duplicate images, some of which land on both sides of that split:
figures are slightly optimistic compared with the official PublicTest/PrivateTest sets.

Target (2 CPU cores): >= 65% validation accuracy within 30 minutes.

``--plain`` runs the command a user types instead (``facelab train <fer2013 folder> --minutes M``,
prepare included) and judges its held-out test accuracy: >= 63% in 10 minutes, >= 66% in 30.

Usage:
    python bench/train_fer.py --plain --minutes 10 --threads 1
    flock /tmp/facelab-bench.lock /work/venv/bin/python bench/train_fer.py --minutes 30
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_celeba import run_bench, run_plain, train_kwargs  # noqa: E402

GOAL = 0.65
# The recipe (first_stride=1 from 20 minutes up, ema, tta, erase .25, shift .08, scale .1,
# rotate 10) is the trainer's default for FER2013: facelab.train.recipes.RECIPES.


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=30.0, help="total wall budget incl. prepare")
    ap.add_argument("--size", type=int, default=48)
    ap.add_argument("--model", default="cnn")
    ap.add_argument("--params", default=None, help="model params as JSON (default: the tuned cnn)")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--balance", default=None, help="none | sqrt | full (default: the recipe's, none)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--options", default=None,
                    help="other train() keywords as JSON, over the recipe's, e.g. '{\"mixup\": 0.2}'")
    ap.add_argument("--plain", action="store_true",
                    help="run the plain command a user types (facelab train <folder> --minutes M), prepare "
                         "included; only --threads is passed besides")
    ap.add_argument("--tag", default=None, help="suffix of the results file (keeps experiments apart)")
    ap.add_argument("--recipe", default=None,
                    help="a row of the recipe table by key (e.g. fer2013/multiclass) instead of the one "
                         "the budget picks")
    a = ap.parse_args(argv)
    name = "train_fer" + (f"-{a.tag}" if a.tag else "")
    if a.plain:
        run_plain(kind="fer2013", target=None, minutes=a.minutes, threads=a.threads,
                  name=f"train_fer_plain_{a.minutes:g}min" + (f"-{a.tag}" if a.tag else ""))
        return
    _, kw = train_kwargs(a, "fer2013", "multiclass")
    run_bench(kind="fer2013", target=None, minutes=a.minutes, size=a.size, crop=None, grey=True,
              train_kw=kw, name=name, goal=GOAL)


if __name__ == "__main__":
    main()
