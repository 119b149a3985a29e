"""End to end in headless Chromium: every dashboard page renders its key content, and a photo uploaded
on the Predict page is predicted. Each page is screenshotted (``FACELAB_SCREENSHOT=DIR`` keeps them)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from browser_support import chromium, needs_chromium, served_dashboard
from test_serve_support import TINY_RUN, face_photo, tiny_run_dir

pytestmark = [pytest.mark.browser, pytest.mark.slow, needs_chromium]

#: url path → (heading, text that proves the page's key content rendered)
PAGES = {
    "": ("facelab", "Where things are"),
    "findings": ("Findings", "Hypothesis."),
    "data": ("Data", "share of rows with each attribute"),
    "models": ("Models", "true positives (TP)"),
    "clusters": ("Clusters", "Choosing k"),
    "predict": ("Predict", "Photos from"),
    "generate": ("Generate", "No generator runs"),
    "api": ("REST API", "Endpoints"),
}


def _png(path: Path, seed: int) -> None:
    import numpy as np
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (120, 160, 3), dtype=np.uint8)).save(path)


@pytest.fixture(scope="module")
def dashboard(prepared_celeba, tmp_path_factory):
    """A served dashboard on a tiny run, a real explore report, a leaderboard and a cluster report folder."""
    from facelab.explore.report import explore

    root = tmp_path_factory.mktemp("browser")
    runs, data = root / "runs", root / "data"
    shutil.copytree(tiny_run_dir(prepared_celeba) / TINY_RUN, runs / TINY_RUN)
    board = runs / "_leaderboards" / "Smiling"
    board.mkdir(parents=True)
    pd.DataFrame({"rank": [1], "run": [TINY_RUN], "model": ["cnn"], "accuracy": [0.7], "accuracy_low": [0.65],
                  "accuracy_high": [0.75]}).to_csv(board / "leaderboard.csv", index=False)
    explore(prepared_celeba, out=data / "explore", progress=False, tsne_sample=100, silhouette_sample=300, ks=[2, 3])
    cluster = data / "cluster"
    cluster.mkdir(parents=True)
    (cluster / "report.html").write_text("<html></html>")
    (cluster / "cluster.json").write_text('{"kind": "cluster"}')
    _png(cluster / "sweep.png", 1)
    with served_dashboard(runs=runs, data=data, cwd=root) as url, chromium() as browser:
        yield browser, url, root


def _keep(shot: Path) -> None:
    keep = os.environ.get("FACELAB_SCREENSHOT")
    if keep:  # lets a person look at the pages the test saw
        dest = Path(keep)
        if dest.suffix.lower() == ".png":  # one file: the Predict page
            if "predict" in shot.name:
                shutil.copy(shot, dest)
        else:
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, dest / shot.name)


@pytest.mark.parametrize("path", list(PAGES))
def test_every_page_renders_its_key_content(dashboard, path):
    browser, url, root = dashboard
    heading, key = PAGES[path]
    # tall: Streamlit scrolls inside its own container, so a "full page" shot is the viewport
    page = browser.new_page(viewport={"width": 1400, "height": 2400})
    try:
        page.goto(f"{url}/{path}", timeout=90_000)
        page.get_by_role("heading", name=heading).first.wait_for(timeout=90_000)
        page.get_by_text(key).first.wait_for(timeout=120_000)
        if path == "predict":  # the sample photos, checked with the model before they are offered
            page.get_by_text("Samples", exact=True).click()
            page.get_by_text("face #0").first.wait_for(timeout=120_000)
            assert page.get_by_text("right: Smiling").count() + page.get_by_text(
                "gets none of the sample photos right").count() >= 1
        # every chart on the page has drawn (Vega-Lite renders a canvas or an svg)
        page.wait_for_load_state("networkidle", timeout=60_000)
        page.wait_for_timeout(1500)
        assert page.locator("[data-testid=stException]").count() == 0, page.locator(
            "[data-testid=stException]").first.inner_text()
        assert page.get_by_role("button", name="Deploy").count() == 0  # the toolbar is a viewer's
        shot = root / f"dashboard-{path or 'overview'}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        _keep(shot)
    finally:
        page.close()


def test_dashboard_upload_and_predict(dashboard):
    browser, url, root = dashboard
    photo = root / "face.jpg"
    photo.write_bytes(face_photo())
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    try:
        page.goto(f"{url}/predict", timeout=90_000)
        page.get_by_role("heading", name="Predict").wait_for(timeout=90_000)
        page.locator("input[type=file]").first.set_input_files(str(photo))
        page.get_by_text("face #0").first.wait_for(timeout=120_000)
        page.get_by_text("All predictions").wait_for(timeout=30_000)
        page.get_by_text("Download predictions (CSV)").wait_for(timeout=30_000)
        assert page.locator("[data-testid=stException]").count() == 0
        shot = root / "dashboard-predict-upload.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        _keep(shot)
    finally:
        page.close()
