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
    import scipy

    import vi_core

    assert versions["python"].startswith("3.12.")
    assert versions["numpy"] == "2.0.2" and versions["scipy"] == "1.14.1"
    assert versions["vi_core"] == vi_core.__version__
    assert numpy and scipy  # the host versions may differ; Pyodide's are pinned by its lock
    assert page_log.console_errors == []
    assert page_log.requests, "no requests were recorded"
    assert page_log.non_loopback_requests() == []
