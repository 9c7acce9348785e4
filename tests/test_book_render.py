"""The rendered book, opened in a real browser (headless Chromium driven through ChromeDriver).

Run after ``make book`` with ``make check-book`` (it is excluded from ``make test``). For the index and
every page in ``_toc.yml`` it checks the title, that tables and figures rendered (images decoded by
the browser), and that no error output shows; it saves a screenshot of each page under
``book/_build/screenshots/``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest

from effconv.book import toc_pages

pytestmark = pytest.mark.book

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "book" / "_build" / "html"
SHOTS = ROOT / "book" / "_build" / "screenshots"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage", "--window-size=1280,1000"]


def source_title(page: str) -> str:
    """The page's H1 as written in its source (markdown page or notebook)."""
    generated = ROOT / f"{page}.ipynb"
    if generated.exists():
        cells = json.loads(generated.read_text())["cells"]
        text = "".join(next(c for c in cells if c["cell_type"] == "markdown")["source"])
    else:
        text = (ROOT / f"{page}.md").read_text()
    first = next(line for line in text.splitlines() if line.startswith("# "))
    return first[2:].strip()


def expects_results(page: str) -> bool:
    """Chapters and the overview must show at least one table and one figure."""
    return "/_generated/" in f"/{page}" and not page.endswith("provenance")


@pytest.fixture(scope="module")
def browser():
    if not (HTML / "index.html").exists():
        pytest.fail("book/_build/html/index.html is missing: run `make book` first.")
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver_path:
        pytest.fail("Chromium and ChromeDriver are needed: `make browser-deps` installs Debian's packages.")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="effconv-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in [*FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(60)
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


ERROR_SELECTORS = ".output.stderr, .output.error, .output.traceback, div.stderr, .nboutput .stderr"


@pytest.mark.parametrize("page", ["index", *toc_pages()])
def test_page_renders(browser, page):
    target = HTML / ("index.html" if page == "index" else f"{page}.html")
    assert target.exists(), f"{target} was not built"
    browser.get(target.as_uri())
    browser.execute_script("return document.readyState")  # wait for load
    title = browser.title
    expected = source_title(toc_pages()[0] if page == "index" else page)
    assert title.startswith(expected), f"title {title!r} does not start with {expected!r}"

    errors = browser.find_elements("css selector", ERROR_SELECTORS)
    assert not errors, f"{page}: error output shows: {[e.text[:200] for e in errors]}"
    body = browser.find_element("tag name", "body").text
    assert "Traceback (most recent call last)" not in body, f"{page}: a traceback is shown"

    images = browser.execute_script(
        "return Array.from(document.querySelectorAll('main img, article img, .bd-article img'))"
        ".map(i => [i.getAttribute('src'), i.complete && i.naturalWidth > 0]);")
    broken = [src for src, ok in images if not ok]
    assert not broken, f"{page}: images failed to load: {broken}"
    tables = browser.find_elements("css selector", "main table, article table")
    if expects_results(page):
        assert tables, f"{page}: no table rendered"
        assert images, f"{page}: no figure rendered"

    height = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(1280, min(max(height, 800), 12000))
    browser.save_screenshot(str(SHOTS / f"{page.replace('/', '_')}.png"))
    browser.set_window_size(1280, 1000)
