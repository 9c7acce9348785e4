"""Template noise, one kind per test: plural templates, "-0.000", e-notation, empty tables, "none" lists.

The helpers in ``effconv.wording`` are checked directly; then the text of the book-wide pages as built
(``book/_generated``: the intro's answer and findings box, the overview, provenance and performance pages) is
scanned for each kind, so a page that prints one fails here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from effconv.wording import fixed, listing, plural, signed

ROOT = Path(__file__).resolve().parents[1]
GENERATED = ROOT / "book" / "_generated"
PAGES = ["answer.md", "findings.md", "overview.ipynb", "provenance.ipynb", "performance.ipynb"]

PLURAL_TEMPLATE = re.compile(r"\w\(s\)|\(es\)")
NEGATIVE_ZERO = re.compile(r"(?<![\w.])-0(\.0+)?(?![\d.eE])")
E_NOTATION = re.compile(r"(?<![\w.])[-+]?\d+(\.\d+)?e[-+]\d+\b", re.IGNORECASE)
NONE_LIST = re.compile(r":\s*none\s*[.;]", re.IGNORECASE)


def test_plural_agrees_with_its_count():
    assert plural(1, "paired seed") == "1 paired seed"
    assert plural(5, "paired seed") == "5 paired seeds"
    assert plural(0, "run") == "0 runs" and plural(2, "analysis", "analyses") == "2 analyses"
    assert plural(12_000, "run") == "12,000 runs"


def test_a_rounded_zero_has_no_sign_and_nothing_turns_scientific():
    assert fixed(-0.0004, 3) == "0.000" and signed(-0.0004, 3) == "0.000"
    assert signed(0.71, 2) == "+0.71" and signed(-1.266, 2) == "-1.27"
    assert fixed(4.701e-05, 2) == "0.00" and "e" not in signed(4.701e-05, 6)
    assert fixed(-12345.678, 1) == "-12,345.7"


def test_an_empty_list_says_what_it_means():
    assert listing([], "every figure is drawn") == "every figure is drawn"
    assert listing(["a"], "x") == "a" and listing(["a", "b", "c"], "x") == "a, b and c"


def test_the_patterns_catch_what_they_name():
    assert PLURAL_TEMPLATE.search("5 paired seed(s)") and not PLURAL_TEMPLATE.search("(see above)")
    assert NEGATIVE_ZERO.search("delta -0.000 pp") and NEGATIVE_ZERO.search("(-0)")
    assert not NEGATIVE_ZERO.search("-0.05 pp") and not NEGATIVE_ZERO.search("[-0.0572, 1]")
    assert E_NOTATION.search("delta 4.701e-05") and not E_NOTATION.search("ResNet-20e")
    assert NONE_LIST.search("Not run yet, so not drawn: none.") and not NONE_LIST.search("none of them")


DETAILS = re.compile(r"<details.*?</details>", re.S)


def _shown(path: Path, folded: bool = False) -> tuple[str, list[str]]:
    """The reader-visible text of a built page (tags stripped) and its tables' HTML; ``folded``: the text of
    its folded details instead (ledger evidence, quoted as the chapters' rules wrote it)."""
    if path.suffix == ".md":
        html = path.read_text()
        shown = "\n".join(DETAILS.findall(html)) if folded else DETAILS.sub("", html)
        return re.sub(r"<[^>]+>", " ", shown), re.findall(r"<table.*?</table>", html, re.S)
    parts, tables = [], []
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] == "markdown" and not folded:
            parts.append("".join(cell["source"]))
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            html = "".join(data.get("text/html", ""))
            tables += re.findall(r"<table.*?</table>", html, re.S)
            # what the reader sees of HTML output: its text, without the <style> block
            html = re.sub(r"<style.*?</style>", "", html, flags=re.S)
            html = "\n".join(DETAILS.findall(html)) if folded else DETAILS.sub("", html)
            parts.append(re.sub(r"<[^>]+>", " ", html))
            if folded:
                continue
            parts.append("".join(data.get("text/markdown", "")))
            if output.get("output_type") == "stream":
                parts.append("".join(output.get("text", "")))
    return "\n".join(parts), tables


def _page(name: str) -> Path:
    path = GENERATED / name
    if not path.exists():
        pytest.skip(f"{path} is not built: run `effconv book` first")
    return path


@pytest.mark.book  # reads the built pages: `make check-book` runs it after `make book`
@pytest.mark.parametrize("name", PAGES)
def test_built_page_has_no_template_noise(name):
    text, _ = _shown(_page(name))
    text = re.sub(r"```.*?```", "", text, flags=re.S)          # code listings are code, not prose
    found = {kind: sorted({m.group(0) for m in pattern.finditer(text)})[:5]
             for kind, pattern in (("plural template", PLURAL_TEMPLATE), ("negative zero", NEGATIVE_ZERO),
                                   ("scientific notation", E_NOTATION), ("'none' list", NONE_LIST))}
    found = {kind: hits for kind, hits in found.items() if hits}
    assert not found, f"{name}: {found} (format with effconv.wording: plural, signed, fixed, listing)"


@pytest.mark.book  # reads the built pages: `make check-book` runs it after `make book`
def test_folded_ledger_evidence_has_no_template_noise():
    text, _ = _shown(_page("overview.ipynb"), folded=True)
    found = sorted({m.group(0) for p in (PLURAL_TEMPLATE, NEGATIVE_ZERO) for m in p.finditer(text)})
    assert not found, f"overview's folded evidence: {found[:5]}"


@pytest.mark.book  # reads the built pages: `make check-book` runs it after `make book`
@pytest.mark.parametrize("name", PAGES)
def test_built_page_shows_no_empty_table(name):
    _, tables = _shown(_page(name))
    empty = [re.sub(r"<[^>]+>", " ", t)[:80] for t in tables
             if not re.search(r"<tbody>.*?<td", t, re.S) and not re.search(r"<tr>\s*<td", t)]
    assert not empty, f"{name}: {len(empty)} tables with no rows, e.g. {empty[0]!r}: say so in a sentence instead"
