"""Tables behind the dashboard's interactive charts, read from an explore report's ``explore.json``.

The HTML report draws its matrices as static PNG heatmaps; a dashboard draws them from the numbers
instead (tooltips, zoom, an attribute picker). These functions only reshape what
:func:`facelab.explore.report.explore` saved (``attribute_statistics``, ``mean_face_differences``)
into long tables a chart library plots directly; a report without them gives empty tables.

Example:
    >>> stats = {"names": ["A", "B"], "prevalence": [0.5, 0.2], "n": 10,
    ...          "correlation": [[1.0, 0.3], [0.3, 1.0]], "conditional": [[1.0, 0.9], [0.36, 1.0]]}
    >>> partners(stats, "A")[["attribute", "correlation", "p_given_picked", "p_picked_given"]].to_dict("records")
    [{'attribute': 'B', 'correlation': 0.3, 'p_given_picked': 0.36, 'p_picked_given': 0.9}]
"""
from __future__ import annotations

import pandas as pd


def has_attribute_statistics(report: dict) -> bool:
    """Whether an ``explore.json`` carries the attribute matrices (some reports do not)."""
    s = report.get("attribute_statistics") or {}
    return bool(s.get("names")) and bool(s.get("correlation"))


def prevalence(stats: dict) -> pd.DataFrame:
    """``attribute, share``: the fraction of rows with each attribute, most common first."""
    df = pd.DataFrame({"attribute": stats.get("names", []), "share": stats.get("prevalence", [])})
    return df.sort_values("share", ascending=False, ignore_index=True)


def matrix_long(stats: dict, which: str = "correlation") -> pd.DataFrame:
    """``row, column, value`` for every cell of the ``correlation`` or ``conditional`` matrix
    (conditional: value = P(row | column))."""
    names = stats.get("names", [])
    m = stats.get(which, [])
    return pd.DataFrame([(a, b, m[i][j]) for i, a in enumerate(names) for j, b in enumerate(names)],
                        columns=["row", "column", "value"])


def partners(stats: dict, picked: str) -> pd.DataFrame:
    """Every other attribute against ``picked``: ``correlation``, ``p_given_picked`` = P(other |
    picked), ``p_picked_given`` = P(picked | other), strongest correlation first.

    Raises:
        KeyError: ``picked`` is not one of the report's attributes.
    """
    names = stats["names"]
    i = names.index(picked) if picked in names else None
    if i is None:
        raise KeyError(f"{picked!r} is not an attribute of this report ({', '.join(names[:6])}…)")
    corr, cond = stats["correlation"], stats["conditional"]
    rows = [{"attribute": b, "correlation": corr[i][j], "p_given_picked": cond[j][i], "p_picked_given": cond[i][j]}
            for j, b in enumerate(names) if j != i]
    df = pd.DataFrame(rows)
    return df.reindex(df["correlation"].abs().sort_values(ascending=False).index).reset_index(drop=True)


def mean_face_table(report: dict) -> pd.DataFrame:
    """``attribute, difference, baseline, ratio, n_with, n_without`` (grey levels), largest ratio first."""
    d = report.get("mean_face_differences") or {}
    df = pd.DataFrame([{"attribute": a, **v} for a, v in d.items()],
                      columns=["attribute", "difference", "baseline", "ratio", "n_with", "n_without"])
    return df.sort_values("ratio", ascending=False, ignore_index=True)
