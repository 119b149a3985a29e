"""facelab's own models, shipped inside the package, so that a photo can be classified the minute
facelab is installed.

Each shipped model is a run folder (the layout of :mod:`facelab.runs.layout`: ``config.yaml``,
``task.json``, ``input.json``, ``model.safetensors`` in fp16, ``calibration.json``,
``metrics.json``, ``card.md``) stored as package data beside this file. They are trained with the
benchmark recipes on the real datasets (``bench/ship_models.py``; the model card of each says
the exact command, its accuracy with 95% intervals on held-out images, its known limits and the
data's terms):

- ``celeba-attributes``: the 40 CelebA attributes (CelebA: non-commercial research only);
- ``fer-emotions``: the 7 FER2013 emotions (FER2013: research).

A run name resolves to a shipped model when no run of that name exists in the runs folder
(:func:`facelab.runs.resolve_run`), so ``facelab predict celeba-attributes photo.jpg``,
``facelab evaluate fer-emotions --data ...`` and ``facelab train ... --init celeba-attributes``
work like with any run; ``facelab predict photo.jpg`` with no run uses all of them.

Nothing here imports torch.

Example:
    >>> shipped_names()
    ['celeba-attributes', 'fer-emotions']
    >>> shipped_path("celeba-attributes").name
    'celeba-attributes'
"""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import RunError

#: the shipped models, in the order ``facelab predict PHOTO`` applies them
SHIPPED: tuple[str, ...] = ("celeba-attributes", "fer-emotions")
#: the files a shipped model folder must hold (a run folder without its training leftovers)
REQUIRED = ("config.yaml", "task.json", "input.json", "model.safetensors", "metrics.json", "card.md")
_REINSTALL = 'reinstall facelab (`pip install --force-reinstall --no-deps facelab`, or `pip install -e .` in a checkout)'


def shipped_root() -> Path:
    """The folder that holds the shipped model folders (inside the installed package)."""
    return Path(__file__).resolve().parent


def shipped_names() -> list[str]:
    """The names of the shipped models."""
    return list(SHIPPED)


def is_shipped(name: str) -> bool:
    """Whether ``name`` names a shipped model."""
    return str(name) in SHIPPED


def shipped_path(name: str, *, check: bool = True) -> Path:
    """The folder of shipped model ``name``.

    Args:
        name: one of :data:`SHIPPED`.
        check: make sure every required file is there and the weights file is readable.

    Raises:
        RunError: an unknown name, or a broken install (a file missing or corrupt), with how to
            reinstall.
    """
    if name not in SHIPPED:
        raise RunError(f"no shipped model {name!r}", fix=f"use one of {', '.join(SHIPPED)}")
    folder = shipped_root() / name
    if check:
        check_shipped(folder)
    return folder


def check_shipped(folder: Path) -> None:
    """Raise :class:`RunError` naming the file when a shipped model folder is incomplete or corrupt.

    The weights file's safetensors header is read (a few bytes, no tensor is loaded) so that a
    truncated or overwritten file is caught here, not inside the model loader.
    """
    for f in REQUIRED:
        if not (folder / f).is_file():
            raise RunError(f"the shipped model {folder.name} is missing {f} ({folder / f}): a broken install",
                           path=folder / f, fix=_REINSTALL)
    weights = folder / "model.safetensors"
    try:
        with open(weights, "rb") as fh:
            n = int.from_bytes(fh.read(8), "little")
            if not 2 <= n <= 10_000_000:
                raise ValueError("bad header length")
            header = json.loads(fh.read(n))
        size = weights.stat().st_size
        end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
        if 8 + n + end != size:
            raise ValueError(f"{size} bytes where the header describes {8 + n + end}")
    except (ValueError, KeyError, TypeError, OSError) as e:
        raise RunError(f"the shipped model file {weights} is corrupt ({e}): a broken install",
                       path=weights, fix=_REINSTALL) from None


def shipped_summaries() -> list[dict]:
    """One row per shipped model for listings: name, task, model, key metric (validation accuracy)."""
    rows = []
    for name in SHIPPED:
        folder = shipped_root() / name
        try:
            check_shipped(folder)
            task = json.loads((folder / "task.json").read_text())
            metrics = json.loads((folder / "metrics.json").read_text())
        except (RunError, ValueError, OSError) as e:
            rows.append({"name": name, "kind": "?", "target": "?", "outputs": 0, "status": f"broken: {e}",
                         "val_accuracy": None, "test_accuracy": None, "path": str(folder)})
            continue
        target = f"all {len(task['targets'])}" if task["kind"] == "multilabel" else ",".join(task["targets"])
        rows.append({"name": name, "kind": task["kind"], "target": target,
                     "outputs": len(task["classes"]), "status": "shipped",
                     "val_accuracy": metrics.get("val_accuracy"), "test_accuracy": metrics.get("test_accuracy"),
                     "path": str(folder)})
    return rows


__all__ = ["REQUIRED", "SHIPPED", "check_shipped", "is_shipped", "shipped_names", "shipped_path",
           "shipped_root", "shipped_summaries"]
