"""Clusters: the cluster report — the k sweep, cluster grids, the embedding map."""
from __future__ import annotations

import streamlit as st

from facelab.app.common import choose_report, config
from facelab.app.report_view import show_report

cfg = config()
st.title("Clusters")
folder = choose_report(cfg, "cluster")
show_report(folder, [
    ("Choosing k", ("sweep", "silhouette", "elbow", "inertia", "score")),
    ("Embedding map", ("tsne", "umap", "pca", "embedding", "map", "scatter")),
    ("Clusters", ("cluster", "grid", "montage", "sample", "nearest")),
    ("Purity against labels", ("purity", "label", "confusion", "crosstab")),
])
