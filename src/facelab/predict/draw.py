"""Draw predicted faces on a photo: each face's (rotated) box, its index and its top labels with
their probabilities. The one drawer: :meth:`PhotoResult.draw`, ``facelab predict --annotate`` and
the dashboard all use it."""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..faces.align import Framing, frame_corners

COLOURS = [(46, 204, 113), (52, 152, 219), (231, 76, 60), (241, 196, 15), (155, 89, 182)]


def face_caption(face, k: int = 2) -> str:
    """``"Smiling 0.93, Male 0.12"``: the ``k`` most probable outputs of one face."""
    top = sorted(face.probabilities.items(), key=lambda kv: -kv[1])[:k]
    return ", ".join(f"{name} {p:.2f}" for name, p in top)


def draw_faces(image: np.ndarray, faces: list) -> Image.Image:
    """The photo with each face boxed and captioned (faces are ``FaceResult``s).

    Example:
        >>> draw_faces(np.zeros((100, 100, 3), np.uint8), []).size
        (100, 100)
    """
    img = Image.fromarray(image[..., :3] if image.shape[-1] >= 3 else np.repeat(image, 3, axis=-1)).convert("RGB")
    draw = ImageDraw.Draw(img)
    width = max(2, round(min(img.size) / 200))
    try:
        font = ImageFont.load_default(size=max(12, round(min(img.size) / 30)))
    except TypeError:  # Pillow < 10.1 has no sized default font
        font = ImageFont.load_default()
    for face in faces:
        b = face.box
        colour = COLOURS[face.index % len(COLOURS)]
        corners = frame_corners(b, Framing(0.0, 0.0, 1.0, (1, 1)))  # the box itself, rotated
        draw.polygon([tuple(map(float, c)) for c in corners], outline=colour, width=width)
        text = f"#{face.index} " + (face_caption(face) if face.probabilities else (face.note or ""))
        x0, y0 = float(corners[:, 0].min()), float(corners[:, 1].min())
        tx, ty = x0, max(0, y0 - font.size - 6) if hasattr(font, "size") else y0
        box = draw.textbbox((tx, ty), text, font=font)
        draw.rectangle([box[0] - 2, box[1] - 2, box[2] + 2, box[3] + 2], fill=colour)
        draw.text((tx, ty), text, fill=(0, 0, 0), font=font)
    return img
