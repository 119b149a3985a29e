"""Who is this? Verification, galleries, open-set identification, calibration and grouping by person.

Faces become dlib's 128-D descriptors (:mod:`.embed`); two faces are the same person when their
distance is below a threshold (:mod:`.verify`), calibrated on the user's own people
(:mod:`.calibrate`). A gallery (:mod:`.gallery`, one SQLite file) holds known people;
:mod:`.identify` names the faces of photos from it, or says ``unknown``; :mod:`.group` sorts a
photo library by person. Names are imported lazily (dlib loads on first use).

Example:
    >>> from facelab.identity import DEFAULT_THRESHOLD
    >>> 0 < DEFAULT_THRESHOLD < 2
    True

    ``verify("a.jpg", "b.jpg").same()`` says whether two photos show the same person.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "Embedder": "embed", "Framing": "embed",
    "verify": "verify", "VerifyResult": "verify", "DEFAULT_THRESHOLD": "verify",
    "Gallery": "gallery", "open_gallery": "gallery", "gallery_path": "gallery", "list_galleries": "gallery",
    "add_people": "enroll", "people_folders": "photos",
    "identify": "identify", "IdentifyReport": "identify",
    "calibrate": "calibrate", "verify_eval": "evaluate",
    "group_photos": "group",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module 'facelab.identity' has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{mod}"), name)
