"""Which photos of a ``--crop detect`` cache had no face or several (for ``facelab data info``).

Example: docs/python.md#faces-embeddings-detect-caches-review.
"""
from __future__ import annotations

import json
from pathlib import Path

from .prepared import META_FILE, PreparedDataset


def _detect_caches(path: Path) -> list[Path]:
    from ..paths import prepared_root

    if (path / META_FILE).is_file():
        return [path]
    src, found = path.resolve(), []
    root = prepared_root()
    for meta_path in root.glob(f"*/{META_FILE}") if root.is_dir() else []:
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            continue
        if meta.get("complete") and meta.get("faces") and \
                Path(meta.get("source", {}).get("root", "")).resolve() == src:
            found.append((meta_path.stat().st_mtime, meta_path.parent))
    return [p for _, p in sorted(found, reverse=True)]


def face_listing(path: str | Path) -> dict | None:
    """The faces found at prepare by the latest ``--crop detect`` cache of ``path`` (a source
    folder or the cache itself); None when there is none."""
    caches = _detect_caches(Path(path).expanduser())
    if not caches:
        return None
    ds = PreparedDataset.open(caches[0])
    faces = ds.meta.get("faces")
    if not faces:
        return None
    probs = ds.manifest.problems
    t = ds.table
    kept_none = t.loc[t["n_faces"] == 0, "path"].astype(str).tolist() if "n_faces" in t else []
    kept_several = t.loc[t["n_faces"] >= 2, "path"].astype(str).tolist() if "n_faces" in t else []
    return {"cache": str(ds.path), "detector": ds.meta.get("detector"), **faces,
            "no_face_photos": sorted([p.path for p in probs if p.kind == "no_face"] + kept_none),
            "several_faces_photos": sorted([p.path for p in probs if p.kind == "several_faces"] + kept_several)}
