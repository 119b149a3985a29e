"""Train facelab's face proposal network (``facelab/faces/proposer.onnx``), distilled from MTCNN.

The proposal network replaces MTCNN's first two stages (P-net over a fine pyramid, then R-net on
every candidate): one small fully convolutional network run on a pyramid of octaves proposes
square face boxes, and MTCNN's O-net scores each proposal and places the five landmarks, as it
does on R-net's boxes (:mod:`facelab.faces.proposer`).

Teacher: MTCNN (P-, R-, O-net, the library's settings) on the training photos; its boxes (centre,
side = the longer side of its box) are the targets. Training scenes:

- photos: ``people/`` (all but the two validation people) and the first half of ``lfw_more/``'s
  sorted names, with every face MTCNN found, turned by up to ±45° and scaled;
- 600 photos of facelab's own drawn faces (:mod:`facelab.data.synth`: what ``facelab demo`` and
  the tests generate);
- composites: faces cut from those photos with a soft edge, 1-5 per canvas, turned by up to ±45°,
  over procedural backgrounds (gradients, stripes, blobs, noise; unlike the benchmark's) and over
  face-free corners of the photos.

Each sample is an 80x80 window of a scene scaled so a face's side falls in the network's band
(12-24 px, one octave; the pyramid steps by octaves) or at a random scale (faces out of the band
are not proposed at that scale). Targets on the stride-4 grid: the cells at a face centre are
positive (a face of 11-26 px), cells around it and faces just outside the band are ignored,
every other cell negative (focal loss); the positive cells regress the centre offset and the
log side.

Validation (choices only): the two held-out ``people/`` people and composites of CelebA faces
(seed 1; the benchmark's are seed 0). The second half of ``lfw_more/`` is never read.

Usage:
    FACELAB_DATA=/work/shared/data python bench/train_proposer.py --minutes 35 --out src/facelab/faces/proposer.onnx
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

WIN, STRIDE = 80, 4
BAND = (12.0, 24.0)  # face sides proposed at a scale (px of that scale)
POS = (11.0, 26.0)  # trained as faces
IGNORE = (8.5, 34.0)  # ... and not penalised either way
VAL_PEOPLE = 2


def _data() -> Path:
    return Path(os.environ.get("FACELAB_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))


# -- the teacher ---------------------------------------------------------------------------------
def _key(root: Path, p: Path) -> str:
    """A photo's name in the label files: relative to the data folder, else absolute."""
    return str(p.relative_to(root)) if p.is_relative_to(root) else str(p.resolve())


def teacher_labels(root: Path, paths: list[Path], cache: Path) -> dict[str, list[list[float]]]:
    """MTCNN's faces on ``paths``: {relative path: [[cx, cy, side, angle], ...]} (cached)."""
    got = json.loads(cache.read_text()) if cache.is_file() else {}
    todo = [p for p in paths if _key(root, p) not in got]
    if todo:
        from facelab.data.image import load_image
        from facelab.faces.mtcnn import MtcnnDetector

        det = MtcnnDetector(first_stage="pnet")
        for i, p in enumerate(todo):
            faces = det.detect(load_image(p))
            got[_key(root, p)] = [[f.x + f.w / 2, f.y + f.h / 2, max(f.w, f.h), f.angle] for f in faces]
            if i % 1000 == 0:
                print(f"teacher {i}/{len(todo)}", flush=True)
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(got))
    return {_key(root, p): got[_key(root, p)] for p in paths}


def synthetic_photos(folder: Path, n: int) -> list[Path]:
    """``n`` photos of facelab's drawn faces (:mod:`facelab.data.synth`), the faces the test suite
    and ``facelab demo`` generate, on noisy backgrounds (made once)."""
    from facelab.data.synth.faces import render_face

    folder.mkdir(parents=True, exist_ok=True)
    attrs = ("Smiling", "Male", "Eyeglasses", "Bangs", "Mouth_Slightly_Open", "Wearing_Hat", "Blond_Hair", "Young")
    expressions = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    out = []
    for i in range(n):
        f = folder / f"synth{i:04d}.png"
        out.append(f)
        if f.is_file():
            continue
        rng = np.random.default_rng(50_000 + i)
        face, _ = render_face({a: bool(rng.random() < 0.4) for a in attrs}, rng=rng,
                              expression=str(rng.choice(expressions)) if rng.random() < 0.3 else None,
                              framing="photo" if rng.random() < 0.4 else "aligned")
        w = h = 420
        bg = cv2.resize(rng.integers(0, 256, (h // 8, w // 8, 3)).astype(np.uint8), (w, h), interpolation=cv2.INTER_CUBIC)
        k = float(rng.uniform(0.8, 1.7))
        big = cv2.resize(face, None, fx=k, fy=k, interpolation=cv2.INTER_CUBIC)[:h, :w]
        y0, x0 = int(rng.integers(0, h - big.shape[0] + 1)), int(rng.integers(0, w - big.shape[1] + 1))
        bg[y0:y0 + big.shape[0], x0:x0 + big.shape[1]] = big
        cv2.imwrite(str(f), bg[:, :, ::-1])
    return out


def splits(root: Path) -> tuple[list[Path], list[Path]]:
    """(training photos, validation photos)."""
    people = sorted(d for d in (root / "people").iterdir() if d.is_dir())
    more = sorted(d for d in (root / "lfw_more").iterdir() if d.is_dir())
    train_dirs = people[:-VAL_PEOPLE] + more[:len(more) // 2]
    val_dirs = people[-VAL_PEOPLE:]
    photos = lambda dirs: [p for d in dirs for p in sorted(d.glob("*.jpg"))]  # noqa: E731
    return photos(train_dirs), photos(val_dirs)


# -- scenes and windows --------------------------------------------------------------------------
def _background(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """Gradients, stripes, blobs and noise (a different family from bench/detect.py's)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    a, b = rng.uniform(-1, 1, 2)
    base = rng.uniform(0, 255, 3) + (a * xx / w + b * yy / h)[:, :, None] * rng.uniform(-120, 120, 3)
    img = base
    for _ in range(int(rng.integers(0, 4))):  # stripes
        f, ph = rng.uniform(0.02, 0.3), rng.uniform(0, 6.3)
        d = np.sin((xx * math.cos(ph) + yy * math.sin(ph)) * f + ph)[:, :, None]
        img = img + d * rng.uniform(5, 60, 3)
    img = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(2, 15))):  # blobs and polygons
        c = tuple(int(v) for v in rng.integers(0, 256, 3))
        pts = rng.integers(-20, max(w, h) + 20, (int(rng.integers(3, 7)), 2)).astype(np.int32)
        if rng.random() < 0.5:
            cv2.fillPoly(img, [cv2.convexHull(pts)], c)
        else:
            cv2.circle(img, (int(pts[0, 0]), int(pts[0, 1])), int(rng.integers(3, 50)), c, -1)
    small = rng.normal(0, 1, (max(2, h // 8), max(2, w // 8), 3)).astype(np.float32)
    tex = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC) * rng.uniform(0, 25)
    img = np.clip(img + tex + rng.normal(0, rng.uniform(0, 10), img.shape), 0, 255).astype(np.uint8)
    k = int(rng.choice([1, 3, 5]))
    return cv2.GaussianBlur(img, (k, k), 0) if k > 1 else img


def _turn_scale(img: np.ndarray, faces: np.ndarray, k: float, angle: float, centre: tuple[float, float],
                out_wh: tuple[int, int], at: tuple[float, float], fill=0) -> tuple[np.ndarray, np.ndarray]:
    """``img`` scaled by ``k`` (area averaging first when shrinking), turned by ``angle`` about
    ``centre`` (in ``img`` px), that point put at ``at`` of an ``out_wh`` window, ``fill`` outside
    the image; faces follow."""
    pre = 1.0
    if k < 0.7:  # shrink by area first so the small copy is what the pyramid would give
        pre = k
        h, w = img.shape[:2]
        img = cv2.resize(img, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_AREA)
        k = 1.0
    m = cv2.getRotationMatrix2D((centre[0] * pre, centre[1] * pre), angle, k)
    m[:, 2] += (at[0] - centre[0] * pre, at[1] - centre[1] * pre)
    out = cv2.warpAffine(img, m, out_wh, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=fill)
    f = faces.copy()
    if len(f):
        xy = np.c_[f[:, :2] * pre, np.ones(len(f))] @ m.T
        f[:, :2], f[:, 2], f[:, 3] = xy, f[:, 2] * pre * k, f[:, 3] - angle
    return out, f


def _targets(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-cell (label: 1 face, 0 not, -1 ignored) and regression (dx, dy, log side/16)."""
    n = WIN // STRIDE
    lab = np.zeros((n, n), np.float32)
    reg = np.zeros((3, n, n), np.float32)
    c = (np.arange(n) * STRIDE + (STRIDE - 1) / 2.0)
    cx, cy = np.meshgrid(c, c)
    for x, y, s, _ in sorted(faces.tolist(), key=lambda f: -f[2]):
        d = np.hypot(cx - x, cy - y)
        if POS[0] <= s <= POS[1]:
            near = d <= max(2.2, 0.12 * s)
            if not near.any():
                i = np.unravel_index(np.argmin(d), d.shape)
                if d[i] > STRIDE:
                    continue  # its centre is outside the window
                near[i] = True
            ring = (d <= 0.4 * s) & ~near
            lab[ring & (lab == 0)] = -1
            lab[near] = 1
            reg[0][near] = (x - cx[near]) / s
            reg[1][near] = (y - cy[near]) / s
            reg[2][near] = math.log(s / 16.0)
        elif IGNORE[0] <= s <= IGNORE[1]:
            lab[(d <= 0.5 * s) & (lab == 0)] = -1
    return lab, reg


def _face_patch(img: np.ndarray, face) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """A face cut from a photo with a soft elliptical edge: (patch, alpha, [cx, cy, side, angle])."""
    x, y, s, a = face
    half = int(math.ceil(1.0 * s))
    x0, y0 = int(round(x)) - half, int(round(y)) - half
    h, w = img.shape[:2]
    if x0 < 0 or y0 < 0 or x0 + 2 * half > w or y0 + 2 * half > h:
        return None
    patch = img[y0:y0 + 2 * half, x0:x0 + 2 * half]
    yy, xx = np.mgrid[0:2 * half, 0:2 * half].astype(np.float32)
    r = np.hypot((xx - (x - x0)) / (0.62 * s), (yy - (y - y0) + 0.05 * s) / (0.78 * s))
    alpha = np.clip((1.12 - r) / 0.25, 0, 1)[:, :, None]
    return patch, alpha, np.array([x - x0, y - y0, s, a], np.float32)


class Scenes:
    """Makes training windows from the photos and their teacher faces."""

    def __init__(self, root: Path, labels: dict, seed: int):
        from facelab.data.image import load_image

        self.rng = np.random.default_rng(seed)
        self.photos = []
        for rel, faces in labels.items():
            self.photos.append((load_image(root / rel), np.array(faces, np.float32).reshape(-1, 4)))
        self.with_face = [i for i, (_, f) in enumerate(self.photos) if len(f)]

    def _jitter(self, img: np.ndarray) -> np.ndarray:
        rng = self.rng
        x = img.astype(np.float32)
        if rng.random() < 0.12:
            x = np.repeat(x.mean(2, keepdims=True), 3, 2)
        x = x * rng.uniform(0.6, 1.4) + rng.uniform(-40, 40) + rng.uniform(-15, 15, 3)
        if rng.random() < 0.3:
            x = x + rng.normal(0, rng.uniform(2, 10), x.shape)
        x = np.clip(x, 0, 255).astype(np.uint8)
        if rng.random() < 0.2:
            x = cv2.GaussianBlur(x, (3, 3), 0)
        if rng.random() < 0.2:
            q = int(rng.integers(30, 90))
            x = cv2.imdecode(cv2.imencode(".jpg", x, [cv2.IMWRITE_JPEG_QUALITY, q])[1], cv2.IMREAD_COLOR)
        return x

    def photo_window(self, in_band: bool) -> tuple[np.ndarray, np.ndarray]:
        rng = self.rng
        img, faces = self.photos[int(rng.choice(self.with_face))] if in_band else self.photos[int(rng.integers(len(self.photos)))]
        angle = float(rng.uniform(-45, 45)) if rng.random() < 0.6 else float(rng.uniform(-10, 10))
        if in_band:
            f = faces[int(rng.integers(len(faces)))]
            k = math.exp(rng.uniform(math.log(BAND[0] * 0.95), math.log(BAND[1] * 1.05))) / f[2]
            at = (float(rng.uniform(-4, WIN + 4)), float(rng.uniform(-4, WIN + 4)))
            centre = (float(f[0]), float(f[1]))
        else:
            k = math.exp(rng.uniform(math.log(WIN / 400), math.log(2.0)))
            at = (float(rng.uniform(0, WIN)), float(rng.uniform(0, WIN)))
            centre = (float(rng.uniform(0, img.shape[1])), float(rng.uniform(0, img.shape[0])))
        fill = tuple(int(v) for v in rng.integers(0, 256, 3))  # outside the photo: a random colour
        return _turn_scale(img, faces, k, angle, centre, (WIN, WIN), at, fill)

    def composite_window(self) -> tuple[np.ndarray, np.ndarray]:
        rng = self.rng
        canvas = _background(rng, WIN, WIN).astype(np.float32)
        placed = []
        for _ in range(int(rng.integers(0, 5))):
            img, faces = self.photos[int(rng.choice(self.with_face))]
            got = _face_patch(img, faces[int(rng.integers(len(faces)))])
            if got is None:
                continue
            patch, alpha, f = got
            side = math.exp(rng.uniform(math.log(7.0), math.log(40.0)))
            k, angle = side / float(f[2]), float(rng.uniform(-45, 45))
            at = (float(rng.uniform(-2, WIN + 2)), float(rng.uniform(-2, WIN + 2)))
            if any(math.hypot(at[0] - p[0], at[1] - p[1]) < 0.9 * (side + p[2]) for p in placed):
                continue
            centre = (float(f[0]), float(f[1]))
            pw, fa = _turn_scale(patch, f[None], k, angle, centre, (WIN, WIN), at)
            aw, _ = _turn_scale((alpha[:, :, 0] * 255).astype(np.uint8), f[None], k, angle, centre, (WIN, WIN), at)
            aw = aw.astype(np.float32)[:, :, None] / 255.0
            canvas = aw * pw + (1 - aw) * canvas
            placed.append(fa[0])
        faces = np.array(placed, np.float32).reshape(-1, 4)
        return canvas.astype(np.uint8), faces

    def sample(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r = self.rng.random()
        if r < 0.4:
            img, faces = self.photo_window(True)
        elif r < 0.75:
            img, faces = self.composite_window()
        else:
            img, faces = self.photo_window(False)
        lab, reg = _targets(faces)
        return self._jitter(img), lab, reg


def _make(args) -> tuple:
    root, labels, seed, n = args
    cv2.setNumThreads(1)
    s = Scenes(root, labels, seed)
    xs = np.zeros((n, WIN, WIN, 3), np.uint8)
    ls = np.zeros((n, WIN // STRIDE, WIN // STRIDE), np.int8)
    rs = np.zeros((n, 3, WIN // STRIDE, WIN // STRIDE), np.float16)
    for i in range(n):
        xs[i], ls[i], rs[i] = s.sample()
    return xs, ls, rs


# -- the network ---------------------------------------------------------------------------------
def network():
    import torch.nn as nn

    def dw(cin, cout, dil=1):
        return [nn.Conv2d(cin, cin, 3, 1, dil, dilation=dil, groups=cin, bias=False), nn.BatchNorm2d(cin), nn.ReLU(),
                nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

    return nn.Sequential(
        nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 24, 3, 2, 1, bias=False), nn.BatchNorm2d(24), nn.ReLU(),
        *dw(24, 32), *dw(32, 32, 2), *dw(32, 48, 2), *dw(48, 48, 3),
        nn.Conv2d(48, 4, 1))


def _loss(out, lab, reg):
    import torch
    import torch.nn.functional as F

    logit = out[:, 0]
    valid = lab >= 0
    pos = lab == 1
    t = pos.float()
    p = torch.sigmoid(logit)
    ce = F.binary_cross_entropy_with_logits(logit, t, reduction="none")
    pt = torch.where(pos, p, 1 - p)
    focal = (ce * (1 - pt) ** 2 * torch.where(pos, 0.75, 0.25))[valid].sum() / pos.sum().clamp(min=1)
    r = F.smooth_l1_loss(out[:, 1:].permute(0, 2, 3, 1)[pos], reg.permute(0, 2, 3, 1)[pos], beta=0.05,
                         reduction="sum") / pos.sum().clamp(min=1)
    return focal + 2.0 * r, focal, r


# -- validation ----------------------------------------------------------------------------------
def _onnx_eval(onnx_path: Path, root: Path, val_labels: dict, canvases: list, threshold: float | None = None) -> dict:
    """The detector with the proposal network on the validation photos and composites: photos
    with a face found, composite recall and false faces, proposals an image (O-net's work)."""
    from facelab.data.image import load_image
    from facelab.faces.mtcnn import MtcnnDetector

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from detect import _match  # noqa: E402

    det = MtcnnDetector(first_stage="proposer", proposer_file=str(onnx_path))
    if threshold is not None:
        det._proposer.threshold = float(threshold)
    proposed = []
    propose = det._proposer.propose

    def counting(*a, **k):
        b = propose(*a, **k)
        proposed.append(len(b))
        return b

    det._proposer.propose = counting
    found = n = 0
    t0 = time.process_time()
    for rel in val_labels:
        n += 1
        found += bool(det.detect(load_image(root / rel)))
    photo_ms = 1000 * (time.process_time() - t0) / max(1, n)
    hits, false, total = 0, 0, 0
    for img, faces in canvases:
        h, f = _match(det.detect(img), faces)
        hits, false, total = hits + sum(h), false + f, total + len(faces)
    return {"threshold": det._proposer.threshold, "val_photos_found": round(found / max(1, n), 4),
            "val_composite_recall": round(hits / max(1, total), 4),
            "val_false_per_canvas": round(false / max(1, len(canvases)), 3),
            "proposals_per_search": round(float(np.mean(proposed)), 2), "photo_cpu_ms": round(photo_ms, 2)}


def tune(onnx_path: Path, root: Path, val_labels: dict, thresholds: list[float]) -> list[dict]:
    """The validation figures at each proposal threshold (how the default was chosen)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from detect import composite_set  # noqa: E402

    canvases = composite_set(root, 150, seed=1)
    rows = []
    for t in thresholds:
        rows.append(_onnx_eval(onnx_path, root, val_labels, canvases, t))
        print("validation", rows[-1], flush=True)
    return rows


def export(model, path: Path) -> None:
    import torch

    model.eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    x = torch.zeros(1, 3, 96, 128)
    torch.onnx.export(model, x, str(path), input_names=["image"], output_names=["out"], opset_version=17,
                      dynamic_axes={"image": {2: "h", 3: "w"}, "out": {2: "h4", 3: "w4"}}, dynamo=False)


def main(argv=None) -> None:
    import multiprocessing as mp

    import torch

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=35.0, help="training time budget")
    ap.add_argument("--samples", type=int, default=160_000, help="training windows generated")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--synthetic", type=int, default=600, help="photos of facelab's drawn faces among the scenes")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("src/facelab/faces/proposer.onnx"))
    ap.add_argument("--work", type=Path, default=Path("bench/results/proposer"))
    ap.add_argument("--tune", default=None, help="only measure --out at these comma-separated thresholds on validation")
    args = ap.parse_args(argv)
    root = _data()
    train_p, val_p = splits(root)
    train_p += synthetic_photos(args.work / "synthetic", args.synthetic)
    labels = teacher_labels(root, train_p + val_p, args.work / "teacher.json")
    train_l = {_key(root, p): labels[_key(root, p)] for p in train_p}
    val_l = {_key(root, p): labels[_key(root, p)] for p in val_p}
    print(f"training photos {len(train_l)} ({sum(map(len, train_l.values()))} faces), validation {len(val_l)}", flush=True)
    if args.tune:
        rows = tune(args.out, root, val_l, [float(t) for t in args.tune.split(",")])
        (args.work / "tune.json").write_text(json.dumps(rows, indent=1))
        return

    t0 = time.time()
    parts = 8
    with mp.get_context("spawn").Pool(args.threads) as pool:
        got = pool.map(_make, [(root, train_l, args.seed * 1000 + i, args.samples // parts) for i in range(parts)])
    xs = np.concatenate([g[0] for g in got])
    ls = np.concatenate([g[1] for g in got])
    rs = np.concatenate([g[2] for g in got])
    del got
    print(f"windows {len(xs)} in {time.time() - t0:.0f} s; positive cells {(ls == 1).sum() / len(xs):.2f} a window", flush=True)

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    model = network()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    budget = args.minutes * 60
    start = time.time()
    g = np.random.default_rng(args.seed)
    step, epoch = 0, 0
    X = torch.from_numpy(xs)
    L = torch.from_numpy(ls.astype(np.int64))
    R = torch.from_numpy(rs.astype(np.float32))
    done = False
    while not done:
        epoch += 1
        order = torch.from_numpy(g.permutation(len(xs)))
        sums = np.zeros(3)
        nb = 0
        model.train()
        for b in range(0, len(order) - args.batch + 1, args.batch):
            prog = (time.time() - start) / budget
            if prog >= 1:
                done = True
                break
            lr = args.lr * (min(1.0, step / 300) * 0.5 * (1 + math.cos(math.pi * prog)))
            for grp in opt.param_groups:
                grp["lr"] = lr
            idx = order[b:b + args.batch]
            x = X[idx]
            if torch.rand(1).item() < 0.5:  # mirror the batch (targets follow)
                x, lab, reg = x.flip(2), L[idx].flip(2), R[idx].flip(3)  # flip copies
                reg[:, 0] = -reg[:, 0]  # cell centres are symmetric about the window's centre
            else:
                lab, reg = L[idx], R[idx]
            x = (x.permute(0, 3, 1, 2).float() - 127.5) / 128.0
            out = model(x)
            loss, fl, rl = _loss(out, lab, reg)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            sums += (float(loss), float(fl), float(rl))
            nb += 1
        print(f"epoch {epoch}: loss {sums[0] / max(1, nb):.4f} (focal {sums[1] / max(1, nb):.4f}, box {sums[2] / max(1, nb):.4f}) "
              f"{time.time() - start:.0f} s, step {step}", flush=True)
    export(model, args.out)
    torch.save(model.state_dict(), args.work / "proposer.pt")
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)", flush=True)
    from facelab.faces.proposer import THRESHOLD

    val = tune(args.out, root, val_l, [THRESHOLD])[0]
    (args.work / "train.json").write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                                       "validation": val, "epochs": epoch, "steps": step}, indent=1))


if __name__ == "__main__":
    main()
