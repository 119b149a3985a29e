"""Model parameters checked against the types a model declares, before anything is built.

A model declares its parameters twice: the defaults given to ``register_model`` (``widths=[32,
64, 128, 256]``) and its builder's keyword arguments. :func:`check_params` refuses a
bad value (``--param widths=oops``) before it reaches ``nn.Conv2d`` with a
:class:`~facelab.errors.ConfigError` naming the parameter, the expected type and an example.

Example:
    >>> from facelab.models import get_model
    >>> check_params(get_model("cnn"), {"widths": [16, 32], "dropout": 0})["dropout"]
    0
    >>> check_params(get_model("cnn"), {"widths": "oops"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    facelab.errors.ConfigError: model cnn: parameter widths must be a list of whole numbers, not 'oops'...
"""
from __future__ import annotations

import difflib
import inspect
from typing import Any

from ..errors import ConfigError


def _kind(v: Any) -> str | None:
    """The declared type of a default value: bool, int, float, str, list[int]... or None (any)."""
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "str"
    if isinstance(v, (list, tuple)):
        inner = {_kind(x) for x in v}
        return f"list[{inner.pop()}]" if len(inner) == 1 and None not in inner else "list"
    return None


_WORDS = {"bool": "true or false", "int": "a whole number", "float": "a number", "str": "a word",
          "list": "a list", "list[int]": "a list of whole numbers", "list[float]": "a list of numbers",
          "list[bool]": "a list of true/false", "list[str]": "a list of words"}


def _fits(kind: str, v: Any) -> bool:
    if kind == "bool":
        return isinstance(v, bool)
    if kind == "int":
        return isinstance(v, int) and not isinstance(v, bool)
    if kind == "float":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if kind == "str":
        return isinstance(v, str)
    if kind.startswith("list"):
        if not isinstance(v, (list, tuple)) or not v:
            return False
        return kind == "list" or all(_fits(kind[5:-1], x) for x in v)
    return True


def declared_params(spec) -> tuple[dict[str, Any], bool]:
    """(name → declared default, whether the builder takes other ``**params`` too)."""
    declared: dict[str, Any] = {}
    open_ended = False
    try:
        sig = inspect.signature(spec.build)
    except (TypeError, ValueError):
        return dict(spec.default_params), True
    for i, (name, p) in enumerate(sig.parameters.items()):
        if p.kind is p.VAR_KEYWORD:
            open_ended = True
        elif p.kind is p.KEYWORD_ONLY or (i >= 2 and p.kind is p.POSITIONAL_OR_KEYWORD):
            declared[name] = None if p.default is p.empty else p.default
    declared.update(spec.default_params)  # the registry's defaults are what a run saves
    return declared, open_ended


def check_params(spec, params: dict) -> dict:
    """Refuse unknown parameters and values of the wrong type; returns ``params`` unchanged.

    Raises:
        ConfigError: a parameter the model does not have, or a value not of its declared type.
    """
    declared, open_ended = declared_params(spec)
    for key, value in params.items():
        if key not in declared:
            if open_ended:
                continue  # the builder checks what it accepts (and says so as a ConfigError)
            close = difflib.get_close_matches(key, list(declared), n=1)
            raise ConfigError(f"model {spec.name} has no parameter {key!r}"
                              + (f" (did you mean {close[0]!r}?)" if close else ""),
                              fix=f"parameters of {spec.name}: {', '.join(declared) or 'none'}")
        kind = _kind(declared[key])
        if kind is not None and not _fits(kind, value):
            example = declared[key]
            example = list(example) if isinstance(example, tuple) else example
            raise ConfigError(f"model {spec.name}: parameter {key} must be {_WORDS.get(kind, kind)}, "
                              f"not {value!r}",
                              fix=f"e.g. --param {key}={_yaml(example)}")
    return params


def _yaml(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(_yaml(x) for x in v) + "]"
    return str(v)
