"""Cluster face images: ``cluster(data, features=...) -> ClusterReport`` (see ``report.py``).

``facelab.cluster`` is both this package and the function in the public API; the package is made
callable so ``facelab.cluster(data)`` works whichever Python finds first.

The thread policy (OpenMP passive waiting) is set once at the entry point: see :mod:`facelab.threads`.

Example: docs/python.md#explore-and-cluster.
"""
from .._callable import make_callable

make_callable(__name__, "report", "cluster", ("ClusterReport",))
