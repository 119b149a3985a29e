"""The dashboard's Generate page, end to end in headless Chromium: pick a generator run, draw faces, download."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from test_serve_support import free_port, wait_for_port

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"Debian's chromium is not installed at {CHROMIUM}"),
]


def test_generate_page_draws_and_offers_a_download(prepared_celeba, tmp_path, monkeypatch):
    from playwright.sync_api import sync_playwright

    from facelab.app.launch import streamlit_command
    from facelab.generate.train import train_gan

    runs = tmp_path / "runs"
    monkeypatch.setenv("FACELAB_RUNS", str(runs))
    train_gan(prepared_celeba, epochs=1, name="gan", ngf=8, ndf=8, nz=16, batch_size=32, epoch_images=64,
              quality_every=0, threads=1, progress=False)
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
                page.goto(f"http://127.0.0.1:{port}/generate", timeout=90_000)
                page.get_by_role("heading", name="Generate").wait_for(timeout=90_000)
                page.get_by_role("button", name="Draw faces").click()
                page.get_by_text("Download PNG").wait_for(timeout=90_000)
                page.get_by_text("32 faces, seed 0").wait_for(timeout=30_000)
                shot = tmp_path / "dashboard-generate.png"
                page.screenshot(path=str(shot), full_page=True)
                assert shot.stat().st_size > 10_000
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
