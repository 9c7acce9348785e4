"""The rendered book, opened in a real browser (headless Chromium driven through ChromeDriver).

Run after ``make book`` with ``make check-book`` (it is excluded from ``make test``). For the index and
every page in ``_toc.yml`` it checks the title, that tables and figures rendered (images decoded by
the browser), and that no error output shows; it saves a screenshot of each page under
``book/_build/screenshots/``. It also checks the page as a reader sees it: the math is typeset from
the book's own copy of MathJax (nothing is loaded from the network), no table runs past the content
column or is cut off, no table shows pandas' truncation, every page links to the repository, and the
bibliography's labels read as the text cites (author, year).
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path

import pytest

from effconv.api_reference import API_PAGES, page_targets
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


# One pass of measurements per page, shared by the checks below. MathJax typesets asynchronously, so
# the script waits for its startup promise (when the page loads MathJax at all) before measuring.
MEASURE = r"""
const done = arguments[arguments.length - 1];
const column = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;

function measure() {
  const box = column.getBoundingClientRect();
  const style = getComputedStyle(column);
  const left = box.left + parseFloat(style.paddingLeft), right = box.right - parseFloat(style.paddingRight);
  const skip = n => n.parentElement && n.parentElement.closest('pre, code, script, style, mjx-container, .highlight');

  // math: every .math element holds MathJax output; no TeX delimiters left in the visible text
  const math = Array.from(column.querySelectorAll('.math'));
  const raw = math.filter(m => !m.querySelector('mjx-container')).map(m => m.textContent.trim().slice(0, 80));
  const walker = document.createTreeWalker(column, NodeFilter.SHOW_TEXT);
  const leftover = [];
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (skip(node)) continue;
    const text = node.nodeValue;
    if (/\\\(|\\\[|\\begin\{|\$\$|\$[^$\s][^$]*\\[A-Za-z]+[^$]*\$/.test(text)) leftover.push(text.trim().slice(0, 80));
  }
  const mathErrors = Array.from(column.querySelectorAll('mjx-merror, [data-mjx-error]'))
    .map(e => e.getAttribute('data-mjx-error') || e.textContent.slice(0, 80));
  const remote = Array.from(document.querySelectorAll('script[src], link[rel~="stylesheet"][href], img[src]'))
    .map(e => e.getAttribute('src') || e.getAttribute('href')).filter(u => /^(https?:)?\/\//.test(u));

  // tables: how wide, what clips them, and pandas' truncation marks
  // a header is cut when one of its words is wider than the cell's content box (it breaks mid-word: "ki")
  const probe = document.createElement('span');
  probe.style.cssText = 'position:absolute;visibility:hidden;white-space:nowrap;left:-9999px';
  document.body.appendChild(probe);
  function cutHeaders(table) {
    return Array.from(table.querySelectorAll('thead th')).filter(th => {
      const cs = getComputedStyle(th);
      const inner = th.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
      probe.style.font = cs.font;
      probe.style.letterSpacing = cs.letterSpacing;
      // a break after a hyphen or slash is a line break, not a cut ("speed-/up")
      const words = th.textContent.trim().split(/\s+|(?<=[-\u2010\u2013\/])/).filter(Boolean);
      return th.getBoundingClientRect().width > 0 && (th.scrollWidth > th.clientWidth + 1 ||
        words.some(w => { probe.textContent = w; return probe.getBoundingClientRect().width > inner + 1; }));
    }).map(th => th.textContent.trim());
  }
  const tables = Array.from(column.querySelectorAll('table')).map((table, index) => {
    const r = table.getBoundingClientRect();
    let visibleLeft = r.left, visibleRight = r.right, clippedBy = null, scrollBox = false;
    for (let a = table.parentElement; a && a !== column; a = a.parentElement) {
      const overflow = getComputedStyle(a).overflowX;
      if (overflow === 'visible') continue;
      const ar = a.getBoundingClientRect();
      if ((overflow === 'auto' || overflow === 'scroll') && ar.right <= right + 1 && ar.left >= left - 1) scrollBox = true;
      if ((overflow === 'hidden' || overflow === 'clip') && (r.right > ar.right + 1 || r.left < ar.left - 1))
        clippedBy = a.tagName.toLowerCase() + (a.className ? '.' + String(a.className).trim().split(/\s+/).join('.') : '');
      visibleLeft = Math.max(visibleLeft, ar.left);
      visibleRight = Math.min(visibleRight, ar.right);
    }
    const cells = Array.from(table.querySelectorAll('td, th')).map(c => c.textContent.trim());
    const heads = Array.from(table.querySelectorAll('thead th')).map(c => c.textContent.trim()).filter(Boolean);
    const output = table.closest('.cell_output, .output');
    return {
      index, shown: r.width > 0 && r.height > 0, width: Math.round(r.width), scrollBox,
      styled: table.classList.contains('effconv-table'),
      output: !!output, findings: !!table.closest('.effconv-findings'),
      headers: Array.from(table.querySelectorAll('thead th')).map(c => c.textContent.trim()),
      cutHeaders: cutHeaders(table),
      past: Math.round(Math.max(visibleRight - right, left - visibleLeft)), clippedBy,
      label: (table.caption ? table.caption.textContent.trim() + ': ' : '') + heads.slice(0, 4).join(' | '),
      ellipsis: cells.filter(c => c === '...' || c === '…').length,
      cut: cells.filter(c => c.length > 3 && /(\.\.\.|…)$/.test(c)).map(c => c.slice(-60)),
      rowsMarker: output ? /\d+ rows × \d+ columns/.test(output.textContent) : false,
      verdicts: Array.from(table.querySelectorAll('td')).filter(c => c.textContent.trim() === 'reproduced')
        .map(c => getComputedStyle(c).backgroundColor),
    };
  });
  const printed = Array.from(column.querySelectorAll('.cell_output pre, .output pre'))
    .filter(p => /\[\d+ rows x \d+ columns\]/.test(p.textContent)).length;

  const repo = Array.from(document.querySelectorAll('a[href^="https://github.com/"]')).map(a => a.getAttribute('href'));
  const labels = Array.from(document.querySelectorAll('.citation .label, div.citation > span.label'))
    .map(l => l.textContent.trim());
  done({width: Math.round(right - left), math: math.length, typeset: column.querySelectorAll('mjx-container').length,
        raw, leftover, mathErrors, remote, tables, printed, repo, labels});
}

const wantsMath = column.querySelector('.math') || document.querySelector('script[src*="mathjax"]');
let tries = 0;
(function wait() {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) MathJax.startup.promise.then(measure, measure);
  else if (wantsMath && tries++ < 200) setTimeout(wait, 100);
  else measure();
})();
"""

_FACTS: dict[str, dict] = {}


def facts(browser, page: str) -> dict:
    if page not in _FACTS:
        target = HTML / f"{page}.html"
        assert target.exists(), f"{target} was not built"
        browser.set_window_size(1280, 1000)
        browser.get(target.as_uri())
        browser.set_script_timeout(60)
        _FACTS[page] = browser.execute_async_script(MEASURE)
    return _FACTS[page]


PAGES = toc_pages()  # index.html only redirects to the first of them
TABLE_HELP = "show it with effconv.claims.style.styled(df) (and call set_display_options() once)"


@pytest.mark.parametrize("page", PAGES)
def test_math_is_typeset_offline(browser, page):
    seen = facts(browser, page)
    assert not seen["remote"], f"{page}: loads from the network (the book must work offline): {seen['remote']}"
    assert not seen["raw"], f"{page}: {len(seen['raw'])} formulas left as raw TeX, e.g. {seen['raw'][:3]}"
    assert not seen["leftover"], f"{page}: TeX delimiters in the text: {seen['leftover'][:3]}"
    assert not seen["mathErrors"], f"{page}: MathJax errors: {seen['mathErrors'][:3]}"
    if seen["math"]:
        assert seen["typeset"] >= seen["math"], f"{page}: {seen['math']} formulas, {seen['typeset']} typeset"


@pytest.mark.parametrize("page", PAGES)
def test_tables_fit_the_content_column(browser, page):
    """Every table fits the text column at 1280 px: none runs past it, is cut off, or needs a scroll box
    (fold what does not fit into a per-row detail: effconv.claims.style.styled_folded / styled_ledger)."""
    seen = facts(browser, page)
    bad = []
    for t in seen["tables"]:
        if not t["shown"]:
            continue
        where = f"table {t['index'] + 1} [{t['label'][:70]}]: {t['width']} px wide"
        if t["clippedBy"]:
            bad.append(f"{where}, cut off by {t['clippedBy']}")
        elif t["past"] > 1:
            bad.append(f"{where}, runs {t['past']} px past the column")
        elif t["width"] > seen["width"] + 1:
            bad.append(f"{where}, wider than the column" + (" (it scrolls)" if t["scrollBox"] else ""))
    assert not bad, (f"{page}: {len(bad)} tables do not fit the {seen['width']} px content column "
                     f"({TABLE_HELP}; fold wide columns with styled_folded):\n  " + "\n  ".join(bad))


@pytest.mark.parametrize("page", PAGES)
def test_table_headers_are_not_cut(browser, page):
    """No header breaks inside a word or overflows its cell ("ki" for "kind")."""
    bad = [f"table {t['index'] + 1} [{t['label'][:60]}]: {t['cutHeaders'][:4]}"
           for t in facts(browser, page)["tables"] if t["shown"] and t["cutHeaders"]]
    assert not bad, f"{page}: headers cut short (give the column room or a shorter name):\n  " + "\n  ".join(bad)


@pytest.mark.parametrize("page", PAGES)
def test_tables_are_not_truncated(browser, page):
    seen = facts(browser, page)
    bad = []
    for t in seen["tables"]:
        where = f"table {t['index'] + 1} [{t['label'][:70]}]"
        if t["rowsMarker"] or t["ellipsis"]:
            bad.append(f"{where}: pandas dropped rows or columns ('rows ×' / '...' cells)")
        if t["cut"]:
            bad.append(f"{where}: {len(t['cut'])} cells cut short, e.g. {t['cut'][0]!r}")
    if seen["printed"]:
        bad.append(f"{seen['printed']} printed DataFrames with '[N rows x M columns]'")
    assert not bad, f"{page}: truncated tables ({TABLE_HELP}):\n  " + "\n  ".join(bad)


@pytest.mark.parametrize("page", PAGES)
def test_tables_read_as_words(browser, page):
    """Every table a notebook shows went through styled(): reader names, so no snake_case header."""
    bad = []
    for t in facts(browser, page)["tables"]:
        if not t["output"]:
            continue  # a table written in the page's markdown
        where = f"table {t['index'] + 1} [{t['label'][:70]}]"
        if not (t["styled"] or t["findings"]):  # the findings box has its own look, the same verdict colours
            bad.append(f"{where}: not shown through styled()")
        underscored = [h for h in t["headers"] if "_" in h]
        if underscored:
            bad.append(f"{where}: headers {underscored[:4]} read as code")
    assert not bad, f"{page}: {len(bad)} tables ({TABLE_HELP}, names={{...}} for the rest):\n  " + "\n  ".join(bad)


@pytest.mark.parametrize("page", PAGES)
def test_links_to_the_repository(browser, page):
    import yaml

    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    assert url in facts(browser, page)["repo"], f"{page}: no link to the repository {url}"


def test_verdicts_show_in_colour(browser):
    """The overview's ledger passes through styled(): a 'reproduced' cell has its verdict colour."""
    page = next(p for p in PAGES if p.endswith("overview"))
    colours = [c for t in facts(browser, page)["tables"] for c in t["verdicts"]]
    assert colours, f"{page}: no 'reproduced' verdict cell found"
    plain = {"rgba(0, 0, 0, 0)", "transparent"}
    assert all(c not in plain for c in colours), f"{page}: verdict cells are not coloured ({TABLE_HELP})"


def test_bibliography_labels_are_author_year(browser):
    page = next(p for p in PAGES if p.endswith("bibliography"))
    labels = facts(browser, page)["labels"]
    assert labels, f"{page}: no bibliography entries found"
    odd = [label for label in labels if not re.fullmatch(r"\[?[^\[\]]+, (\d{4}|n\.d\.)\]?", label)]
    assert not odd, f"{page}: labels not in the text's author-year form: {odd[:5]}"


# Every image in a chapter's text column, with the figure that holds it and that figure's caption.
FIGURES = r"""
const column = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
return Array.from(column.querySelectorAll('img')).map(img => {
  const figure = img.closest('figure');
  const caption = figure ? figure.querySelector('figcaption') : null;
  const number = caption ? caption.querySelector('.caption-number') : null;
  return {src: (img.getAttribute('src') || '').slice(-60), id: figure ? figure.id : '',
          number: number ? number.textContent.trim() : '', caption: caption ? caption.textContent.trim() : ''};
});
"""
CHAPTER_PAGES = [p for p in PAGES if re.search(r"/\d\d_[a-z]+$", p)]
FIGURE_PAGES = [p for p in PAGES if "/_generated/" in f"/{p}"]  # the executed pages: chapters and book pages


def chapter_figures(browser, page: str) -> list[dict]:
    target = HTML / f"{page}.html"
    assert target.exists(), f"{target} was not built"
    browser.get(target.as_uri())
    return browser.execute_script(FIGURES)


@pytest.mark.parametrize("page", FIGURE_PAGES)
def test_every_figure_is_numbered_and_captioned(browser, page):
    """Each image sits in a figure with a "Fig. N" number and a caption (glue_figure + {glue:figure}), on the
    chapters and on the book's own pages (overview, performance ...) alike; a chapter has at least one."""
    figures = chapter_figures(browser, page)
    assert figures or page not in CHAPTER_PAGES, f"{page}: no figure"
    bad = [f"{f['src']}: " + ("not in a <figure>" if not f["id"] and not f["caption"] else
                              f"caption {f['caption'][:60]!r} has no 'Fig.' number" if not f["number"].startswith("Fig.")
                              else "caption too short to say what is plotted")
           for f in figures if not f["number"].startswith("Fig.") or len(f["caption"]) < 60]
    assert not bad, (f"{page}: {len(bad)} images without a numbered caption (glue them with "
                     "effconv.analysis.plots.glue_figure and place them with a {glue:figure} directive):\n  "
                     + "\n  ".join(bad))
    numbers = [f["number"] for f in figures]
    assert len(set(numbers)) == len(numbers), f"{page}: figure numbers repeat: {numbers}"


def test_the_rotation_result_is_drawn_as_gaps(browser):
    page = next(p for p in CHAPTER_PAGES if p.endswith("03_acnet"))
    rotation = [f for f in chapter_figures(browser, page) if f["id"] == "fig-acnet-rotation"]
    assert rotation, f"{page}: no figure named fig-acnet-rotation"
    assert "gaps" in rotation[0]["caption"] and "noise" in rotation[0]["caption"], rotation[0]["caption"][:200]


FINDINGS = r"""
const column = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
const box = column.querySelector('.effconv-findings');
const h2 = Array.from(column.querySelectorAll('h2'));
const before = n => !!(box.compareDocumentPosition(n) & Node.DOCUMENT_POSITION_FOLLOWING);
return box ? {rows: box.querySelectorAll('tbody tr').length, text: box.textContent,
              headingsBefore: h2.filter(h => !before(h)).map(h => h.textContent.trim()),
              verdictColours: Array.from(box.querySelectorAll('td.effconv-findings-verdict'))
                .map(c => getComputedStyle(c).backgroundColor)} : null;
"""


def _open(browser, page: str) -> None:
    target = HTML / f"{page}.html"
    assert target.exists(), f"{target} was not built"
    browser.set_window_size(1280, 1000)
    browser.get(target.as_uri())


def _findings_pages() -> list[str]:
    return [PAGES[0]] + [p for p in PAGES if re.search(r"/\d\d_", p)]


@pytest.mark.parametrize("page", CHAPTER_PAGES)
def test_chapter_h2s_follow_the_skeleton(browser, page):
    """A chapter's h2s, as rendered: findings, where our setting differs, method, results, claims."""
    _open(browser, page)
    h2 = browser.execute_script(
        "const column = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;"
        "return Array.from(column.querySelectorAll('h2')).map(h => h.textContent.replace(/[#\\u00b6]/g, '').trim());")
    expected = ["Findings", "Where our setting differs", "Method", "Results", "Claims"]
    assert h2 == expected, f"{page}: h2s {h2}, expected {expected}"


@pytest.mark.parametrize("page", _findings_pages())
def test_findings_box_is_near_the_top(browser, page):
    """The intro and every chapter open with a findings box, before their second h2, that states the
    verdicts (in colour) and the scale of the evidence."""
    _open(browser, page)
    box = browser.execute_script(FINDINGS)
    assert box, f"{page}: no findings box (div.effconv-findings)"
    assert len(box["headingsBefore"]) <= 1, f"{page}: the findings box comes after {box['headingsBefore']}"
    assert box["rows"] >= 3, f"{page}: the findings box lists {box['rows']} rows"
    plain = {"rgba(0, 0, 0, 0)", "transparent"}
    assert box["verdictColours"] and all(c not in plain for c in box["verdictColours"]), f"{page}: verdicts not coloured"
    assert "rows:" in box["text"], f"{page}: the findings box does not state the scale of the evidence"
    if page == PAGES[0]:
        assert "Every trained number in this book comes from the" in box["text"]


def test_overview_counts_every_evidence_kind_and_filters(browser):
    page = next(p for p in PAGES if p.endswith("overview"))
    _open(browser, page)
    kinds = browser.execute_script(
        "return Array.from(document.querySelectorAll('table.effconv-table tbody tr'))"
        ".map(r => r.children[0] && r.children[0].textContent.trim());")
    for kind in ("counted", "trained", "live"):
        assert kind in kinds, f"{page}: the counts by evidence kind lack {kind!r}"
    body = browser.find_element("tag name", "body").text
    assert "timed on" in body or "not rendered" in body, f"{page}: does not say where the live claims come from"
    seen = browser.execute_script(r"""
      const menu = document.getElementById('effconv-verdict-filter');
      if (!menu) return null;
      menu.value = 'reproduced'; menu.dispatchEvent(new Event('change'));
      const rows = Array.from(document.querySelectorAll('table.effconv-ledger tbody tr'));
      const shown = rows.filter(r => r.style.display !== 'none');
      const verdicts = new Set(shown.map(r => {
        const heads = Array.from(r.closest('table').querySelectorAll('thead th')).map(t => t.textContent.trim());
        return r.children[heads.indexOf('verdict')].textContent.trim(); }));
      menu.value = ''; menu.dispatchEvent(new Event('change'));
      return {rows: rows.length, shown: shown.length, verdicts: Array.from(verdicts)};""")
    assert seen, f"{page}: no verdict filter"
    assert 0 < seen["shown"] < seen["rows"] and seen["verdicts"] == ["reproduced"], f"{page}: the filter shows {seen}"


# Every documented object on an API page: its anchor id and the first line of its description.
API_OBJECTS = r"""
return Array.from(document.querySelectorAll('dl.py > dt.sig[id]')).map(dt => {
  const dd = dt.nextElementSibling;
  // a class's first paragraph is its base classes (show-inheritance): the summary is the next one
  const first = dd ? Array.from(dd.children).find(c => c.tagName === 'P' && !c.textContent.trim().startsWith('Bases:')) : null;
  return [dt.id, first ? first.textContent.trim() : ''];
});
"""


@pytest.mark.parametrize("page", list(API_PAGES))
def test_api_page_documents_every_public_name(browser, page):
    """Each public name of the page's modules (effconv.api_reference) shows with its signature and a summary."""
    _open(browser, page)
    shown = dict(browser.execute_script(API_OBJECTS))
    missing = [name for target, name in page_targets(page).items() if target not in shown]
    assert not missing, f"{page}: public names not on the page: {missing}"
    bare = [name for target, name in page_targets(page).items() if not shown[target]]
    assert not bare, f"{page}: public names shown without a one-line summary: {bare}"


def test_using_page_scores_the_trained_checkpoints(browser):
    """The guide's last sections run on the kept weights: their three tables are there, every glued number
    in their prose is a number (a missing checkpoint or dataset would glue NaN) and every INT8 row is filled."""
    from effconv.data.cifar import available_sources

    page = next(p for p in PAGES if p.endswith("using"))
    browser.get((HTML / f"{page}.html").as_uri())
    body = browser.find_element("tag name", "body").text
    if not available_sources():  # built without the data: the page must say so, not show numbers
        assert "Not run here: CIFAR-10 is not available" in body, f"{page}: no data, and no note saying so"
        return
    assert "Not run here" not in body, f"{page}: says the data is missing, but this machine has it"
    captions = [c.text for c in browser.find_elements("css selector", "main table caption, article table caption")]
    for wanted in ("Trained checkpoints", "DAC conversion of the trained VGG-16", "static INT8 quantisation"):
        assert any(wanted in c for c in captions), f"{page}: no table captioned {wanted!r} (captions: {captions})"
    assert not re.search(r"\bnan\b", body, re.I), f"{page}: a NaN shows: the checkpoints or the data were missing"
    int8 = next(t for t in browser.find_elements("css selector", "main table, article table")
                if "static INT8" in t.text)
    rows = [r.text for r in int8.find_elements("css selector", "tbody tr")]
    assert len(rows) == 4 and all("not run" not in r for r in rows), f"{page}: INT8 rows: {rows}"
