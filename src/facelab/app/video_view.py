"""The Predict page's video part: a video (uploaded, or a sample clip made from a sample photo)
through ``predict_video_files`` — the annotated MP4 played with ``st.video``, one timeline per
face track under it, the track summary and the per-frame table to download."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

VIDEO_TYPES = ["mp4", "mov", "m4v", "avi", "mkv", "webm", "mpg", "mpeg"]


@st.cache_data(show_spinner="making a sample clip…", max_entries=2)
def sample_clip(seconds: float = 2.0, fps: int = 10) -> bytes:
    """A short MP4: the two-people sample photo panned sideways (faces moving across the frame)."""
    import cv2

    from ..predict.video import write_test_clip
    from .samples import make_sample

    photo = make_sample("two-people")
    h, w = photo.shape[:2]
    n = int(seconds * fps)
    frames = [cv2.warpAffine(photo, np.float32([[1, 0, 60 * np.sin(2 * np.pi * i / n)], [0, 1, 0]]), (w, h),
                             borderMode=cv2.BORDER_REFLECT) for i in range(n)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sample.mp4"
        write_test_clip(path, frames, fps=fps, codec="libx264" if _has("libx264") else "mpeg4")
        return path.read_bytes()


def _has(codec: str) -> bool:
    import av

    return codec in av.codecs_available


@st.cache_data(show_spinner="tracking the faces of the video…", max_entries=4)
def analyse(folders: tuple[tuple[str, float], ...], data: bytes, name: str, every: int, smooth: float,
            hold: float) -> dict:
    """The video through the chosen runs: annotated MP4 bytes, timeline PNGs, the tables."""
    from ..predict.combined import CombinedPredictor
    from ..predict.video_files import predict_video_files
    from .common import load_predictor

    preds = [load_predictor(f, m) for f, m in folders]
    pred = preds[0] if len(preds) == 1 else CombinedPredictor(preds)
    with tempfile.TemporaryDirectory(prefix="facelab-app-video-") as tmp:
        src = Path(tmp) / ("upload" + Path(name).suffix[:8])
        src.write_bytes(data)
        rep = predict_video_files(pred, src, annotate=Path(tmp) / "annotated.mp4", timeline=Path(tmp) / "timeline",
                                  out=Path(tmp) / "faces.csv", every=every, smooth=smooth, hold=hold,
                                  name=name)
        return {"video": rep.annotated.read_bytes() if rep.annotated else None, "codec": rep.codec,
                "timelines": [(p.stem, p.read_bytes()) for p in rep.timelines],
                "tracks": rep.summary.to_pandas(), "table": pd.read_csv(rep.out),
                "summary": rep.summary.to_dict()}


def show_video(cfg, chosen: list[str]) -> None:
    """The video part of the Predict page (the caller stops the page after it)."""
    from ..errors import FacelabError
    from .common import run_folder

    kind = st.radio("Video", ["Upload", "Sample clip"], horizontal=True, key="predict_video_kind")
    if kind == "Upload":
        up = st.file_uploader("A video", type=VIDEO_TYPES, key="predict_video_upload")
        data, name = (up.getvalue(), up.name) if up is not None else (None, None)
    else:
        data, name = sample_clip(), "sample.mp4"
    from ..predict.video_predict import HOLD

    c1, c2, c3 = st.columns(3)
    every = int(c1.number_input("Analyse one frame in", 1, 100, 1, key="predict_video_every"))
    smooth = float(c2.number_input("Smoothing (seconds; 0: off)", 0.0, 30.0, 1.0, 0.1, key="predict_video_smooth"))
    hold = float(c3.number_input("Hold labels by (0: off)", 0.0, 0.45, HOLD, 0.05, key="predict_video_hold",
                                 help="a face's label changes only once its probability crosses the threshold "
                                      "by this margin"))
    if data is None:
        st.info("Add a video to see its faces tracked, with smoothed predictions.")
        return
    if not chosen:
        st.warning("Pick at least one run.")
        return
    try:
        folders = tuple((str(f), f.stat().st_mtime) for f in (run_folder(cfg, r) for r in chosen))
        res = analyse(folders, data, name, every, smooth, hold)
    except FacelabError as e:
        st.error(e.message + (f" — {e.fix}" if e.fix else ""))
        return
    s = res["summary"]
    st.subheader(name)
    st.caption(f"{s['frames_analysed']} of {s['frames_decoded']} frames analysed, {len(s['tracks'])} face tracks, "
               f"smoothing {s['smooth']:g} s, labels held by {s['hold']:g}" + (f" — {s['note']}" if s["note"] else ""))
    if res["video"]:
        st.video(res["video"], format="video/mp4")
        if res["codec"] == "mpeg4":
            st.warning("No H.264 encoder here: the annotated video is MPEG-4 part 2, which browsers may not play.")
    for stem, png in res["timelines"]:
        st.image(png, caption=stem.replace("_", " "))
    st.subheader("Face tracks")
    st.dataframe(res["tracks"], hide_index=True, width="stretch")
    st.download_button("Download the per-frame table (CSV)", res["table"].to_csv(index=False).encode(),
                       file_name=Path(name).stem + "_faces.csv", mime="text/csv", key="dl-video-table")
