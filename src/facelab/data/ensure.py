"""A prepared cache for whatever the user passed: a cache, or a dataset folder prepared on first use.

``facelab train|evaluate|explore|cluster <dataset folder>`` prepare the cache themselves when none
exists (progress shown) with the geometry the command wants, and :func:`facelab.data.cache.prepare`
reuses the same cache next time (same options, source unchanged).

The geometry of a dataset when nobody asks for a particular one is :data:`DATASET_GEOMETRY`
(per dataset kind; training recipes in :mod:`facelab.train.recipes` refine it per task).

Example:
    >>> dataset_kind("fer2013-folders"), dataset_kind("celeba-kaggle"), dataset_kind(None)
    ('fer2013', 'celeba', 'other')
    >>> import tempfile
    >>> from pathlib import Path
    >>> from facelab.data.cache import prepare
    >>> from facelab.data.synth import synthesize
    >>> tmp = Path(tempfile.mkdtemp())
    >>> cache = prepare(synthesize(tmp / "celeba", kind="celeba", n=20), size=24, crop="face",
    ...                 out=tmp / "cache", workers=1, progress=False)
    >>> ensure_prepared(cache.path).path == cache.path     # a cache is used as it is
    True
"""
from __future__ import annotations

from pathlib import Path

from .prepared import PreparedDataset, resolve_data

#: dataset kind -> the cache geometry a command uses when nothing else asks for one: FER2013 is
#: 48x48 grey already; CelebA's aligned faces crop tightly ("face" beat "square" on validation,
#: docs/training.md); any other folder keeps the centred square of each photo.
DATASET_GEOMETRY: dict[str, dict] = {
    "celeba": {"size": 64, "crop": "face", "grey": False},
    "fer2013": {"size": 48, "crop": "square", "grey": True},
    "folder": {"size": 64, "crop": "square", "grey": False},
    "other": {"size": 64, "crop": "square", "grey": False},
}


def dataset_kind(layout: str | None) -> str:
    """``celeba``, ``fer2013``, ``folder`` or ``other``, from a manifest's layout name."""
    layout = layout or ""
    for kind in ("celeba", "fer2013", "folder"):
        if layout.startswith(kind):
            return kind
    return "other"


def source_layout(path: str | Path) -> str:
    """The layout name of a source folder (``DataError`` when it is no known dataset)."""
    from .readers import detect_layout

    return detect_layout(path)


def ensure_prepared(data, *, size: int | None = None, crop: str | None = None, grey: bool | None = None,
                    progress: bool = True, say=None, aligner=None) -> PreparedDataset:
    """The prepared cache for ``data``: itself when it is one, else the dataset folder prepared.

    Args:
        data: a ``PreparedDataset``, a cache folder or a dataset (source) folder.
        size / crop / grey: the geometry wanted for a source folder; ``None`` = the dataset's
            default (:data:`DATASET_GEOMETRY`). Ignored for a cache, which has its own.
        progress: show the decoding progress.
        say: called with one line saying which cache is used and why (default: nothing).
        aligner: the face aligner, for a ``crop="detect"`` geometry (see
            :func:`facelab.data.cache.prepare`).

    Returns:
        The opened cache (reused when one with exactly this geometry exists for an unchanged
        source; prepared otherwise, into the default cache folder).

    Raises:
        DataError: the path does not exist or is no dataset (the message lists the layouts).
    """
    from .cache import prepare

    ds, source = resolve_data(data)
    if ds is not None:
        return ds
    geo = dict(DATASET_GEOMETRY[dataset_kind(source_layout(source))])
    geo.update({k: v for k, v in (("size", size), ("crop", crop), ("grey", grey)) if v is not None})
    ds = prepare(source, size=int(geo["size"]), crop=geo["crop"], grey=bool(geo["grey"]), progress=progress,
                 aligner=aligner)
    if say is not None:
        say(f"cache {ds.path} ({geo['size']}x{geo['size']} {geo['crop']}{', grey' if geo['grey'] else ''}; "
            "prepared once from the dataset folder, reused next time)")
    return ds
