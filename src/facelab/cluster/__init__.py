"""Cluster face images: ``cluster(data, features=...) -> ClusterReport`` (see ``report.py``).

Importing this package asks OpenMP for passive waiting (unless the user chose otherwise): with
several processes on 2 cores, spinning OpenMP workers made k-means and t-SNE 5-10x slower.
"""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
