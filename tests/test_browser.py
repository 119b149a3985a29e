"""End to end in headless Chromium: open the dashboard, upload a photo, see the prediction, screenshot."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from test_serve_support import TINY_RUN, face_photo, free_port, tiny_run_dir, wait_for_port

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"Debian's chromium is not installed at {CHROMIUM}"),
]


def test_dashboard_upload_and_predict(prepared_celeba, tmp_path):
    from playwright.sync_api import sync_playwright

    from facelab.app.launch import streamlit_command

    runs = tmp_path / "runs"
    shutil.copytree(tiny_run_dir(prepared_celeba) / TINY_RUN, runs / TINY_RUN)
    photo = tmp_path / "face.jpg"
    photo.write_bytes(face_photo())
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(streamlit_command(runs=runs, port=port), env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for_port(port, timeout=90)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--no-first-run", "--disable-sync", "--disable-quic"])
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1100})
                page.goto(f"http://127.0.0.1:{port}/predict", timeout=90_000)
                page.get_by_role("heading", name="Predict").wait_for(timeout=90_000)
                page.locator("input[type=file]").first.set_input_files(str(photo))
                page.get_by_text("face #0").first.wait_for(timeout=120_000)
                page.get_by_text("All predictions").wait_for(timeout=30_000)
                page.get_by_text("Download predictions (CSV)").wait_for(timeout=30_000)
                shot = tmp_path / "dashboard-predict.png"
                page.screenshot(path=str(shot), full_page=True)
                assert shot.stat().st_size > 10_000
                keep = os.environ.get("FACELAB_SCREENSHOT")
                if keep:  # lets a person look at the page the test saw
                    shutil.copy(shot, keep)
            finally:
                browser.close()
    finally:
        proc.terminate()
        try:
            out, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        if "Traceback" in (out or ""):
            pytest.fail("the dashboard logged a traceback:\n" + out[-3000:])
