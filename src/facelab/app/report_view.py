"""Show a report folder (report.html + PNGs + JSON) written by `facelab explore` or `facelab cluster`."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from .common import read_json, show_pngs


def show_report(folder: Path, sections: list[tuple[str, tuple[str, ...]]]) -> None:
    """Show the PNGs of a report grouped into titled sections by file-name keywords, then the rest.

    Args:
        folder: the report folder.
        sections: (title, keywords) pairs, in page order.

    Example:
        >>> show_report(Path("facelab-demo/explore"), [("Balance", ("balance",))])  # doctest: +SKIP
    """
    shown: set[Path] = set()
    for title, keywords in sections:
        pngs = [p for p in sorted(folder.rglob("*.png")) if any(k in p.stem.lower() for k in keywords)
                and p not in shown]
        if not pngs:
            continue
        st.subheader(title)
        shown |= show_pngs(folder, keywords=keywords, exclude=shown, recursive=True)
    rest = [p for p in sorted(folder.rglob("*.png")) if p not in shown]
    if rest:
        st.subheader("More figures")
        show_pngs(folder, exclude=shown, recursive=True)
    tables = sorted(folder.glob("*.csv"))
    for t in tables:
        with st.expander(f"table: {t.name}"):
            try:
                st.dataframe(pd.read_csv(t), width="stretch")
            except Exception as e:
                st.warning(f"{t} could not be read: {e}")
    for j in sorted(folder.glob("*.json")):
        data = read_json(j)
        if data is not None:
            with st.expander(f"data: {j.name}"):
                st.json(data, expanded=False)
    html = folder / "report.html"
    if html.is_file():
        st.download_button("Download report.html", html.read_bytes(), file_name=f"{folder.name}-report.html",
                           mime="text/html", key=f"dl-{folder}")
