"""Models: leaderboards, then one run — curves, confusion, per-attribute, calibration, top losses, subgroups."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from facelab.app.common import config, get_run, missing, run_names
from facelab.evaluate.figures import figure_index
from facelab.evaluate.leaderboard import find_leaderboards, load_leaderboard
from facelab.runs.layout import CARD, EVAL_DIR, HISTORY, PLOTS
from facelab.runs.metrics import flat_metrics

cfg = config()
st.title("Models")

# -- leaderboards (written by `facelab compare` / `facelab search`) ------------------------------
boards = find_leaderboards(cfg.runs)
st.header("Leaderboards")
if not boards:
    missing("No leaderboard yet", "facelab compare DATA --target Smiling --models cnn,logreg")
for board in boards[:4]:
    with st.container(border=True):
        st.markdown(f"**{board.parent.name}** — `{board}`")
        try:
            st.dataframe(load_leaderboard(board).table, hide_index=True, width="stretch")
        except Exception as e:
            st.warning(f"{board} could not be read: {e}")
        png = board.with_suffix(".png")
        if png.is_file():
            st.image(str(png), width="stretch")

# -- one run ------------------------------------------------------------------------------------
st.header("Run")
names = run_names(str(cfg.runs))
if not names:
    missing(f"No runs in `{cfg.runs}`", "facelab train DATA --target Smiling")
    st.stop()
name = st.selectbox("Run", names, key="models_run")
folder: Path = cfg.runs / name
try:
    run = get_run(cfg, name)
except Exception as e:
    st.error(f"run `{name}` could not be loaded: {getattr(e, 'message', e)}")
    st.stop()

task = run.task
st.markdown(f"**target** {', '.join(task.targets)} · **task** {task.kind} · **classes** {len(task.classes)} · "
            f"**input** {run.input.get('size')}px, {run.input.get('channels')} channel(s)")
flat = flat_metrics(run.metrics or {})
if flat:
    cols = st.columns(min(4, len(flat)))
    for i, (k, v) in enumerate(list(flat.items())[:8]):
        cols[i % len(cols)].metric(k, f"{v:.4g}")
    with st.expander("all metrics"):
        st.dataframe(pd.DataFrame({"metric": list(flat), "value": list(flat.values())}), hide_index=True)

figures = figure_index(folder)  # which PNG is which figure: the library knows
eval_dir = folder / EVAL_DIR
tab_curves, tab_eval, tab_tables, tab_card = st.tabs(["Training curves", "Evaluation", "Tables", "Model card"])
with tab_curves:
    hist = folder / HISTORY
    if hist.is_file():
        h = pd.read_csv(hist)
        x = "epoch" if "epoch" in h.columns else None
        numeric = [c for c in h.select_dtypes("number").columns if c != x]
        losses = [c for c in numeric if "loss" in c]
        others = [c for c in numeric if c not in losses
                  and c not in ("lr", "seconds", "time", "step", "elapsed", "images_per_s")]
        if len(h) < 2:  # a line needs two epochs; one epoch is a table
            st.dataframe(h, hide_index=True, width="stretch")
        else:
            if losses:
                st.caption("loss")
                st.line_chart(h, x=x, y=losses)
            if others:
                st.caption("metrics")
                st.line_chart(h, x=x, y=others)
    else:
        st.info("no history.csv in this run")
    for p in figures.get("Training curves", []):
        st.image(str(p), caption=p.stem.replace("_", " "), width="stretch")

with tab_eval:
    if not any(title != "Training curves" for title in figures):
        missing("No evaluation for this run yet", f"facelab evaluate {name}")
    for title, pngs in figures.items():
        if title == "Training curves":
            continue
        st.subheader(title)
        cols = st.columns(2)
        for i, p in enumerate(pngs):
            cols[i % 2].image(str(p), caption=str(p.relative_to(folder)), width="stretch")
with tab_tables:
    tables = sorted(eval_dir.rglob("*.csv")) if eval_dir.is_dir() else []
    if not tables:
        missing("No evaluation tables yet", f"facelab evaluate {name}")
    for t in tables:
        st.markdown(f"**{t.stem.replace('_', ' ')}** — `{t.relative_to(folder)}`")
        try:
            st.dataframe(pd.read_csv(t), hide_index=True, width="stretch")
        except Exception as e:
            st.warning(f"{t} could not be read: {e}")
with tab_card:
    card = folder / CARD
    st.markdown(card.read_text() if card.is_file() else "_no model card_")
