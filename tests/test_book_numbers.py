"""One source for every number: run counts and core-hours read the same on every page that states them.

The library side is checked on the committed results (the findings boxes, the intro's answer, the
performance page's plan and the provenance page's folders all count from ``effconv.studies.run_counts``);
the built side scans the executed pages in ``book/_generated`` (after ``effconv book``) for every phrase
that states a run count or core-hours and fails when two of them state one quantity differently.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from effconv.studies import CHAPTERS
from effconv.studies.run_counts import BOOK, hours_text, planned_runs, run_counts, stored_text

ROOT = Path(__file__).resolve().parents[1]
GENERATED = ROOT / "book" / "_generated"
STORED = re.compile(r"(\d+) of (\d+) planned runs stored")
HOURS = re.compile(r"([\d,]+\.\d) core-hours")


@pytest.fixture(scope="module")
def cpu():
    runs = planned_runs("cpu")
    return runs, run_counts(runs)


def test_each_findings_box_counts_what_the_book_counts(cpu):
    from effconv.studies.findings import planned_results, scale

    _, counts = cpu
    for chapter in CHAPTERS:
        box = scale(planned_results("cpu", (chapter,)), "cpu")
        assert (box.runs, box.planned) == (counts.loc[chapter, "stored"], counts.loc[chapter, "planned"]), chapter
        if box.planned:
            assert stored_text(counts, chapter) in box.text(), chapter


def test_the_performance_plan_counts_what_the_book_counts(cpu):
    from effconv.plan import plan_summary, profile_plan

    _, counts = cpu
    summary = plan_summary(profile_plan("cpu"))
    for chapter, row in summary.iterrows():
        name = BOOK if chapter == "total" else chapter
        assert row["runs stored"] == counts.loc[name, "stored"], chapter
        assert row["runs stored"] + row["runs missing"] == counts.loc[name, "planned"], chapter
        assert row["core-hours spent"] == round(counts.loc[name, "core_hours"], 1), chapter


def test_the_provenance_folders_hold_the_runs_the_chapters_use(cpu):
    from effconv.experiments.inventory import results_inventory
    from effconv.studies.run_counts import folder_summary

    runs, counts = cpu
    inventory = results_inventory()
    summary = folder_summary(inventory, runs)
    assert summary["in_the_plan"].sum() == counts.loc[BOOK, "stored"]      # a shared file is one file
    assert summary["files"].sum() == len(inventory)


def test_the_intro_states_the_books_count_and_hours(cpu):
    from effconv.claims import load_ledger
    from effconv.studies.answer import answer

    runs, counts = cpu
    text = answer(load_ledger(chapters=CHAPTERS), runs, planned_runs("full"))
    assert stored_text(counts) in text and hours_text(counts.loc[BOOK, "core_hours"]) in text


def test_the_formats_are_the_ones_the_scan_reads():
    import pandas as pd

    counts = pd.DataFrame({"planned": [4], "stored": [3], "core_hours": [1.26]}, index=[BOOK])
    assert STORED.search(stored_text(counts)).groups() == ("3", "4")
    assert HOURS.search(hours_text(1.26)).group(1) == "1.3"


@pytest.mark.slow
def test_chapter_numbers_never_count_more_runs_than_the_chapter_stores(cpu):
    """A chapter's own numbers ("20 of 44" runs of its CIFAR table) are parts of what its box counts."""
    from effconv.studies import get_chapter

    _, counts = cpu
    for chapter in CHAPTERS:
        for name, value in get_chapter(chapter).numbers("best").items():
            match = re.fullmatch(r"(\d+) of (\d+)", value)
            if "stored" in name and match:
                stored, planned = map(int, match.groups())
                assert stored <= counts.loc[chapter, "stored"] and planned <= counts.loc[chapter, "planned"], \
                    f"{chapter}: {name} = {value!r} counts more than the chapter's {stored_text(counts, chapter)}"


def _page_text(path: Path) -> str:
    """What a built page shows: markdown cells and every text, markdown or HTML output."""
    if path.suffix == ".md":
        return path.read_text()
    parts = []
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] == "markdown":
            parts.append("".join(cell["source"]))
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            for kind in ("text/markdown", "text/html"):
                if kind in data:
                    parts.append("".join(data[kind]))
            if output.get("output_type") == "stream":
                parts.append("".join(output.get("text", "")))
    return re.sub(r"<[^>]+>", " ", "\n".join(parts))


def _built_pages() -> list[Path]:
    pages = sorted(GENERATED.glob("*.ipynb")) + sorted(GENERATED.glob("*.md"))
    if not pages:
        pytest.skip("no built pages in book/_generated: run `effconv book` first")
    return pages


@pytest.mark.book  # reads the built pages: `make check-book` runs it after `make book`
def test_built_pages_state_one_count_per_quantity(cpu):
    """Every "N of M planned runs stored" on a built page is the book's or one chapter's count, and the
    intro, the provenance page and the findings boxes state the book's core-hours alike."""
    _, counts = cpu
    full = run_counts(planned_runs("full"))   # the intro also says how much of the full profile is stored
    allowed = {(int(r["stored"]), int(r["planned"])) for table in (counts, full) for _, r in table.iterrows()}
    book_hours = hours_text(counts.loc[BOOK, "core_hours"])
    wrong, hours = [], {}
    for path in _built_pages():
        text = _page_text(path)
        for stored, planned in STORED.findall(text):
            if (int(stored), int(planned)) not in allowed:
                wrong.append(f"{path.name}: '{stored} of {planned} planned runs stored'")
        if STORED.search(text) and HOURS.search(text):
            hours[path.name] = HOURS.findall(text)
    assert not wrong, ("built pages state run counts no chapter has (rebuild with `effconv book`, or count with "
                       f"effconv.studies.run_counts): {wrong}; the counts are {sorted(allowed)}")
    for page in ("answer.md", "provenance.ipynb"):
        if page in hours:
            assert book_hours.split()[0] in hours[page], f"{page} states {hours[page]}, the book {book_hours}"
