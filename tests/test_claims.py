"""The claims ledger: verdict rules, validation, writing and aggregation."""

import pytest

from effconv.analysis.claims import COLUMNS, ClaimsTable, load_ledger, numeric_verdict
from effconv.errors import EffconvError


def test_numeric_verdicts():
    assert numeric_verdict(569, 568.7, tolerance=0.5) == "reproduced"
    assert numeric_verdict(569, 575, tolerance=0.5, partly=10) == "partly"
    assert numeric_verdict(569, 700, tolerance=0.5, partly=10) == "not reproduced"
    assert numeric_verdict(100, 101, tolerance=0.02, relative=True) == "reproduced"
    assert numeric_verdict(100, None, tolerance=1) == "not run"


def test_table_write_and_ledger(tmp_path):
    table = ClaimsTable("demo")
    table.compare("MobileNet mult-adds (M)", source="paper: Table 8", paper=569, ours=568.7, tolerance=0.5,
                  profile="count", evidence="count_flops")
    table.add("shuffle helps", source="paper: Table 3", paper="yes", ours=None, verdict="not run", profile="cpu",
              evidence="no run")
    with pytest.raises(EffconvError, match="verdict"):
        table.add("x", source="s", paper=1, ours=1, verdict="maybe", profile="cpu", evidence="")
    path = table.write(tmp_path)
    assert path == tmp_path / "demo" / "claims.csv"
    ledger = load_ledger(tmp_path)
    assert list(ledger.columns) == ["chapter", *COLUMNS]
    assert ledger["verdict"].tolist() == ["reproduced", "not run"]
    assert ledger.loc[0, "delta"] == "-0.3"


def test_malformed_claims_file(tmp_path):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "claims.csv").write_text("claim,verdict\nx,reproduced\n")
    with pytest.raises(EffconvError, match="lacks columns"):
        load_ledger(tmp_path)
