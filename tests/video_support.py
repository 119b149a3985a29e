"""Short videos made in the tests: synthetic faces moving across a background, two of them
crossing paths, written with PyAV; and a predictor whose outputs flicker."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from facelab.predict.video import write_test_clip

SIZE = (480, 320)  # width, height
FACE_SCALE = 0.7
#: seeds of synthetic faces the Haar cascade finds at this scale
FACE_SEEDS = (1, 6)


def _face(seed: int, smiling: bool) -> np.ndarray:
    from facelab.data.synth import render_face

    img, _ = render_face({"Smiling": int(smiling), "Male": seed % 2}, rng=np.random.default_rng(seed))
    return cv2.resize(img, None, fx=FACE_SCALE, fy=FACE_SCALE, interpolation=cv2.INTER_AREA)


def crossing_frames(seconds: float = 2.4, fps: float = 15, *, seed: int = 0) -> tuple[list[np.ndarray], list]:
    """Frames with two faces crossing: face 1 moves left → right at the top, face 2 right → left
    below it; mid-way face 2 covers the chin of face 1. Returns the frames and, per frame, the
    true centre of each face ``[(x1, y1), (x2, y2)]``."""
    rng = np.random.default_rng(seed)
    w, h = SIZE
    bg = cv2.resize(rng.integers(60, 200, (h // 16, w // 16, 3)).astype(np.uint8), (w, h),
                    interpolation=cv2.INTER_CUBIC)
    faces = [_face(FACE_SEEDS[0] + 100 * seed, True), _face(FACE_SEEDS[1] + 100 * seed, False)]
    fh, fw = faces[0].shape[:2]
    n = int(round(seconds * fps))
    frames, truth = [], []
    for i in range(n):
        a = i / max(1, n - 1)
        img = bg.copy()
        xs = [10 + a * (w - fw - 20), (w - fw - 10) - a * (w - fw - 20)]
        ys = [10, h - fh - 14]
        centres = []
        for f, x, y in zip(faces, xs, ys):
            x, y = int(round(x)), int(round(y))
            img[y:y + fh, x:x + fw] = f
            centres.append((x + fw / 2, y + fh / 2))
        frames.append(img)
        truth.append(centres)
    return frames, truth


def crossing_clip(path: Path, seconds: float = 2.4, fps: float = 15, **kw) -> tuple[Path, list]:
    frames, truth = crossing_frames(seconds, fps, **kw)
    write_test_clip(path, frames, fps=fps)
    return path, truth


def flicker_predictor(seed: int = 0, detector: str = "mtcnn"):
    """A predictor with a real detector and aligner whose ``Smiling`` output is 0.62 plus noise
    (sd 0.2): its label flips from frame to frame; the truth is Smiling."""
    from facelab.predict.predictor import Predictor
    from facelab.pretrained import shipped_path

    spec = json.loads((shipped_path("celeba-attributes") / "input.json").read_text())
    rng = np.random.default_rng(seed)

    def classify(x: np.ndarray) -> np.ndarray:
        return np.clip(0.62 + rng.normal(0, 0.2, (len(x), 1)), 0, 1).astype(np.float32)

    return Predictor(input_spec=spec, kind="binary", classes=["Smiling"], classify=classify, detector=detector,
                     name="flicker")
