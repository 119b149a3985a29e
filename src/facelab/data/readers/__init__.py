"""Dataset readers: a source folder on disk → a :class:`~facelab.data.manifest.Manifest`.

The layout is detected from the files seen, never asked for. Each reader registers a
:class:`Reader` (``detect(path) -> bool``, ``read(path, seed=0) -> Manifest``) in ``READERS``;
:func:`read_source` tries them in :data:`DETECTION_ORDER`. Supported layouts and label
conventions are described in ``docs/datasets.md``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ...errors import DataError
from ...registry import Registry
from ..manifest import Manifest


@dataclass(frozen=True)
class Reader:
    """One supported source layout.

    Attributes:
        name: the layout name stored in ``Manifest.layout`` (e.g. ``celeba-kaggle``).
        description: what the layout looks like on disk, shown when nothing matches.
        detect: ``detect(path) -> bool``, cheap (lists a folder or two, never reads images).
        read: ``read(path, seed=0) -> Manifest``.
    """

    name: str
    description: str
    detect: Callable[[Path], bool]
    read: Callable[..., Manifest]


READERS: Registry[Reader] = Registry("dataset layout")

#: Most specific first: a FER2013 folder tree is also a (nested) class-folder tree.
DETECTION_ORDER = ("celeba-official", "celeba-kaggle", "fer2013-csv", "fer2013-folders", "folder")


def register_reader(reader: Reader) -> Reader:
    """Add a reader to ``READERS`` under its ``name``."""
    return READERS.register(reader.name)(reader)


def _load_builtin() -> None:
    # imported for their side effect: each module registers its readers
    import importlib

    for mod in ("celeba", "fer2013", "folder"):
        importlib.import_module(f"{__name__}.{mod}")


def supported_layouts() -> str:
    """The supported layouts, one per line, for error messages and ``--help``."""
    _load_builtin()
    names = [n for n in DETECTION_ORDER if n in READERS] + [n for n in READERS.list() if n not in DETECTION_ORDER]
    return "\n".join(f"    - {n}: {READERS.get(n).description}" for n in names)


def detect_layout(path: str | Path) -> str:
    """The name of the layout of ``path`` (raises DataError listing the supported ones if none).

    Example:
        >>> import tempfile
        >>> from facelab.data.synth import synthesize
        >>> detect_layout(synthesize(tempfile.mkdtemp() + "/celeba", kind="celeba", n=10))
        'celeba-official'
    """
    from ._common import describe_folder

    _load_builtin()
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(f"{path} does not exist", path=path,
                        fix="give the folder that holds the dataset (e.g. the one with list_attr_celeba.*)")
    order = [n for n in DETECTION_ORDER if n in READERS] + [n for n in READERS.list() if n not in DETECTION_ORDER]
    for name in order:
        try:
            if READERS.get(name).detect(path):
                return name
        except OSError:
            continue
    found = describe_folder(path) if path.is_dir() else f"a file ({path.suffix or 'no extension'})"
    raise DataError(
        f"{path} is not a dataset layout facelab knows. Found: {found}.\n  Supported layouts:\n"
        f"{supported_layouts()}",
        path=path,
        fix="point at the dataset's top folder (the one holding the label files or the class folders)",
    )


def read_source(path: str | Path, seed: int = 0, *, layout: str | None = None) -> Manifest:
    """Read a dataset folder into a Manifest, detecting its layout.

    Args:
        path: the dataset folder (CelebA: the folder with the label files, or its
            ``img_align_celeba``; FER2013: the folder with ``fer2013.csv`` or ``train/``, or the
            csv itself; an image folder with one sub-folder per class).
        seed: seed of any split facelab has to make (layouts without one).
        layout: force a layout by name instead of detecting it.

    Returns:
        The manifest; problems found (missing images, bad rows, duplicates, empty files) are in
        ``manifest.problems`` and were skipped.

    Raises:
        DataError: the path is missing, empty or unrecognised, a label file is malformed, or no
            usable image is left.

    Example:
        >>> import tempfile
        >>> from facelab.data.synth import synthesize
        >>> m = read_source(synthesize(tempfile.mkdtemp() + "/celeba", kind="celeba", n=20))
        >>> m.layout, m.split_counts()
        ('celeba-official', {'train': 16, 'val': 2, 'test': 2})
    """
    _load_builtin()
    path = Path(path).expanduser()
    name = layout or detect_layout(path)
    if not path.exists():
        raise DataError(f"{path} does not exist", path=path, fix="check the path")
    from ..marks import apply_marks  # the user's exclude.txt / relabel.csv (facelab data review)

    return apply_marks(READERS.get(name).read(path, seed=seed), path)


__all__ = ["READERS", "DETECTION_ORDER", "Reader", "detect_layout", "read_source", "register_reader",
           "supported_layouts"]
