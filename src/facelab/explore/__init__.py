"""Explore a face dataset: ``explore(data) -> ExploreReport`` (see ``report.py``).

Importing this package asks OpenMP for passive waiting (unless the user chose otherwise): with
several processes on 2 cores, spinning OpenMP workers made k-means and t-SNE 5-10x slower
(measured: a 9-k sweep on 400 rows took 19 s instead of 3.5 s under load 8).
"""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
