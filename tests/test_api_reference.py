"""The API reference: every public name of the documented modules has a docstring, every page documents the
modules ``effconv.api_reference.API_PAGES`` lists and is in the book, and the examples in the docstrings run."""

from __future__ import annotations

import doctest
import importlib
import re
from pathlib import Path

import pytest

from effconv.api_reference import API_PAGES, page_targets, undocumented
from effconv.book import toc_pages

ROOT = Path(__file__).resolve().parents[1]
MODULES = [module for entries in API_PAGES.values() for module, _ in entries]
# doctest runs the examples of what a module defines, so the re-exporting packages' sources are added
EXAMPLES = [*MODULES, "effconv.ops.reparam", "effconv.models.registry"]


@pytest.mark.parametrize("module", MODULES)
def test_every_public_name_has_a_docstring(module):
    if module == "effconv.deploy":
        pytest.importorskip("onnx")
    missing = undocumented(module)
    assert not missing, f"{module}: public names without a docstring (or a #: comment for a constant): {missing}"


def test_the_check_catches_a_missing_docstring(monkeypatch):
    from effconv.ops import dac

    monkeypatch.setattr(dac.break_even_rank, "__doc__", None)
    assert undocumented("effconv.ops.dac") == ["break_even_rank"]


@pytest.mark.parametrize("page", list(API_PAGES))
def test_each_page_documents_its_modules(page):
    text = (ROOT / f"{page}.md").read_text()
    documented = re.findall(r"^\.\. automodule:: (\S+)", text, re.M)
    assert documented == [module for module, _ in API_PAGES[page]]
    for module, elsewhere in API_PAGES[page]:
        if elsewhere:
            block = text.split(f".. automodule:: {module}\n", 1)[1].split("```", 1)[0]
            assert f":exclude-members: {', '.join(elsewhere)}" in block
    for target in page_targets(page):
        home = target.rsplit(".", 1)[0]
        assert home in documented or f".. autodata:: {target}" in text, f"{page}: nothing documents {target}"
    assert page in toc_pages(), f"{page} is missing from _toc.yml"


@pytest.mark.parametrize("module", EXAMPLES)
def test_docstring_examples_run(module):
    if module == "effconv.deploy":
        pytest.importorskip("onnx")
    failures, _ = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS, verbose=False)
    assert failures == 0, f"{module}: {failures} docstring examples failed (run python -m doctest -v on it)"
