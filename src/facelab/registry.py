"""One small registry used for models, readers, detectors and features.

Example:
    >>> MODELS = Registry("model")
    >>> @MODELS.register("cnn")
    ... def build_cnn(**kw): ...
    >>> MODELS.get("cnn").__name__, MODELS.list(), "cnn" in MODELS
    ('build_cnn', ['cnn'], True)
"""
from __future__ import annotations

import difflib
import fnmatch
from typing import Any, Callable, Generic, TypeVar

from .errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = obj
            return obj

        return deco

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            close = difflib.get_close_matches(name, self._entries, n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(
                f"unknown {self.kind} {name!r}.{hint}",
                fix=f"choose one of: {', '.join(sorted(self._entries))}",
            ) from None

    def list(self, pattern: str = "*") -> list[str]:
        return sorted(n for n in self._entries if fnmatch.fnmatch(n, pattern))

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def items(self) -> list[tuple[str, Any]]:
        return sorted(self._entries.items())
