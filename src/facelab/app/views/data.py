"""Data: the explore report — balance, sample grids, mean faces and differences, co-occurrence.

The attribute matrices are drawn as interactive charts with an attribute picker when the report
saved them (:mod:`facelab.report.charts`); reports without them show their static figures.
"""
from __future__ import annotations

import streamlit as st

from facelab.app.charts import bars, heatmap
from facelab.app.common import choose_report, config, read_json
from facelab.app.report_view import show_report
from facelab.report.charts import has_attribute_statistics, matrix_long, mean_face_table, partners, prevalence

cfg = config()
st.title("Data")
folder = choose_report(cfg, "explore")
report = read_json(folder / "explore.json") or {}
interactive = has_attribute_statistics(report)
if interactive:
    stats = report["attribute_statistics"]
    names = stats["names"]
    st.subheader("Attributes")
    st.caption(f"{stats.get('n', 0):,} label rows. Pick an attribute; hover a bar or a cell for its figures.")
    picked = st.selectbox("Attribute", names, index=names.index("Male") if "Male" in names else 0,
                          key="data_attribute")
    left, right = st.columns(2)
    with left:
        st.altair_chart(bars(prevalence(stats), x="share", y="attribute", domain=(0, 1), highlight=picked,
                             title="share of rows with each attribute"), width="stretch")
    with right:
        st.altair_chart(bars(partners(stats, picked), x="correlation", y="attribute", domain=(-1, 1),
                             title=f"correlation (phi) of each attribute with {picked}"), width="stretch")
    mf = mean_face_table(report)
    if len(mf):
        st.altair_chart(bars(mf, x="ratio", y="attribute", highlight=picked, fmt=".1f",
                             title="mean-face difference with/without each attribute, × the chance baseline (a random split)"),
                        width="stretch")
    tab_corr, tab_cond, tab_pairs = st.tabs(["Correlation matrix", "P(A | B) matrix", f"Pairs with {picked}"])
    with tab_corr:
        st.altair_chart(heatmap(matrix_long(stats, "correlation"), title="correlation (phi)", highlight=picked),
                        width="content")
    with tab_cond:
        st.altair_chart(heatmap(matrix_long(stats, "conditional"), title="P(row attribute | column attribute)",
                                scheme="viridis", domain=(0, 1), highlight=picked),
                        width="content")
    with tab_pairs:
        st.dataframe(partners(stats, picked).rename(columns={"p_given_picked": f"P(attribute | {picked})",
                                                             "p_picked_given": f"P({picked} | attribute)"}),
                     hide_index=True, width="stretch")
elif report:
    st.caption("This report has no attribute matrices saved (made before they were, or the dataset has "
               "no attributes): run `facelab explore` again for interactive charts.")
show_report(folder, [
    ("Label balance", ("balance", "count", "distribution", "prevalence")),
    ("Sample grids", ("grid", "sample", "montage")),
    ("Mean faces and differences", ("mean", "diff", "average")),
    ("Co-occurrence", ("cooccur", "co_occur", "co-occur", "corr", "conditional")),
    ("Attribute clusters", ("attr_cluster",)),
], skip={"attr_correlation", "attr_conditional", "balance_attributes"} if interactive else set())
