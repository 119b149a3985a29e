"""Gallery: the people of a gallery with their faces; add a person from uploaded photos."""
from __future__ import annotations

import streamlit as st

from facelab.app.gallery_common import gallery_names, open_chosen, person_thumbs
from facelab.errors import FacelabError

st.title("Gallery")
names = gallery_names()
with st.expander("Add a person" if names else "Make a gallery", expanded=not names):
    with st.form("gallery_add", clear_on_submit=True):
        gname = st.text_input("Gallery", value=names[0] if names else "family")
        person = st.text_input("Person", placeholder="Ann Lee")
        files = st.file_uploader("Photos of them (one face each)", type=["jpg", "jpeg", "png", "webp", "bmp"],
                                 accept_multiple_files=True)
        if st.form_submit_button("Add") and person and files:
            from facelab.faces.detect import DEFAULT_DETECTOR
            from facelab.identity.embed import Framing
            from facelab.identity.enroll import add_images
            from facelab.identity.gallery import open_gallery

            try:
                with open_gallery(gname, create=Framing(DEFAULT_DETECTOR)) as g, st.spinner("embedding…"):
                    rep = add_images(g, person, [(f.name, f.getvalue()) for f in files])
                st.success(f"added {rep.change.added} face(s) of {person} to {rep.gallery}")
                for f, p in rep.skipped:
                    st.warning(f"{f}: {p}")
                names = gallery_names()
            except FacelabError as e:
                st.error(str(e))
if not names:
    st.stop()
name = st.selectbox("Gallery", names, key="gallery_name")
try:
    with open_chosen(name) as g:
        info = g.to_dict()
        people = [(p, person_thumbs(g, p.name, 8)) for p in g.people()]
except FacelabError as e:
    st.error(str(e))
    st.stop()
th = info["threshold"]
st.caption(f"{info['people']} people, {info['faces']} faces · {info['framing']['detector']} detector, "
           f"mirror {info['framing']['mirror']} · threshold "
           + (f"{th['value']:.3f} ({th['source']})" if th else "default") + f" · `{info['path']}`")
for p, thumbs in people:
    cols = st.columns([2, 6])
    cols[0].markdown(f"**{p.name}**  \n{p.faces} faces")
    if thumbs:
        cols[1].image(thumbs, width=72)
