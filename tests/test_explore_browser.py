"""The explore report opens in headless Chromium with every figure decoded (no broken image)."""
from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"Debian's chromium is not installed at {CHROMIUM}"),
]


def test_report_opens_with_every_figure(prepared_fer, tmp_path):
    from playwright.sync_api import sync_playwright

    from facelab.explore.report import explore

    rep = explore(prepared_fer, out=tmp_path / "rep", progress=False)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"])
        try:
            page = browser.new_page()
            page.goto(rep.html_path.resolve().as_uri())
            sizes = page.eval_on_selector_all("img", "imgs => imgs.map(i => [i.complete, i.naturalWidth])")
            assert len(sizes) == len(rep.figures) > 5
            assert all(done and width > 50 for done, width in sizes)  # every base64 PNG decoded
            assert page.locator("h2").count() >= 8
        finally:
            browser.close()
