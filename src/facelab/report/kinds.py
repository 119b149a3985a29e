"""Which kind of report a folder holds, as the report itself records it, and finding reports.

An explore report writes ``explore.json`` and a cluster report ``cluster.json`` beside its
``report.html``; each JSON records ``"kind"``. Nothing is guessed from folder names.

Example:
    >>> report_kind(Path("/nonexistent")) is None
    True
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable

REPORT_HTML = "report.html"
#: the JSON each kind of report writes beside its HTML
KIND_FILES = {"explore": "explore.json", "cluster": "cluster.json"}
#: folders never searched (a cache's images, caches of tools)
SKIP = {"images.u8", "__pycache__", ".git", "node_modules"}


def report_kind(folder: Path) -> str | None:
    """``"explore"``, ``"cluster"``, or None when ``folder`` holds no report JSON."""
    for kind, name in KIND_FILES.items():
        path = Path(folder) / name
        if path.is_file():
            try:
                recorded = json.loads(path.read_text()).get("kind")
            except (OSError, ValueError, AttributeError):
                recorded = None
            return str(recorded or kind)  # a report without a recorded "kind": its file says it
    return None


def find_files(root: Path | None, name: str, *, depth: int = 4) -> list[Path]:
    """Files called ``name`` under ``root`` (at most ``depth`` folders down), newest first."""
    if root is None or not Path(root).is_dir():
        return []
    out: list[Path] = []

    def walk(folder: Path, level: int) -> None:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            return
        for e in entries:
            if e.name in SKIP:
                continue
            if e.is_file() and e.name == name:
                out.append(Path(e.path))
            elif e.is_dir(follow_symlinks=False) and level < depth:
                walk(Path(e.path), level + 1)

    walk(Path(root), 0)
    return sorted(out, key=lambda p: p.stat().st_mtime, reverse=True)


def find_reports(roots: Iterable[Path | None], kind: str) -> list[Path]:
    """Report folders of ``kind`` ("explore" or "cluster") under ``roots``, newest first.

    A run's own evaluation report (inside a run folder) is not an explore or cluster report.
    """
    folders: list[Path] = []
    for root in roots:
        for html in find_files(root, REPORT_HTML):
            folder = html.parent
            if any((p / "config.yaml").is_file() for p in list(html.parents)[:3]):
                continue  # a run's own evaluation report belongs to the Models page
            if report_kind(folder) == kind and folder not in folders:
                folders.append(folder)
    return folders
