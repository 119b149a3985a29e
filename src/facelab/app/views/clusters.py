"""Clusters: the cluster report — the k sweep, cluster grids, the embedding map."""
from __future__ import annotations

import streamlit as st

from facelab.app.common import config, find_reports, missing
from facelab.app.report_view import show_report

cfg = config()
st.title("Clusters")
reports = find_reports(cfg, "cluster")
if not reports:
    missing("No cluster report yet" + ("" if cfg.data else " (and no `--data DIR` given)"),
            f"facelab cluster {cfg.data or 'DATA'}")
    st.stop()

folder = reports[0]
if len(reports) > 1:
    folder = st.selectbox("Report", reports, format_func=lambda p: str(p.relative_to(p.parents[1])))
st.caption(f"`{folder}`")
show_report(folder, [
    ("Choosing k", ("sweep", "silhouette", "elbow", "inertia", "score")),
    ("Embedding map", ("tsne", "umap", "pca", "embedding", "map", "scatter")),
    ("Clusters", ("cluster", "grid", "montage", "sample", "nearest")),
    ("Purity against labels", ("purity", "label", "confusion", "crosstab")),
])
