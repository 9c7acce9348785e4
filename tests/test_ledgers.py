"""Committed ledgers are exactly what the library computes from the stored results (``effconv claims``)."""

import pytest

from effconv.claims import VERDICTS
from effconv.claims.ledger import load_ledger
from effconv.paths import results_dir
from effconv.studies import CHAPTERS, ledger
from effconv.studies.paper import citation

CONVERTED = list(CHAPTERS)


@pytest.mark.parametrize("chapter", CONVERTED)
def test_committed_ledger_is_regenerated_byte_for_byte(chapter):
    table = ledger(chapter, "best")
    committed = (results_dir() / chapter / "claims.csv").read_text(encoding="utf-8")
    assert table.csv() == committed, f"run `effconv claims {chapter}` and commit the result"
    frame = table.frame(live=False)
    assert len(frame) and set(frame["verdict"]) <= set(VERDICTS) and "live" not in set(frame["kind"])


@pytest.mark.parametrize("chapter", CONVERTED)
def test_committed_ledger_says_its_sources_and_scopes_plainly(chapter):
    """No source shows the internal tag "seed" (a reader knows a seed as a random seed), and a row graded on
    the direction only says "direction" in its claim."""
    frame = load_ledger(chapters=(chapter,))
    assert not frame["source"].str.contains(r"\bseed\b", case=False).any()
    direction = frame["evidence"].str.contains("direction only (settings differ", regex=False)
    assert frame.loc[direction, "claim"].str.contains("direction", regex=False).all()


def test_a_specification_text_is_cited_by_name():
    assert citation("seed", "seed 003 §1 and §3.3") == "specification 003, §1 and §3.3"
    assert citation("seed", "Seed 002, experiment 1") == "specification 002, experiment 1"
    assert citation("seed", "the survey, sec. 2.3") == "the survey, sec. 2.3"
    assert citation("derived", "arithmetic on the method (seed)") == "derived: arithmetic on the method (specification)"
    assert citation("transcribed", "ACNet paper, CIFAR-10 table") == "transcribed: ACNet paper, CIFAR-10 table"


def test_claims_command_refuses_unknown_chapters(capsys):
    from effconv.cli import main

    assert main(["claims", "nochapter"]) == 2
    assert "unknown chapter 'nochapter'" in capsys.readouterr().err
