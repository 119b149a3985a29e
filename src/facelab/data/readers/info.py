"""What ``facelab data info`` shows: a source's splits, label balance and every problem found.

:func:`source_info` reads the source (and with ``check=True`` decodes every image, in parallel,
with :func:`facelab.data.image.load_image`, so corrupt or truncated files are found);
:func:`facelab.cli.data_info.print_info` renders it with Rich; :meth:`SourceInfo.to_dict` is the ``--json`` form.
"""
from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..manifest import Manifest
from . import read_source
from ._common import ProblemLog, digest_codes

_CHUNK = 256


@dataclass
class CheckResult:
    """Outcome of decoding every image of a source."""

    checked: int
    failed: int
    seconds: float
    reasons: dict[str, int] = field(default_factory=dict)  # problem kind -> count
    skipped_reason: str | None = None  # why nothing was decoded (e.g. a csv source)
    duplicates: int = 0  # files byte-identical to an earlier one (kept)
    cross_split_duplicates: int = 0  # of those, copies in another split than their twin


@dataclass
class SourceInfo:
    """A read source plus, optionally, the result of decoding all its images."""

    manifest: Manifest
    seconds: float
    check: CheckResult | None = None

    def to_dict(self) -> dict:
        """A JSON-ready summary (the ``--json`` output of ``facelab data info``)."""
        m = self.manifest
        d = m.summary()
        d["read_seconds"] = round(self.seconds, 3)
        d["balance"] = {}
        for name, info in m.labels.items():
            if info.kind == "binary":
                d["balance"][name] = {"positive": int(m.table[name].sum()),
                                      "fraction": round(float(m.table[name].mean()), 4) if len(m) else 0.0}
            elif len(info.classes) <= 50:
                counts = np.bincount(m.table[name].to_numpy(), minlength=len(info.classes))
                d["balance"][name] = {c: int(n) for c, n in zip(info.classes, counts)}
            else:
                per = np.bincount(m.table[name].to_numpy(), minlength=len(info.classes))
                per = per[per > 0]
                d["balance"][name] = {"classes_present": int(len(per)), "min": int(per.min()),
                                      "median": float(np.median(per)), "max": int(per.max())}
        d["problem_examples"] = [vars(p) for p in m.problems]
        if self.check is not None:
            d["check"] = vars(self.check)
        return d


def _check_chunk(paths: list[str]) -> tuple[list[tuple[str, str, str]], list[bytes | None]]:
    """Decode each file; return (path, kind, reason) for those that fail, and a digest of every
    file's bytes (``None`` when unreadable or broken: never a duplicate). Runs in a worker."""
    from ..image import load_image  # imported in the worker: keeps the parent light
    from ._common import digest_chunk

    bad, digests = [], digest_chunk(paths)
    for i, p in enumerate(paths):
        try:
            load_image(p)
        except Exception as e:  # a worker: any failure is a problem to report, not a crash
            msg = getattr(e, "message", None) or str(e).splitlines()[0]
            kind = "empty_file" if os.path.exists(p) and os.path.getsize(p) == 0 else "corrupt_image"
            bad.append((p, kind, msg))
            digests[i] = None  # a broken file is reported as broken, not as a duplicate
    return bad, digests


def check_images(manifest: Manifest, *, workers: int | None = None, progress: bool = True) -> CheckResult:
    """Decode every image of ``manifest`` in parallel; add a Problem per failure to it.

    Failures are added to ``manifest.problems`` (kind ``corrupt_image`` or ``empty_file``, a few
    examples plus a counted summary) and their rows are dropped from ``manifest.table``, as
    ``facelab data prepare`` would skip them. Byte-identical files are reported as
    ``duplicate_image`` (kept: they are valid images) with a note counting the copies that sit
    in different splits, since those leak test images into training.

    Example:
        >>> import tempfile
        >>> from facelab.data.synth import synthesize
        >>> m = read_source(synthesize(Path(tempfile.mkdtemp()) / "people", kind="folder", n=8, identities=2))
        >>> check_images(m, workers=1, progress=False).failed
        0
    """
    t0 = time.perf_counter()
    if manifest.layout == "fer2013-csv":
        return CheckResult(0, 0, 0.0, skipped_reason="fer2013.csv holds pixel rows, not image files: "
                                                      "their value counts were checked while reading")
    paths = manifest.table["path"].tolist()
    chunks = [paths[i:i + _CHUNK] for i in range(0, len(paths), _CHUNK)]
    workers = workers or min(len(chunks), os.cpu_count() or 1) or 1
    if workers <= 1 or len(chunks) <= 1:
        results = list(_progress(map(_check_chunk, chunks), len(chunks), progress))
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(_progress(pool.map(_check_chunk, chunks), len(chunks), progress))
    bad = [b for chunk_bad, _ in results for b in chunk_bad]
    digests = [d for _, chunk_digests in results for d in chunk_digests]
    log = ProblemLog()
    for p, kind, msg in bad:
        log.add(kind, p, f"{msg}: skipped")
    dup, cross = _duplicates(manifest, digests, log)
    manifest.problems.extend(log.problems())
    if bad:
        failed = set(p for p, _, _ in bad)
        keep = ~manifest.table["path"].isin(failed).to_numpy()
        manifest.table = manifest.table[keep].reset_index(drop=True)
    return CheckResult(checked=len(paths), failed=len(bad), seconds=round(time.perf_counter() - t0, 3),
                       reasons=log.counts(), duplicates=dup, cross_split_duplicates=cross)


def _duplicates(manifest: Manifest, digests: list[bytes | None], log: ProblemLog) -> tuple[int, int]:
    """Report files with the same bytes as an earlier one; count those in another split."""
    t = manifest.table
    if len(digests) != len(t):
        return 0, 0
    codes = digest_codes(digests)
    # for each file, the first file with the same bytes (codes number first appearances)
    first_idx = np.unique(codes, return_index=True)[1][codes]
    first = first_idx != np.arange(len(codes))  # a copy of an earlier file
    if not first.any():
        return 0, 0
    split = t["split"].to_numpy()
    cross = first & (split != split[first_idx])
    ids = t["image_id"].to_numpy()
    for i in np.flatnonzero(first):
        other = first_idx[i]
        where = f" ({split[i]} vs {split[other]}: leaks across splits)" if cross[i] else ""
        log.add("duplicate_image", t["path"].iat[i], f"same bytes as {ids[other]}{where}: kept")
    n_dup, n_cross = int(first.sum()), int(cross.sum())
    note = f"--check: {n_dup:,} files are byte-identical copies of another"
    if n_cross:
        note += f"; {n_cross:,} of them sit in a different split than their twin (test images seen in training)"
    manifest.notes.append(note)
    return n_dup, n_cross


def _progress(it, total: int, enabled: bool):
    if not enabled:
        return it
    from tqdm import tqdm

    return tqdm(it, total=total, desc="decoding", unit="chunk", leave=False, disable=None)


def source_info(path: str | Path, *, check: bool = False, seed: int = 0, workers: int | None = None,
                progress: bool = True) -> SourceInfo:
    """Read a source and (optionally) decode every image to find corrupt files.

    Args:
        path: the dataset folder (any layout :func:`read_source` knows).
        check: decode every image in parallel (slower: ~1 ms per CelebA image per core).
        seed: seed of splits facelab has to make.
        workers: processes for ``check`` (default: all cores).
        progress: show a progress bar while checking.

    Example:
        >>> import tempfile
        >>> from facelab.data.synth import synthesize
        >>> root = synthesize(tempfile.mkdtemp() + "/celeba", kind="celeba", n=10)
        >>> (root / "img_align_celeba" / "000001.jpg").unlink()   # a partly extracted download
        >>> info = source_info(root, check=True, workers=1, progress=False)
        >>> info.to_dict()["problems"]
        {'missing_image': 1}
    """
    t0 = time.perf_counter()
    manifest = read_source(path, seed=seed)
    seconds = time.perf_counter() - t0
    result = check_images(manifest, workers=workers, progress=progress) if check else None
    return SourceInfo(manifest=manifest, seconds=seconds, check=result)


__all__ = ["CheckResult", "SourceInfo", "check_images", "source_info"]
