"""The explore report opens in headless Chromium with every figure decoded (no broken image)."""
from __future__ import annotations

import pytest
from browser_support import chromium, needs_chromium

pytestmark = [pytest.mark.browser, needs_chromium]


def test_report_opens_with_every_figure(prepared_fer, tmp_path):
    from facelab.explore.report import explore

    rep = explore(prepared_fer, out=tmp_path / "rep", progress=False)
    with chromium() as browser:
        page = browser.new_page()
        page.goto(rep.html_path.resolve().as_uri())
        sizes = page.eval_on_selector_all("img", "imgs => imgs.map(i => [i.complete, i.naturalWidth])")
        assert len(sizes) == len(rep.figures) > 5
        assert all(done and width > 50 for done, width in sizes)  # every base64 PNG decoded
        assert page.locator("h2").count() >= 8
