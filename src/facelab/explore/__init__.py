"""Explore a face dataset: ``explore(data) -> ExploreReport`` (see ``report.py``).

``facelab.explore`` is both this package and the function in the public API (``facelab/__init__``
maps the name to ``explore.report.explore``). Once the package is imported, Python finds the
package first, so the package itself is made callable: ``facelab.explore(data)`` works either way.

Importing this package also asks OpenMP for passive waiting (unless the user chose otherwise):
with several processes on 2 cores, spinning OpenMP workers made k-means and t-SNE 5-10x slower
(measured: a 9-k sweep on 400 rows took 19 s instead of 3.5 s under load 8).

Example:
    >>> import facelab
    >>> rep = facelab.explore("data/celeba")   # doctest: +SKIP
"""
import os

from .._callable import make_callable

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

make_callable(__name__, "report", "explore", ("explore_synthetic", "ExploreReport"))
