"""``facelab cluster --features embed``: dlib's pretrained face descriptors as clustering features.

The descriptors come from the source photos (dlib's 5-point chip), computed once per prepared
cache and reused (:mod:`facelab.faces.embeddings`).
"""
from __future__ import annotations

import numpy as np

from .features import Features


def embed_features(ds, rows, *, progress: bool = False) -> Features:
    """The (len(rows), 128) descriptors of ``ds``'s rows, with a note of photos without a clean face."""
    from ..faces.embeddings import dataset_embeddings

    emb = dataset_embeddings(ds, progress=progress)
    rows = np.asarray(rows)
    status = [emb.status[i] for i in rows]
    odd = {s: status.count(s) for s in sorted(set(status)) if s != "ok"}
    note = "dlib's ResNet face embedding of the source photos (128 values per image)"
    if odd:
        note += "; " + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in odd.items())
    return Features("embed", emb.X[rows].astype(np.float32), note)
