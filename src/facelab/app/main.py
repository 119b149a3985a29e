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
# A viewer's dashboard: no Deploy/developer toolbar (also set by `facelab app`'s command line, and
# set here for `streamlit run main.py`); the style hides the Stop button shown while a page runs.
st.set_option("client.toolbarMode", "minimal")
st.html("<style>[data-testid='stStatusWidget'] button {display: none;}</style>")

pages = [
    st.Page(str(HERE / "views" / "overview.py"), title="Overview", icon=":material/home:", default=True),
    st.Page(str(HERE / "views" / "findings.py"), title="Findings", icon=":material/lightbulb:"),
    st.Page(str(HERE / "views" / "data.py"), title="Data", icon=":material/image:"),
    st.Page(str(HERE / "views" / "models.py"), title="Models", icon=":material/monitoring:"),
    st.Page(str(HERE / "views" / "clusters.py"), title="Clusters", icon=":material/bubble_chart:"),
    st.Page(str(HERE / "views" / "predict.py"), title="Predict", icon=":material/search:"),
    st.Page(str(HERE / "views" / "identify.py"), title="Identify", icon=":material/person_search:"),
    st.Page(str(HERE / "views" / "gallery.py"), title="Gallery", icon=":material/groups:"),
    st.Page(str(HERE / "views" / "generate.py"), title="Generate", icon=":material/auto_awesome:"),
    st.Page(str(HERE / "views" / "api.py"), title="API", icon=":material/api:"),
]
nav = st.navigation(pages)
with st.sidebar:
    st.caption(f"runs: `{cfg.runs}`")
    st.caption(f"data: `{cfg.data}`" if cfg.data else "data: (none — pass `--data DIR`)")
nav.run()
