"""The chapter registry and the chapter interface every package offers (one lookup for the CLI, the campaign,
the benchmarks and the book)."""

import importlib

import pytest

from effconv.errors import EffconvError
from effconv.plan import campaign_specs
from effconv.studies import CHAPTERS, get_chapter, list_chapters, register_chapter

ENTRY_POINTS = ("CHAPTER", "experiments", "ledger", "live_claims", "load", "numbers")
MODULES = ("plan", "results", "claims", "report", "plots", "page")


def test_the_registry_lists_chapters_in_book_order_and_refuses_a_duplicate():
    assert list_chapters() == list(CHAPTERS) == ["splitting", "shufflenet", "acnet", "dac", "versatile"]
    with pytest.raises(EffconvError, match="registered twice"):
        register_chapter("acnet")
    with pytest.raises(EffconvError, match="Did you mean 'acnet'"):
        get_chapter("acnett")


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_chapter_package_has_the_same_modules_and_entry_points(chapter):
    package = get_chapter(chapter)
    assert package.__all__ == list(ENTRY_POINTS) and package.CHAPTER == chapter
    for name in MODULES:
        importlib.import_module(f"{package.__name__}.{name}")
    results = importlib.import_module(f"{package.__name__}.results")
    assert results.load_runs("cpu", log=lambda *_: None).profile == "cpu"
    # a chapter plans its own runs, and may reuse an earlier chapter's (the versatile baseline is DAC's)
    own = [spec for spec in package.experiments("cpu") if spec.chapter == chapter]
    assert all(CHAPTERS.index(spec.chapter) <= CHAPTERS.index(chapter) for spec in package.experiments("cpu"))
    assert bool(own) == (chapter != "splitting")


def test_a_broken_import_inside_a_chapter_is_not_swallowed(monkeypatch):
    def broken(name, *args, **kwargs):
        if name == "effconv.studies.acnet":
            raise ModuleNotFoundError("No module named 'missing_dependency'", name="missing_dependency")
        return real(name, *args, **kwargs)

    real = importlib.import_module
    monkeypatch.setattr(importlib, "import_module", broken)
    with pytest.raises(ModuleNotFoundError, match="missing_dependency"):
        get_chapter("acnet")


def test_campaign_specs_have_no_duplicates():
    specs = campaign_specs("cpu")
    assert specs and len({s.key for s in specs}) == len(specs)
