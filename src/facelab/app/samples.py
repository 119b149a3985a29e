"""Sample photos for trying the Predict page: synthetic faces pasted into 640x480 scenes.

Made once with the synthetic face renderer and cached under ``$FACELAB_HOME/samples`` (so the
dashboard needs no downloaded photo and the samples can be downloaded to try the API).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

# name → faces to draw: (attributes, centre x, centre y, face height in pixels)
SAMPLES: dict[str, list[tuple[dict, int, int, int]]] = {
    "smiling-woman": [({"Smiling": 1, "Male": 0, "Wavy_Hair": 1}, 320, 240, 300)],
    "neutral-man": [({"Smiling": 0, "Male": 1, "Eyeglasses": 1}, 300, 250, 300)],
    "two-people": [({"Smiling": 1, "Male": 1}, 180, 250, 240), ({"Smiling": 0, "Male": 0}, 470, 230, 240)],
    "smiling-man": [({"Smiling": 1, "Male": 1}, 330, 240, 300)],
    "neutral-woman": [({"Smiling": 0, "Male": 0, "Eyeglasses": 0}, 310, 245, 300)],
    "no-face": [],
}


def expected_faces(name: str) -> list[tuple[dict, int, int]]:
    """The labels each face of a sample was drawn with, and where: ``(labels, centre x, centre y)``
    (what :func:`facelab.predict.check.check_photo` compares a model's answer with).

    Example:
        >>> expected_faces("smiling-woman")
        [({'Smiling': 1, 'Male': 0, 'Wavy_Hair': 1}, 320, 240)]
    """
    return [(attrs, cx, cy) for attrs, cx, cy, _ in SAMPLES[name]]


def _scene(rng: np.random.Generator, w: int = 640, h: int = 480) -> np.ndarray:
    # A soft two-colour gradient with a little noise: a plain "room" that has no face-like texture.
    top, bottom = rng.integers(90, 200, 3), rng.integers(40, 140, 3)
    t = np.linspace(0, 1, h)[:, None, None]
    img = (1 - t) * top + t * bottom
    img = np.broadcast_to(img, (h, w, 3)) + rng.normal(0, 4, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def make_sample(name: str, seed: int = 0) -> np.ndarray:
    """Draw one sample photo (HxWx3 uint8 RGB, 640x480).

    Example:
        >>> make_sample("smiling-woman").shape
        (480, 640, 3)
    """
    from PIL import Image

    from ..data.synth import render_face

    rng = np.random.default_rng(seed + sorted(SAMPLES).index(name))
    scene = _scene(rng)
    for attrs, cx, cy, fh in SAMPLES[name]:
        fw = int(fh * 178 / 218)
        face, _ = render_face(attrs, rng=rng, size=(178, 218))
        face = np.asarray(Image.fromarray(face).resize((fw, fh), Image.BILINEAR))
        x0, y0 = max(0, cx - fw // 2), max(0, cy - fh // 2)
        crop = face[: scene.shape[0] - y0, : scene.shape[1] - x0]
        scene[y0:y0 + crop.shape[0], x0:x0 + crop.shape[1]] = crop
    return scene


def sample_photos(folder: Path | None = None) -> dict[str, Path]:
    """The sample photos as JPEG files (made on first use), by name.

    Example:
        >>> import tempfile
        >>> sorted(sample_photos(Path(tempfile.mkdtemp())))
        ['neutral-man', 'neutral-woman', 'no-face', 'smiling-man', 'smiling-woman', 'two-people']
    """
    from PIL import Image

    from ..paths import home

    folder = Path(folder) if folder else home() / "samples"
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name in SAMPLES:
        path = folder / f"{name}.jpg"
        if not path.is_file():
            tmp = path.with_suffix(".tmp.jpg")
            Image.fromarray(make_sample(name)).save(tmp, quality=92)
            tmp.replace(path)  # atomic: two dashboard sessions may race here
        out[name] = path
    return out
