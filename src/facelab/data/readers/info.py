"""What ``facelab data info`` shows: a source's splits, label balance and every problem found.

:func:`source_info` reads the source (and with ``check=True`` decodes every image, in parallel,
with :func:`facelab.data.image.load_image`, so corrupt or truncated files are found);
:func:`print_info` renders it with Rich; :meth:`SourceInfo.to_dict` is the ``--json`` form.
"""
from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..manifest import SPLITS, Manifest
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
        except Exception as e:  # noqa: BLE001 - any failure is a problem to report, not a crash
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


# -- rendering --------------------------------------------------------------------------------
def _pct(n: int, total: int) -> str:
    return f"{100 * n / total:.1f}%" if total else "–"


def _short(path: str, root: Path) -> str:
    """A problem's path relative to the dataset root when it is inside it."""
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return path


def print_info(info: SourceInfo, console=None) -> None:
    """Print splits, label balance, problems and notes as Rich tables.

    Example:
        >>> import io, tempfile
        >>> from rich.console import Console
        >>> from facelab.data.synth import synthesize
        >>> root = synthesize(Path(tempfile.mkdtemp()) / "people", kind="folder", n=8, identities=2)
        >>> console = Console(file=io.StringIO(), width=100)
        >>> print_info(source_info(root, progress=False), console)
        >>> "label" in console.file.getvalue()
        True
    """
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    m = info.manifest
    total = len(m)
    console.print(f"[bold]{m.root}[/]  layout [cyan]{m.layout}[/]  "
                  f"[bold]{total:,}[/] images  (read in {info.seconds:.2f} s)")

    splits = m.split_counts()
    t = Table(title="splits", title_justify="left")
    t.add_column("split")
    t.add_column("images", justify="right")
    t.add_column("share", justify="right")
    for s in SPLITS:
        t.add_row(s, f"{splits[s]:,}", _pct(splits[s], total))
    console.print(t)

    split_col = m.table["split"].to_numpy()
    binary = [n for n, i in m.labels.items() if i.kind == "binary"]
    for name, li in m.labels.items():
        if li.kind != "multiclass":
            continue
        y = m.table[name].to_numpy()
        k = len(li.classes)
        if k > 50:
            per = np.bincount(y, minlength=k)
            per = per[per > 0]
            console.print(f"[bold]{name}[/]: {k:,} classes, {len(per):,} present; images per class "
                          f"min {per.min()}, median {np.median(per):.0f}, max {per.max()}")
            continue
        t = Table(title=f"{name} balance", title_justify="left")
        t.add_column("class")
        for s in SPLITS:
            t.add_column(s, justify="right")
        t.add_column("total", justify="right")
        t.add_column("share", justify="right")
        for i, cls in enumerate(li.classes):
            sel = y == i
            n = int(sel.sum())
            t.add_row(cls, *[f"{int((sel & (split_col == s)).sum()):,}" for s in SPLITS], f"{n:,}",
                      _pct(n, total))
        console.print(t)
    if binary:
        t = Table(title=f"attributes: % positive ({len(binary)})", title_justify="left")
        t.add_column("attribute")
        for s in ("all", *SPLITS):
            t.add_column(s, justify="right")
        t.add_column("", no_wrap=True)
        for name in binary:
            y = m.table[name].to_numpy()
            cells = [f"{100 * y.mean():.1f}" if total else "–"]
            for s in SPLITS:
                sel = split_col == s
                cells.append(f"{100 * y[sel].mean():.1f}" if sel.any() else "–")
            bar = "█" * int(round(20 * y.mean())) if total else ""
            t.add_row(name, *cells, f"[green]{bar}[/]")
        console.print(t)

    counts = m.problem_counts()
    if counts:
        t = Table(title="problems (skipped rows/files)", title_justify="left")
        t.add_column("kind")
        t.add_column("count", justify="right")
        t.add_column("what")
        t.add_column("examples", overflow="fold")
        for kind, n in sorted(counts.items(), key=lambda kv: -kv[1]):
            ex = [p for p in m.problems if p.kind == kind and p.count == 1]
            what = ex[0].detail if ex else next(p.detail for p in m.problems if p.kind == kind)
            names = [_short(p.path, m.root) for p in ex[:3]]
            if n > len(names):
                names.append(f"… {n - len(names):,} more")
            t.add_row(kind, f"{n:,}", what, "\n".join(names))
        console.print(t)
    else:
        console.print("[green]no problems found[/]")
    if info.check is not None:
        c = info.check
        if c.skipped_reason:
            console.print(f"check: {c.skipped_reason}")
        else:
            copies = f", [yellow]{c.duplicates:,} byte-identical copies[/]" if c.duplicates else ""
            console.print(f"check: decoded {c.checked:,} images in {c.seconds:.1f} s, "
                          f"[{'red' if c.failed else 'green'}]{c.failed:,} failed[/]{copies}")
    elif m.layout != "fer2013-csv":
        console.print("[dim]images were not decoded: add --check to find corrupt or truncated files[/]")
    for note in m.notes:
        console.print(f"[yellow]note:[/] {note}")


__all__ = ["CheckResult", "SourceInfo", "check_images", "print_info", "source_info"]
