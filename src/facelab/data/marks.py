"""The user's marks in a dataset folder, applied by every reader: ``exclude.txt`` and ``relabel.csv``.

``facelab data review`` shows near-duplicates, photos with no face or several, and a run's top
losses; the user writes what to do in two plain files in the dataset folder (no image is moved or
deleted), and the next ``facelab data prepare`` applies them (the files are part of the source's
fingerprint, so the cache is rebuilt):

* ``exclude.txt`` — one photo per line (path relative to the dataset folder, or a bare file name
  when it is unique); ``#`` starts a comment. Lines naming no photo are counted and warned about.
* ``relabel.csv`` — header ``path,label`` (optionally ``path,label,column``): the photo's class
  in the dataset's class column (a new class name adds a class); in a dataset of attributes
  (CelebA) the ``column`` names the attribute and the label is ``1`` or ``0`` (``-1``, yes/no).
  Lines that name no photo, no label column, or a value the column cannot take are counted and
  warned about, each with its reason.

Example:
    >>> import tempfile
    >>> from facelab.data.readers import read_source
    >>> from facelab.data.synth import synthesize
    >>> root = synthesize(Path(tempfile.mkdtemp()) / "people", kind="folder", n=8, identities=2)
    >>> photo = sorted(root.glob("*/*.jpg"))[0]
    >>> _ = (root / "exclude.txt").write_text(photo.name + "\\n")
    >>> read_source(root).notes[-1]     # read_source applies the marks
    'exclude.txt: 1 photos excluded'
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .manifest import Manifest, Problem

EXCLUDE = "exclude.txt"
RELABEL = "relabel.csv"


def _keys(m: Manifest) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """Row indices by path relative to the root (and image_id), and by bare file name."""
    root = Path(m.root)
    by_rel: dict[str, list[int]] = {}
    by_name: dict[str, list[int]] = {}
    ids = m.table["image_id"].astype(str).tolist() if "image_id" in m.table else [None] * len(m.table)
    for i, (p, iid) in enumerate(zip(m.table["path"].astype(str), ids)):
        pp = Path(p)
        try:
            rel = pp.relative_to(root).as_posix()
        except ValueError:
            rel = pp.as_posix()
        by_rel.setdefault(rel, []).append(i)
        if iid is not None and iid != rel:
            by_rel.setdefault(iid, []).append(i)
        by_name.setdefault(pp.name, []).append(i)
    return by_rel, by_name


def _find(entry: str, by_rel, by_name) -> list[int]:
    entry = entry.strip().lstrip("./").replace("\\", "/")
    if entry in by_rel:
        return by_rel[entry]
    hits = by_name.get(Path(entry).name, [])
    return hits if len(hits) == 1 or "/" not in entry else []


_YES, _NO = {"1", "+1", "true", "yes", "y"}, {"0", "-1", "false", "no", "n"}


def _value(info, label: str) -> int | None:
    """The stored value of ``label`` in a label column (None when the column cannot take it); a new
    class name is added to a multiclass column."""
    if info.kind == "binary":  # a CelebA attribute: 1/0 (or -1), yes/no, the attribute's name or "not <name>"
        low = label.lower()
        if low in _YES or low == info.classes[1].lower():
            return 1
        if low in _NO or low == info.classes[0].lower():
            return 0
        return None
    if label not in info.classes:
        info.classes.append(label)  # appended: the other classes keep their indices
    return info.classes.index(label)


def _relabel(m: Manifest, table, rl: Path, by_rel, by_name) -> tuple[int, list[Problem]]:
    """Apply ``relabel.csv`` to ``table`` in place: ``(photos changed, problems by reason)``. A
    line names a photo and a label, and the column unless the dataset has a class column."""
    import pandas as pd

    marks = pd.read_csv(rl, dtype=str).fillna("")
    col_default = m.default_class_column()
    changed, bad = 0, {"relabel_missing": [], "relabel_column": [], "relabel_value": []}
    for _, r in marks.iterrows():
        where = str(r.get("path", ""))
        rows = _find(where, by_rel, by_name)
        col = str(r.get("column") or col_default or "")
        info = m.labels.get(col)
        label = str(r.get("label", "")).strip()
        value = _value(info, label) if rows and info is not None else None
        if not rows:
            bad["relabel_missing"].append(where)
        elif info is None:
            bad["relabel_column"].append(f"{where} ({col or 'no column given'})")
        elif value is None:
            bad["relabel_value"].append(f"{where} ({col}={label})")
        else:
            table.loc[rows, col] = value
            if f"{col}_name" in table.columns:
                table.loc[rows, f"{col}_name"] = info.classes[value]
            changed += len(rows)
    why = {"relabel_missing": "name no photo of the dataset",
           "relabel_column": "name no label column (give one of the dataset's columns in a `column` field: "
                             + ", ".join(list(m.labels)[:5]) + ("..." if len(m.labels) > 5 else "") + ")",
           "relabel_value": "give a value the column cannot take (an attribute takes 1 or 0)"}
    return changed, [Problem(k, str(rl), f"{why[k]} (first: {v[0]})", len(v)) for k, v in bad.items() if v]


def apply_marks(m: Manifest, folder: str | Path, say=None) -> Manifest:
    """``m`` with the rows named in ``folder/exclude.txt`` dropped and ``folder/relabel.csv``
    applied; the counts go to ``m.notes`` and missing names to ``m.problems``."""
    folder = Path(folder)
    if folder.is_file():
        folder = folder.parent
    ex, rl = folder / EXCLUDE, folder / RELABEL
    if not ex.is_file() and not rl.is_file():
        return m
    table = m.table.copy()
    by_rel, by_name = _keys(m)
    notes, problems = list(m.notes), list(m.problems)
    if rl.is_file():
        n, problems_rl = _relabel(m, table, rl, by_rel, by_name)
        notes.append(f"{RELABEL}: {n} photos relabelled")
        for p in problems_rl:
            problems.append(p)
            notes.append(f"warning: {p.count} lines of {RELABEL} {p.detail.split(' (first')[0]}")
    if ex.is_file():
        drop, missing = set(), []
        for line in ex.read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            rows = _find(line, by_rel, by_name)
            if rows:
                drop.update(rows)
            else:
                missing.append(line)
        keep = np.setdiff1d(np.arange(len(table)), np.fromiter(drop, np.int64, len(drop)))
        table = table.iloc[keep].reset_index(drop=True)
        notes.append(f"{EXCLUDE}: {len(drop)} photos excluded")
        if missing:
            problems.append(Problem("exclude_missing", str(ex), f"{len(missing)} lines name no photo of the "
                                    f"dataset (first: {missing[0]})", len(missing)))
            notes.append(f"warning: {len(missing)} lines of {EXCLUDE} name no photo of the dataset")
    for n in notes[len(m.notes):]:
        if say:
            say(n)
    return Manifest(table, m.root, m.layout, m.labels, m.attributes, problems, notes)
