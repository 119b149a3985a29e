"""Tiny prepared caches made directly in the cache format, for the trainer's tests.

Images carry a learnable signal (a bright left half for a positive label, a class-specific
stripe for multiclass), so a few epochs of a tiny network must learn them.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from facelab.data.manifest import LabelInfo, Manifest
from facelab.data.prepared import PreparedDataset

TINY = {"widths": [8, 16], "depths": [1, 1]}  # a cnn small enough for a test to train in seconds


def make_cache(folder: Path, *, n: int = 160, size: int = 16, channels: int = 3, classes: int = 0,
               constant: bool = False, splits: tuple[float, float] = (0.0, 0.0), seed: int = 0) -> PreparedDataset:
    """Write a cache with binary attributes ``A``, ``B`` (and ``label`` when ``classes``)."""
    rng = np.random.default_rng(seed)
    a = np.zeros(n, np.int8) if constant else rng.integers(0, 2, n).astype(np.int8)
    b = rng.integers(0, 2, n).astype(np.int8)
    x = rng.integers(0, 60, (n, size, size, channels)).astype(np.uint8)
    x[a == 1, :, : size // 2] += 120
    x[b == 1, : size // 2] += 60
    table = pd.DataFrame({"image_id": [f"{i:05d}.jpg" for i in range(n)],
                          "path": [str(folder / f"{i:05d}.jpg") for i in range(n)]})
    val_frac, test_frac = splits
    u = rng.random(n)
    table["split"] = np.where(u < val_frac, "val", np.where(u < val_frac + test_frac, "test", "train"))
    table["A"], table["B"] = a, b
    labels = {"A": LabelInfo.binary("A"), "B": LabelInfo.binary("B")}
    attributes = ["A", "B"]
    if classes:
        lab = rng.integers(0, classes, n).astype(np.int16)
        for k in range(classes):
            x[lab == k, k * size // classes: (k + 1) * size // classes, :] = 230
        table["label"] = lab
        labels["label"] = LabelInfo(name="label", kind="multiclass", classes=[f"c{k}" for k in range(classes)])
    folder.mkdir(parents=True, exist_ok=True)
    Manifest(table=table, root=folder, layout="folder", labels=labels, attributes=attributes).save(folder)
    x.tofile(folder / "images.u8")
    meta = {"format": 1, "n": n, "size": size, "channels": channels, "grey": channels == 1, "crop": "square",
            "crop_box": [0, 0, 1, 1], "source_size": [size, size], "source": {"root": str(folder)},
            "options": {}, "skipped": {}, "complete": True}
    (folder / "meta.json").write_text(json.dumps(meta))
    return PreparedDataset.open(folder)


def run_cli(args, capsys):
    """Run the console script's ``main`` in process: (exit code, stdout, stderr) with white space folded."""
    from facelab.cli.main import main

    code = 0
    try:
        main([str(a) for a in args])
    except SystemExit as e:
        code = e.code
    cap = capsys.readouterr()
    return code, " ".join(cap.out.split()), " ".join(cap.err.split())
