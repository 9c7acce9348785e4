"""Chapter 1's tables (``effconv.studies.splitting.report``): each counted against its closed form or the
published figure, and the live latency table's shape."""

from __future__ import annotations

from effconv.studies.splitting import costs, report


def test_formula_table_is_exact():
    table = report.formula_table()
    assert table["exact"].all(), table
    assert set(table["design"]) >= {"depthwise separable", "grouped, g=8", "1x7 + 7x1 pair"}


def test_octave_table_matches_closed_form_and_paper():
    table = report.octave_table()
    assert table["alpha"].tolist() == list(costs.OCTAVE_ALPHAS)
    # 256 channels and a 56x56 map make every split exact, so the count equals the closed form exactly
    assert (table["counted_%"] - table["closed_form_%"]).abs().max() < 1e-9
    assert table["counted_%"].round().astype(int).tolist() == [100, 82, 67, 44, 30, 26, 25]
    assert (table["params"] == table["params"].iloc[0]).all()  # the four paths share out the same weights


def test_mobilenet_table_against_published_values():
    table = report.mobilenet_table().set_index("model")
    assert round(table.loc["1.0 MobileNet-224", "ours_Mmacs"]) == 569
    assert round(table.loc["1.0 MobileNet-192", "ours_Mmacs"]) == 418
    assert round(table.loc["1.0 MobileNet-128", "ours_Mmacs"]) == 186
    assert round(table.loc["0.5 MobileNet-160", "ours_Mweights"], 2) == 1.32


def test_inception_conventions():
    table = report.inception_v3_variants()
    assert {27_161_264, 23_834_568} <= set(table["params"])
    assert table["minus_paper"].abs().min() > 0  # no convention reproduces 23,626,728 exactly
    closest = report.closest_convention(table)
    assert abs(closest["minus_paper"]) == table["minus_paper"].abs().min()
    assert report.conventions_above(table, 0) == len(table)
    assert report.conventions_above(table, int(table["params"].max())) == 0


def _small_latency():
    return report.latency_table(channels=16, sizes=(8,), batches=(1,), groups=(2,), warmup=0, repeats=2, rounds=3)


def test_latency_table_ratios():
    table = _small_latency()
    assert list(table["layer"]) == ["dense", "grouped g=2", "depthwise separable"]
    assert table.set_index("layer").loc["grouped g=2", "flop_ratio"] == 0.5
    assert (table["median_ms"] > 0).all() and (table["calls"] == 6).all()
    assert all(len(r) == 3 and min(r) > 0 for r in table["round_ratios"])
    ratios = report.latency_ratios(table)
    assert list(ratios.index) == list(table["layer"]) and list(ratios.columns) == ["8x8, batch 1"]
    assert ratios.loc["dense"].tolist() == [1.0]
