"""One headless Chromium for the dashboard tests (Debian's ``chromium`` and ``chromedriver``,
installed by ``.ci/run``), and screenshots of each page at a desktop and a phone size in
``tmp/artifacts/ui``."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parents[2] / "tmp" / "artifacts" / "ui"
SIZES = {"desktop": (1280, 800, False), "phone": (390, 844, True)}
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")
REQUIRE_ENV = "LIPSYNC_EMULATOR_REQUIRE_BROWSER"  # set by .ci/run: a missing browser fails there


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(f"{CHROMIUM} and {CHROMEDRIVER} are required (apt-get install chromium chromium-driver)")
        pytest.skip("no chromium: apt-get install chromium chromium-driver (.ci/run does)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="lipsync-emulator-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    _size(driver, "desktop")
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _size(driver: Any, name: str) -> None:
    width, height, mobile = SIZES[name]
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})


@pytest.fixture
def screenshot(browser: Any) -> Callable[[str], list[Path]]:
    """``screenshot("jobs")`` saves the page as it is at each size; the browser is left at desktop size."""
    from selenium.webdriver.support.ui import WebDriverWait

    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> list[Path]:
        paths = []
        # the page as it stays, without the passing notice of the last action
        browser.execute_script("document.getElementById('toast').className = ''")
        WebDriverWait(browser, 10).until(lambda d: d.execute_script(
            "return getComputedStyle(document.getElementById('toast')).opacity === '0'"))
        for size in SIZES:
            _size(browser, size)
            # the live page redraws for the new width (the job's timeline): wait for it
            WebDriverWait(browser, 10).until(lambda d: d.execute_script(
                "return document.getElementById('main').dataset.width == window.innerWidth"))
            path = ARTIFACTS / f"{name}-{size}.png"
            assert browser.save_screenshot(str(path)), path
            paths.append(path)
        _size(browser, "desktop")
        return paths

    return take
