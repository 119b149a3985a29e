"""Generate: pick a generator run, watch how it learnt (grid, progress strip, curves), draw new faces."""
from __future__ import annotations

import io

import pandas as pd
import streamlit as st

from facelab.app.common import config, missing

cfg = config()
st.title("Generate")


@st.cache_data(ttl=10, show_spinner=False)
def generator_runs(runs: str) -> list[str]:
    """Generator run folders, newest first."""
    from pathlib import Path

    from facelab.generate.run import is_generator_run

    root = Path(runs)
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and is_generator_run(p)]
    return [p.name for p in sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)]


@st.cache_resource(show_spinner="loading generator…", max_entries=4)
def load(path: str, mtime: float):
    from facelab.generate.run import GeneratorRun

    return GeneratorRun.load(path)


names = generator_runs(str(cfg.runs))
if not names:
    missing(f"No generator runs in `{cfg.runs}`", "facelab generate train CACHE --minutes 30")
    st.stop()
name = st.selectbox("Generator run", names, key="generate_run")
folder = cfg.runs / name
try:
    run = load(str(folder), (folder / "state.json").stat().st_mtime if (folder / "state.json").is_file() else 0.0)
except Exception as e:  # a page: a run broken in any way is named, the page stays up
    st.error(f"run `{name}` could not be loaded: {getattr(e, 'message', e)}")
    st.stop()

st.markdown(f"**{run.size}px {'grey' if run.channels == 1 else 'RGB'}** · **epochs** {run.epochs} · "
            f"**status** {run.status} · **conditioned on** {', '.join(run.condition) or 'nothing'}")
shown = {k: v for k, v in run.metrics.items() if k in ("frechet", "face_rate", "real_face_rate", "loss_d",
                                                       "loss_g", "images_per_s") or k.startswith("agree_")}
if shown:
    cols = st.columns(len(shown))
    for c, (k, v) in zip(cols, shown.items()):
        c.metric(k, f"{v:.3g}")
if "frechet" in run.metrics:
    st.caption(f"Fréchet distance in the features of the classifier run `{run.config.get('feature_run')}` — "
               "not the Inception FID; compare it only between runs scored with the same feature run.")

tab_new, tab_progress, tab_curves, tab_card = st.tabs(["New faces", "Progress", "Curves", "Model card"])
with tab_new:
    c1, c2 = st.columns(2)
    n = c1.number_input("How many", 1, 256, 32, key="generate_n")
    seed = c2.number_input("Seed", 0, 2**31 - 1, 0, key="generate_seed")
    condition = {}
    if run.condition:
        cols = st.columns(len(run.condition))
        for c, attr in zip(cols, run.condition):
            pick = c.selectbox(attr, ["any", "yes", "no"], key=f"generate_cond_{attr}")
            if pick != "any":
                condition[attr] = 1 if pick == "yes" else 0
    if st.button("Draw faces", key="generate_draw", type="primary"):
        from PIL import Image

        from facelab.generate.images import grid

        images = run.sample(int(n), seed=int(seed), condition=condition or None)
        picture = grid(images, cols=8)
        st.image(picture, caption=f"{len(images)} faces, seed {seed}", width=min(900, picture.shape[1] * 3))
        buf = io.BytesIO()
        Image.fromarray(picture).save(buf, format="PNG")
        st.download_button("Download PNG", buf.getvalue(), file_name=f"{name}-seed{seed}.png", mime="image/png")
with tab_progress:
    strip = folder / "progress.png"
    if strip.is_file():
        st.image(str(strip), caption="the same noise, one row per epoch")
    grids = sorted((folder / "samples").glob("epoch_*.png"))
    if grids:
        st.image(str(grids[-1]), caption=f"fixed noise after {grids[-1].stem.replace('_', ' ')}")
with tab_curves:
    curves = folder / "plots" / "curves.png"
    if curves.is_file():
        st.image(str(curves))
    hist = run.history()
    if len(hist):
        st.dataframe(pd.DataFrame(hist), hide_index=True, width="stretch")
with tab_card:
    card = folder / "card.md"
    st.markdown(card.read_text() if card.is_file() else "no model card yet")
