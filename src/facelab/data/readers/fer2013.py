"""FER2013: the original ``fer2013.csv`` and the folder form ``train|test/<emotion>/*.jpg``.

Label: ``emotion`` (multiclass) with the csv's codes as indices: 0 angry, 1 disgust, 2 fear,
3 happy, 4 sad, 5 surprise, 6 neutral (folder names map onto the same indices).

- CSV: ``Usage`` gives the split (Training → train, PublicTest → val, PrivateTest → test); a csv
  without ``Usage`` (Kaggle's ``train.csv``) gets a seeded stratified 80/10/10 split (noted).
  There is no image file: ``path`` is the csv and the extra column ``row`` (0-based data row)
  says where the 48×48 ``pixels`` are. Rows whose pixel count differs from the usual one
  (2,304) or whose emotion/Usage is unknown are reported and skipped.
- Folders: the real download has only ``train/`` and ``test/``: a seeded stratified val split
  (10% of train) is carved out of train and said so in ``manifest.notes``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ...errors import DataError
from ..manifest import LabelInfo, Manifest
from . import Reader, register_reader
from ._common import ProblemLog, nothing_usable, require_columns, seeded_split, split_note, subdirs
from .folder import assign_splits, scan_class_tree, split_dirs

EMOTIONS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
USAGE = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
CSV_NAMES = ("fer2013.csv", "icml_face_data.csv", "train.csv")


def _emotion_label() -> dict[str, LabelInfo]:
    return {"emotion": LabelInfo(name="emotion", kind="multiclass", classes=list(EMOTIONS))}


# -- csv --------------------------------------------------------------------------------------
def _csv_header(path: Path) -> list[str]:
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as f:
            return [c.strip() for c in f.readline().split(",")]
    except OSError:
        return []


def _find_csv(path: Path) -> Path | None:
    if path.is_file():
        return path if path.suffix.lower() == ".csv" and {"emotion", "pixels"} <= set(_csv_header(path)) else None
    if (path / "fer2013.csv").is_file():
        return path / "fer2013.csv"  # the name says it: a wrong header is reported by the reader
    for name in CSV_NAMES[1:]:
        p = path / name
        if p.is_file() and {"emotion", "pixels"} <= set(_csv_header(p)):
            return p
    return None


def read_fer_csv(path: Path, *, seed: int = 0) -> Manifest:
    """Read ``fer2013.csv`` (emotion, pixels, Usage) into a Manifest.

    Example:
        >>> import tempfile
        >>> from facelab.data.synth import synthesize
        >>> m = read_fer_csv(synthesize(tempfile.mkdtemp() + "/fer", kind="fer2013", n=20))
        >>> m.split_counts()
        {'train': 16, 'val': 2, 'test': 2}
    """
    csv = _find_csv(path) if path.is_dir() else path
    if csv is None:
        raise DataError(f"no fer2013.csv in {path}", path=path, fix="give the folder holding fer2013.csv")
    if csv.stat().st_size == 0:
        raise DataError(f"{csv.name} is empty (0 bytes)", path=csv, fix="download it again")
    log = ProblemLog()
    notes: list[str] = []
    tbl, rows, n_invalid = _read_arrow(csv, log)
    names = [str(c).strip() for c in tbl.column_names]  # icml_face_data.csv has " pixels"
    tbl = tbl.rename_columns(names)
    require_columns(pd.DataFrame(columns=names), ["emotion", "pixels"], csv)
    n = tbl.num_rows
    if n == 0:
        raise DataError(f"{csv.name} has no data rows", path=csv, fix="download it again")
    emotion = pd.to_numeric(tbl["emotion"].to_pandas().astype("string"), errors="coerce").to_numpy(
        dtype=float, na_value=np.nan)
    # count separators in Arrow: pandas' .str.count takes 10x longer on 290 MB of pixel strings
    px = pc.utf8_trim_whitespace(tbl["pixels"].cast(pa.string()))
    counts = (pc.count_substring(px, " ").to_numpy(zero_copy_only=False) + 1).astype(np.int64)
    counts[pc.equal(pc.utf8_length(px), 0).to_numpy(zero_copy_only=False)] = 0
    usual = int(np.bincount(counts).argmax())
    side = int(round(usual ** 0.5))
    if side * side != usual:
        raise DataError(f"{csv.name}: most rows have {usual} pixel values, not a square image", path=csv,
                        fix="use fer2013.csv as downloaded (48×48 = 2304 values per row)")
    bad_px = counts != usual
    bad_em = ~np.isin(emotion, np.arange(len(EMOTIONS), dtype=float)) & ~bad_px
    has_usage = "Usage" in names
    if has_usage:
        usage = tbl["Usage"].to_pandas().astype("string").str.strip().map(USAGE).astype(object).to_numpy()
        bad_us = pd.isna(usage) & ~bad_px & ~bad_em
    else:
        bad_us = np.zeros(n, dtype=bool)
    for mask, kind, detail in ((bad_px, "bad_row", f"pixels has a different number of values than {usual}"),
                               (bad_em, "bad_value", f"emotion is not one of 0–{len(EMOTIONS) - 1}"),
                               (bad_us, "bad_value", f"Usage is not one of {', '.join(USAGE)}")):
        if mask.any():
            idx = np.flatnonzero(mask)
            log.add_many(kind, [f"{csv.name}:{rows[i] + 2}" for i in idx[:20]], f"{detail}: row skipped",
                         where=csv, total=len(idx))
    bad = bad_px | bad_em | bad_us
    n_bad, total = int(bad.sum()) + n_invalid, n + n_invalid
    if n_bad > total / 2:
        raise DataError(f"{csv.name}: {n_bad:,} of {total:,} rows are malformed", path=csv,
                        fix="use fer2013.csv as downloaded (emotion,pixels,Usage)")
    keep = ~bad
    if not keep.any():
        raise nothing_usable(csv.parent, log, f"{n:,} csv rows")
    y = emotion[keep].astype(np.int16)
    if has_usage:
        split = usage[keep]
    else:
        split = seeded_split(int(keep.sum()), seed=seed, strata=y)
        notes.append(split_note(f"{csv.name} has no Usage column", seed))
    table = pd.DataFrame({"image_id": [f"row{r:05d}" for r in rows[keep]], "path": str(csv.resolve()),
                          "split": np.asarray(split).astype(str), "emotion": y, "row": rows[keep].astype(np.int32)})
    if side != 48:
        notes.append(f"images are {side}×{side} (FER2013 is 48×48)")
    return Manifest(table=table, root=csv.parent.resolve(), layout="fer2013-csv", labels=_emotion_label(),
                    problems=log.problems(), notes=notes)


def _read_arrow(csv: Path, log: ProblemLog) -> tuple["pa.Table", np.ndarray, int]:
    """Read the csv with pyarrow (multi-threaded); rows with the wrong number of fields are
    reported and skipped. Returns the table, each kept row's 0-based data-row index in the file
    (what the extra ``row`` column holds, so the cache finds the pixels again) and how many rows
    were skipped."""
    invalid: list = []

    def on_invalid(row) -> str:
        invalid.append(row)
        return "skip"

    def read(threads: bool):
        invalid.clear()
        return pacsv.read_csv(csv, read_options=pacsv.ReadOptions(use_threads=threads),
                              parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
                              convert_options=pacsv.ConvertOptions(strings_can_be_null=False))

    try:
        tbl = read(True)
        if invalid:  # line numbers are only known single-threaded: read again to get them
            tbl = read(False)
    except (pa.ArrowInvalid, UnicodeDecodeError) as e:
        raise DataError(f"cannot parse {csv.name}: {e}", path=csv,
                        fix="use fer2013.csv as downloaded (emotion,pixels,Usage)") from None
    total = tbl.num_rows + len(invalid)
    skipped = np.array(sorted(r.number - 2 for r in invalid), dtype=np.int64)  # line 1 is the header
    for r in invalid[:20]:
        log.add("bad_row", f"{csv.name}:{r.number}",
                f"line {r.number} has {r.actual_columns} fields, expected {r.expected_columns}: skipped")
    if len(invalid) > 20:
        log.add_many("bad_row", [], "rows with the wrong number of fields: skipped", where=csv,
                     total=len(invalid) - 20)
    rows = np.setdiff1d(np.arange(total), skipped) if len(skipped) else np.arange(total)
    return tbl, rows, len(invalid)


# -- folders ----------------------------------------------------------------------------------
def _fer_splits(path: Path) -> dict[str, str] | None:
    splits = split_dirs(path)
    if not splits:
        return None
    names = {c.lower() for d in splits for c in subdirs(path / d)}
    return splits if names and names <= set(EMOTIONS) else None


def read_fer_folders(path: Path, *, seed: int = 0) -> Manifest:
    """Read FER2013 in the folder form ``train|test/<emotion>/*.jpg``.

    Example:
        >>> import tempfile
        >>> from facelab.data.synth import synthesize
        >>> root = synthesize(tempfile.mkdtemp() + "/fer", kind="fer2013", n=40, fer_form="folders")
        >>> m = read_fer_folders(root)
        >>> m.labels["emotion"].classes[:3], m.split_counts()
        (['angry', 'disgust', 'fear'], {'train': 30, 'val': 2, 'test': 8})
    """
    splits = _fer_splits(path)
    if splits is None:
        raise DataError(f"{path} has no train/ or test/ folders of emotion folders", path=path,
                        fix=f"expected train/<emotion>/*.jpg with emotions {', '.join(EMOTIONS)}")
    log = ProblemLog()
    notes: list[str] = []
    tree = scan_class_tree(path, splits, log)
    if not tree.rel:
        raise nothing_usable(path, log, "emotion folders")
    y = np.array([EMOTIONS.index(c.lower()) for c in tree.cls], dtype=np.int16)
    split = np.array(tree.split, dtype=object)
    given = sorted(set(split), key=["train", "val", "test"].index)
    base = str(path.resolve())
    paths = [f"{base}/{r}" for r in tree.rel]
    if given == ["test"]:
        notes.append("only a test/ folder: everything is test data")
    else:  # carving val (and test) out of train: byte-identical files are kept together
        split = assign_splits(split, y, seed=seed, notes=notes, what="fer2013 folders", paths=paths)
    table = pd.DataFrame({"image_id": tree.rel, "path": paths,
                          "split": split.astype(str), "emotion": y})
    return Manifest(table=table, root=path.resolve(), layout="fer2013-folders", labels=_emotion_label(),
                    problems=log.problems(), notes=notes)


register_reader(Reader(
    name="fer2013-csv",
    description="FER2013 as fer2013.csv (emotion,pixels,Usage), given as the folder holding it or the file",
    detect=lambda path: _find_csv(path) is not None,
    read=lambda path, seed=0: read_fer_csv(Path(path), seed=seed),
))
register_reader(Reader(
    name="fer2013-folders",
    description="FER2013 as image folders: train/<emotion>/*.jpg and test/<emotion>/*.jpg "
                f"(emotions {', '.join(EMOTIONS)})",
    detect=lambda path: path.is_dir() and _fer_splits(path) is not None,
    read=lambda path, seed=0: read_fer_folders(Path(path), seed=seed),
))
