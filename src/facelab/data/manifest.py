"""The manifest: one row per image, the single table every later step reads.

Columns of ``Manifest.table``:

- ``image_id`` (str, unique), ``path`` (str, absolute path of the image file), ``split``
  (``train`` / ``val`` / ``test``);
- one integer column per label: binary attributes are 0/1 (``int8``), classes are indices
  (``int16``) into ``LabelInfo.classes``;
- optional extra columns (CelebA bounding boxes and landmarks, FER2013 ``row``), which readers
  document; they are not labels.

For FER2013's ``fer2013.csv`` there is no image file: ``path`` is the CSV and ``row`` is the
data row (0-based) whose ``pixels`` hold the image.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd

from ..errors import DataError

SPLITS = ("train", "val", "test")
MANIFEST_FILE = "manifest.parquet"
MANIFEST_META = "manifest.json"


@dataclass
class LabelInfo:
    """One label column: ``binary`` (0/1) or ``multiclass`` (index into ``classes``)."""

    name: str
    kind: Literal["binary", "multiclass"]
    classes: list[str]

    @classmethod
    def binary(cls, name: str) -> "LabelInfo":
        return cls(name=name, kind="binary", classes=[f"not {name}", name])


@dataclass
class Problem:
    """Something wrong with the source, found while reading it (never silently dropped)."""

    kind: str  # missing_image, corrupt_image, empty_file, bad_row, bad_value, duplicate_id, ...
    path: str
    detail: str
    count: int = 1  # >1 for a summary standing for many problems of one kind (readers/_common.py)


@dataclass
class Manifest:
    table: pd.DataFrame
    root: Path
    layout: str  # celeba-official, celeba-kaggle, fer2013-csv, fer2013-folders, folder
    labels: dict[str, LabelInfo]
    attributes: list[str] = field(default_factory=list)  # binary attribute columns ("--target all")
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. "no split in layout: seeded stratified 80/10/10"

    # -- queries -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.table)

    @property
    def label_columns(self) -> list[str]:
        return list(self.labels)

    def default_class_column(self) -> str | None:
        """The multiclass label a folder or FER2013 dataset is about (None for CelebA)."""
        for name, info in self.labels.items():
            if info.kind == "multiclass" and name != "identity":
                return name
        return None

    def split_counts(self) -> dict[str, int]:
        c = self.table["split"].value_counts()
        return {s: int(c.get(s, 0)) for s in SPLITS}

    def problem_counts(self) -> dict[str, int]:
        counts: Counter = Counter()
        for p in self.problems:
            counts[p.kind] += p.count
        return dict(counts)

    def balance(self) -> dict[str, dict[str, int]]:
        """Counts per class for every label column."""
        out: dict[str, dict[str, int]] = {}
        for name, info in self.labels.items():
            if info.kind == "multiclass" and len(info.classes) > 50:
                continue  # identities: too many to list
            counts = self.table[name].value_counts()
            out[name] = {cls: int(counts.get(i, 0)) for i, cls in enumerate(info.classes)}
        return out

    def summary(self) -> dict:
        return {
            "root": str(self.root),
            "layout": self.layout,
            "images": len(self),
            "splits": self.split_counts(),
            "labels": {n: {"kind": i.kind, "classes": len(i.classes)} for n, i in self.labels.items()},
            "problems": self.problem_counts(),
            "notes": list(self.notes),
        }

    # -- persistence ---------------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        """Write ``manifest.parquet`` and ``manifest.json`` into ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.table.to_parquet(folder / MANIFEST_FILE, index=False)
        meta = {
            "root": str(self.root),
            "layout": self.layout,
            "labels": {n: asdict(i) for n, i in self.labels.items()},
            "attributes": self.attributes,
            "problems": [asdict(p) for p in self.problems],
            "notes": self.notes,
        }
        (folder / MANIFEST_META).write_text(json.dumps(meta, indent=1))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> "Manifest":
        folder = Path(folder)
        try:
            table = pd.read_parquet(folder / MANIFEST_FILE)
            meta = json.loads((folder / MANIFEST_META).read_text())
        except (OSError, ValueError) as e:
            raise DataError(
                f"cannot read the manifest in {folder}: {e}",
                path=folder,
                fix="prepare the dataset again with `facelab data prepare SOURCE`",
            ) from None
        return cls(
            table=table,
            root=Path(meta["root"]),
            layout=meta["layout"],
            labels={n: LabelInfo(**i) for n, i in meta["labels"].items()},
            attributes=list(meta.get("attributes", [])),
            problems=[Problem(**p) for p in meta.get("problems", [])],
            notes=list(meta.get("notes", [])),
        )
