"""The dashboard's Generate page, end to end in headless Chromium: pick a generator run, draw faces, download."""
from __future__ import annotations

import pytest
from browser_support import chromium, needs_chromium, served_dashboard

pytestmark = [pytest.mark.browser, pytest.mark.slow, needs_chromium]


def test_generate_page_draws_and_offers_a_download(prepared_celeba, tmp_path, monkeypatch):
    from facelab.generate.train import train_gan

    runs = tmp_path / "runs"
    monkeypatch.setenv("FACELAB_RUNS", str(runs))
    train_gan(prepared_celeba, epochs=1, name="gan", ngf=8, ndf=8, nz=16, batch_size=32, epoch_images=64,
              quality_every=0, threads=1, progress=False)
    with served_dashboard(runs=runs, cwd=tmp_path) as url, chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.goto(f"{url}/generate", timeout=90_000)
        page.get_by_role("heading", name="Generate").wait_for(timeout=90_000)
        page.get_by_role("button", name="Draw faces").click()
        page.get_by_text("Download PNG").wait_for(timeout=90_000)
        page.get_by_text("32 faces, seed 0").wait_for(timeout=30_000)
        shot = tmp_path / "dashboard-generate.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
