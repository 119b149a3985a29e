"""The dashboard's Identify and Gallery pages (Streamlit AppTest) over a gallery made here."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

MAIN = Path(__file__).resolve().parent.parent / "src" / "facelab" / "app" / "main.py"


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FACELAB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FACELAB_RUNS", str(tmp_path / "runs"))
    return tmp_path / "home"


def _page(name: str) -> AppTest:
    at = AppTest.from_file(str(MAIN), default_timeout=120)
    at.run()
    at.switch_page(f"views/{name}.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_pages_say_how_to_make_a_gallery(home):
    at = _page("identify")
    assert "facelab gallery add" in " ".join(i.value for i in at.info)
    at = _page("gallery")
    assert at.text_input[0].value == "family"  # the form to make one is open


def test_gallery_page_lists_the_people_and_identify_offers_the_gallery(home):
    from facelab.identity.embed import Framing, unit
    from facelab.identity.gallery import open_gallery

    with open_gallery("family", create=Framing("haar")) as g:
        for i, name in enumerate(["Ann Lee", "Bob Ray"]):
            g.add_vectors(name, unit(np.random.default_rng(i).normal(size=(3, 128))))
    at = _page("gallery")
    assert at.selectbox[0].value == "family"
    text = " ".join(m.value for m in at.markdown)
    assert "Ann Lee" in text and "Bob Ray" in text and "3 faces" in text
    at = _page("identify")
    assert at.selectbox[0].value == "family" and "Upload a photo" in " ".join(c.value for c in at.caption)
