"""Show a report folder (report.html + PNGs + JSON) written by `facelab explore` or `facelab cluster`."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from .common import read_json


def assign_sections(pngs: list[Path], sections: list[tuple[str, tuple[str, ...]]]) -> dict[str, list[Path]]:
    """Each figure goes to the section whose keyword matches its name most specifically (longest).

    Example:
        >>> assign_sections([Path("attr_cluster_means.png")], [("Mean", ("mean",)), ("Clusters", ("attr_cluster",))])
        {'Mean': [], 'Clusters': [PosixPath('attr_cluster_means.png')], '': []}
    """
    out: dict[str, list[Path]] = {title: [] for title, _ in sections}
    out[""] = []
    for p in pngs:
        stem = p.stem.lower()
        best = max(((len(k), title) for title, keys in sections for k in keys if k in stem), default=(0, ""))
        out[best[1]].append(p)
    return out


def show_report(folder: Path, sections: list[tuple[str, tuple[str, ...]]], skip: set[str] = frozenset()) -> None:
    """Show the PNGs of a report grouped into titled sections by file-name keywords, then the rest.

    Args:
        folder: the report folder.
        sections: (title, keywords) pairs, in page order.
        skip: figure names (file stems) not to show, e.g. those the page draws as interactive charts.

    Example: docs/python.md#serve-and-the-dashboard.
    """
    groups = assign_sections([p for p in sorted(folder.rglob("*.png")) if p.stem not in skip], sections)
    for title, _ in sections + [("", ())]:
        pngs = groups[title]
        if not pngs:
            continue
        st.subheader(title or "More figures")
        cols = st.columns(2)
        for i, p in enumerate(pngs):
            with cols[i % 2]:
                st.image(str(p), caption=p.stem.replace("_", " "), width="stretch")
    tables = sorted(folder.glob("*.csv"))
    for t in tables:
        with st.expander(f"table: {t.name}"):
            try:
                st.dataframe(pd.read_csv(t), width="stretch")
            except (OSError, ValueError) as e:  # gone or half-written (pandas' parse errors are ValueErrors)
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
