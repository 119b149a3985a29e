"""Helpers for the detection/alignment/prediction/export tests: photos built from synthetic faces,
and small runs trained once per test session (cached here, keyed by what was trained)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

_RUNS: dict = {}

# OpenCV's worker threads must not exist when a fixture later forks (the prepared-cache fixtures
# use a fork-based process pool): a child inheriting a busy OpenCV pool can deadlock.
cv2.setNumThreads(1)


def face(seed: int, **attrs) -> np.ndarray:
    """A synthetic CelebA-aligned 178x218 face."""
    from facelab.data.synth import render_face

    img, _ = render_face(attrs or {"Smiling": seed % 2, "Male": (seed // 2) % 2}, rng=np.random.default_rng(seed))
    return img


def paste(faces: list[np.ndarray], *, size=(800, 600), scale=1.5, angle=0.0, seed=0,
          positions: list[tuple[int, int]] | None = None) -> np.ndarray:
    """Faces pasted (scaled) into a noisy, blurred background, the whole photo rotated about the
    first face's centre by ``angle`` degrees (counter-clockwise, as cv2)."""
    rng = np.random.default_rng(seed)
    w, h = size
    bg = rng.integers(0, 256, (h // 8, w // 8, 3)).astype(np.uint8)
    photo = cv2.resize(bg, (w, h), interpolation=cv2.INTER_CUBIC)
    photo = np.clip(photo.astype(np.int16) + rng.integers(-20, 21, photo.shape), 0, 255).astype(np.uint8)
    centres = []
    for i, f in enumerate(faces):
        big = cv2.resize(f, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        x0, y0 = positions[i] if positions else ((w - big.shape[1]) // 2, (h - big.shape[0]) // 2)
        photo[y0:y0 + big.shape[0], x0:x0 + big.shape[1]] = big
        centres.append((x0 + big.shape[1] / 2, y0 + big.shape[0] / 2))
    if angle:
        m = cv2.getRotationMatrix2D(centres[0], angle, 1.0)
        photo = cv2.warpAffine(photo, m, (w, h), borderMode=cv2.BORDER_REFLECT)
    return photo


def save_with_exif_rotation(upright: np.ndarray, path: Path) -> Path:
    """Save so that only a reader honouring EXIF sees ``upright``: the pixels are stored turned 90°
    counter-clockwise and tagged Orientation=6 ("rotate 90° clockwise to display")."""
    stored = Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    stored.save(path, quality=95, exif=exif)
    return path


def crop_corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.astype(np.float64).ravel(), b.astype(np.float64).ravel())[0, 1])


def trained_run(data, *, target=None, model: str = "logreg", name: str, **kw):
    """Train once per session (the runs folder is the session's FACELAB_RUNS)."""
    import torch

    from facelab.train.trainer import train

    key = (str(data), str(target), model, name)
    if key not in _RUNS:
        torch.set_num_threads(2)
        _RUNS[key] = train(data, target=target, model=model, name=name, progress=False, seed=0, **kw)
    return _RUNS[key]


def run_cli(args, capsys, *, collapse_out: bool = True):
    """``facelab ARGS`` in this process: ``(exit code, captured)``. Rich wraps long lines at the
    captured terminal width, so stderr (and stdout unless ``collapse_out`` is False, e.g. JSON or
    tables read back) has its whitespace collapsed."""
    from facelab.cli.main import main

    code = 0
    try:
        main(args)
    except SystemExit as e:
        code = e.code
    cap = capsys.readouterr()
    out = " ".join(cap.out.split()) if collapse_out else cap.out
    return code, type(cap)(out, " ".join(cap.err.split()))


#: tests of dlib's detector, landmarks or face embedding (the ``dlib`` extra, which CI installs)
needs_dlib = pytest.mark.skipif(
    importlib.util.find_spec("dlib") is None or importlib.util.find_spec("face_recognition_models") is None,
    reason="dlib is not installed (pip install 'facelab[dlib]')")
