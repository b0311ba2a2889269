"""Real headless Chromium for browser tests and benches: one way to start it, always on this machine's binary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
DEADLINE_S = 10.0


def start_chromium(profile_dir: Path, window: str = "1000,700") -> Any:
    """A headless Chromium with its own profile; page loads and scripts time out after DEADLINE_S."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--window-size={window}",
    ):
        options.add_argument(arg)
    options.add_argument(f"--user-data-dir={profile_dir}")
    browser = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    browser.set_page_load_timeout(DEADLINE_S)
    browser.set_script_timeout(DEADLINE_S)
    return browser
