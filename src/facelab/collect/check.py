"""Checks on a downloaded file: a real image, large enough, not a duplicate, with a face.

Duplicates are found by perceptual hash (``imagehash.phash``, 64 bits): a re-encoded, resized or
lightly edited copy of a photo is within a few bits of the original, where a byte hash would
miss it. The index spans every class, because the same photo under two names is a labelling
hazard, not just waste.

Example:
    >>> import imagehash
    >>> import numpy as np
    >>> from PIL import Image
    >>> pixels = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    >>> photo = Image.fromarray(pixels)
    >>> idx = HashIndex(max_distance=6)
    >>> idx.add(imagehash.phash(photo), "Anne Hathaway", "Anne Hathaway/0003.jpg")
    >>> idx.find(imagehash.phash(photo.resize((48, 48))))    # a resized copy
    ('Anne Hathaway', 'Anne Hathaway/0003.jpg')
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

#: Pillow format → the extension a saved file gets (formats facelab's folder reader reads).
EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "BMP": ".bmp", "GIF": ".gif", "TIFF": ".tif",
              "MPO": ".jpg"}


class Rejected(Exception):
    """A download that is set aside: ``kind`` for the report's counts, ``reason`` for the user."""

    def __init__(self, kind: str, reason: str, ext: str = ".bin"):
        super().__init__(reason)
        self.kind, self.reason, self.ext = kind, reason, ext


@dataclass
class Decoded:
    """A downloaded image: its RGB pixels, the extension to save it under, and its perceptual hash."""

    rgb: np.ndarray
    ext: str
    phash: object  # imagehash.ImageHash


def decode(data: bytes, *, min_side: int, name: str) -> Decoded:
    """Decode and size-check downloaded bytes.

    Raises:
        Rejected: not an image Pillow can read (``not_image``), a format facelab does not read
            (``not_image``), or a side under ``min_side`` pixels (``too_small``).
    """
    import imagehash
    from PIL import Image

    from ..data.image import load_image

    try:
        with Image.open(io.BytesIO(data)) as im:
            fmt = im.format or ""
        rgb = load_image(data, name=name)
    except Exception as e:  # ImageError, or whatever Pillow raises on a hostile file
        raise Rejected("not_image", f"not an image (cannot decode: {getattr(e, 'message', e)})") from None
    if fmt not in EXTENSIONS:
        raise Rejected("not_image", f"an image format facelab does not read ({fmt or 'unknown'})")
    h, w = rgb.shape[:2]
    if min(h, w) < min_side:
        raise Rejected("too_small", f"too small ({w}x{h} pixels; the minimum side is {min_side})", EXTENSIONS[fmt])
    return Decoded(rgb, EXTENSIONS[fmt], imagehash.phash(Image.fromarray(rgb)))


class HashIndex:
    """Perceptual hashes of the kept images of every class; ``find`` returns the nearest within
    ``max_distance`` bits (Hamming), as ``(class, file)``, or None."""

    def __init__(self, max_distance: int = 6):
        self.max_distance = int(max_distance)
        self._bits: list[np.ndarray] = []
        self._who: list[tuple[str, str]] = []

    def __len__(self) -> int:
        return len(self._who)

    def add(self, phash, cls: str, file: str) -> None:
        self._bits.append(np.asarray(phash.hash, bool).ravel())
        self._who.append((cls, file))

    def find(self, phash, prefer: str | None = None) -> tuple[str, str] | None:
        """The closest kept image within ``max_distance`` bits; ties go to class ``prefer``."""
        if not self._bits:
            return None
        d = (np.stack(self._bits) != np.asarray(phash.hash, bool).ravel()).sum(1)
        best = int(d.min())
        if best > self.max_distance:
            return None
        hits = [self._who[i] for i in np.flatnonzero(d == best)]
        same = [h for h in hits if h[0] == prefer]
        return (same or hits)[0]
