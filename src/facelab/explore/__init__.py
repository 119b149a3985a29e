"""Explore a face dataset: ``explore(data) -> ExploreReport`` (see ``report.py``).

``facelab.explore`` is both this package and the function in the public API (``facelab/__init__``
maps the name to ``explore.report.explore``). Once the package is imported, Python finds the
package first, so the package itself is made callable: ``facelab.explore(data)`` works either way.

The thread policy (OpenMP passive waiting) is set once at the entry point: see :mod:`facelab.threads`.

Example: docs/python.md#explore-and-cluster.
"""
from .._callable import make_callable

make_callable(__name__, "report", "explore", ("explore_synthetic", "ExploreReport"))
