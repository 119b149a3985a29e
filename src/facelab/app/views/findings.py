"""Findings: the question, the hypothesis, how it was tested and the answer — written by
:mod:`facelab.report.findings` from the runs and explore reports present."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from facelab.app.charts import bars, interval_bars
from facelab.app.common import config, find_reports, missing
from facelab.report.findings import collect_findings, finding_markdown

cfg = config()
st.title("Findings")
st.caption("Written from the evidence present — the runs' held-out predictions and the explore reports' "
           "mean faces — not typed in. It changes when you train, evaluate or explore again.")


@st.cache_data(ttl=60, show_spinner="reading the evidence…")
def findings(runs: str, reports: tuple[str, ...]):
    from pathlib import Path

    return collect_findings(runs, [Path(p) for p in reports])


reports = find_reports(cfg, "explore")
found = findings(str(cfg.runs), tuple(str(p) for p in reports))
if not found:
    missing("No evidence yet: no run and no explore report with mean faces",
            "facelab explore DATA` and `facelab train DATA --target Male")
    st.stop()

BADGE = {"supported": st.success, "not supported": st.error, "inconclusive": st.warning,
         "not enough evidence": st.info}
names = [f.subject for f in found]
default = next((i for i, f in enumerate(found) if f.subject == "Male" and f.classifier), None)
if default is None:
    default = next((i for i, f in enumerate(found) if f.classifier is not None), 0)
subject = st.selectbox("Attribute or target", names, index=default, key="findings_subject")
f = found[names.index(subject)]

st.header(f.question)
BADGE[f.verdict](f"**{f.verdict.capitalize()}.** {f.answer}")
left, right = st.columns([3, 2])
with left:
    st.markdown(finding_markdown(f, question=False))  # the question is the heading above
with right:
    evidence = [e for e in [f.classifier, *f.others] if e is not None]
    if evidence:
        df = pd.DataFrame({"run": [e.run for e in evidence], "accuracy": [e.accuracy for e in evidence],
                           "low": [e.low for e in evidence], "high": [e.high for e in evidence]})
        st.altair_chart(interval_bars(df, label="run", value="accuracy", low="low", high="high",
                                      title="held-out accuracy, 95% CI", reference=f.classifier.majority),
                        width="stretch")
        st.caption("Dashed line: always answering the most common "
                   f"{'class' if f.kind == 'multiclass' else 'group'} on the same images.")
    if f.classifier is not None and f.classifier.per_class is not None:
        st.altair_chart(bars(f.classifier.per_class.fillna(0.0), x="accuracy", y="class", domain=(0, 1),
                             title="accuracy per class (held-out)"), width="stretch")
    if f.mean_face is not None and f.mean_face.figure is not None:
        st.image(str(f.mean_face.figure), caption="mean faces with and without key attributes (explore report)",
                 width="stretch")

st.subheader("Every finding")
st.dataframe(pd.DataFrame([{
    "attribute / target": g.subject, "verdict": g.verdict,
    "best run": g.classifier.run if g.classifier else None,
    "held-out accuracy": g.classifier.accuracy if g.classifier else None,
    "95% CI": f"{g.classifier.low:.3f}–{g.classifier.high:.3f}" if g.classifier else None,
    "most common class": g.classifier.majority if g.classifier else None,
    "mean-face difference (× chance)": g.mean_face.ratio if g.mean_face else None,
} for g in found]), hide_index=True, width="stretch",
    column_config={"held-out accuracy": st.column_config.NumberColumn(format="%.3f"),
                   "most common class": st.column_config.NumberColumn(format="%.3f")})
