"""Packages that are also the public function of the same name.

``facelab.train``, ``facelab.explore`` and ``facelab.cluster`` are both sub-packages and functions
of the public API. Once a sub-package is imported, Python stores it as the attribute of
``facelab`` and the lazy ``__getattr__`` in ``facelab/__init__.py`` is no longer consulted, so
``facelab.train(...)`` would call a module. Making the package callable keeps one spelling working
whichever Python finds first.
"""
from __future__ import annotations

import importlib
import sys
import types


def make_callable(package: str, module: str, function: str, exports: tuple[str, ...] = ()) -> None:
    """Make ``sys.modules[package]`` call ``package.module.function`` when called, and give it
    ``function`` and each name in ``exports`` from ``package.module``, imported on first use."""
    lazy = {function, *exports}

    class _CallablePackage(types.ModuleType):
        def __call__(self, *args, **kwargs):
            return getattr(importlib.import_module(f"{package}.{module}"), function)(*args, **kwargs)

        def __getattr__(self, name: str):
            if name in lazy:
                return getattr(importlib.import_module(f"{package}.{module}"), name)
            raise AttributeError(f"module {package!r} has no attribute {name!r}")

    sys.modules[package].__class__ = _CallablePackage
