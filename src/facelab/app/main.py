"""The facelab dashboard (Streamlit). Start it with `facelab app --runs DIR --data DIR`.

Run directly: ``streamlit run src/facelab/app/main.py -- --runs runs --data facelab-demo``.
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from facelab.app.common import config

HERE = Path(__file__).parent

st.set_page_config(page_title="facelab", page_icon=":material/face:", layout="wide")
cfg = config()
# A viewer's dashboard: the launcher hides the Deploy/developer toolbar (client.toolbarMode);
# this hides the Stop button that appears while a page runs (a stopped page is half drawn).
st.html("<style>[data-testid='stStatusWidget'] button {display: none;}</style>")

pages = [
    st.Page(str(HERE / "views" / "overview.py"), title="Overview", icon=":material/home:", default=True),
    st.Page(str(HERE / "views" / "findings.py"), title="Findings", icon=":material/lightbulb:"),
    st.Page(str(HERE / "views" / "data.py"), title="Data", icon=":material/image:"),
    st.Page(str(HERE / "views" / "models.py"), title="Models", icon=":material/monitoring:"),
    st.Page(str(HERE / "views" / "clusters.py"), title="Clusters", icon=":material/bubble_chart:"),
    st.Page(str(HERE / "views" / "predict.py"), title="Predict", icon=":material/search:"),
    st.Page(str(HERE / "views" / "api.py"), title="API", icon=":material/api:"),
]
nav = st.navigation(pages)
with st.sidebar:
    st.caption(f"runs: `{cfg.runs}`")
    st.caption(f"data: `{cfg.data}`" if cfg.data else "data: (none — pass `--data DIR`)")
nav.run()
