"""CelebA, in the official layout (``.txt`` files, flat ``img_align_celeba/``) and the Kaggle one
(``.csv`` files, nested ``img_align_celeba/img_align_celeba/``).

Labels: the 40 attributes as int8 0/1 columns named exactly as in the file (-1 → 0, 1 → 1; 0 is
accepted as 0); ``identity`` (multiclass, classes = identity numbers as strings, numeric order)
when ``identity_CelebA.txt``/``.csv`` is present; extras ``bbox_x/y/w/h`` and the ten landmark
columns when their files are present. Splits come from ``list_eval_partition`` (0 train, 1 val,
2 test); without it facelab makes a seeded 80/10/10 split that keeps each identity in one split.

A partly extracted download (most label rows without an image, as in the Kaggle sample) works:
missing images are counted and skipped, and splits left empty are carved out of train (noted).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import DataError
from ..manifest import LabelInfo, Manifest
from . import Reader, register_reader
from ._common import (MIN_GROUPS, ProblemLog, content_groups, dedup_note, dedup_split, nothing_usable, scan_images,
                      split_note)
from ._tables import clean_rows, drop_duplicate_ids, read_table

IMG_DIR = "img_align_celeba"
PARTITIONS = {0: "train", 1: "val", 2: "test"}
LANDMARKS = ["lefteye_x", "lefteye_y", "righteye_x", "righteye_y", "nose_x", "nose_y",
             "leftmouth_x", "leftmouth_y", "rightmouth_x", "rightmouth_y"]
BBOX = {"x_1": "bbox_x", "y_1": "bbox_y", "width": "bbox_w", "height": "bbox_h"}


def _root(path: Path, ext: str) -> Path | None:
    """The folder holding ``list_attr_celeba.<ext>``: ``path`` itself or, when given the image
    folder (flat or the outer/inner nested one), the folder above it."""
    cands = [path]
    if path.name == IMG_DIR:
        cands += [path.parent, path.parent.parent]
    for c in cands:
        if (c / f"list_attr_celeba.{ext}").is_file():
            return c
    return None


def _image_dir(root: Path) -> Path | None:
    nested, flat = root / IMG_DIR / IMG_DIR, root / IMG_DIR
    if nested.is_dir():
        return nested
    if flat.is_dir():
        return flat
    return None


def _optional(root: Path, stem: str, ext: str) -> Path | None:
    p = root / f"{stem}.{ext}"
    return p if p.is_file() else None


def _read_values(path: Path, *, csv: bool, header: str, names: list[str] | None, required: list[str],
                 log: ProblemLog, allowed=None, what="values", dtype: str = "int32") -> pd.DataFrame:
    df, cols, first, declared = read_table(path, csv=csv, header=header, names=names, expected=required,
                                           dtype=dtype)
    clean = clean_rows(df, cols, path=path, first_line=first, log=log, allowed=allowed, what=what)
    if declared is not None and declared != len(df):
        log.add("row_count", path, f"the first line says {declared:,} rows, the file has {len(df):,}")
    return drop_duplicate_ids(clean, path=path, log=log)


def read_celeba(path: Path, *, seed: int = 0, kaggle: bool) -> Manifest:
    """Read CelebA (official or Kaggle layout) from ``path`` into a Manifest.

    Example:
        >>> import tempfile
        >>> from facelab.data.synth import synthesize
        >>> m = read_celeba(synthesize(tempfile.mkdtemp() + "/celeba", kind="celeba", n=20), kaggle=False)
        >>> m.attributes[:3]
        ['5_o_Clock_Shadow', 'Arched_Eyebrows', 'Attractive']
    """
    ext = "csv" if kaggle else "txt"
    root = _root(path, ext)
    if root is None:
        raise DataError(f"no list_attr_celeba.{ext} in {path}", path=path,
                        fix="give the folder that holds the CelebA label files")
    log = ProblemLog()
    notes: list[str] = []
    attr_path = root / f"list_attr_celeba.{ext}"
    attrs = _read_values(attr_path, csv=kaggle, header="names" if kaggle else "count+names", names=None,
                         required=[], log=log, allowed=(-1, 0, 1), what="attribute values", dtype="int8")
    attributes = [c for c in attrs.columns if c not in ("image_id", "line")]
    if not attributes:
        raise DataError(f"{attr_path.name} has no attribute columns", path=attr_path,
                        fix="use list_attr_celeba as downloaded")
    img_dir = _image_dir(root)
    if img_dir is None:
        raise DataError(f"no {IMG_DIR}/ image folder next to {attr_path.name}", path=root,
                        fix=f"extract the images into {root / IMG_DIR}")
    table = _images_on_disk(attrs, attributes, img_dir, attr_path, log, notes)
    labels = {a: LabelInfo.binary(a) for a in attributes}
    table, groups = _identity(table, labels, root, ext, log)
    _extra_columns(table, root, ext, log, notes)
    table, split = _splits(table, groups, root, ext, img_dir, seed, log, notes)
    if len(table) == 0:
        raise nothing_usable(root, log, f"{len(attrs['image_id']):,} labelled rows")

    table.insert(1, "path", str(img_dir.resolve()) + "/" + table["image_id"])
    table.insert(2, "split", split)
    table = table.reset_index(drop=True)
    return Manifest(table=table, root=root.resolve(), layout="celeba-kaggle" if kaggle else "celeba-official",
                    labels=labels, attributes=attributes, problems=log.problems(), notes=notes)


def _images_on_disk(attrs: pd.DataFrame, attributes: list[str], img_dir: Path, attr_path: Path,
                    log: ProblemLog, notes: list[str]) -> pd.DataFrame:
    """The labelled rows whose image is on disk and not empty (the others logged), attributes as 0/1."""
    sizes = scan_images(img_dir)
    ids = attrs["image_id"]
    on_disk = ids.isin(sizes.keys()).to_numpy()
    n_missing = int((~on_disk).sum())
    if n_missing:
        missing = ids[~on_disk]
        log.add_many("missing_image", (str(img_dir) + "/" + missing.iloc[:20]).tolist(),
                     f"listed in {attr_path.name}, not in {img_dir.name}/: skipped", where=img_dir,
                     total=n_missing)
        if n_missing > len(ids) / 2:
            notes.append(f"{n_missing:,} of {len(ids):,} labelled images are not on disk (a partial "
                         f"download?): only the {len(ids) - n_missing:,} present are used")
    keep = on_disk.copy()
    size = ids[on_disk].map(sizes).to_numpy()
    empty = size == 0
    if empty.any():
        log.add_many("empty_file", (str(img_dir) + "/" + ids[on_disk][empty]).tolist()[:20],
                     "zero-byte image file: skipped", where=img_dir, total=int(empty.sum()))
        keep[np.flatnonzero(on_disk)[empty]] = False
    unlabelled = len(sizes) - int(on_disk.sum())
    if unlabelled > 0:
        labelled = set(ids)
        extra = sorted(n for n in sizes if n not in labelled)
        log.add_many("unlabelled_image", [str(img_dir / n) for n in extra[:20]],
                     f"image not listed in {attr_path.name}: ignored", where=img_dir, total=len(extra))
    kept = attrs[keep]
    return pd.DataFrame({"image_id": kept["image_id"].to_numpy(),
                         **{a: (kept[a].to_numpy() == 1).astype(np.int8) for a in attributes}})


def _identity(table: pd.DataFrame, labels: dict, root: Path, ext: str, log: ProblemLog):
    """The ``identity`` column and label when ``identity_CelebA`` is present (rows without one are
    skipped); returns the table and the identity of each row (None without the file)."""
    id_path = _optional(root, "identity_CelebA", ext)
    if id_path is None:
        return table, None
    csv = ext == "csv"
    ident = _read_values(id_path, csv=csv, header="names" if csv else "none", names=["identity"],
                         required=["identity"], log=log, what="identity")
    id_map = ident.set_index("image_id")["identity"]
    idn = table["image_id"].map(id_map)
    lacking = idn.isna().to_numpy()
    if lacking.any():
        log.add_many("missing_label", table["image_id"][lacking].tolist()[:20],
                     f"no row in {id_path.name}: skipped", where=id_path, total=int(lacking.sum()))
        table, idn = table[~lacking], idn[~lacking]
    classes = sorted(set(idn.astype(np.int64).tolist()))
    index = {c: i for i, c in enumerate(classes)}
    table["identity"] = idn.astype(np.int64).map(index).to_numpy().astype(np.int16 if len(classes) < 32768 else np.int32)
    labels["identity"] = LabelInfo(name="identity", kind="multiclass", classes=[str(c) for c in classes])
    return table, table["identity"].to_numpy()


def _extra_columns(table: pd.DataFrame, root: Path, ext: str, log: ProblemLog, notes: list[str]) -> None:
    """The bounding box and landmark columns, from their files when present (NaN where a row lacks one)."""
    csv = ext == "csv"
    for stem, want, rename in (("list_bbox_celeba", list(BBOX), BBOX),
                               ("list_landmarks_align_celeba", LANDMARKS, None)):
        p = _optional(root, stem, ext)
        if p is None:
            continue
        extra_df = _read_values(p, csv=csv, header="names" if csv else "count+names", names=None,
                                required=want, log=log, what="numbers")
        extra_df = extra_df.set_index("image_id")[want]
        if rename:
            extra_df = extra_df.rename(columns=rename)
        joined = extra_df.reindex(table["image_id"])
        for c in joined.columns:
            col = joined[c].to_numpy()
            table[c] = col.astype(np.int32) if not np.isnan(col.astype(float)).any() else col.astype(np.float32)
        if joined.isna().any(axis=1).any():
            notes.append(f"{int(joined.isna().any(axis=1).sum()):,} images have no row in {p.name} (NaN there)")


def _splits(table: pd.DataFrame, groups, root: Path, ext: str, img_dir: Path, seed: int, log: ProblemLog,
            notes: list[str]):
    """The split of each row: ``list_eval_partition`` when present (rows without one skipped), else a
    seeded split keeping identities and byte-identical images together; returns the table and splits."""
    csv = ext == "csv"
    part_path = _optional(root, "list_eval_partition", ext)
    if part_path is None:
        how = "identity-disjoint" if groups is not None and len(set(groups)) >= MIN_GROUPS else "random"
        # byte-identical images (the sample has one pair) go to one split: hashing 16k files is ~0.3 s
        codes = content_groups((str(img_dir) + "/" + table["image_id"]).tolist())
        split = dedup_split(len(table), seed=seed, content=codes, groups=groups)
        notes.append(split_note(f"no list_eval_partition.{ext}", seed, how=how))
        if line := dedup_note(codes, split):
            notes.append(line)
        return table, split
    part = _read_values(part_path, csv=csv, header="names" if csv else "none", names=["partition"],
                        required=["partition"], log=log, allowed=(0, 1, 2), what="partition", dtype="int8")
    pmap = part.set_index("image_id")["partition"]
    pn = table["image_id"].map(pmap)
    lacking = pn.isna().to_numpy()
    if lacking.any():
        log.add_many("missing_split", table["image_id"][lacking].tolist()[:20],
                     f"no row in {part_path.name}: skipped", where=part_path, total=int(lacking.sum()))
        table, pn = table[~lacking], pn[~lacking]
        groups = table["identity"].to_numpy() if "identity" in table else None
    split = pn.astype(np.int64).map(PARTITIONS).to_numpy(dtype=object)
    split = _fill_empty_splits(split, seed=seed, groups=groups, notes=notes,
                               paths=(str(img_dir) + "/" + table["image_id"]).to_numpy())
    return table, split


def _fill_empty_splits(split: np.ndarray, *, seed: int, groups, notes: list[str], paths: np.ndarray) -> np.ndarray:
    """Carve val/test out of train when the images of those partitions are all missing; the
    train images (``paths``) are hashed so byte-identical ones land in one split."""
    empty = [s for s in ("val", "test") if not (split == s).any()]
    train = np.flatnonzero(split == "train")
    if not empty or len(train) < 10:
        return split
    fr = (0.8, 0.1 if "val" in empty else 0.0, 0.1 if "test" in empty else 0.0)
    codes = content_groups(np.asarray(paths)[train].tolist())
    sub = dedup_split(len(train), seed=seed, content=codes,
                      groups=None if groups is None else np.asarray(groups)[train], fractions=fr)
    split = split.copy()
    split[train] = sub
    how = "identity-disjoint" if groups is not None and len(set(groups[train])) >= MIN_GROUPS else "random"
    notes.append(split_note(f"no images of the official {' and '.join(empty)} partition(s) here; "
                            f"{' and '.join(empty)} carved out of the official train images", seed, fr, how=how)
                 + " (not the official partitions: figures are not comparable with published ones)")
    if line := dedup_note(codes, sub):
        notes.append(line)
    return split


def _detect(ext: str):
    def detect(path: Path) -> bool:
        return path.is_dir() and _root(path, ext) is not None
    return detect


register_reader(Reader(
    name="celeba-official",
    description="CelebA as distributed: list_attr_celeba.txt (+ list_eval_partition.txt, "
                "identity_CelebA.txt, list_bbox_celeba.txt, list_landmarks_align_celeba.txt) "
                "and a flat img_align_celeba/",
    detect=_detect("txt"),
    read=lambda path, seed=0: read_celeba(Path(path), seed=seed, kaggle=False),
))
register_reader(Reader(
    name="celeba-kaggle",
    description="CelebA from Kaggle: list_attr_celeba.csv (+ list_eval_partition.csv, "
                "list_bbox_celeba.csv, list_landmarks_align_celeba.csv) and "
                "img_align_celeba/img_align_celeba/",
    detect=_detect("csv"),
    read=lambda path, seed=0: read_celeba(Path(path), seed=seed, kaggle=True),
))
