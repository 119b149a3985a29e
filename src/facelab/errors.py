"""Errors a user can act on.

Every error that reaches the user is a :class:`FacelabError`: it names the file (when there is one)
and the fix. The CLI prints it without a traceback; the REST API turns it into a 4xx answer.
"""
from __future__ import annotations

from pathlib import Path


class FacelabError(Exception):
    """An error the user can fix.

    Args:
        message: what is wrong, in one sentence.
        path: the file or folder concerned, if any.
        fix: what to do about it.

    Example:
        >>> print(FacelabError("no prepared cache", path="data/celeba",
        ...                    fix="run `facelab data prepare data/celeba --size 64`"))
        no prepared cache
          file: data/celeba
          fix:  run `facelab data prepare data/celeba --size 64`
    """

    def __init__(self, message: str, *, path: str | Path | None = None, fix: str | None = None):
        self.message = message
        self.path = str(path) if path is not None else None
        self.fix = fix
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = [self.message]
        if self.path:
            parts.append(f"  file: {self.path}")
        if self.fix:
            parts.append(f"  fix:  {self.fix}")
        return "\n".join(parts)


class DataError(FacelabError):
    """A dataset, label file, image or cache is missing, malformed or unsupported."""


class ConfigError(FacelabError):
    """An option, target, model name or config file is invalid."""


class RunError(FacelabError):
    """A run folder is missing, incomplete or corrupt."""


class WriteError(FacelabError):
    """An output could not be written: the disk is full (or failed) under a path facelab writes."""
