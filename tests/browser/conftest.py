"""Browser tests: headless Debian Chromium driven by Playwright (``-m "not browser"`` skips them)."""

from __future__ import annotations


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "browser: drives the studio in headless Chromium (needs /usr/bin/chromium)")
