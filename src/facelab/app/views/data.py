"""Data: the explore report — balance, sample grids, mean faces and differences, co-occurrence."""
from __future__ import annotations

import streamlit as st

from facelab.app.common import config, find_reports, missing
from facelab.app.report_view import show_report

cfg = config()
st.title("Data")
reports = find_reports(cfg, "explore")
if not reports:
    where = cfg.data or "DATA"
    missing("No explore report yet" + ("" if cfg.data else " (and no `--data DIR` given)"),
            f"facelab explore {where}")
    st.stop()

folder = reports[0]
if len(reports) > 1:
    folder = st.selectbox("Report", reports, format_func=lambda p: str(p.relative_to(p.parents[1])))
st.caption(f"`{folder}`")
show_report(folder, [
    ("Label balance", ("balance", "count", "distribution", "prevalence")),
    ("Sample grids", ("grid", "sample", "montage")),
    ("Mean faces and differences", ("mean", "diff", "average")),
    ("Co-occurrence", ("cooccur", "co_occur", "co-occur", "corr", "conditional")),
    ("Attribute clusters", ("attr_cluster",)),
])
