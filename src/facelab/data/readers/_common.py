"""Helpers shared by the readers: listing image folders, collecting problems, seeded splits.

Everything here is written for the real sizes: CelebA has 202,599 label rows and a partly
extracted download may miss most of their images, so a folder is listed once with
``os.scandir`` (names *and* sizes, no ``stat`` per file) and problems of one kind are kept as a
few examples plus one summary (see :class:`ProblemLog`).
"""
from __future__ import annotations

import hashlib
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import DataError
from ..manifest import Problem

IMAGE_EXTS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".pgm", ".ppm"})

#: Fewer groups than this (e.g. identities) make an identity-disjoint split too lumpy: split rows.
MIN_GROUPS = 20

#: How many problems of one kind are kept one by one before they are summarised.
EXAMPLES_PER_KIND = 20


def is_image_name(name: str) -> bool:
    """True for a file name with an image extension (hidden files excluded)."""
    dot = name.rfind(".")
    return dot > 0 and not name.startswith(".") and name[dot:].lower() in IMAGE_EXTS


def scan_images(folder: Path) -> dict[str, int]:
    """Image files directly in ``folder``: name → size in bytes, from one ``os.scandir`` pass.

    Example:
        >>> import tempfile
        >>> from facelab.data.synth import synthesize
        >>> root = synthesize(tempfile.mkdtemp() + "/celeba", kind="celeba", n=3)
        >>> sorted(scan_images(root / "img_align_celeba"))
        ['000001.jpg', '000002.jpg', '000003.jpg']
    """
    out: dict[str, int] = {}
    try:
        with os.scandir(folder) as it:
            for entry in it:
                if is_image_name(entry.name) and entry.is_file():
                    # one stat per file that exists (16k), never one per label row (202k)
                    out[entry.name] = entry.stat().st_size
    except OSError as e:
        raise DataError(f"cannot list the image folder {folder}: {e.strerror or e}", path=folder,
                        fix="check that the folder exists and is readable") from None
    return out


def subdirs(folder: Path) -> list[str]:
    """Names of the visible sub-folders of ``folder``, sorted."""
    try:
        with os.scandir(folder) as it:
            return sorted(e.name for e in it if e.is_dir() and not e.name.startswith("."))
    except OSError:
        return []


def describe_folder(folder: Path, limit: int = 8) -> str:
    """A one-line description of what a folder holds, for 'unrecognised layout' errors."""
    try:
        entries = list(os.scandir(folder))
    except OSError as e:
        return f"cannot list it ({e.strerror or e})"
    if not entries:
        return "the folder is empty"
    dirs = sorted(e.name for e in entries if e.is_dir())
    files = sorted(e.name for e in entries if not e.is_dir())
    exts = Counter(os.path.splitext(f)[1].lower() or "(no extension)" for f in files)
    parts = []
    if dirs:
        more = f", … {len(dirs) - limit} more" if len(dirs) > limit else ""
        parts.append(f"{len(dirs)} folder(s): {', '.join(d + '/' for d in dirs[:limit])}{more}")
    if files:
        shown = ", ".join(files[:limit]) + (f", … {len(files) - limit} more" if len(files) > limit else "")
        kinds = ", ".join(f"{n} {e}" for e, n in exts.most_common(4))
        parts.append(f"{len(files)} file(s) ({kinds}): {shown}")
    return "; ".join(parts)


@dataclass
class ProblemLog:
    """Collects problems: the first :data:`EXAMPLES_PER_KIND` of each kind one by one, then a count.

    :meth:`problems` returns those examples plus, for a kind with more, one summary
    :class:`Problem` whose ``count`` holds the rest — so ``Manifest.problem_counts()`` stays exact
    while a partly extracted CelebA (186,620 missing images) does not create 186,620 objects.

    Example:
        >>> log = ProblemLog()
        >>> log.add("missing_image", "img/000001.jpg", "listed in list_attr_celeba.txt, not on disk")
        >>> log.counts()
        {'missing_image': 1}
    """

    _examples: list[Problem] = field(default_factory=list)
    _counts: Counter = field(default_factory=Counter)
    _where: dict = field(default_factory=dict)  # kind -> (file, detail) for the summary problem

    def add(self, kind: str, path: str | Path, detail: str) -> None:
        self._counts[kind] += 1
        if self._counts[kind] <= EXAMPLES_PER_KIND:
            self._examples.append(Problem(kind=kind, path=str(path), detail=detail))
        else:
            self._where.setdefault(kind, (str(path), detail))

    def add_many(self, kind: str, paths, detail: str, where: str | Path, total: int | None = None) -> None:
        """Record ``total`` (default ``len(paths)``) problems of one kind, keeping a few examples.

        ``paths`` may be any sequence (a pandas Series is fine); only its first items are used.
        """
        total = len(paths) if total is None else int(total)
        if total <= 0:
            return
        room = max(0, EXAMPLES_PER_KIND - self._counts[kind])
        head = paths.iloc[:room] if hasattr(paths, "iloc") else paths[:room]
        for p in list(head):
            self._examples.append(Problem(kind=kind, path=str(p), detail=detail))
        self._counts[kind] += total
        if total > room:
            self._where.setdefault(kind, (str(where), detail))

    def counts(self) -> dict[str, int]:
        return dict(self._counts)

    def total(self, kind: str) -> int:
        return int(self._counts.get(kind, 0))

    def problems(self) -> list[Problem]:
        out = list(self._examples)
        for kind, n in self._counts.items():
            rest = n - min(n, EXAMPLES_PER_KIND)
            if rest > 0:
                where, detail = self._where.get(kind, ("", ""))
                out.append(Problem(kind=kind, path=where,
                                   detail=f"{rest:,} more like the {EXAMPLES_PER_KIND} above "
                                          f"({n:,} in total){': ' + detail if detail else ''}",
                                   count=rest))
        return out


def seeded_split(n: int, *, seed: int, strata: np.ndarray | None = None,
                 groups: np.ndarray | None = None,
                 fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)) -> np.ndarray:
    """A reproducible train/val/test assignment for ``n`` rows.

    Args:
        n: number of rows.
        seed: random seed; the same seed gives the same split.
        strata: optional class per row: each class is split in the given fractions (stratified).
        groups: optional group per row (e.g. CelebA identity): whole groups go to one split, so
            the same person is never in train and test. Ignored when ``strata`` is given or there
            are fewer than :data:`MIN_GROUPS` groups.
        fractions: train, val, test fractions (a 0 fraction leaves that split empty).

    Returns:
        An object array of ``"train"``/``"val"``/``"test"``.

    Example:
        >>> s = seeded_split(10, seed=0, strata=np.array([0] * 5 + [1] * 5))
        >>> set(s) <= {"test", "train", "val"}
        True
    """
    rng = np.random.default_rng(seed)
    out = np.empty(n, dtype=object)
    f_train, f_val, f_test = fractions
    total = f_train + f_val + f_test

    def assign(idx: np.ndarray) -> None:
        idx = idx[rng.permutation(len(idx))]
        m = len(idx)
        n_val = int(round(m * f_val / total))
        n_test = int(round(m * f_test / total))
        if n_val + n_test >= m and m > 0:  # tiny class: keep at least one training example
            n_test = min(n_test, max(0, m - 1 - n_val))
            n_val = min(n_val, max(0, m - 1))
        out[idx[:n_val]] = "val"
        out[idx[n_val:n_val + n_test]] = "test"
        out[idx[n_val + n_test:]] = "train"

    if strata is not None:
        codes = pd.factorize(pd.Series(strata), sort=True)[0]
        for c in range(codes.max() + 1 if n else 0):
            assign(np.flatnonzero(codes == c))
    elif groups is not None and len(np.unique(groups)) >= MIN_GROUPS:
        codes, uniques = pd.factorize(pd.Series(groups), sort=True)
        # shuffle the groups, then cut the sequence of their images at 80% / 90%: a group goes
        # where its middle image falls, so splits follow image (not group) fractions
        sizes = np.bincount(codes, minlength=len(uniques))
        order = rng.permutation(len(uniques))
        ends = np.cumsum(sizes[order])
        mids = (ends - sizes[order] / 2) / max(1, n)
        cut1, cut2 = f_train / total, (f_train + f_val) / total
        g_split = np.empty(len(uniques), dtype=object)
        g_split[order] = np.where(mids < cut1, "train", np.where(mids < cut2, "val", "test"))
        out[:] = g_split[codes]
    else:
        assign(np.arange(n))
    return out


#: Files hashed per thread-pool task (one task per file would cost more in scheduling than hashing).
_HASH_CHUNK = 512


def digest_chunk(paths: list[str]) -> list[bytes | None]:
    out: list[bytes | None] = []
    # os.open/os.read: a buffered file object per file costs more than hashing a small image
    read, close = os.read, os.close
    for p in paths:
        try:
            fd = os.open(p, os.O_RDONLY)
        except OSError:
            out.append(None)  # unreadable: never grouped with anything
            continue
        try:
            h = hashlib.blake2b(digest_size=16)
            while chunk := read(fd, 1 << 20):
                h.update(chunk)
            out.append(h.digest())
        except OSError:
            out.append(None)
        finally:
            close(fd)
    return out


def content_groups(paths: list[str], *, workers: int | None = None) -> np.ndarray:
    """A group code per file: byte-identical files (same blake2b digest) share a code.

    Files are read and hashed in a thread pool (file reads and blake2b release the GIL); an
    unreadable file gets a code of its own. Codes are numbered in order of first appearance, so
    without duplicates they are ``0..n-1``.

    Example:
        >>> content_groups([])
        array([], dtype=int64)
    """
    n = len(paths)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    chunks = [paths[i:i + _HASH_CHUNK] for i in range(0, n, _HASH_CHUNK)]
    workers = workers or min(len(chunks), 8)
    if workers <= 1 or len(chunks) == 1:
        digests = [d for c in chunks for d in digest_chunk(c)]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            digests = [d for part in pool.map(digest_chunk, chunks) for d in part]
    return digest_codes(digests)


def digest_codes(digests: list[bytes | None]) -> np.ndarray:
    """Group codes from :func:`digest_chunk` digests: equal digests share a code, ``None``
    (unreadable) gets a code of its own; numbered in order of first appearance.

    Example:
        >>> digest_codes([b"a", None, b"a", b"b"]).tolist()
        [0, 1, 0, 2]
    """
    keys = [d if d is not None else i for i, d in enumerate(digests)]  # unreadable: unique key
    return pd.factorize(pd.Series(keys, dtype=object), sort=False)[0].astype(np.int64)


def duplicate_groups(codes: np.ndarray) -> tuple[int, int]:
    """``(groups, files)``: how many content groups hold 2+ files, and how many files they hold."""
    if len(codes) == 0:
        return 0, 0
    sizes = np.bincount(codes)
    multi = sizes[sizes > 1]
    return int(len(multi)), int(multi.sum())


def _merge_groups(groups: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Group labels joining ``groups`` (e.g. identities) linked by byte-identical files."""
    g = pd.factorize(pd.Series(groups), sort=True)[0]
    parent = np.arange(g.max() + 1 if len(g) else 0)

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    sizes = np.bincount(codes)
    dup_rows = np.flatnonzero(sizes[codes] > 1)
    if len(dup_rows):
        first_g: dict[int, int] = {}
        for r in dup_rows[np.argsort(codes[dup_rows], kind="stable")]:
            c, gr = int(codes[r]), int(g[r])
            if c in first_g:
                a, b = find(first_g[c]), find(gr)
                if a != b:
                    parent[max(a, b)] = min(a, b)
            else:
                first_g[c] = gr
    roots = np.array([find(i) for i in range(len(parent))], dtype=np.int64)
    return roots[g]


def dedup_split(n: int, *, seed: int, content: np.ndarray | None, strata: np.ndarray | None = None,
                groups: np.ndarray | None = None,
                fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)) -> np.ndarray:
    """:func:`seeded_split`, keeping files with the same ``content`` code (byte-identical) in one split.

    With identity ``groups`` in use (no ``strata``, ≥ :data:`MIN_GROUPS`), groups linked by a
    shared file are merged. Otherwise the split is made over one representative per content
    group (its first file: its class is the one stratified) and copied to the group's other
    files. Without duplicates the result is exactly :func:`seeded_split`'s.

    Example:
        >>> s = dedup_split(6, seed=0, content=np.array([0, 1, 0, 2, 3, 4]))
        >>> s[0] == s[2]
        True
    """
    if content is None or duplicate_groups(content)[0] == 0:
        return seeded_split(n, seed=seed, strata=strata, groups=groups, fractions=fractions)
    content = np.asarray(content)
    if strata is None and groups is not None and len(np.unique(groups)) >= MIN_GROUPS:
        groups = np.asarray(groups)
        merged = _merge_groups(groups, content)
        biggest = np.bincount(pd.factorize(pd.Series(groups))[0]).max()
        m_sizes = np.bincount(merged)
        if (m_sizes > 0).sum() >= MIN_GROUPS and m_sizes.max() <= max(biggest, 0.05 * n):
            return seeded_split(n, seed=seed, groups=merged, fractions=fractions)
        # copies link so many groups that one merged group would swallow a split: stay
        # group-disjoint (the note from dedup_note counts the copies left apart)
        return seeded_split(n, seed=seed, groups=groups, fractions=fractions)
    reps = np.unique(content, return_index=True)[1]  # codes are 0..k-1: reps[c] = first row of group c
    sub = seeded_split(len(reps), seed=seed, strata=None if strata is None else np.asarray(strata)[reps],
                       groups=None if groups is None else np.asarray(groups)[reps], fractions=fractions)
    return sub[content]


def dedup_note(codes: np.ndarray | None, split: np.ndarray) -> str | None:
    """The ``manifest.notes`` line on the byte-identical groups in ``split`` (None without any):
    how many were kept in one split, and how many (if any) still span two."""
    if codes is None:
        return None
    k, files = duplicate_groups(codes)
    if not k:
        return None
    n_splits = pd.Series(np.asarray(split, dtype=object)).groupby(codes).nunique().to_numpy()
    apart = int((n_splits > 1).sum())
    kept = k - apart
    line = (f"{kept:,} of {k:,} group(s) of byte-identical files ({files:,} files) kept together, "
            f"each in one split, by the split facelab made")
    if apart:
        line += (f"; {apart:,} span two splits (their copies link identities that must stay apart): "
                 f"test images with a copy in training")
    else:
        line += " (no carved val/test image has a copy in train)"
    return line


def split_note(what: str, seed: int, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
               how: str = "stratified by class") -> str:
    pct = "/".join(str(int(round(f * 100))) for f in fractions)
    return f"{what}: seeded ({seed}) {how} {pct} train/val/test split made by facelab"


def require_columns(df: pd.DataFrame, expected: list[str], path: Path) -> None:
    """Raise a DataError naming the columns expected and found when some are missing."""
    missing = [c for c in expected if c not in df.columns]
    if missing:
        found = ", ".join(map(str, df.columns[:12])) + (" …" if len(df.columns) > 12 else "")
        raise DataError(
            f"{path.name} lacks the column(s) {', '.join(missing)}: expected {', '.join(expected)}; "
            f"found {found or 'no columns'}",
            path=path,
            fix="use the file as downloaded (the first line must be the header)",
        )


def nothing_usable(root: Path, log: ProblemLog, what: str) -> DataError:
    counts = ", ".join(f"{n:,} {k}" for k, n in log.counts().items()) or "no problems recorded"
    return DataError(f"no usable images in {root} ({what}; {counts})", path=root,
                     fix="check that the images were extracted next to the label files")
