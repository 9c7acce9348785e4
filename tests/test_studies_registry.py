"""Which chapters train: one lookup shared by the CLI, the campaign, the epoch benchmark and the analyses."""


import pytest

from effconv.plan import campaign_specs
from effconv.studies import CHAPTERS, runs_module


def test_training_chapters_have_runs_modules():
    assert runs_module("splitting") is None  # counts and measures only
    for chapter in CHAPTERS[1:]:
        assert runs_module(chapter).__name__ == f"effconv.studies.{chapter}_runs"


def test_a_broken_import_inside_a_runs_module_is_not_swallowed(monkeypatch):
    def broken(name, *args, **kwargs):
        if name == "effconv.studies.acnet_runs":
            raise ModuleNotFoundError("No module named 'missing_dependency'", name="missing_dependency")
        return real(name, *args, **kwargs)

    import importlib
    real = importlib.import_module
    monkeypatch.setattr(importlib, "import_module", broken)
    with pytest.raises(ModuleNotFoundError, match="missing_dependency"):
        runs_module("acnet")


def test_campaign_specs_have_no_duplicates():
    specs = campaign_specs("cpu")
    assert specs and len({s.key for s in specs}) == len(specs)
