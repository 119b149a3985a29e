"""Overview: what is loaded, and the headline metric of each run."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from facelab.app.common import config, find_reports, get_run, missing, run_names
from facelab.evaluate.leaderboard import find_leaderboards
from facelab.runs.labels import metric_label

cfg = config()
st.title("facelab")
st.caption("Machine learning on face images — runs, reports and predictions in one place.")

names = run_names(str(cfg.runs))
explore_reports, cluster_reports = find_reports(cfg, "explore"), find_reports(cfg, "cluster")
leaderboards = find_leaderboards(cfg.runs)

c1, c2, c3, c4 = st.columns(4)
c1.metric("Runs", len(names))
c2.metric("Leaderboards", len(leaderboards))
c3.metric("Explore reports", len(explore_reports))
c4.metric("Cluster reports", len(cluster_reports))

if not names:
    missing(f"No runs in `{cfg.runs}` yet", "facelab train DATA --target Smiling")
else:
    rows, failed = [], []
    for name in names:
        try:
            run = get_run(cfg, name)
        except Exception as e:  # a corrupt run must not take the page down: name it
            failed.append((name, getattr(e, "message", str(e))))
            continue
        head = run.key_metric  # the one headline figure (facelab.runs.metrics.headline)
        task = run.task
        config_ = run.config if isinstance(run.config, dict) else vars(run.config)
        rows.append({"run": name, "target": ", ".join(task.targets), "task": task.kind,
                     "model": config_.get("model"), "metric": metric_label(head[0]),
                     "value": round(head[1], 4) if head[1] is not None else None,
                     "input": f"{run.input.get('size')}px × {run.input.get('channels')}ch"})
    if rows:
        st.subheader("Runs")
        best = max((r for r in rows if r["value"] is not None), key=lambda r: r["value"], default=None)
        if best:
            st.metric(f"Best {best['metric']} ({best['target']})", f"{best['value']:.3f}", help=best["run"])
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    for name, why in failed:
        st.error(f"run `{name}` could not be loaded: {why}")

st.subheader("Where things are")
st.markdown(
    f"- runs folder: `{cfg.runs}`\n"
    f"- data folder: `{cfg.data or '(not given)'}`\n"
    + "".join(f"- leaderboard: `{p}`\n" for p in leaderboards[:5])
    + "".join(f"- explore report: `{p}`\n" for p in explore_reports[:3])
    + "".join(f"- cluster report: `{p}`\n" for p in cluster_reports[:3])
)
