"""The one rule for names a user gives to things facelab stores as folders or files: runs,
generator runs, galleries, exports.

A name is a single folder name: letters, digits, ``-``, ``_`` and ``.``, not starting with a dot,
no separator, never ``.`` or ``..``: so ``<root>/<name>`` always stays inside ``<root>``.

Example:
    >>> check_name("smiling-cnn.v2")
    'smiling-cnn.v2'
    >>> check_name("../elsewhere", what="generator run")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    facelab.errors.ConfigError: refused generator run name '../elsewhere': a generator run name is a folder name inside ...
"""
from __future__ import annotations

import re
from pathlib import Path

from .errors import ConfigError
from .paths import runs_root

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


def is_plain_name(name: str) -> bool:
    """True when ``name`` passes :func:`check_name`.

    Example:
        >>> is_plain_name("a-run"), is_plain_name("a/run"), is_plain_name("..")
        (True, False, False)
    """
    return isinstance(name, str) and bool(_NAME.match(name)) and name not in (".", "..")


def check_name(name: str, root: Path | None = None, *, what: str = "run") -> str:
    """``name`` itself when it is a plain name (a folder name: letters, digits, ``-_.``).

    Args:
        name: the name as the user typed it.
        root: the folder it names something in (default: the runs folder), for the message.
        what: what is named (``run``, ``generator run``, ``gallery``, ``export``), for the message.

    Raises:
        ConfigError: the name has a separator, ``..`` or other characters a folder name cannot.
    """
    root = runs_root() if root is None else root
    if not is_plain_name(name):
        raise ConfigError(
            f"refused {what} name {name!r}: a {what} name is a folder name inside {root}",
            path=root,
            fix="use a plain name (letters, digits, '-', '_', '.'; no '/' or '..')",
        )
    return name
