"""Interactive Vega-Lite charts (Altair, shipped with Streamlit) for the dashboard's pages.

Only drawing lives here: the tables come from the library (:mod:`facelab.report.charts`,
:mod:`facelab.evaluate.classification`). Every chart has tooltips and labels at a readable size.
"""
from __future__ import annotations

import altair as alt
import pandas as pd

AXIS = {"labelFontSize": 12, "titleFontSize": 13, "labelLimit": 260}


def bars(df: pd.DataFrame, *, x: str, y: str, title: str = "", domain: tuple | None = None,
         highlight: str | None = None, fmt: str = ".3f") -> alt.Chart:
    """Horizontal bars, one per row in table order (``y`` is the category), value ``x``."""
    scale = alt.Scale(domain=list(domain)) if domain else alt.Undefined
    colour = (alt.condition(alt.datum[y] == highlight, alt.value("#d62728"), alt.value("#4c78a8"))
              if highlight else alt.value("#4c78a8"))
    return (alt.Chart(df, title=title)
            .mark_bar()
            .encode(x=alt.X(f"{x}:Q", scale=scale, axis=alt.Axis(**AXIS, format=fmt)),
                    y=alt.Y(f"{y}:N", sort=None, axis=alt.Axis(**AXIS, labelOverlap=False), title=None),
                    color=colour,
                    tooltip=[alt.Tooltip(c, format=fmt) if pd.api.types.is_float_dtype(df[c]) else c
                             for c in df.columns])
            .properties(height=max(120, 24 * len(df))))


def heatmap(df: pd.DataFrame, *, title: str, scheme: str = "redblue", domain=(-1, 1),
            highlight: str | None = None) -> alt.Chart:
    """``row, column, value`` cells; the picked attribute's row and column are outlined."""
    step = 18 if df["row"].nunique() > 12 else 40
    base = alt.Chart(df, title=title).encode(
        x=alt.X("column:N", sort=None, axis=alt.Axis(**AXIS, labelAngle=-60, labelOverlap=False), title=None),
        y=alt.Y("row:N", sort=None, axis=alt.Axis(**AXIS, labelOverlap=False), title=None))
    cells = base.mark_rect().encode(
        color=alt.Color("value:Q", scale=alt.Scale(scheme=scheme, domain=list(domain), reverse=scheme == "redblue")),
        tooltip=["row", "column", alt.Tooltip("value:Q", format=".3f")])
    chart = cells
    if highlight:
        picked = df[(df["row"] == highlight) | (df["column"] == highlight)]
        chart = cells + alt.Chart(picked).mark_rect(fill=None, stroke="black", strokeWidth=1).encode(
            x=alt.X("column:N", sort=None), y=alt.Y("row:N", sort=None))
    # sized by the band (a step per attribute): Streamlit keeps a step, not a fixed width
    return chart.properties(width=alt.Step(step), height=alt.Step(step))


def interval_bars(df: pd.DataFrame, *, label: str, value: str, low: str, high: str, title: str = "",
                  reference: float | None = None) -> alt.Chart:
    """A point with its interval per row (accuracy with its 95% CI), an optional reference line."""
    base = alt.Chart(df, title=title).encode(y=alt.Y(f"{label}:N", sort=None, axis=alt.Axis(**AXIS), title=None))
    lo = min(float(df[low].min()), reference if reference is not None else 1.0)
    scale = alt.Scale(domain=[max(0.0, lo - 0.05), 1.0])
    chart = (base.mark_rule(strokeWidth=3).encode(x=alt.X(f"{low}:Q", scale=scale, title=value,
                                                        axis=alt.Axis(**AXIS, format=".0%")), x2=f"{high}:Q")
             + base.mark_point(filled=True, size=90).encode(
                 x=f"{value}:Q", tooltip=[label, alt.Tooltip(f"{value}:Q", format=".3f"),
                                          alt.Tooltip(f"{low}:Q", format=".3f"),
                                          alt.Tooltip(f"{high}:Q", format=".3f")]))
    if reference is not None:
        chart += alt.Chart(pd.DataFrame({"x": [reference]})).mark_rule(strokeDash=[4, 4], color="grey").encode(x="x:Q")
    return chart.properties(height=alt.Step(34))  # a step per row: Streamlit keeps it


def confusion(table: pd.DataFrame, classes: list[str], *, title: str = "") -> alt.Chart:
    """A confusion matrix from ``true, predicted, count`` rows, counts written in the cells."""
    base = alt.Chart(table, title=title).encode(
        x=alt.X("predicted:N", sort=classes, axis=alt.Axis(**AXIS, labelAngle=-30)),
        y=alt.Y("true:N", sort=classes, axis=alt.Axis(**AXIS)))
    return (base.mark_rect().encode(color=alt.Color("count:Q", scale=alt.Scale(scheme="blues")),
                                    tooltip=["true", "predicted", "count"])
            + base.mark_text(fontSize=13).encode(text="count:Q")).properties(width=alt.Step(90), height=alt.Step(60))
