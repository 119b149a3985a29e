"""The Identify and Gallery pages in headless Chromium: a gallery made here, a photo uploaded and
compared with its people."""
from __future__ import annotations

import os

import numpy as np
import pytest
from browser_support import chromium, needs_chromium, served_dashboard
from predict_support import needs_dlib

pytestmark = [pytest.mark.browser, pytest.mark.slow, needs_chromium,
              needs_dlib]


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory):
    from facelab.data.synth import synthesize
    from facelab.identity.enroll import add_people
    from facelab.identity.photos import people_folders

    root = tmp_path_factory.mktemp("browser-identity")
    people = synthesize(root / "people", kind="folder", n=6, seed=5, identities=2)
    old = os.environ.get("FACELAB_HOME")
    os.environ["FACELAB_HOME"] = str(root / "home")
    try:
        folders = people_folders(people)
        add_people("family", {p: fs[:2] for p, fs in folders.items()}, detector="haar")
        probe = next(iter(folders.values()))[2]
        with served_dashboard(runs=root / "runs", cwd=root) as url, chromium() as browser:
            yield browser, url, probe, sorted(folders)
    finally:
        if old is None:
            os.environ.pop("FACELAB_HOME", None)
        else:
            os.environ["FACELAB_HOME"] = old


def test_gallery_page_shows_the_people(dashboard):
    browser, url, _, names = dashboard
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    try:
        page.goto(f"{url}/gallery", timeout=90_000)
        page.get_by_role("heading", name="Gallery").wait_for(timeout=90_000)
        for n in names:
            page.get_by_text(n).first.wait_for(timeout=60_000)
        assert page.locator("[data-testid=stException]").count() == 0
    finally:
        page.close()


def test_identify_page_names_an_uploaded_face(dashboard):
    browser, url, probe, names = dashboard
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    try:
        page.goto(f"{url}/identify", timeout=90_000)
        page.get_by_role("heading", name="Identify").wait_for(timeout=90_000)
        page.locator("input[type=file]").first.set_input_files(str(probe))
        page.get_by_text("Face 0:").first.wait_for(timeout=180_000)
        page.get_by_text(names[0]).first.wait_for(timeout=30_000)  # among the candidates, with their faces
        assert page.locator("[data-testid=stException]").count() == 0
    finally:
        page.close()
