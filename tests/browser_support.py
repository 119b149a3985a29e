"""Shared plumbing of the browser tests: Debian's headless Chromium and a served dashboard."""
from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from test_serve_support import free_port, wait_for_port

CHROMIUM = "/usr/bin/chromium"
#: the flags the project runs Chromium with (headless, no network of its own)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--disable-quic"]
needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                    reason=f"Debian's chromium is not installed at {CHROMIUM}")


@contextmanager
def chromium() -> Iterator[object]:
    """A headless Chromium (Playwright's Browser), closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def served_dashboard(*, runs: Path, cwd: Path, data: Path | None = None) -> Iterator[str]:
    """``facelab app`` (its Streamlit command) on a free loopback port; yields its URL. Fails the
    test when the dashboard logged a traceback."""
    from facelab.app.launch import streamlit_command

    port = free_port()
    kw = {"runs": runs, "port": port} | ({"data": data} if data is not None else {})
    proc = subprocess.Popen(streamlit_command(**kw), env={**os.environ, "OMP_NUM_THREADS": "1"}, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for_port(port, timeout=90)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            out, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        if "Traceback" in (out or ""):
            pytest.fail("the dashboard logged a traceback:\n" + out[-3000:])
