"""What ``explore`` looks at: the full label table and an image sample, from any kind of input.

- Labels: every label row the source has. For CelebA that is the whole attribute file
  (202,599 rows), including rows whose image is not on disk, because label statistics do not
  need images; the reader keeps only rows with an image, so the file is read again here.
- Images: the prepared cache when one exists (all of it for means, a sample for grids);
  otherwise a stated random sample is decoded in parallel by :func:`facelab.data.cache.prepare`
  into a temporary cache.

Example: docs/python.md#explore-and-cluster.
"""
from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.manifest import LabelInfo, Manifest
from ..data.prepared import open_prepared, resolve_data
from ..errors import DataError


@dataclass
class ExploreSource:
    """Inputs of the explore report.

    Attributes:
        name: dataset name (the source folder's name).
        labels: label table used for label statistics (label columns and ``split``).
        label_info: label column -> LabelInfo.
        attributes: binary attribute columns.
        label_rows_note: which rows the label statistics use, in words.
        images: uint8 (N, H, W, C) images or None; ``image_table`` holds their label rows.
        image_note: where the images come from and how many, in words.
        notes: reader notes and anything sampled.
    """

    name: str
    labels: pd.DataFrame
    label_info: dict[str, LabelInfo]
    attributes: list[str]
    label_rows_note: str
    images: np.ndarray | None
    image_table: pd.DataFrame | None
    image_note: str
    notes: list[str] = field(default_factory=list)
    manifest: Manifest | None = None


def full_celeba_labels(manifest: Manifest) -> tuple[pd.DataFrame, str] | None:
    """The whole CelebA attribute table (rows without images included), with splits when known.

    Uses the CelebA reader's own table parser so bad rows are handled the same way. Returns
    None when the source files are not reachable (e.g. a cache whose source moved).
    """
    if not manifest.layout.startswith("celeba"):
        return None
    try:
        return _read_full_celeba(manifest)
    except (AttributeError, ImportError, TypeError, KeyError):
        # the reader's helpers changed shape: fall back to the manifest (the note says which rows)
        return None


def _read_full_celeba(manifest: Manifest) -> tuple[pd.DataFrame, str] | None:
    try:
        from ..data.readers import celeba as rc
        from ..data.readers._common import ProblemLog
    except ImportError:
        return None
    kaggle = manifest.layout == "celeba-kaggle"
    ext = "csv" if kaggle else "txt"
    root = rc._root(Path(manifest.root), ext)
    if root is None:
        return None
    log = ProblemLog()
    try:
        attrs = rc._read_values(root / f"list_attr_celeba.{ext}", csv=kaggle,
                                header="names" if kaggle else "count+names", names=None, required=[],
                                log=log, allowed=(-1, 0, 1), what="attribute values")
    except (DataError, OSError):
        return None
    cols = [a for a in manifest.attributes if a in attrs.columns]
    table = pd.DataFrame({a: (attrs[a].to_numpy() == 1).astype(np.int8) for a in cols})
    part = root / f"list_eval_partition.{ext}"
    split = np.full(len(table), "unknown", dtype=object)
    if part.is_file():
        try:
            p = rc._read_values(part, csv=kaggle, header="names" if kaggle else "none", names=["partition"],
                                required=["partition"], log=log, allowed=(0, 1, 2), what="partition")
            pm = attrs["image_id"].map(p.set_index("image_id")["partition"])
            split = pm.map(rc.PARTITIONS).fillna("unknown").to_numpy(dtype=object)
        except (DataError, OSError):
            pass
    table.insert(0, "split", split)
    note = (f"Label statistics use all {len(table):,} rows of list_attr_celeba.{ext}, including the "
            f"{len(table) - len(manifest.table):,} rows whose image is not on disk; splits are the "
            f"official partitions of list_eval_partition.{ext}.")
    return table, note


def _labels_from_manifest(m: Manifest) -> tuple[pd.DataFrame, str]:
    cols = ["split"] + [c for c in m.labels if c in m.table.columns]
    return m.table[cols].reset_index(drop=True), f"Label statistics use the {len(m.table):,} rows of the manifest (one per image)."


def _sample_rows(n: int, sample: int, seed: int) -> np.ndarray:
    if n <= sample:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, sample, replace=False))


def load_for_explore(data, *, sample: int = 3000, seed: int = 0, progress: bool = True,
                     size: int | None = None) -> ExploreSource:
    """Collect the label table and an image sample for the explore report.

    Args:
        data: a source folder, a prepared cache folder, or a :class:`PreparedDataset`.
        sample: images decoded when there is no cache (a seeded random sample; stated).
        seed: seed of every sample.
        progress: show decoding progress.
        size: side of decoded sample images (default 64, 48 for FER2013).
    """
    manifest: Manifest
    notes: list[str] = []
    ds, path = resolve_data(data)
    if ds is not None:
        manifest = ds.manifest
        name = Path(manifest.root).name or ds.path.name
    else:
        from ..data.readers import read_source

        manifest = read_source(path)
        name = path.resolve().name
        try:
            ds = open_prepared(path)
            notes.append(f"Images from the prepared cache {ds.path}.")
        except DataError:
            ds = None
    notes += list(manifest.notes)

    full = full_celeba_labels(manifest)
    labels, label_note = full if full is not None else _labels_from_manifest(manifest)

    images = image_table = None
    if ds is not None and len(ds):
        images, image_table = ds.images, ds.table.reset_index(drop=True)
        image_note = (f"Image sections use all {len(ds):,} images of the prepared cache "
                      f"({ds.size}x{ds.size}, {ds.channels} channel{'s' if ds.channels > 1 else ''}).")
    elif len(manifest.table):
        images, image_table, image_note = _decode_sample(manifest, sample=sample, seed=seed,
                                                         progress=progress, size=size)
    else:
        image_note = "No images: image sections are skipped."
    return ExploreSource(name=name, labels=labels, label_info=dict(manifest.labels),
                         attributes=[a for a in manifest.attributes if a in labels.columns],
                         label_rows_note=label_note, images=images, image_table=image_table,
                         image_note=image_note, notes=notes, manifest=manifest)


def _decode_sample(manifest: Manifest, *, sample: int, seed: int, progress: bool, size: int | None):
    """Decode a seeded random sample with the cache's parallel decoder into a temporary cache."""
    from ..data.cache import prepare

    grey = manifest.layout.startswith("fer2013")
    size = size or (48 if grey else 64)
    rows = _sample_rows(len(manifest.table), sample, seed)
    sub = Manifest(manifest.table.iloc[rows].reset_index(drop=True), manifest.root, manifest.layout,
                   manifest.labels, manifest.attributes, [], [])
    tmp = Path(tempfile.mkdtemp(prefix="facelab-explore-"))
    try:
        ds = prepare(sub, size=size, grey=grey, out=tmp / "sample", progress=progress, seed=seed)
        images = np.array(ds.images)  # copy out of the memmap before the folder is deleted
        table = ds.table.reset_index(drop=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    skipped = len(rows) - len(images)
    what = "all" if len(rows) == len(manifest.table) else f"a random sample (seed {seed}) of"
    note = (f"No prepared cache: image sections use {what} {len(rows):,} of the {len(manifest.table):,} "
            f"images, decoded at {size}x{size}" + (f" ({skipped} failed to decode)." if skipped else "."))
    return images, table, note
