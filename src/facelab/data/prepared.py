"""Reading a prepared cache (the write side is :mod:`facelab.data.cache`).

A prepared cache is a folder::

    meta.json          # geometry and provenance, see below
    images.u8          # uint8 memmap, shape (N, size, size, channels), row i <-> manifest row i
    manifest.parquet   # the manifest rows that decoded, in cache order
    manifest.json      # label names, layout, problems found while reading/decoding

``meta.json`` keys: ``format`` (1), ``n``, ``size``, ``channels`` (1 or 3), ``grey``, ``crop``
(name: ``square``, ``face``, ``full`` or ``x0,y0,x1,y1``), ``crop_box`` ([x0, y0, x1, y1] as
fractions of the source image's width/height — the geometry a predictor must reproduce on a
detected face), ``source_size`` ([w, h] of the typical source image), ``source`` (root, layout,
fingerprint), ``options`` (everything that keys the cache), ``skipped`` (reason → count),
``complete`` (true once every chunk is written).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from .manifest import LabelInfo, Manifest

META_FILE = "meta.json"
IMAGES_FILE = "images.u8"


class PreparedDataset:
    """A decoded dataset: uint8 images in a memmap plus the manifest rows that go with them.

    Example:
        >>> import tempfile
        >>> from facelab.data.cache import prepare
        >>> from facelab.data.synth import synthesize
        >>> tmp = Path(tempfile.mkdtemp())
        >>> root = synthesize(tmp / "celeba", kind="celeba", n=20)
        >>> _ = prepare(root, size=32, out=tmp / "cache", workers=1, progress=False)
        >>> ds = PreparedDataset.open(tmp / "cache")
        >>> ds.images.shape, ds.split("train")[:3]
        ((20, 32, 32, 3), array([0, 1, 2]))
    """

    def __init__(self, path: Path, meta: dict, manifest: Manifest, images: np.ndarray):
        self.path = path
        self.meta = meta
        self.manifest = manifest
        self.images = images

    # -- construction --------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path) -> "PreparedDataset":
        path = Path(path).expanduser()
        meta_path = path / META_FILE
        if not meta_path.is_file():
            raise DataError(
                f"{path} is not a prepared cache (no {META_FILE})",
                path=path,
                fix=f"run `facelab data prepare {path} --size 64` first",
            )
        try:
            meta = json.loads(meta_path.read_text())
        except ValueError as e:
            raise DataError(f"{meta_path} is not valid JSON ({e})", path=meta_path,
                            fix="delete the cache folder and prepare again") from None
        if not meta.get("complete"):
            raise DataError(
                f"the prepared cache {path} is incomplete (an interrupted prepare)",
                path=path,
                fix="run the same `facelab data prepare` command again: it resumes where it stopped",
            )
        manifest = Manifest.load(path)
        n, s, c = int(meta["n"]), int(meta["size"]), int(meta["channels"])
        expected = n * s * s * c
        img_path = path / IMAGES_FILE
        if not img_path.is_file() or img_path.stat().st_size < expected:
            raise DataError(f"{img_path} is missing or truncated", path=img_path,
                            fix="delete the cache folder and prepare again")
        images = np.memmap(img_path, dtype=np.uint8, mode="r", shape=(n, s, s, c))
        if len(manifest.table) != n:
            raise DataError(f"{path}: manifest has {len(manifest.table)} rows but the cache has {n} images",
                            path=path, fix="delete the cache folder and prepare again")
        return cls(path, meta, manifest, images)

    # -- convenience ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.meta["n"])

    @property
    def table(self) -> pd.DataFrame:
        return self.manifest.table

    @property
    def labels(self) -> dict[str, LabelInfo]:
        return self.manifest.labels

    @property
    def attributes(self) -> list[str]:
        return self.manifest.attributes

    @property
    def size(self) -> int:
        return int(self.meta["size"])

    @property
    def channels(self) -> int:
        return int(self.meta["channels"])

    def split(self, name: str) -> np.ndarray:
        """Row indices of one split (``train``, ``val`` or ``test``)."""
        return np.flatnonzero(self.table["split"].to_numpy() == name)

    def label_array(self, column: str) -> np.ndarray:
        if column not in self.table.columns:
            raise DataError(f"{self.path} has no label {column!r}", path=self.path,
                            fix=f"choose one of: {', '.join(self.labels)}")
        return self.table[column].to_numpy()

    def __repr__(self) -> str:
        return f"PreparedDataset({str(self.path)!r}, n={len(self)}, size={self.size}, channels={self.channels})"


def resolve_data(data: "str | Path | PreparedDataset") -> tuple[PreparedDataset | None, Path | None]:
    """Split what a user passed into (an opened cache, or None) and (the source folder, or None).

    A :class:`PreparedDataset` or a cache folder gives the dataset; any other existing folder is a
    source (whose cache, if any, :func:`open_prepared` finds). A path that does not exist is a
    ``DataError``.
    """
    if isinstance(data, PreparedDataset):
        return data, None
    path = Path(data).expanduser()
    if not path.exists():
        raise DataError(f"{path} does not exist", path=path,
                        fix="give a dataset folder (CelebA, FER2013, class folders) or a prepared cache")
    if (path / META_FILE).is_file():
        return PreparedDataset.open(path), None
    return None, path


def open_prepared(data: str | Path) -> PreparedDataset:
    """Open a prepared cache given either the cache folder or the source folder it came from.

    For a source folder, the most recently written complete cache of that source under
    ``facelab.paths.prepared_root()`` is used.
    """
    from ..paths import prepared_root

    data = Path(data).expanduser()
    if (data / META_FILE).is_file():
        return PreparedDataset.open(data)
    if data.is_file():
        raise DataError(f"{data} is a file, not a dataset folder or a prepared cache", path=data,
                        fix="pass the folder that holds the images and label files, or a cache "
                            "written by `facelab data prepare`")
    src = data.resolve()
    found: list[tuple[float, Path]] = []
    root = prepared_root()
    if root.is_dir():
        for meta_path in root.glob(f"*/{META_FILE}"):
            try:
                meta = json.loads(meta_path.read_text())
            except ValueError:
                continue
            if meta.get("complete") and Path(meta.get("source", {}).get("root", "")).resolve() == src:
                found.append((meta_path.stat().st_mtime, meta_path.parent))
    if not found:
        raise DataError(
            f"no prepared cache for {data}",
            path=data,
            fix=f"run `facelab data prepare {data} --size 64` (add --grey for FER2013) first",
        )
    return PreparedDataset.open(max(found)[1])
