"""The process's thread policy, set once at the entry point (``facelab`` CLI), never at import.

With several processes on few cores, spinning OpenMP workers made k-means and t-SNE 5-10x slower
(measured: a 9-k sweep on 400 rows took 19 s instead of 3.5 s under load 8), so the CLI asks
OpenMP for passive waiting unless the user chose otherwise. A Python program that wants the same
calls :func:`configure_threads` before it imports numpy, scikit-learn or torch.

This is the one environment write of the library (``tests/test_architecture.py`` allows it and
no other): OpenMP reads its wait policy only from the environment, once, when the first OpenMP
library loads, so there is no argument to pass it through. It is called by the entry point
alone, never at import, and keeps a value the user set.

Example:
    >>> import os
    >>> configure_threads()
    >>> os.environ["OMP_WAIT_POLICY"] in ("PASSIVE", "ACTIVE", "passive", "active")
    True
"""
from __future__ import annotations

import os


def configure_threads() -> None:
    """Ask OpenMP for passive waiting (``OMP_WAIT_POLICY=PASSIVE``) unless already set."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
