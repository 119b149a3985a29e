"""Fit and check the five-point face template and the dataset frames of facelab.faces.template.

CelebA's aligned 178x218 images: MTCNN (facelab's ``mtcnn`` detector) on a FIT half of the
images, the template = the per-point median of the landmarks of the face nearest the centre.
FER2013's 48x48 crops, upscaled 4x and padded (MTCNN needs some context around a face): per image
the scale and shift (no rotation) taking the template onto its landmarks; the frame = their
medians. The CHECK half measures how well aligning by ``similarity(landmarks → template)``
reproduces each dataset's own framing:

- ``found``: images where a face was found;
- ``residual_iod``: mean distance of the aligned landmarks from the template, as a fraction of the
  template's inter-ocular distance (how far real faces are from the one template);
- ``corner_offset_px``: mean distance of the re-aligned frame's corners from the true ones, in
  source pixels (0 when the dataset was aligned exactly to the template);
- ``crop_corr``: Pearson correlation between the cache's crop of the image and the crop the
  template alignment produces from the detection (CelebA: the ``face`` box at 64 px, as the
  shipped attribute model; FER2013: the whole 48 px frame, grey).

Usage:
    nice -n 10 /work/main/.venv/bin/python bench/template_fit.py [--n 2000] [--fer 2000]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import time
from pathlib import Path

import cv2
import numpy as np

from facelab.data.image import crop_box, load_image, resize_box
from facelab.faces.align import align_template
from facelab.faces.detect import FaceBox
from facelab.faces.mtcnn import MtcnnDetector
from facelab.faces.template import (FRAMES, TEMPLATE_NAME, TEMPLATES, Frame, frame_points, framing_record,
                                    landmark_array, to_frame)
from facelab.paths import shared_data

import align_fit  # noqa: E402  (bench/ is the script's folder, first on sys.path)

SNAPS = {"celeba": (0.0, 10.0), "fer2013": (0.0, 20.0, 90.0)}
RESULTS = Path(__file__).resolve().parent / "results"


def _images(kind: str, root: Path, n: int, seed: int = 0) -> list[Path]:
    return align_fit._images(kind, root, n, seed)


_prepare = align_fit._prepare  # FER crops upscaled 4x and padded so the detector sees a whole face


def detect_all(kind: str, paths: list[Path], det: MtcnnDetector) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """(image, landmarks in the image's own pixel-edge coordinates or None) per path."""
    out = []
    for p in paths:
        img = load_image(p)
        big, k, pad = _prepare(kind, img)
        faces = det.detect(big)
        h, w = big.shape[:2]
        if not faces:
            out.append((img, None))
            continue
        f = min(faces, key=lambda f: math.hypot(f.center[0] - w / 2, f.center[1] - h / 2))
        out.append((img, (landmark_array(f.landmarks) - pad) / k))
    return out


def fit_frame(kind: str, lms: list[np.ndarray], template: np.ndarray) -> Frame:
    """The frame of a dataset: median scale and shift taking ``template`` onto its landmarks."""
    w, h = (178, 218) if kind == "celeba" else (48, 48)
    tm = template.mean(0)
    ss, ts = [], []
    for lm in lms:
        lc = lm.mean(0)
        s = float(((template - tm) * (lm - lc)).sum() / ((template - tm) ** 2).sum())
        ss.append(s)
        ts.append(lc - s * tm)
    return Frame(kind, (w, h), round(float(np.median(ss)), 4),
                 tuple(round(float(v), 2) for v in np.median(ts, 0)))  # type: ignore[arg-type]


def check(kind: str, found: list[tuple[np.ndarray, np.ndarray | None]], frame: Frame, template: np.ndarray) -> dict:
    """How well template alignment reproduces the dataset's own framing on the CHECK half."""
    w, h = frame.source_size
    size, box = (64, crop_box("face", (w, h))) if kind == "celeba" else (48, (0.0, 0.0, 1.0, 1.0))
    grey = kind == "fer2013"
    TEMPLATES["fitted"] = template  # this run's template, whatever the shipped one is
    rec = framing_record(frame, size=size, crop_box=box, template="fitted")
    spec = {"size": size, "grey": grey, "crop_box": list(box), "framing": rec}
    dst = frame_points(rec)
    iod = float(np.linalg.norm(dst[1] - dst[0]))
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], float)
    res, offs, corrs = [], [], []
    for img, lm in found:
        if lm is None:
            continue
        m = to_frame(lm, rec)
        res.append(float(np.mean(np.linalg.norm(lm @ m[:, :2].T + m[:, 2] - dst, axis=1))) / iod)
        offs.append(float(np.mean(np.linalg.norm(corners @ m[:, :2].T + m[:, 2] - corners, axis=1))))
        fake = FaceBox(0, 0, 1, 1, 1.0, {k: tuple(p - 0.5) for k, p in zip(
            ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right"), lm)})
        a = align_template(img, fake, spec)
        ref = resize_box(img if not grey or img.ndim == 2 else img[:, :, :1], box, size)
        a, ref = a.astype(float).ravel(), np.asarray(ref, float).ravel()
        if a.size == ref.size:
            corrs.append(float(np.corrcoef(a, ref)[0, 1]))
    n = len(found)
    med = lambda v: round(float(np.median(v)), 4) if v else None  # noqa: E731
    return {"images": n, "found": round(len(res) / max(1, n), 4), "residual_iod_median": med(res),
            "residual_iod_mean": round(float(np.mean(res)), 4) if res else None,
            "corner_offset_px_median": med(offs), "crop_corr_median": med(corrs),
            "crop": {"size": size, "crop_box": [round(float(v), 4) for v in box], "grey": grey}}


def run(kind: str, root: Path, n: int, det: MtcnnDetector, template: np.ndarray | None) -> tuple[dict, np.ndarray]:
    paths = _images(kind, root, n)
    half = len(paths) // 2
    t0 = time.perf_counter()
    fit, chk = detect_all(kind, paths[:half], det), detect_all(kind, paths[half:], det)
    fit_lms = [lm for _, lm in fit if lm is not None]
    if template is None:  # CelebA: the template itself
        template = np.round(np.median(np.stack(fit_lms), 0), 1)
        iqr = np.percentile(np.stack(fit_lms), 75, 0) - np.percentile(np.stack(fit_lms), 25, 0)
        extra = {"template": template.tolist(), "template_iqr_px": np.round(iqr, 2).tolist()}
    else:
        extra = {}
    frame = fit_frame(kind, fit_lms, template)
    checks = {}
    for snap in SNAPS[kind]:  # turn every face, or only those tilted more than `snap` degrees
        fr = Frame(frame.name, frame.source_size, frame.scale, frame.offset, snap)
        checks[f"snap_{snap:g}"] = check(kind, chk, fr, template)
    out = {"kind": kind, "fit_images": half, "fit_found": round(len(fit_lms) / max(1, half), 4),
           "frame": {"source_size": list(frame.source_size), "scale": frame.scale, "offset": list(frame.offset)},
           **extra, "check": checks, "seconds": round(time.perf_counter() - t0, 1)}
    print(kind, json.dumps(out), flush=True)
    return out, template


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="Fit the face template and frames (see the module docstring).")
    ap.add_argument("--n", type=int, default=2000, help="CelebA images (half fit, half check)")
    ap.add_argument("--fer", type=int, default=2000, help="FER2013 images (half fit, half check)")
    ap.add_argument("--tag", default=None)
    args = ap.parse_args(argv)
    cv2.setNumThreads(1)
    root = shared_data()
    if root is None:
        raise SystemExit("set FACELAB_DATA to the real data (celeba/, fer2013/)")
    det = MtcnnDetector()
    out = {"template_name": TEMPLATE_NAME, "load_average_1m_start": round(os.getloadavg()[0], 2),
           "cpus": os.cpu_count()}
    out["celeba"], template = run("celeba", root, args.n, det, None)
    # the shipped frames use the shipped template: check the FER frame against it
    out["fer2013"], _ = run("fer2013", root, args.fer, det, template)
    out["shipped"] = {k: {"scale": f.scale, "offset": list(f.offset)} for k, f in FRAMES.items()}
    out["load_average_1m_end"] = round(os.getloadavg()[0], 2)
    RESULTS.mkdir(parents=True, exist_ok=True)
    dest = RESULTS / (f"template_fit-{args.tag}.json" if args.tag else "template_fit.json")
    dest.write_text(json.dumps(out, indent=1))
    print(f"wrote {dest}")


if __name__ == "__main__":
    main()
