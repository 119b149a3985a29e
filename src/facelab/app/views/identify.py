"""Identify: upload a photo, see each face with the nearest people of a gallery (and their photos)."""
from __future__ import annotations

import streamlit as st

from facelab.app.gallery_common import gallery_names, open_chosen, person_thumbs
from facelab.errors import FacelabError

st.title("Identify")
names = gallery_names()
if not names:
    st.info("No galleries yet. Make one with `facelab gallery add NAME people/` (one sub-folder of photos per "
            "person), or on the Gallery page.")
    st.stop()
name = st.selectbox("Gallery", names, key="identify_gallery")
top_k = st.slider("Candidates per face", 1, 5, 3, key="identify_topk")
upload = st.file_uploader("Photo", type=["jpg", "jpeg", "png", "webp", "bmp"], key="identify_upload")
if upload is None:
    st.caption("Upload a photo: every face is compared with the gallery's people; beyond the threshold it is "
               "`unknown`.")
    st.stop()

from facelab.identity.identify import UNKNOWN, identify_image  # noqa: E402

try:
    with open_chosen(name) as g, st.spinner("finding and comparing faces…"):
        rep = identify_image(g, upload.getvalue(), name=upload.name, top_k=top_k)
        thumbs = {m.person: person_thumbs(g, m.person, 4) for f in rep.faces for m in f.candidates}
except FacelabError as e:
    st.error(str(e))
    st.stop()

st.image(upload.getvalue(), caption=upload.name, width=360)
th = rep.threshold
st.caption(f"threshold {th.value:.3f} ({th.source}); {len(rep.faces)} face(s)")
for p in rep.problems:
    st.warning(f"{p[0]}: {p[1]}")
for f in rep.faces:
    verdict = "unknown" if f.person == UNKNOWN else f.person
    st.subheader(f"Face {f.face}: {verdict} (distance {f.distance:.3f})")
    for m in f.candidates:
        cols = st.columns([2, 5])
        cols[0].markdown(f"**{m.person}** — {m.distance:.3f}" + (" ✓" if m.distance <= th.value else ""))
        imgs = thumbs.get(m.person) or []
        if imgs:
            cols[1].image(imgs, width=80)
