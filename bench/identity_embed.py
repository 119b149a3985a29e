"""The descriptors of lfw_more/ for ``bench/identity.py``, computed once and cached (npz).

For every photo and every detector (dlib's HOG, OpenCV Haar, and MTCNN when it is registered), the
face nearest the photo's centre (LFW photos are centred on the person) goes through dlib's 5-point
chip, and dlib's ResNet (converted, :mod:`facelab.faces.dlibnet`) embeds the chip and its mirror image. A detector with five landmarks (MTCNN)
also gives the chip placed by its own landmarks (``<detector>_lm_raw`` / ``_lm_mirror``; the
library's default framing averages both chips). The raw descriptors are kept, so the
benchmark can score the plain way (HOG, one raw descriptor) and the mirror-averaged one on the same
photos. A photo where a detector finds nothing has NaN rows for that detector.

Usage:
    nice -n 10 python bench/identity_embed.py [--data DIR] [--limit N] [--workers 2]
"""
from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
DETECTORS = ("dlib", "haar", "mtcnn")


def photos(root: Path, limit: int | None = None) -> tuple[list[str], list[str]]:
    """(paths, person) of every photo of a folder-per-person tree, sorted; ``limit`` people at most."""
    people = sorted(p for p in root.iterdir() if p.is_dir())
    if limit:
        people = people[:limit]
    paths, labels = [], []
    for p in people:
        for f in sorted(p.glob("*.jpg")):
            paths.append(str(f))
            labels.append(p.name)
    return paths, labels


_state: dict = {}


def _init(detectors: tuple[str, ...]) -> None:
    import cv2

    from facelab.faces.detect import get_detector

    cv2.setNumThreads(1)
    _state["det"] = {d: get_detector(d) for d in detectors}


def _nearest(boxes, w: int, h: int):
    if not boxes:
        return None
    return min(boxes, key=lambda b: (b.center[0] - w / 2) ** 2 + (b.center[1] - h / 2) ** 2)


def network(chips: list[np.ndarray]) -> np.ndarray:
    """Raw descriptors of chips: the converted network (as the library runs it), else dlib's own."""
    from facelab.faces.dlibface import model_path, resnet
    from facelab.faces.dlibnet import FILE, shared_net

    try:
        return shared_net(model_path(FILE), threads=1)(np.stack(chips))
    except ImportError:  # neither onnxruntime with a converted graph nor torch
        return np.asarray(resnet().compute_face_descriptor(chips), np.float32)


def _chunk(paths: list[str]) -> dict[str, np.ndarray]:
    from facelab.data.image import load_image
    from facelab.faces.dlibface import face_chip, has_five_landmarks, landmark_chip

    dets = _state["det"]
    kinds = ("raw", "mirror", "lm_raw", "lm_mirror")
    out = {f"{d}_{k}": np.full((len(paths), 128), np.nan, np.float32) for d in dets for k in kinds
           if not k.startswith("lm") or getattr(dets[d], "five_landmarks", False)}
    out.update({f"{d}_box": np.full((len(paths), 4), np.nan, np.float32) for d in dets})
    chips, where = [], []
    for i, p in enumerate(paths):
        img = load_image(p)
        for d, det in dets.items():
            b = _nearest(det.detect(img), img.shape[1], img.shape[0])
            if b is None:
                continue
            out[f"{d}_box"][i] = (b.x, b.y, b.w, b.h)
            c = face_chip(img, b)
            chips += [c, np.ascontiguousarray(c[:, ::-1])]
            where += [(d, "raw", i), (d, "mirror", i)]
            if f"{d}_lm_raw" in out and has_five_landmarks(b):
                c = landmark_chip(img, b)
                chips += [c, np.ascontiguousarray(c[:, ::-1])]
                where += [(d, "lm_raw", i), (d, "lm_mirror", i)]
    if chips:
        v = network(chips)
        for (d, k, i), row in zip(where, v):
            out[f"{d}_{k}"][i] = row
    return out


def cache_file(root: Path, limit: int | None) -> Path:
    return RESULTS / f"identity_descriptors_{root.name}{f'_{limit}' if limit else ''}.npz"


def _order(paths: list[str], labels: list[str], seed: int = 0) -> list[int]:
    """Photo indices grouped by person, people in a seeded random order: any prefix of the work is
    a random sample of whole people (an interrupted cache still gives honest figures)."""
    people = sorted(set(labels))
    rank = {p: i for i, p in enumerate(np.random.default_rng(seed).permutation(people))}
    return sorted(range(len(paths)), key=lambda i: (rank[labels[i]], paths[i]))


def embed_all(root: Path, *, limit: int | None = None, workers: int = 2, chunk: int = 16,
              detectors: tuple[str, ...] | None = None) -> Path:
    """Compute (or reuse, or resume) the cached descriptors; returns the npz path.

    Each finished chunk is saved under ``<cache>.parts/`` at once, so an interrupted run resumes
    where it stopped, and :func:`load` can read the people finished so far. With ``detectors``, a
    cache that lacks them gets only their descriptors added (the others are kept).
    """
    out = cache_file(root, limit)
    paths, labels = photos(root, limit)
    dets = tuple(d for d in (detectors or DETECTORS) if _registered(d))
    old = {}
    if out.is_file():
        z = np.load(out, allow_pickle=False)
        if list(z["paths"]) == paths and all(f"{d}_raw" in z for d in dets):
            return out
        if detectors and list(z["paths"]) == paths:
            old = {k: z[k] for k in z.files if k not in ("paths", "labels", "detectors", "seconds")}
    parts_dir = out.with_suffix(".parts" if not detectors else f".{'-'.join(dets)}.parts")
    order = _order(paths, labels)
    chunks = [order[i:i + chunk] for i in range(0, len(order), chunk)]
    t0 = time.time()
    run_chunks(parts_dir, paths, chunks, _chunk, workers, _init, (dets,))
    z = {**old, **load_parts(parts_dir, len(paths))}
    if old:
        dets = tuple(dict.fromkeys([k[:-4] for k in z if k.endswith("_raw")]))
    RESULTS.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.npz")
    np.savez(tmp, paths=np.array(paths), labels=np.array(labels), detectors=np.array(dets),
             seconds=np.array(time.time() - t0), **z)
    os.replace(tmp, out)
    print(json.dumps({"cache": str(out), "photos": len(paths), "seconds": round(time.time() - t0, 1),
                      "found": {d: int(np.isfinite(z[f'{d}_raw'][:, 0]).sum()) for d in dets}}))
    return out


def run_chunks(parts_dir: Path, paths: list[str], chunks: list[list[int]], chunk_fn, workers: int,
               init, initargs: tuple = ()) -> None:
    """``chunk_fn(photo paths) -> {name: rows}`` over the chunks (lists of photo indices) not yet
    saved under ``parts_dir``, in ``workers`` processes; each chunk saved as it finishes
    (``<k>.npz``, written under a temporary name first), so an interrupted run resumes."""
    parts_dir.mkdir(parents=True, exist_ok=True)
    todo = [(k, c) for k, c in enumerate(chunks) if not (parts_dir / f"{k:05d}.npz").is_file()]
    t0 = time.time()
    with ProcessPoolExecutor(workers, initializer=init, initargs=initargs) as pool:
        futs = [(k, c, pool.submit(chunk_fn, [paths[i] for i in c])) for k, c in todo]
        for n, (k, c, f) in enumerate(futs):
            tmp = parts_dir / f"{k:05d}.tmp.npz"
            np.savez(tmp, index=np.array(c), **f.result())
            os.replace(tmp, parts_dir / f"{k:05d}.npz")
            if n % 10 == 0:
                print(f"  chunk {k + 1}/{len(chunks)}, {time.time() - t0:.0f} s", flush=True)


def load_parts(parts_dir: Path, n: int) -> dict[str, np.ndarray]:
    """The saved chunks as full arrays (rows of unfinished photos NaN) plus ``done`` (bool per photo)."""
    out: dict[str, np.ndarray] = {}
    done = np.zeros(n, bool)
    for f in sorted(parts_dir.glob("[0-9]*.npz")):
        z = np.load(f)
        idx = z["index"]
        for key in z.files:
            if key == "index":
                continue
            if key not in out:
                out[key] = np.full((n, z[key].shape[1]), np.nan, np.float32)
            out[key][idx] = z[key]
        done[idx] = True
    out["done"] = done
    return out


def _registered(name: str) -> bool:
    from facelab.faces.detect import get_detector

    try:
        get_detector(name)
        return True
    except Exception:
        return False


def main() -> None:
    from facelab.paths import shared_data

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=None, help="folder per person (default $FACELAB_DATA/lfw_more)")
    ap.add_argument("--limit", type=int, default=None, help="first N people only")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--detectors", default=None, help="comma list: only these (added to an existing cache)")
    a = ap.parse_args()
    root = a.data or (shared_data() / "lfw_more")
    embed_all(root, limit=a.limit, workers=a.workers,
              detectors=tuple(a.detectors.split(",")) if a.detectors else None)


if __name__ == "__main__":
    main()
