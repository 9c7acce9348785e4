"""Committed ledgers are exactly what the library computes from the stored results (``effconv claims``)."""

import pytest

from effconv.claims import VERDICTS
from effconv.paths import results_dir
from effconv.studies import CHAPTERS, ledger

CONVERTED = list(CHAPTERS)


@pytest.mark.parametrize("chapter", CONVERTED)
def test_committed_ledger_is_regenerated_byte_for_byte(chapter):
    table = ledger(chapter, "best")
    committed = (results_dir() / chapter / "claims.csv").read_text(encoding="utf-8")
    assert table.csv() == committed, f"run `effconv claims {chapter}` and commit the result"
    frame = table.frame(live=False)
    assert len(frame) and set(frame["verdict"]) <= set(VERDICTS) and "live" not in set(frame["kind"])


def test_claims_command_refuses_unknown_chapters(capsys):
    from effconv.cli import main

    assert main(["claims", "nochapter"]) == 2
    assert "unknown chapter 'nochapter'" in capsys.readouterr().err
