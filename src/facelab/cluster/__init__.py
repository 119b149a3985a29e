"""Cluster face images: ``cluster(data, features=...) -> ClusterReport`` (see ``report.py``).

``facelab.cluster`` is both this package and the function in the public API; the package is made
callable so ``facelab.cluster(data)`` works whichever Python finds first.

Importing this package also asks OpenMP for passive waiting (unless the user chose otherwise):
with several processes on 2 cores, spinning OpenMP workers made k-means and t-SNE 5-10x slower.

Example:
    >>> import facelab
    >>> rep = facelab.cluster("data/fer2013", features="hog")   # doctest: +SKIP
"""
import os

from .._callable import make_callable

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

make_callable(__name__, "report", "cluster", ("ClusterReport",))
