"""Data: the explore report — balance, sample grids, mean faces and differences, co-occurrence."""
from __future__ import annotations

import streamlit as st

from facelab.app.common import choose_report, config
from facelab.app.report_view import show_report

cfg = config()
st.title("Data")
folder = choose_report(cfg, "explore")
show_report(folder, [
    ("Label balance", ("balance", "count", "distribution", "prevalence")),
    ("Sample grids", ("grid", "sample", "montage")),
    ("Mean faces and differences", ("mean", "diff", "average")),
    ("Co-occurrence", ("cooccur", "co_occur", "co-occur", "corr", "conditional")),
    ("Attribute clusters", ("attr_cluster",)),
])
