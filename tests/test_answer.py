"""The intro's answer: totals from the ledger, strongest and weakest chosen by the stated rules."""

import math
import re

import pandas as pd

from effconv.studies import answer
from effconv.studies.run_counts import planned_runs


def _ledger(rows):
    columns = ["chapter", "claim", "kind", "paper", "ours", "interval", "n", "verdict"]
    return pd.DataFrame([dict(zip(columns, r)) for r in rows])


LEDGER = _ledger([
    ("acnet", "wide clear", "trained", "> 0", "2", "[1, 3]", "5", "reproduced"),      # centre 2 half-widths out
    ("acnet", "far clear", "trained", "> 0", "10", "[9, 11]", "5", "reproduced"),    # 10 half-widths out
    ("dac", "touches zero", "trained", "> 0", "1", "[0, 2]", "3", "reproduced"),
    ("dac", "against", "trained", "> 0", "-4", "[-5, -3]", "3", "not reproduced"),
    ("dac", "count off", "counted", "3", "3.2", "", "", "not reproduced"),
    ("splitting", "count", "counted", "1", "1", "", "", "reproduced"),
    ("splitting", "open", "trained", "1", "", "", "", "not run"),
])


def test_clearance_is_the_centre_in_half_widths():
    assert answer.clearance("[9, 11]") == 10
    assert answer.clearance("[-5, -3]") == 4
    assert math.isnan(answer.clearance("[-1, 2]")) and math.isnan(answer.clearance(""))


def test_totals_count_every_row_by_kind_and_verdict():
    table = answer.totals(LEDGER)
    assert table.loc["all", "total"] == len(LEDGER)
    assert table.loc["trained", "reproduced"] == 3 and table.loc["counted", "not reproduced"] == 1


def test_strongest_and_weakest_follow_their_rules():
    assert answer.strongest(LEDGER, top=2)["claim"].tolist() == ["far clear", "wide clear"]
    assert answer.weakest(LEDGER)["claim"].tolist() == ["against", "count off"]   # trained first
    holm = LEDGER.assign(verdict_holm=["inconclusive", "reproduced", "", "", "", "", ""])
    assert answer.strongest(holm, top=3)["claim"].tolist() == ["far clear"]        # survives Holm only


def test_the_answer_states_the_committed_totals():
    from effconv.claims import load_ledger
    from effconv.studies import CHAPTERS

    ledger = load_ledger(chapters=CHAPTERS)
    text = answer.answer(ledger, planned_runs("cpu"), planned_runs("full"))
    assert f"**{len(ledger)} claims" in text
    trained = (ledger["kind"] == "trained").sum()
    assert f"Of the {trained} *trained* claims" in text
    assert "(s)" not in text and not re.search(r"-0\.0*(?![0-9])", text)   # no template plural, no "-0.000"
