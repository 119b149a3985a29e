"""An image folder with one sub-folder per class (people, emotions, smiling/not smiling).

Two forms are read:

- ``ROOT/<class>/*.jpg``: facelab makes a seeded, stratified 80/10/10 split (noted);
- ``ROOT/train|val|test/<class>/*.jpg``: the splits are the folders (``validation`` is read as
  ``val``); a missing ``val``/``test`` is carved out of ``train`` (stratified, seeded, noted).

Labels: ``label`` (multiclass; classes = the class-folder names, sorted). Images inside a class
folder's own sub-folders count for that class. ``image_id`` is the path relative to ``ROOT``.
Zero-byte files, non-image files, images outside class folders and empty class folders are
reported as problems.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import DataError
from ..manifest import LabelInfo, Manifest
from . import Reader, register_reader
from ._common import (ProblemLog, content_groups, dedup_note, dedup_split, describe_folder, is_image_name,
                      nothing_usable, split_note, subdirs)

#: A folder holding this file is not a class (``facelab data collect`` marks its ``rejected/`` so).
SET_ASIDE = ".facelab-set-aside"

SPLIT_DIRS = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
              "test": "test", "testing": "test"}


@dataclass
class ClassTree:
    """Images found under a class-folder tree: parallel lists, one entry per image file."""

    rel: list[str]
    split: list[str | None]
    cls: list[str]


def split_dirs(root: Path) -> dict[str, str] | None:
    """``{folder name: split}`` when ``root`` holds train/val/test folders (and nothing else but
    files), else None."""
    dirs = subdirs(root)
    if not dirs or not all(d.lower() in SPLIT_DIRS for d in dirs):
        return None
    mapped = {d: SPLIT_DIRS[d.lower()] for d in dirs}
    return mapped if "train" in mapped.values() or "test" in mapped.values() else None


def _has_images(folder: Path) -> bool:
    for _dirpath, _dirs, files in os.walk(folder):
        if any(is_image_name(f) for f in files):
            return True
    return False


def scan_class_tree(root: Path, splits: dict[str, str] | None, log: ProblemLog) -> ClassTree:
    """Walk ``root`` (or each split folder) once, collecting image files per class folder."""
    tree = ClassTree([], [], [])
    tops = [(root / d, s) for d, s in splits.items()] if splits else [(root, None)]
    for top, split in tops:
        try:
            entries = sorted(os.scandir(top), key=lambda e: e.name)
        except OSError as e:
            raise DataError(f"cannot list {top}: {e.strerror or e}", path=top, fix="check permissions") from None
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if not entry.is_dir():
                if is_image_name(entry.name):
                    log.add("unlabelled_image", entry.path, "image outside any class folder: ignored")
                continue
            if os.path.exists(os.path.join(entry.path, SET_ASIDE)):
                log.add("set_aside", entry.path, "images set aside by `facelab data collect`: not a class, ignored")
                continue
            n_before = len(tree.rel)
            for dirpath, dirnames, files in os.walk(entry.path):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for f in sorted(files):
                    if f.startswith("."):
                        continue
                    full = os.path.join(dirpath, f)
                    if not is_image_name(f):
                        log.add("not_an_image", full, "file without an image extension: ignored")
                        continue
                    try:
                        size = os.stat(full).st_size
                    except OSError as e:
                        log.add("unreadable_file", full, f"cannot stat: {e.strerror or e}: skipped")
                        continue
                    if size == 0:
                        log.add("empty_file", full, "zero-byte image file: skipped")
                        continue
                    tree.rel.append(os.path.relpath(full, root).replace(os.sep, "/"))
                    tree.split.append(split)
                    tree.cls.append(entry.name)
            if len(tree.rel) == n_before:
                log.add("empty_class", entry.path, "class folder without usable images: ignored")
    return tree


def assign_splits(split: np.ndarray, y: np.ndarray, *, seed: int, notes: list[str], what: str,
                  paths: list[str] | None = None) -> np.ndarray:
    """Fill splits the layout does not give: everything, or val/test carved out of train.

    With ``paths`` (one per row), the files facelab splits are hashed and byte-identical ones
    are kept in one split (:func:`~._common.dedup_split`); splits given by folders are never
    changed.
    """
    def content(rows: np.ndarray) -> np.ndarray | None:
        return None if paths is None else content_groups([paths[i] for i in rows])

    def note_dups(codes: np.ndarray | None, carved: np.ndarray) -> None:
        line = dedup_note(codes, carved)
        if line:
            notes.append(f"{what}: {line}")

    if all(s is None for s in split):
        notes.append(split_note(f"{what}: no train/val/test folders", seed))
        codes = content(np.arange(len(y)))
        out = dedup_split(len(y), seed=seed, content=codes, strata=y)
        note_dups(codes, out)
        return out
    split = split.astype(object)
    empty = [s for s in ("val", "test") if not (split == s).any()]
    train = np.flatnonzero(split == "train")
    if empty and len(train):
        # 10% of train per missing split (FER2013's PublicTest is about that size)
        fr = (1.0 - 0.1 * len(empty), 0.1 if "val" in empty else 0.0, 0.1 if "test" in empty else 0.0)
        codes = content(train)
        split[train] = dedup_split(len(train), seed=seed, content=codes, strata=y[train], fractions=fr)
        share = " and ".join(f"{s} {int(round(f / sum(fr) * 100))}%" for s, f in zip(("val", "test"), fr[1:]) if f)
        notes.append(f"{what}: no {' or '.join(empty)} folder; {share} carved out of train/ "
                     f"(seeded ({seed}), stratified by class)")
        note_dups(codes, split[train])
    return split


def read_folder(path: Path, *, seed: int = 0) -> Manifest:
    """Read an image folder with one sub-folder per class.

    Example:
        >>> import tempfile
        >>> from facelab.data.synth import synthesize
        >>> m = read_folder(synthesize(Path(tempfile.mkdtemp()) / "people", kind="folder", n=8, identities=2))
        >>> m.labels["label"].classes
        ['Emil_Ito', 'Omar_Garcia']
    """
    log = ProblemLog()
    notes: list[str] = []
    splits = split_dirs(path)
    tree = scan_class_tree(path, splits, log)
    if not tree.rel:
        raise DataError(f"no images in class folders under {path} (found: {describe_folder(path)})", path=path,
                        fix="put the images in one sub-folder per class, e.g. people/Ada/001.jpg")
    classes = sorted(set(tree.cls))
    if len(classes) < 2:
        notes.append(f"only one class ({classes[0]}): fine for exploring, not for training a classifier")
    y = pd.Categorical(tree.cls, categories=classes).codes.astype(np.int16)
    base = str(path.resolve())
    paths = [f"{base}/{r}" for r in tree.rel]
    split = assign_splits(np.array(tree.split, dtype=object), y, seed=seed, notes=notes, what="folder",
                          paths=paths)
    table = pd.DataFrame({"image_id": tree.rel, "path": paths,
                          "split": split.astype(str), "label": y})
    if table.empty:
        raise nothing_usable(path, log, "class folders")
    return Manifest(table=table, root=path.resolve(), layout="folder",
                    labels={"label": LabelInfo(name="label", kind="multiclass", classes=classes)},
                    problems=log.problems(), notes=notes)


def detect_folder(path: Path) -> bool:
    """At least two class folders holding images (one folder of images is no classification
    dataset, and is more often a CelebA image folder whose label files are elsewhere)."""
    if not path.is_dir():
        return False
    splits = split_dirs(path)
    tops = [path / d for d in splits] if splits else [path]
    classes = {d for top in tops for d in subdirs(top) if _has_images(top / d)}
    return len(classes) >= 2


register_reader(Reader(
    name="folder",
    description="an image folder with one sub-folder per class (ROOT/<class>/*.jpg), optionally "
                "inside train/ val/ test/ folders",
    detect=detect_folder,
    read=lambda path, seed=0: read_folder(Path(path), seed=seed),
))
