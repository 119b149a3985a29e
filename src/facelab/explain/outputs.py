"""Which outputs to explain: ``all``, ``top`` or names, checked against a run's outputs.

Example:
    >>> resolve_outputs(["Smiling", "Male"], "Smiling")
    ['Smiling']
    >>> resolve_outputs(["Smiling", "Male"], "all")
    ['Smiling', 'Male']
    >>> resolve_outputs(["angry", "happy"], "top")
    ['top']
    >>> resolve_outputs(["Smiling", "Male"], "smiling")
    Traceback (most recent call last):
    ...
    facelab.errors.ConfigError: cannot explain 'smiling': the model has no such output (did you mean 'Smiling'?)...
"""
from __future__ import annotations

import difflib
from typing import Iterable

import numpy as np

from ..errors import ConfigError

#: the words ``--explain`` takes besides output names
ALL, TOP = "all", "top"


def parse_explain(explain: str | Iterable[str] | None) -> list[str]:
    """``--explain Smiling,Male`` (or a list, or None) → the names, in order, without repeats.

    Example:
        >>> parse_explain("Smiling, Male,Smiling")
        ['Smiling', 'Male']
    """
    if explain is None:
        return []
    items = explain.split(",") if isinstance(explain, str) else [str(e) for e in explain]
    return list(dict.fromkeys(s.strip() for s in items if s and s.strip()))


def resolve_outputs(classes: list[str], explain: str | Iterable[str] | None) -> list[str]:
    """The outputs ``explain`` names among ``classes`` (``all``: every one; ``top`` stays ``top``:
    each face's highest-probability output, chosen per face by :func:`outputs_for_face`).

    Raises:
        ConfigError: a name the model does not have; the message lists the outputs and the
            closest name.
    """
    names = parse_explain(explain)
    if ALL in names:
        return list(classes)
    out = []
    for n in names:
        if n == TOP or n in classes:
            out.append(n)
            continue
        close = difflib.get_close_matches(n, classes, n=1, cutoff=0.5) or \
            [c for c in classes if c.lower() == n.lower()]
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        shown = ", ".join(classes[:40]) + (" …" if len(classes) > 40 else "")
        raise ConfigError(f"cannot explain {n!r}: the model has no such output{hint}",
                          fix=f"use --explain all, --explain top, or one of: {shown}")
    return out


def outputs_for_face(requested: list[str], classes: list[str], probabilities: np.ndarray) -> list[str]:
    """``requested`` with ``top`` replaced by this face's most probable output.

    Example:
        >>> outputs_for_face(["top", "a"], ["a", "b"], np.array([0.2, 0.8]))
        ['b', 'a']
    """
    top = classes[int(np.argmax(probabilities))] if len(classes) else None
    return list(dict.fromkeys(top if r == TOP else r for r in requested))


__all__ = ["ALL", "TOP", "outputs_for_face", "parse_explain", "resolve_outputs"]
