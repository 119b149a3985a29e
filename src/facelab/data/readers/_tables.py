"""Reading label files (CelebA ``.txt``/``.csv``) fast, and sorting out their bad rows.

The happy path is one ``pandas.read_csv`` call with the C parser (202,599 CelebA rows in a few
tenths of a second). A spare ``__extra__`` column catches rows with one value too many; rows
with fewer values show up as NaN. Only when a row has two or more values too many does the C
parser give up, and then the file is split by hand (slower, but only for broken files).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import DataError
from ._common import ProblemLog, require_columns

EXTRA = "__extra__"
_ID_NAMES = ("image_id", "image", "filename", "file", "name")


def _head_lines(path: Path, n: int = 2) -> list[str]:
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as f:  # -sig: drop a BOM
            return [f.readline() for _ in range(n)]
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}", path=path,
                        fix="check that the file exists and is readable") from None


def read_table(path: Path, *, csv: bool, header: str, names: list[str] | None = None,
               expected: list[str] = (), dtype: str | None = None
               ) -> tuple[pd.DataFrame, list[str], int, int | None]:
    """Read a label file into a DataFrame of strings/numbers, column ``image_id`` first.

    Args:
        path: the file.
        csv: comma-separated with a header line (Kaggle) instead of whitespace-separated (official).
        header: ``"count+names"`` (official attribute/bbox/landmark files: a row count line, then a
            names line), ``"names"`` (a header line, CSV) or ``"none"`` (official partition and
            identity files).
        names: the value column names when ``header="none"``.
        expected: value columns that must be there (DataError naming expected and found if not);
            with a header line, the first column must also be the image id.
        dtype: parse the value columns straight to this integer type (``int8`` for CelebA's
            -1/1); a file where that fails (text, blanks, overflow) is read again untyped so
            its bad rows can be reported one by one.

    Returns:
        ``(df, value_columns, first_line, declared_rows)``: ``df`` has ``image_id``, the value
        columns and ``__extra__`` (non-null where a row had a value too many); ``first_line`` is
        the 1-based file line of ``df`` row 0; ``declared_rows`` is the count line, if any.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "list_attr_celeba.txt"
        >>> _ = path.write_text("2\\nSmiling Male\\n000001.jpg 1 -1\\n000002.jpg -1 1\\n")
        >>> df, cols, first, n = read_table(path, csv=False, header="count+names")
        >>> cols, first, n, df["image_id"].tolist()
        (['Smiling', 'Male'], 3, 2, ['000001.jpg', '000002.jpg'])
    """
    if path.stat().st_size == 0:
        raise DataError(f"the label file {path.name} is empty (0 bytes)", path=path,
                        fix="download or extract it again")
    line1, line2 = _head_lines(path)
    declared = None
    if header == "none":
        skip, cols = 0, list(names or [])
    elif header == "names":
        skip, cols = 1, [c.strip() for c in (line1.split(",") if csv else line1.split())]
    else:  # count+names, tolerating a file whose count line was stripped
        if line1.strip().isdigit():
            declared, skip, names_line = int(line1.strip()), 2, line2
        else:
            skip, names_line = 1, line1
        cols = names_line.split(",") if csv else names_line.split()
        cols = [c.strip() for c in cols]
    cols = [c for c in cols if c]
    raw = list(cols)
    if header != "none":
        if cols and cols[0].lower() in _ID_NAMES:
            cols = cols[1:]  # the id column is named in some variants (Kaggle csv, bbox txt)
        elif header == "names":
            require_columns(pd.DataFrame(columns=raw), ["image_id", *expected], path)
    if not set(expected) <= set(cols):
        require_columns(pd.DataFrame(columns=raw), ["image_id", *expected], path)
    value_cols = cols
    all_cols = ["image_id", *value_cols, EXTRA]
    if len(set(all_cols)) != len(all_cols):
        dup = sorted({c for c in all_cols if all_cols.count(c) > 1})
        raise DataError(f"{path.name} names the column(s) {', '.join(dup)} more than once", path=path,
                        fix="use the file as downloaded")
    kw = dict(sep="," if csv else r"\s+", header=None, skiprows=skip, names=all_cols, engine="c",
              skip_blank_lines=True)
    try:
        if dtype is not None:
            try:  # fast path: a clean file parses straight to small integers
                typed = {"image_id": object, EXTRA: object, **{c: dtype for c in value_cols}}
                return pd.read_csv(path, dtype=typed, **kw), value_cols, skip + 1, declared
            except (ValueError, OverflowError, pd.errors.ParserError):
                pass
        # object ids: hashing Python str (duplicates, isin) is ~4x faster than Arrow strings here
        df = pd.read_csv(path, dtype={"image_id": object, EXTRA: object}, **kw)
    except pd.errors.ParserError:
        df = _read_by_hand(path, skip=skip, csv=csv, cols=all_cols)
    except (UnicodeDecodeError, pd.errors.EmptyDataError, ValueError) as e:
        raise DataError(f"cannot parse {path.name}: {e}", path=path,
                        fix="check that this is the label file as downloaded (text, UTF-8)") from None
    return df, value_cols, skip + 1, declared


def _read_by_hand(path: Path, *, skip: int, csv: bool, cols: list[str]) -> pd.DataFrame:
    """Slow path for rows with several values too many: split lines in Python."""
    n = len(cols) - 1  # without __extra__
    rows = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for i, line in enumerate(f):
            if i < skip or not line.strip():
                continue
            parts = [p.strip() for p in line.rstrip("\n").split(",")] if csv else line.split()
            extra = " ".join(parts[n:]) if len(parts) > n else None
            parts = (parts + [None] * n)[:n]
            rows.append([*parts, extra])
    df = pd.DataFrame(rows, columns=cols)
    for c in cols[1:-1]:
        df[c] = _maybe_numeric(df[c])
    return df


def _maybe_numeric(s: pd.Series) -> pd.Series:
    num = pd.to_numeric(s, errors="coerce")
    # keep the text where some values are not numbers, so they are reported as bad values
    return num if num.notna().sum() == s.notna().sum() else s


def clean_rows(df: pd.DataFrame, value_cols: list[str], *, path: Path, first_line: int, log: ProblemLog,
               allowed: tuple[int, ...] | None = None, what: str = "values") -> pd.DataFrame:
    """Drop (and report) rows with the wrong number of values or values outside ``allowed``.

    Returns ``image_id`` plus ``value_cols`` as integers, one row per good file row, in file order,
    with ``line`` (1-based line in the file) kept for later messages. Raises DataError when more
    than half of the rows are bad: then the file is not what it claims to be.
    """
    n = len(df)
    if n == 0:
        raise DataError(f"{path.name} has no data rows", path=path, fix="download or extract it again")
    lines = np.arange(first_line, first_line + n)
    vals = df[value_cols]
    typed = all(vals[c].dtype.kind in "iu" for c in value_cols)
    # integer columns cannot hold a blank: only the id and the spare column need looking at
    short = df["image_id"].isna().to_numpy()
    if not typed:
        short = short | vals.isna().any(axis=1).to_numpy()
    long_ = df[EXTRA].notna().to_numpy()
    bad_row = short | long_
    if bad_row.any():
        expected = len(value_cols) + 1
        idx = np.flatnonzero(bad_row)
        for i in idx[:20]:
            got = "more" if long_[i] else str(int(df.iloc[i, :expected].notna().sum()))
            log.add("bad_row", f"{path.name}:{lines[i]}",
                    f"line {lines[i]} has {got} fields, expected {expected} "
                    f"(image id + {len(value_cols)} {what}): skipped")
        if len(idx) > 20:
            log.add_many("bad_row", [], "rows with the wrong number of fields: skipped", where=path,
                         total=len(idx) - 20)
    if typed:
        arr = vals.to_numpy()
        ok_val = _allowed(arr, allowed) if allowed is not None else np.ones(arr.shape, bool)
    else:
        num = vals.apply(pd.to_numeric, errors="coerce")
        arr = num.to_numpy(dtype=np.float64, na_value=np.nan)
        ok_val = ~np.isnan(arr)
        if allowed is not None:
            ok_val &= _allowed(arr, allowed)
        else:
            ok_val &= np.isfinite(arr) & (arr == np.round(arr))
    bad_value = ~ok_val.all(axis=1) & ~bad_row
    if bad_value.any():
        idx = np.flatnonzero(bad_value)
        allowed_txt = "/".join(map(str, allowed)) if allowed is not None else "whole numbers"
        for k, i in enumerate(idx):
            if k >= 20:
                log.add_many("bad_value", [], f"rows with values other than {allowed_txt}: skipped",
                             where=path, total=len(idx) - 20)
                break
            j = int(np.flatnonzero(~ok_val[i])[0])
            log.add("bad_value", f"{path.name}:{lines[i]}",
                    f"line {lines[i]}: {value_cols[j]} = {str(vals.iat[i, j])!r}, expected {allowed_txt}: row skipped")
    bad = bad_row | bad_value
    if bad.sum() > n / 2:
        raise DataError(f"{path.name}: {int(bad.sum()):,} of {n:,} rows are malformed "
                        f"({int(bad_row.sum()):,} with the wrong number of fields, "
                        f"{int(bad_value.sum()):,} with unexpected values)", path=path,
                        fix="check that this is the file as downloaded (not edited, not another format)")
    keep = ~bad
    clean = arr[keep] if typed else arr[keep].astype(np.int64)
    # one constructor call: inserting 40 columns one by one copies the frame 40 times
    cols = {"image_id": df["image_id"].to_numpy()[keep]}
    cols.update({c: clean[:, j] for j, c in enumerate(value_cols)})
    cols["line"] = lines[keep]
    return pd.DataFrame(cols)


def _allowed(arr: np.ndarray, allowed: tuple[int, ...]) -> np.ndarray:
    lo, hi = min(allowed), max(allowed)
    if sorted(allowed) == list(range(lo, hi + 1)):  # a range: two comparisons beat np.isin 15x
        return (arr >= lo) & (arr <= hi)
    return np.isin(arr, np.array(allowed, dtype=arr.dtype))


def drop_duplicate_ids(df: pd.DataFrame, *, path: Path, log: ProblemLog) -> pd.DataFrame:
    """Keep the first row of each image id; report the others as ``duplicate_id``."""
    dup = df["image_id"].duplicated(keep="first").to_numpy()
    if dup.any():
        rows = df[dup]
        for img, ln in zip(rows["image_id"].iloc[:20], rows["line"].iloc[:20]):
            log.add("duplicate_id", f"{path.name}:{ln}", f"{img} listed again on line {ln}: first row kept")
        if len(rows) > 20:
            log.add_many("duplicate_id", [], "image ids listed again: first row kept", where=path,
                         total=len(rows) - 20)
        df = df[~dup]
    return df
