"""Predict: upload photos (or take one, or pick a sample), see the faces boxed and labelled, download CSV;
or a video: its faces tracked, the annotated video played with a timeline per track."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from facelab.app.common import config, load_predictor, load_run, run_folder, run_names
from facelab.app.samples import expected_faces, sample_photos
from facelab.pretrained import shipped_names

cfg = config()
st.title("Predict")
names = run_names(str(cfg.runs))
if not names:  # a fresh install: the models shipped with facelab
    names = shipped_names()
    st.caption(f"No runs in `{cfg.runs}` yet: predicting with the models shipped with facelab "
               "(train your own with `facelab train DATA --target Smiling`).")

chosen = st.multiselect("Runs", names, default=names[:1], key="predict_runs")
source = st.radio("Photos from", ["Upload", "Camera", "Samples", "Video"], horizontal=True, key="predict_source")
if source == "Video":
    from facelab.app.video_view import show_video

    show_video(cfg, chosen)
    st.stop()
explain_on = st.toggle("explain", key="predict_explain",
                       help="Overlay a saliency map on each face: where the model looked for the chosen output "
                            "(Grad-CAM for networks; see docs/explain.md).")
explain_output = "top"
if explain_on:
    explain_output = st.text_input("output to explain", "top", key="predict_explain_output",
                                   help="an output name such as Smiling, or top: each face's most probable output")



@st.cache_data(show_spinner="checking the sample photos with the model…", max_entries=16)
def checked_samples(folder: str, mtime: float) -> dict:
    """Each sample photo checked against the labels it was drawn with (cached per run)."""
    from facelab.data.image import load_image
    from facelab.predict.check import check_photo

    run = load_run(folder, mtime)
    predictor = load_predictor(folder, mtime)
    targets = run.task.targets if run.task.kind == "multiclass" else None
    return {name: check_photo(predictor.predict(load_image(path.read_bytes(), name=path.name)),
                              expected_faces(name), run.task.classes, targets)
            for name, path in sample_photos().items()}


def sample_checks(run_name: str) -> dict:
    from facelab.errors import FacelabError
    from facelab.predict.check import PhotoCheck

    try:
        folder = run_folder(cfg, run_name)  # a run of the runs folder, else a shipped model
        return checked_samples(str(folder), folder.stat().st_mtime)
    except (FacelabError, OSError):  # the run's own error shows when it predicts below
        return {name: PhotoCheck() for name in sample_photos()}


photos: list[tuple[str, bytes]] = []
if source == "Upload":
    files = st.file_uploader("Photos", type=["jpg", "jpeg", "png", "webp", "bmp"], accept_multiple_files=True,
                             key="predict_upload")
    photos = [(f.name, f.getvalue()) for f in files or []]
elif source == "Camera":
    shot = st.camera_input("Take a photo", key="predict_camera")
    if shot is not None:
        photos = [("camera.jpg", shot.getvalue())]
else:
    samples = sample_photos()
    checks = {r: sample_checks(r) for r in chosen}
    # a sample is offered first when every chosen run that can be checked on it gets it right
    right = [s_ for s_ in samples if any(checks[r][s_].checked for r in chosen)
             and all(checks[r][s_].ok for r in chosen if checks[r][s_].checked)]
    for r in chosen:
        if not any(c.checked for c in checks[r].values()):
            st.info(f"`{r}` predicts nothing the sample photos are labelled with: they cannot be checked.")
        elif not any(c.ok for c in checks[r].values()):
            worst = next(f"{n}: {c.wrong[0]}" for n, c in checks[r].items() if c.wrong)
            st.warning(f"`{r}` gets none of the sample photos right (e.g. {worst}): a model that is too "
                       "small or too briefly trained, or synthetic faces unlike its training data.")
    if right:
        wrong = sorted({f"{n} ({c.wrong[0]})" for r in chosen for n, c in checks[r].items() if c.wrong})
        st.caption("Sample photos the chosen model(s) get right: " + ", ".join(right) + "."
                   + (" Wrong on: " + "; ".join(wrong) + "." if wrong else ""))
    picked = st.multiselect("Sample photos (synthetic faces; download them to try the API)", list(samples),
                            default=right[:1] or list(samples)[:1], key="predict_samples")
    cols = st.columns(3)
    for i, (sname, path) in enumerate(samples.items()):
        cols[i % 3].download_button(f"⬇ {sname}.jpg", path.read_bytes(), file_name=path.name, mime="image/jpeg",
                            key=f"dl-sample-{sname}")
    photos = [(f"{s}.jpg", samples[s].read_bytes()) for s in picked]

if not photos:
    st.info("Add a photo to see the faces found and their predictions.")
    st.stop()
if not chosen:
    st.warning("Pick at least one run.")
    st.stop()

from facelab.data.image import load_image  # noqa: E402  (after st.stop: no import cost when idle)
from facelab.errors import FacelabError  # noqa: E402

rows = []
for fname, data in photos:
    st.subheader(fname)
    try:
        image = load_image(data, name=fname)
    except FacelabError as e:
        st.error(e.message)
        continue
    cols = st.columns(len(chosen))
    for col, run_name in zip(cols, chosen):
        folder = run_folder(cfg, run_name)
        with col:
            try:
                predictor = load_predictor(str(folder), folder.stat().st_mtime)
                wanted = None
                if explain_on:  # an output this run lacks: its most probable one instead
                    wanted = explain_output if explain_output in predictor.classes else "top"
                with st.spinner(f"{run_name}…"):
                    result = predictor.predict(image, explain=wanted)
            except FacelabError as e:
                st.error(f"{run_name}: {e.message}" + (f" — {e.fix}" if e.fix else ""))
                continue
            # Photo-sized at most: a small photo is not blown up, a big one fits the column.
            st.image(result.draw(image), caption=f"{run_name}: {len(result.faces)} face(s)",
                     width=min(int(image.shape[1]), 720))
            if result.error:
                st.error(result.error)
            if not result.faces:
                st.warning(result.note or "no face found in this photo")
            elif result.note:
                st.caption(result.note)
            sample = fname[:-4] if source == "Samples" and fname[:-4] in samples else None
            if sample:
                c = checks[run_name][sample]
                if c.ok:
                    st.success("right: " + "; ".join(c.right), icon=":material/check_circle:")
                elif c.wrong:
                    st.warning("wrong: " + "; ".join(c.wrong), icon=":material/warning:")
            for face in result.faces:
                labels = face.verdict or ", ".join(face.labels) or (face.note or "")
                st.markdown(f"**face #{face.index}** → {labels}")
                for e in face.explain:
                    if e.map is None:
                        st.caption(f"{e.output}: {e.note}")
                        continue
                    from facelab.explain.render import overlay

                    st.image(overlay(e.crop, e.map), width=192,
                             caption=f"where it looked for {e.output} ({e.probability:.2f}, {e.method})")
                row = {"file": fname, "run": run_name, "face": face.index, "x": round(face.box.x),
                       "y": round(face.box.y), "w": round(face.box.w), "h": round(face.box.h),
                       "labels": ";".join(face.labels)}
                row.update({f"p_{k}": round(float(v), 4) for k, v in face.probabilities.items()})
                rows.append(row)
                st.dataframe(pd.DataFrame({"output": list(face.probabilities),
                                           "probability": [float(v) for v in face.probabilities.values()]}),
                             hide_index=True, width="stretch",
                             column_config={"probability": st.column_config.ProgressColumn(min_value=0.0,
                                                                                           max_value=1.0,
                                                                                           format="%.3f")})

if rows:
    table = pd.DataFrame(rows)
    st.subheader("All predictions")
    st.dataframe(table, hide_index=True, width="stretch")
    st.download_button("Download predictions (CSV)", table.to_csv(index=False).encode(),
                       file_name="predictions.csv", mime="text/csv", key="dl-predictions")
