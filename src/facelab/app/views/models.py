"""Models: leaderboards, then one run — curves, confusion, per-attribute, calibration, top losses, subgroups."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from facelab.app.common import config, find_files, get_run, missing, run_names, show_pngs
from facelab.runs.layout import CARD, EVAL_DIR, HISTORY, PLOTS
from facelab.runs.metrics import flat_metrics

cfg = config()
st.title("Models")

# -- leaderboards (written by `facelab compare` / `facelab search`) ------------------------------
boards = find_files(cfg.runs, "leaderboard.csv", depth=3)
st.header("Leaderboards")
if not boards:
    missing("No leaderboard yet", "facelab compare DATA --target Smiling --models cnn,logreg")
for board in boards[:4]:
    with st.container(border=True):
        st.markdown(f"**{board.parent.name}** — `{board}`")
        try:
            st.dataframe(pd.read_csv(board), hide_index=True, width="stretch")
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
    show_pngs(folder / PLOTS, keywords=("curve", "history", "loss", "lr"))

eval_dir = folder / EVAL_DIR
with tab_eval:
    if not eval_dir.is_dir() and not (folder / PLOTS).is_dir():
        missing("No evaluation for this run yet", f"facelab evaluate {name}")
    shown: set[Path] = set()
    for title, keys in [("Confusion matrices", ("confusion",)), ("Calibration", ("calibration", "reliab")),
                        ("Per-attribute", ("per_attr", "attribute")), ("Top losses", ("top_loss", "toploss", "loss")),
                        ("Subgroup accuracy", ("subgroup", "group")), ("ROC / PR", ("roc", "pr_curve", "precision"))]:
        for base in (eval_dir, folder / PLOTS):
            if base.is_dir():
                pngs = [p for p in base.rglob("*.png") if any(k in p.stem.lower() for k in keys) and p not in shown]
                if pngs:
                    st.subheader(title)
                    shown |= show_pngs(base, keywords=keys, exclude=shown, recursive=True)
    rest = [p for base in (eval_dir, folder / PLOTS) if base.is_dir() for p in base.rglob("*.png")
            if p not in shown and not any(k in p.stem.lower() for k in ("curve", "history", "loss", "lr"))]
    if rest:
        st.subheader("More figures")
        cols = st.columns(2)
        for i, p in enumerate(sorted(rest)):
            cols[i % 2].image(str(p), caption=p.stem.replace("_", " "), width="stretch")
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
