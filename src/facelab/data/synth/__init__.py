"""Synthetic faces written as real files in the CelebA, FER2013 and folder-per-person layouts.

Example:
    >>> import tempfile
    >>> from facelab.data.synth import synthesize
    >>> root = synthesize(tempfile.mkdtemp() + "/celeba", kind="celeba", n=20, seed=0)
    >>> sorted(p.name for p in root.iterdir())
    ['.facelab', 'identity_CelebA.txt', 'img_align_celeba', 'list_attr_celeba.txt', 'list_eval_partition.txt', 'list_landmarks_align_celeba.txt']

See ``docs/synthetic.md`` for what is drawn and what is labelled -1.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import sys
import warnings
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ...errors import ConfigError, DataError
from .attributes import ATTRIBUTES, EXPRESSIONS, RENDERED, UNRENDERED, Look, sample_attributes, sample_identity
from .faces import render_face
from .layouts import Plan, plan_celeba, plan_fer, plan_folder, render_chunk, write_celeba

__all__ = ["synthesize", "render_face", "ATTRIBUTES", "EXPRESSIONS", "RENDERED", "UNRENDERED",
           "Look", "sample_identity", "sample_attributes", "KINDS"]

KINDS = ("celeba", "fer2013", "folder")
_CHUNK = 256
# Below this many images a process pool costs more (spawn + imports) than it saves.
_POOL_MIN = 1500


def synthesize(out: str | Path, *, kind: str = "celeba", n: int = 1000, seed: int = 0,
               identities: int | None = None, fer_form: str = "csv", workers: int | None = None,
               progress: bool = False, on_progress: Callable[[int], None] | None = None) -> Path:
    """Write a synthetic face dataset in a real layout and return its root folder.

    Args:
        out: the dataset root to create (may exist if empty of facelab files).
        kind: "celeba" (official layout: ``img_align_celeba/*.jpg`` 178x218 plus
            ``list_attr_celeba.txt``, ``list_eval_partition.txt``, ``identity_CelebA.txt``,
            ``list_landmarks_align_celeba.txt``), "fer2013" (``fer2013.csv``, 48x48 grey, 7
            expressions) or "folder" (``<Person_Name>/<Person_Name>_0001.jpg``, 250x250).
        n: number of images.
        seed: the same seed gives byte-identical files, whatever ``workers`` is.
        identities: number of people (celeba default n//20, folder default min(10, n//10)).
        fer_form: "csv" (``fer2013.csv``) or "folders" (``train|test/<emotion>/*.jpg``).
        workers: processes to render with; default: all cores for large ``n``, else 1.
        progress: show a tqdm progress bar.
        on_progress: called with the number of images finished after each chunk.

    Returns:
        The dataset root (``out``) as a Path.

    Raises:
        ConfigError: unknown kind or fer_form, ``n`` < 1, ``identities`` out of range.
        DataError: ``out`` is a file or cannot be written.

    Example:
        >>> import tempfile
        >>> root = synthesize(Path(tempfile.mkdtemp()) / "people", kind="folder", n=8, identities=2)
        >>> sorted(p.name for p in root.iterdir() if p.is_dir())
        ['Emil_Ito', 'Omar_Garcia']
    """
    if kind not in KINDS:
        raise ConfigError(f"unknown synthetic kind {kind!r}", fix=f"use one of: {', '.join(KINDS)}")
    if fer_form not in ("csv", "folders"):
        raise ConfigError(f"unknown fer_form {fer_form!r}", fix="use 'csv' or 'folders'")
    if int(n) < 1:
        raise ConfigError(f"n must be at least 1 (got {n})", fix="pass --n 1000 or more")
    if identities is not None and not (1 <= identities <= n):
        raise ConfigError(f"identities must be between 1 and n={n} (got {identities})",
                          fix="pass fewer identities than images")
    root = Path(out).expanduser()
    if root.exists() and not root.is_dir():
        raise DataError(f"{root} is a file, not a folder", path=root, fix="choose a new folder for --out")
    from ...outputs import claim_folder  # never into a folder holding a user's files

    try:
        claim_folder(root, what="synthetic dataset", option="OUT", recognise=_earlier_synth)
    except OSError as e:
        raise DataError(f"cannot create {root} ({e.strerror})", path=root,
                        fix="choose a folder you can write to") from None

    n = int(n)
    if kind == "celeba":
        plan = plan_celeba(root, n, seed, identities)
        (root / "img_align_celeba").mkdir(exist_ok=True)
    elif kind == "folder":
        plan = plan_folder(root, n, seed, identities)
        for name in {p.split("/")[0] for p in plan.names}:
            (root / name).mkdir(exist_ok=True)
    else:
        plan = plan_fer(root, n, seed, fer_form)
        if fer_form == "folders":
            for name in {p.rsplit("/", 1)[0] for p in plan.names}:
                (root / name).mkdir(parents=True, exist_ok=True)

    if kind == "celeba":
        parts: list = []
        _render_all(plan, n, workers, progress, on_progress, parts.append)
        write_celeba(plan, np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
    elif kind == "fer2013" and fer_form == "csv":
        # Streamed: a large FER set never sits in memory as text.
        final = root / "fer2013.csv"
        tmp = final.with_name(final.name + ".part")
        with open(tmp, "w", newline="\n") as fh:
            fh.write("emotion,pixels,Usage\n")
            _render_all(plan, n, workers, progress, on_progress, fh.writelines)
        os.replace(tmp, final)
    else:
        _render_all(plan, n, workers, progress, on_progress, lambda _: None)
    return root


def _earlier_synth(path: Path) -> bool:
    """A CelebA or FER2013 dataset ``synthesize`` wrote without the outputs marker."""
    attr = path / "list_attr_celeba.txt"
    if attr.is_file() and (path / "img_align_celeba").is_dir():
        return set(os.listdir(path)) <= {"img_align_celeba", "list_attr_celeba.txt", "list_eval_partition.txt",
                                         "list_bbox_celeba.txt", "list_landmarks_align_celeba.txt",
                                         "identity_CelebA.txt", "README.md", "synth.json"}
    return set(os.listdir(path)) <= {"fer2013.csv", "train", "test", "README.md", "synth.json"}


def _spawn_safe() -> bool:
    """Whether spawned workers can re-import ``__main__`` (not so for code piped into python)."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    return path is None or os.path.isfile(path)


def _worker_init() -> None:
    import cv2

    cv2.setNumThreads(1)  # one process per core already; OpenCV's own threads would oversubscribe


def _render_all(plan: Plan, n: int, workers: int | None, progress: bool,
                on_progress: Callable[[int], None] | None, sink: Callable[[Any], Any]) -> None:
    """Render every chunk and hand each chunk's result to ``sink`` in order."""
    chunks = [(a, min(a + _CHUNK, n)) for a in range(0, n, _CHUNK)]
    if workers is None:
        workers = (os.cpu_count() or 1) if n >= _POOL_MIN else 1
    workers = max(1, min(int(workers), len(chunks)))
    if not _spawn_safe():
        workers = 1
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n, desc=f"synth {plan.kind}", unit="img", disable=None)
    done = 0
    next_chunk = 0

    def take(result, a: int, b: int) -> None:
        nonlocal done, next_chunk
        sink(result)
        next_chunk += 1
        done += b - a
        if bar is not None:
            bar.update(b - a)
        if on_progress is not None:
            on_progress(done)

    try:
        if workers > 1:
            # "spawn", not fork: the caller may hold threads (torch, OpenMP, OpenCV) whose locks a
            # forked child inherits locked — a fork here deadlocked inside a test session.
            try:
                with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"),
                                         initializer=_worker_init) as pool:
                    futures = [pool.submit(render_chunk, plan, a, b) for a, b in chunks]
                    for (a, b), fut in zip(chunks, futures):
                        take(fut.result(), a, b)  # in submission order: deterministic output
            except BrokenProcessPool:
                # Typically a script without an ``if __name__ == "__main__":`` guard, which the
                # workers re-run; finish in this process rather than fail.
                warnings.warn("worker processes failed to start (does your script lack an "
                              "`if __name__ == \"__main__\":` guard?); rendering in one process",
                              RuntimeWarning, stacklevel=3)
        for a, b in chunks[next_chunk:]:
            take(render_chunk(plan, a, b), a, b)
    except OSError as e:
        raise DataError(f"cannot write images under {plan.root} ({e.strerror})", path=plan.root,
                        fix="check free disk space and permissions") from None
    finally:
        if bar is not None:
            bar.close()
