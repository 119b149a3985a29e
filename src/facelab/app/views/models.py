"""Models: leaderboards, then one run — curves, confusion, per-attribute, calibration, top losses, subgroups."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import streamlit as st

from facelab.app.charts import confusion, interval_bars
from facelab.app.common import config, get_run, missing, run_names
from facelab.evaluate.classification import confusion_long, labels_and_probabilities, run_classification_report
from facelab.evaluate.figures import figure_index
from facelab.evaluate.leaderboard import find_leaderboards, load_leaderboard
from facelab.runs.labels import metric_label, metric_tiles
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
            table = load_leaderboard(board).table
            st.dataframe(table, hide_index=True, width="stretch")
        except (OSError, ValueError, KeyError) as e:  # gone, half-written or foreign
            st.warning(f"{board} could not be read: {e}")
            continue
        label = "run" if "run" in table.columns else ("model" if "model" in table.columns else None)
        if label and {"accuracy", "accuracy_low", "accuracy_high"} <= set(table.columns):
            st.altair_chart(interval_bars(table.dropna(subset=["accuracy"]), label=label, value="accuracy",
                                          low="accuracy_low", high="accuracy_high", title="accuracy, 95% CI"),
                            width="stretch")
        elif board.with_suffix(".png").is_file():
            st.image(str(board.with_suffix(".png")), width="stretch")

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
except Exception as e:  # a page: a run broken in any way is named, the page stays up
    st.error(f"run `{name}` could not be loaded: {getattr(e, 'message', e)}")
    st.stop()

task = run.task
st.markdown(f"**target** {', '.join(task.targets)} · **task** {task.kind} · **classes** {len(task.classes)} · "
            f"**input** {run.input.get('size')}px, {run.input.get('channels')} channel(s)")
flat = flat_metrics(run.metrics or {})
tiles = metric_tiles(run.metrics)
if tiles:
    # a figure with its interval needs twice the width of a plain one
    wide = [t for t in tiles if t.label.endswith("(95% CI)")][:3]
    rest = [t for t in tiles if t not in wide]
    for group, n in ((wide, max(2, len(wide))), (rest, 4)):
        if group:
            cols = st.columns(n)
            for i, tile in enumerate(group):
                cols[i % n].metric(tile.label, tile.value, help=f"`{tile.key}` in metrics.json")
    with st.expander("all metrics"):
        st.dataframe(pd.DataFrame({"metric": [metric_label(k) for k in flat], "value": list(flat.values()),
                                   "key": list(flat)}), hide_index=True)

figures = figure_index(folder)  # which PNG is which figure: the library knows
eval_dir = folder / EVAL_DIR
tab_report, tab_curves, tab_eval, tab_saliency, tab_tables, tab_card = st.tabs(
    ["Classification report", "Training curves", "Evaluation", "Where it looks", "Tables", "Model card"])
with tab_report:  # from the run's own predictions: every finished run has one
    report = run_classification_report(run)
    if report is None:
        missing("No predictions in this run (unfinished?)", f"facelab train DATA --target {task.targets[0]}")
    else:
        st.caption(f"{report.n:,} {report.split} images" + (" held out of training" if report.held_out else
                   " — also used for training: the figures are optimistic") + " · threshold 0.5")
        if report.never_predicted:
            st.warning("The model never predicts " + ", ".join(f"`{c}`" for c in report.never_predicted)
                       + " on these images: it is degenerate (one answer for every face).")
        if task.kind == "binary":
            row = report.table.iloc[0]
            c = st.columns(4)
            for col, (k, words) in zip(c, [("TP", "true positives"), ("TN", "true negatives"),
                                          ("FP", "false positives"), ("FN", "false negatives")]):
                col.metric(f"{words} ({k})", f"{int(row[k]):,}")
        st.dataframe(report.table, hide_index=True, width="stretch",
                     column_config={k: st.column_config.NumberColumn(format="%.3f")
                                    for k in ("precision", "recall", "F1")})
        cells, order = confusion_long(*labels_and_probabilities(run, report.split), task.kind, task.classes)
        if order:
            st.altair_chart(confusion(cells, order, title=f"confusion matrix ({report.split})"), width="content")
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
with tab_saliency:  # evaluate --saliency: dataset maps beside the mean faces
    found = sorted(eval_dir.glob("*/saliency.json"), key=lambda p: -p.stat().st_mtime) if eval_dir.is_dir() else []
    if not found:
        missing("No saliency maps for this run yet", f"facelab evaluate {name} --saliency")
    else:
        from facelab.explain.report import figure_name

        sal = json.loads(found[0].read_text())
        st.caption(f"`{found[0].parent.relative_to(folder)}`: mean saliency ({sal['method']}) over {sal['n']} "
                   "evaluated faces, weighted by each face's probability of the output, beside the mean faces "
                   "with and without the output and their difference.")
        outs = list(sal["outputs"])
        pick = st.selectbox("output", outs, key="models_saliency_output") if len(outs) > 1 else outs[0]
        png = found[0].parent / figure_name(pick)
        if png.is_file():
            st.image(str(png), width="stretch")
        st.dataframe(pd.DataFrame([{k: g[k] for k in ("output", "group", "n", "n_with", "n_without",
                                                      "agreement_with_mean_face_difference")}
                                   for g in sal["groups"] if g["output"] == pick]), hide_index=True)
with tab_tables:
    tables = sorted(eval_dir.rglob("*.csv")) if eval_dir.is_dir() else []
    if not tables:
        missing("No evaluation tables yet", f"facelab evaluate {name}")
    for t in tables:
        st.markdown(f"**{t.stem.replace('_', ' ')}** — `{t.relative_to(folder)}`")
        try:
            st.dataframe(pd.read_csv(t), hide_index=True, width="stretch")
        except (OSError, ValueError) as e:  # gone or half-written (pandas' parse errors are ValueErrors)
            st.warning(f"{t} could not be read: {e}")
with tab_card:
    card = folder / CARD
    st.markdown(card.read_text() if card.is_file() else "_no model card_")
