"""The write guard: facelab never overwrites or deletes a file or folder it did not make.

Every command that writes a path the user names (``--out``, ``--annotate``, ``--save-crops``)
asks this module first. A path may be written when it

- does not exist,
- is an empty folder, or
- was made by facelab: a folder holding the :data:`MARKER` file (written by
  :func:`claim_folder`), or a facelab output that carries no marker,
  recognised by the caller's ``recognise`` test (e.g. a cache's ``meta.json``); a single file
  recognised the same way (a results table facelab wrote, an ONNX export with its sidecar).

Anything else is refused with a :class:`~facelab.errors.ConfigError` that names the path and the
fix. ``force`` options replace facelab's own outputs only: they never make a user's path writable.
A device file (``/dev/null``, ``/dev/full``) may be named: it is written as it is, never read.

Writing: :func:`writing` turns a full disk (``ENOSPC``, ``EDQUOT``, ``EFBIG``, ``EIO``) into a
:class:`~facelab.errors.WriteError` naming the path; :func:`atomic_file` writes a file under a
temporary name and renames it into place, so a failed write leaves no file that looks finished
(completion markers such as a cache's ``meta.json`` are written last, the same way).

Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp()) / "report"
    >>> claim_folder(d, what="report folder").name, (d / MARKER).is_file()
    ('report', True)
    >>> (d.parent / "notes.txt").write_text("mine")
    4
    >>> check_folder(d.parent / "notes.txt", what="report folder")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    facelab.errors.ConfigError: ... is a file, not a folder facelab made...
"""
from __future__ import annotations

import errno
import json
import os
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from .errors import ConfigError, WriteError

MARKER = ".facelab"
"""File facelab writes into every output folder it creates: its presence makes the folder ours."""

Recognise = Callable[[Path], bool]


def _fix(option: str) -> str:
    return (f"choose another {option} path (a new name, or an empty folder), "
            "or move your files out of the way yourself")


def is_facelab_folder(path: Path, recognise: Recognise | None = None) -> bool:
    """True when ``path`` is a folder facelab made (marker, or ``recognise`` says so)."""
    path = Path(path)
    if not path.is_dir() or path.is_symlink():
        return False
    if (path / MARKER).is_file():
        return True
    try:
        return bool(recognise and recognise(path))
    except (OSError, ValueError):
        return False


def check_folder(path: str | Path, *, what: str, option: str = "--out",
                 recognise: Recognise | None = None) -> Path:
    """Refuse an output folder that holds a user's data; return it as a ``Path`` otherwise.

    Args:
        path: the folder the command is about to write into (or replace).
        what: what it is for, for the message (``"cache folder"``, ``"report folder"``).
        option: the option that named it, for the fix.
        recognise: a test for facelab outputs that carry no :data:`MARKER`.

    Raises:
        ConfigError: ``path`` is a file, a symlink, or a non-empty folder facelab did not make.
    """
    path = Path(path).expanduser()
    if path.is_symlink():
        raise ConfigError(f"{path} is a symbolic link; facelab will not write a {what} through it",
                          path=path, fix=_fix(option))
    if not path.exists():
        return path
    if not path.is_dir():
        raise ConfigError(f"{path} is a file, not a folder facelab made; writing the {what} there "
                          "would replace it", path=path, fix=_fix(option))
    if is_facelab_folder(path, recognise):
        return path
    try:
        empty = next(os.scandir(path), None) is None
    except OSError as e:
        raise ConfigError(f"cannot read the folder {path} ({e.strerror})", path=path, fix=_fix(option)) from None
    if not empty:
        raise ConfigError(f"{path} is a folder with files facelab did not make; writing the {what} "
                          "there could replace or delete them", path=path, fix=_fix(option))
    return path


def mark_folder(path: str | Path, kind: str = "") -> Path:
    """Write :data:`MARKER` into an existing folder (idempotent)."""
    path = Path(path)
    marker = path / MARKER
    if not marker.is_file():
        marker.write_text(json.dumps({"made_by": "facelab", "kind": kind}) + "\n")
    return path


def claim_folder(path: str | Path, *, what: str, option: str = "--out",
                 recognise: Recognise | None = None) -> Path:
    """:func:`check_folder`, then create the folder (and parents) and mark it as facelab's.

    The one call a command needs before writing files into a folder the user named.
    """
    path = check_folder(path, what=what, option=option, recognise=recognise)
    with writing(path, what):
        path.mkdir(parents=True, exist_ok=True)
        return mark_folder(path, what)


def check_file(path: str | Path, *, what: str, option: str = "--out",
               recognise: Recognise | None = None) -> Path:
    """Refuse to replace a file facelab did not write; return the path otherwise.

    Args:
        path: the file the command is about to write.
        what: what it is for (``"results file"``).
        option: the option that named it.
        recognise: tells a file facelab wrote (it may be replaced).

    Raises:
        ConfigError: ``path`` is a folder, a symlink, or a file ``recognise`` does not accept.
    """
    path = Path(path).expanduser()
    if path.is_symlink():
        raise ConfigError(f"{path} is a symbolic link; facelab will not write the {what} through it",
                          path=path, fix=_fix(option))
    if not path.exists():
        return path
    if path.is_dir():
        raise ConfigError(f"{path} is a folder; the {what} must be a file", path=path,
                          fix=f"give a file name with {option}, e.g. {path / 'out'}")
    if is_device(path):  # /dev/null, /dev/full: written through, never read (a device never ends)
        return path
    if not path.is_file():
        raise ConfigError(f"{path} is not a regular file; the {what} must be one", path=path,
                          fix=_fix(option))
    try:
        ours = bool(recognise and recognise(path))
    except (OSError, ValueError):
        ours = False
    if not ours:
        raise ConfigError(f"{path} already exists and facelab did not write it; the {what} would "
                          "replace it", path=path, fix=_fix(option))
    return path


def json_with_keys(*keys: str) -> Recognise:
    """A ``recognise`` test: a JSON object file holding every one of ``keys``."""

    def test(path: Path) -> bool:
        if path.stat().st_size > 50_000_000:
            return False
        obj = json.loads(path.read_text())
        return isinstance(obj, dict) and all(k in obj for k in keys)

    return test


def folder_with_files(*names: str) -> Recognise:
    """A ``recognise`` test for folders: every one of ``names`` is present, and nothing that is
    not a facelab output kind of file (only json/csv/md/html/png/parquet and sub-folders)."""
    allowed = {".json", ".csv", ".md", ".html", ".png", ".parquet"}

    def test(path: Path) -> bool:
        if not all((path / n).exists() for n in names):
            return False
        return all(e.is_dir() or os.path.splitext(e.name)[1].lower() in allowed for e in os.scandir(path))

    return test


#: errors a write meets when the disk (or the quota, or the file size limit) is full, or fails
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO})


def is_device(path: str | Path) -> bool:
    """True for a character device such as ``/dev/null`` or ``/dev/full``."""
    try:
        return stat.S_ISCHR(os.stat(path).st_mode)
    except OSError:
        return False


def write_error(e: OSError, path: str | Path, what: str = "output") -> WriteError | None:
    """The :class:`~facelab.errors.WriteError` for a failed write, or None when ``e`` is not one
    of :data:`DISK_ERRNOS` (a permission error, a missing folder: the caller's own message).

    Example:
        >>> print(write_error(OSError(errno.ENOSPC, "No space left on device"), "/dev/full", "results file"))
        cannot write the results file /dev/full: no space left on device
          file: /dev/full
          fix:  free disk space (or choose a folder on another disk) and run the command again
    """
    if e.errno not in DISK_ERRNOS:
        return None
    why = {errno.EIO: "input/output error (the disk failed)",
           errno.EFBIG: "no space left on device (the file size limit is reached)",
           errno.EDQUOT: "no space left on device (the disk quota is exceeded)"}.get(e.errno,
                                                                                  "no space left on device")
    return WriteError(f"cannot write the {what} {path}: {why}", path=path,
                      fix="free disk space (or choose a folder on another disk) and run the command again")


@contextmanager
def writing(path: str | Path, what: str = "output") -> Iterator[Path]:
    """Run a block of writes to ``path`` (a file or a folder): a full disk raises
    :class:`~facelab.errors.WriteError` naming ``path``; other errors pass through.

    Example:
        >>> with writing("/dev/full", "results file") as p:    # doctest: +ELLIPSIS
        ...     _ = p.write_text("x" * 10_000)
        Traceback (most recent call last):
        ...
        facelab.errors.WriteError: cannot write the results file /dev/full: no space left on device...
    """
    path = Path(path)
    try:
        yield path
    except OSError as e:
        inside = getattr(e, "filename", None) if path.is_dir() else None  # a folder: the file in it
        err = write_error(e, inside or path, what)
        if err is None:
            raise
        raise err from None


@contextmanager
def atomic_file(path: str | Path, what: str = "output") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block ends without error, rename it to
    ``path``; otherwise remove it (``path`` keeps its old content, or stays absent). A full disk
    raises :class:`~facelab.errors.WriteError` (see :func:`writing`). A device file is written
    directly.

    Example:
        >>> import tempfile
        >>> out = Path(tempfile.mkdtemp()) / "metrics.json"
        >>> with atomic_file(out, "metrics") as tmp:
        ...     _ = tmp.write_text("{}")
        >>> out.read_text(), sorted(p.name for p in out.parent.iterdir())
        ('{}', ['metrics.json'])
    """
    path = Path(path)
    if is_device(path):
        with writing(path, what):
            yield path
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with writing(path, what):
            yield tmp
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text(path: str | Path, text: str, what: str = "output") -> Path:
    """Write ``text`` to ``path`` atomically (:func:`atomic_file`)."""
    with atomic_file(path, what) as tmp:
        tmp.write_text(text)
    return Path(path)
