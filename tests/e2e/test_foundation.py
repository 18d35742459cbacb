"""The foundation: the built page starts Python in a worker, offline, in a real Chromium."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import wait_ready

pytestmark = pytest.mark.e2e


def test_page_reaches_ready_with_versions(page, page_log, server):
    page.goto(server.base_url)
    assert page.get_attribute("html", "data-vi-status") in ("loading", "ready")
    wait_ready(page)
    versions = page.evaluate("window.viVersions")
    import numpy

    import vi_core

    assert versions["python"].startswith("3.12.")
    # Pyodide's numpy is pinned by its lock; scipy is not loaded until something imports it.
    assert versions["numpy"] == "2.0.2" and versions["scipy"] is None
    assert versions["vi_core"] == vi_core.__version__
    assert numpy  # the host version may differ
    assert page_log.console_errors == []
    assert page_log.requests, "no requests were recorded"
    assert page_log.non_loopback_requests() == []
