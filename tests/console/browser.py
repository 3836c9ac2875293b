"""Headless Chromium driven by Playwright for Python, for the console's browser tests.

Debian's Chromium (``apt-get install chromium``: ``/usr/bin/chromium``, or the path in
``SWITCHBOARD_TEST_CHROMIUM``) and the ``playwright`` package; Playwright's own browser
downloads are never used. Without either the tests skip, except in CI (``CI=true``), where
they fail.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI

ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required", "--mute-audio",
]


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


def chromium() -> str:
    path = os.environ.get("SWITCHBOARD_TEST_CHROMIUM") or shutil.which("chromium") or (
        "/usr/bin/chromium"
    )
    if not Path(path).exists():
        _unavailable(f"no Chromium at {path}: apt-get install -y chromium")
    return path


def browser_context(user_data_dir: Path, **options: Any) -> Iterator[Any]:
    """A fresh persistent context (its own profile in ``user_data_dir``) of headless
    Chromium; closed afterwards."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed: pip install playwright")
    path = chromium()
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(user_data_dir), executable_path=path, headless=True, args=ARGS,
            viewport={"width": 1280, "height": 860}, **options,
        )
        try:
            yield context
        finally:
            context.close()
