"""Are these the same person? Distances between the main faces of photos, decided at a threshold.

The threshold in use and where it came from travel with every answer (:mod:`.threshold`).

Example:
    >>> blank = np.zeros((120, 120, 3), np.uint8)
    >>> verify(blank, blank, detector="haar")
    Traceback (most recent call last):
    ...
    facelab.errors.DataError: no face found in photo 1...

    With photos of faces, ``r = verify("a.jpg", "b.jpg")`` gives ``r.distance(0, 1)``, ``r.same(0, 1)``
    and ``r.threshold.source``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence, Union

import numpy as np

from ..errors import ConfigError, DataError
from .embed import Embedder, FaceEmbedding, PhotoFaces, pick_face
from .threshold import DEFAULT_THRESHOLD, Threshold, check_threshold, resolve_threshold  # noqa: F401

Photo = Union[str, Path, np.ndarray, bytes]


@dataclass
class VerifiedFace:
    """The face of one photo that was compared: which face, of how many, and its box."""

    file: str
    face: FaceEmbedding
    found: int

    @property
    def note(self) -> str:
        if self.found > 1:
            return f"face {self.face.index} of {self.found} used (0 = largest; choose with --face)"
        return ""

    def to_dict(self) -> dict:
        return {"file": self.file, **self.face.to_dict(), "faces_found": self.found, "note": self.note}


@dataclass
class VerifyResult:
    """Distances between the faces of N photos (N×N) and the decision at ``threshold``."""

    faces: list[VerifiedFace]
    distances: np.ndarray
    threshold: Threshold
    framing: dict = field(default_factory=dict)

    def distance(self, i: int = 0, j: int = 1) -> float:
        return float(self.distances[i, j])

    def same(self, i: int = 0, j: int = 1) -> bool:
        """True when photos ``i`` and ``j`` show the same person at the threshold."""
        return self.distance(i, j) <= self.threshold.value

    def pairs(self) -> list[dict]:
        """Every pair ``i < j``: files, distance and decision."""
        n = len(self.faces)
        return [{"a": self.faces[i].file, "b": self.faces[j].file, "distance": round(self.distance(i, j), 4),
                 "same": self.same(i, j), "decision": "same person" if self.same(i, j) else "different people"}
                for i in range(n) for j in range(i + 1, n)]

    def to_dict(self) -> dict:
        return {"threshold": self.threshold.to_dict(), "framing": self.framing,
                "faces": [f.to_dict() for f in self.faces], "pairs": self.pairs(),
                "distances": [[round(float(v), 4) for v in row] for row in self.distances]}


def distance_matrix(V: np.ndarray, W: np.ndarray | None = None) -> np.ndarray:
    """Euclidean distances between rows (N×M; N×N when ``W`` is None).

    Example:
        >>> distance_matrix(np.array([[1.0, 0.0], [0.0, 1.0]])).round(3).tolist()
        [[0.0, 1.414], [1.414, 0.0]]
    """
    V = np.asarray(V, np.float64)
    W = V if W is None else np.asarray(W, np.float64)
    d2 = (V * V).sum(1)[:, None] + (W * W).sum(1)[None] - 2 * V @ W.T
    return np.sqrt(np.maximum(d2, 0.0))


def embed_photos(photos: Sequence[Photo], embedder: Embedder) -> list[PhotoFaces]:
    """The faces of each photo, given as paths, decoded arrays or file bytes (uploads)."""
    from ..data.image import load_image
    from .embed import embed_chunk

    out: list[PhotoFaces] = []
    for k, p in enumerate(photos):
        if isinstance(p, (str, Path)):
            if not Path(p).expanduser().is_file():
                raise DataError(f"no such photo: {p}", path=p, fix="check the path")
            out.extend(embed_chunk(embedder, [str(Path(p).expanduser())]))
            continue
        img = load_image(p, name=f"photo {k + 1}") if isinstance(p, bytes) else np.asarray(p)
        faces, small = embedder.embed_images([img])[0]
        out.append(PhotoFaces(f"photo {k + 1}", faces, too_small=small))
    return out


def verify(*photos: Photo, face: int | None = None, threshold: float | None = None, gallery=None,
           detector: str | None = None, mirror: bool = True, embedder: Embedder | None = None) -> VerifyResult:
    """Compare the main face (or face ``face``) of two or more photos.

    Args:
        photos: two or more paths, RGB arrays or image bytes.
        face: which face of each photo (0 = largest; default the largest — the count is reported).
        threshold: a distance threshold (default: the gallery's calibrated one, else :data:`DEFAULT_THRESHOLD`).
        gallery: a :class:`~facelab.identity.gallery.Gallery` (or name) whose framing and threshold to use.
        detector, mirror: the framing (ignored when a gallery is given: the gallery's is used).
        embedder: an :class:`Embedder` to reuse (the API keeps one).

    Raises:
        ConfigError: fewer than two photos; a threshold outside (0, 2).
        DataError: a photo is unreadable, has no face, or not face ``face``.
    """
    if len(photos) < 2:
        raise ConfigError(f"verify compares two or more photos (got {len(photos)})", fix="give at least two photos")
    if threshold is not None:
        check_threshold(threshold)
    if gallery is not None and not hasattr(gallery, "framing"):
        from .gallery import open_gallery

        gallery = open_gallery(gallery)
    if embedder is None:
        fr = gallery.framing if gallery is not None else None
        embedder = Embedder.for_framing(fr) if fr else Embedder(detector, mirror=mirror)
    found = embed_photos(photos, embedder)
    chosen = [VerifiedFace(p.path, pick_face(p, face), len(p.faces)) for p in found]
    V = np.stack([c.face.vector for c in chosen])
    return VerifyResult(chosen, distance_matrix(V), resolve_threshold(threshold, gallery), embedder.framing.to_dict())
