"""Which photos a command means: files, folders, globs, and folders of people (one sub-folder each).

Example:
    >>> expand_photos(["missing.jpg"])[1]
    [('missing.jpg', 'no such file or folder')]
"""
from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Iterable

from ..data.readers._common import is_image_name
from ..errors import DataError


def _walk(folder: Path) -> tuple[list[str], int]:
    """Image files under ``folder``, following links to folders (each real folder once)."""
    found, skipped = [], 0
    seen = {os.path.realpath(folder)}
    for root, dirs, files in os.walk(folder, followlinks=True):
        keep = []
        for d in sorted(d for d in dirs if not d.startswith(".")):
            real = os.path.realpath(os.path.join(root, d))
            if real not in seen:  # a link back up the tree, or a second link to one folder
                seen.add(real)
                keep.append(d)
        dirs[:] = keep
        for f in sorted(files):
            if is_image_name(f):
                found.append(os.path.join(root, f))
            elif not f.startswith("."):
                skipped += 1
    return found, skipped


def expand_photos(items: Iterable[str | Path]) -> tuple[list[str], list[tuple[str, str]], int]:
    """Files, folders (recursive) and globs → ``(photo paths, [(item, problem)], non-image files skipped)``."""
    paths: list[str] = []
    problems: list[tuple[str, str]] = []
    skipped = 0
    seen: set[str] = set()
    for item in items:
        s = str(item)
        p = Path(s).expanduser()
        if p.is_dir():
            found, k = _walk(p)
            skipped += k
        elif p.is_file():
            found = [str(p)]
        elif glob.has_magic(s):
            found = [h for h in sorted(glob.glob(os.path.expanduser(s), recursive=True)) if os.path.isfile(h)]
            if not found:
                problems.append((s, "the pattern matches no file"))
        else:
            problems.append((s, "no such file or folder"))
            found = []
        for f in found:
            if f not in seen:
                seen.add(f)
                paths.append(f)
    return paths, problems, skipped


def people_folders(root: str | Path) -> dict[str, list[str]]:
    """``{person: [photo, ...]}`` of a folder with one sub-folder of photos per person.

    Raises:
        DataError: not a folder, or no sub-folder holds a photo.

    Example:
        >>> import tempfile, pathlib
        >>> root = pathlib.Path(tempfile.mkdtemp())
        >>> (root / "Ann_Lee").mkdir(); (root / "Ann_Lee" / "1.jpg").write_bytes(b"")
        0
        >>> {k: [pathlib.Path(p).name for p in v] for k, v in people_folders(root).items()}
        {'Ann_Lee': ['1.jpg']}
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"{root} is not a folder", path=root,
                        fix="give a folder with one sub-folder of photos per person (people/Ann_Lee/*.jpg)")
    out: dict[str, list[str]] = {}
    for d in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        photos, _ = _walk(d)
        if photos:
            out[d.name] = photos
    if not out:
        raise DataError(f"{root} has no sub-folder with photos", path=root,
                        fix="one sub-folder per person, named after them, holding their photos")
    return out
