"""Adding people to a gallery: photos → one face each → one transaction.

Each photo gives its main face (the largest; the count is reported when there were several). A
photo without a face, or unreadable, is reported and left out; a person left with one photo is
added with a warning (one photo makes a weak reference). The photos are embedded first, outside
the transaction, so two ``gallery add`` at once embed in parallel and only take turns to write.

Example (``people/`` holds one sub-folder of photos per person)::

    rep = add_people("family", people_folders("people/"))
    rep.change.added, rep.skipped      # (212, [('people/Bob/blank.jpg', 'no face found')])
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DataError
from .embed import Embedder, FaceEmbedding, Framing
from .gallery import Change, gallery_path, open_gallery
from .identify import photo_problems

log = logging.getLogger(__name__)


@dataclass
class AddReport:
    """What ``gallery add`` did: the change, photos left out, photos with several faces, warnings."""

    gallery: str
    path: Path
    change: Change
    photos: int
    skipped: list[tuple[str, str]] = field(default_factory=list)
    several: list[tuple[str, int]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def faces_per_second(self) -> float:
        return self.photos / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict:
        return {"gallery": self.gallery, "path": str(self.path), **self.change.to_dict(), "photos": self.photos,
                "skipped": [{"file": f, "problem": p} for f, p in self.skipped],
                "several_faces": [{"file": f, "faces": n, "used": 0} for f, n in self.several],
                "warnings": self.warnings, "seconds": round(self.seconds, 2)}


def add_people(gallery, people: dict[str, list[str]], *, detector: str | None = None, mirror: bool = True,
               workers: int = 1, progress: bool = False, timeout: float = 30.0) -> AddReport:
    """Embed the photos of each person and add them to ``gallery`` (created when new) in one transaction.

    Args:
        gallery: a gallery name or path (made with this framing when absent).
        people: ``{person: [photo paths]}`` (:func:`~facelab.identity.photos.people_folders`).
        detector, mirror: the framing of a new gallery; an existing gallery's own is used.
        workers: embedding processes.
        timeout: seconds to wait for another writer.

    Raises:
        DataError: no photo of anyone has a face; the gallery is not one, or is locked too long.
        ConfigError: a bad gallery or person name; ``detector``/``mirror`` differ from the gallery's.
    """
    t0 = time.time()
    path = gallery_path(gallery) if not hasattr(gallery, "path") else gallery.path
    wanted = Framing(detector or _default_detector(), bool(mirror))
    if path.exists():
        with open_gallery(path, timeout=timeout) as g:
            fr = g.framing
        if detector is not None or not mirror:  # asked for explicitly: it must be the gallery's
            from .embed import check_framing

            check_framing(Framing(wanted.detector, wanted.mirror, chip=fr.chip), fr, str(path))
        wanted = fr
    emb = Embedder.for_framing(wanted, workers=workers, thumbs=True)
    order = [(name, p) for name, photos in people.items() for p in photos]
    found = emb.embed_paths([p for _, p in order], progress=progress)
    faces: dict[str, list[tuple[str, FaceEmbedding]]] = {}
    several = []
    for (name, _), ph in zip(order, found):
        if ph.faces:
            faces.setdefault(name, []).append((ph.path, ph.faces[0]))
            if len(ph.faces) > 1:
                several.append((ph.path, len(ph.faces)))
    skipped = photo_problems(found)
    if not faces:
        raise DataError(f"no face found in any of the {len(order)} photos", path=path,
                        fix="give photos where the face is visible and at least ~40 px wide")
    warnings = [f"{name}: only one photo with a face; a second or third photo makes identification "
                "more reliable" for name, fs in faces.items() if len(fs) == 1]
    warnings += [f"{name}: no photo with a face; not added" for name in people if name not in faces]
    for w in warnings:  # returned in the report (the surfaces show them); logged for library users
        log.info(w)
    with open_gallery(path, create=wanted, timeout=timeout) as g:
        change = g.add(faces, emb.framing)
        name = g.name
    return AddReport(name, path, change, len(order), skipped, several, warnings, time.time() - t0)


def add_images(gallery, person: str, images: list[tuple[str, bytes]], *, timeout: float = 30.0) -> AddReport:
    """Add uploaded photos ``[(file name, bytes), ...]`` of one person to an open gallery (one transaction).

    Raises:
        DataError: no photo has a face; a file is not an image.
    """
    from .embed import shared_embedder
    from .verify import embed_photos

    t0 = time.time()
    emb = shared_embedder(gallery.framing)
    found = embed_photos([data for _, data in images], emb)
    import hashlib

    for ph, (name, data) in zip(found, images):
        ph.path = f"{name} (upload {hashlib.sha1(data).hexdigest()[:12]})"  # the same file twice is one photo
    faces = [(ph.path, ph.faces[0]) for ph in found if ph.faces]
    several = [(ph.path, len(ph.faces)) for ph in found if len(ph.faces) > 1]
    if not faces:
        raise DataError(f"no face found in any of the {len(images)} photos of {person}",
                        fix="send photos where the face is visible and at least ~40 px wide")
    warnings = [f"{person}: only one photo with a face; two or three make identification more reliable"
                ] if len(faces) == 1 else []
    change = gallery.add({person: faces}, emb.framing)
    return AddReport(gallery.name, gallery.path, change, len(images), photo_problems(found), several, warnings,
                     time.time() - t0)


def _default_detector() -> str:
    from ..faces.detect import DEFAULT_DETECTOR

    return DEFAULT_DETECTOR
