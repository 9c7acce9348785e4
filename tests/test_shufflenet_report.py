"""Chapter 2's report: Table 2/3 analogues, verdicts and plots from small synthetic results (no training)."""

import math

import matplotlib
import pandas as pd
import pytest

matplotlib.use("Agg")

from effconv.analysis.claims import VERDICTS, ClaimsTable  # noqa: E402
from effconv.studies import shufflenet as study  # noqa: E402
from effconv.studies import shufflenet_report as rep  # noqa: E402
from effconv.studies import shufflenet_runs as runs  # noqa: E402


def _result(error_pct: float, epochs: int = 3) -> dict:
    acc = 1 - error_pct / 100
    curve = [{"epoch": e + 1, "test_acc": acc - 0.01 * (epochs - 1 - e), "seconds": 2.0} for e in range(epochs)]
    return {"metrics": {"final": {"test_acc": acc}, "best": {"test_acc": acc, "epoch": epochs}}, "curve": curve,
            "model": {"params": 1, "macs": 1},
            "provenance": {"wall_seconds": 60.0, "device": "test CPU", "data": {"source": "jpeg"}}}


def _runs(profile: str, errors: dict) -> tuple[list, list]:
    """Specs of the chapter for ``profile`` with results from ``errors``: (width, g, shuffle) -> error %
    or a list of errors indexed by seed; a missing key is a run that was not done."""
    specs = runs.experiments(profile)
    results = []
    for spec in specs:
        kw = spec.model_kwargs
        value = errors.get((kw["width"], kw["groups"], kw["shuffle"]))
        if isinstance(value, (list, tuple)):
            value = value[spec.seed] if spec.seed < len(value) else None
        results.append(None if value is None else _result(value))
    return specs, results


def _tables(profile: str, errors: dict):
    specs, results = _runs(profile, errors)
    table = rep.run_table(specs, results)
    return table, rep.table2(table, profile), rep.table3(table, profile)


# The cpu plan: g = 1, 2, 3, 4, 8 at 0.25x, g = 1 and 8 at 0.5x, no-shuffle g = 3 and 8 at 0.25x.
PAPER_LIKE = {(0.25, 1, True): 30.0, (0.25, 2, True): 28.5, (0.25, 3, True): 27.0, (0.25, 4, True): 26.5,
              (0.25, 8, True): 25.0, (0.5, 1, True): 20.0, (0.5, 8, True): 18.0,
              (0.25, 3, False): 28.5, (0.25, 8, False): 29.0}


def _verdict(frame: pd.DataFrame, claim_id: str, contains: str = "") -> str:
    rows = frame[(frame["id"] == claim_id) & frame["claim"].str.contains(contains, regex=False)]
    assert len(rows) == 1, rows
    return rows["verdict"].iloc[0]


# --- statistics --------------------------------------------------------------------------------------

def test_noise_threshold_single_and_several_seeds():
    one = rep.Arm(mean=10.0, std=math.nan, n=1, planned=1)
    assert rep.noise_threshold(one, one) == pytest.approx(rep.SINGLE_SEED_NOISE_PP)
    assert rep.noise_threshold(one, one, one, one) == pytest.approx(rep.SINGLE_SEED_NOISE_PP * math.sqrt(2))
    three = rep.Arm(mean=10.0, std=0.6, n=3, planned=3)
    assert rep.noise_threshold(three, three) == pytest.approx(2 * math.sqrt(2 * 0.36 / 3))
    tiny = rep.Arm(mean=10.0, std=0.01, n=3, planned=3)
    assert rep.noise_threshold(tiny, tiny) == rep.NOISE_FLOOR_PP
    # one single-seed arm is enough to fall back to the assumption
    assert rep.noise_threshold(three, one) == pytest.approx(rep.SINGLE_SEED_NOISE_PP)


@pytest.mark.parametrize("effect, verdict", [(1.5, "reproduced"), (0.4, "partly"), (1.0, "partly"),
                                             (0.0, "not reproduced"), (-2.0, "not reproduced"),
                                             (None, "not run"), (math.nan, "not run")])
def test_directional_verdict(effect, verdict):
    assert rep.directional_verdict(effect, 1.0) == verdict


# --- tables ------------------------------------------------------------------------------------------

def test_tables_with_nothing_run():
    table, t2, t3 = _tables("cpu", {})
    assert len(t2) == 7 and (t2["status"] == "not run").all() and t2["error_%"].isna().all()
    assert (t2["profile"] == "cpu").all()
    # counted complexity and the paper's numbers are there even without runs
    row = t2[(t2["width"] == "0.25x") & (t2["g"] == 8)].iloc[0]
    assert row["mflops_32"] == pytest.approx(study.cifar_cost(8, 0.25)[0], abs=1e-3)
    assert row["paper_imagenet_error_%"] == 52.7 and row["paper_gain_vs_g1_pp"] == pytest.approx(4.4)
    assert list(zip(t3["width"], t3["g"])) == [("0.25x", 3), ("0.25x", 8)]
    assert (t3["status"] == "not run").all() and t3["paper_gain_pp"].tolist() == [1.3, 3.8]
    frame = rep.verdicts(table, t3, "cpu")
    assert set(frame["verdict"]) == {"not run"}
    assert list(frame["id"]) == ["i", "i", "ii", "iii", "iii", "iv"]
    assert frame["paper_pp"].notna().all()


def test_table2_values_and_partial_runs():
    errors = {k: v for k, v in PAPER_LIKE.items() if k != (0.25, 4, True)}
    table, t2, t3 = _tables("cpu", errors)
    by = t2.set_index(["width", "g"])
    assert by.loc[("0.25x", 3), "error_%"] == pytest.approx(27.0)
    assert by.loc[("0.25x", 3), "gain_vs_g1_pp"] == pytest.approx(3.0)
    assert by.loc[("0.25x", 4), "status"] == "not run" and math.isnan(by.loc[("0.25x", 4), "gain_vs_g1_pp"])
    assert by.loc[("0.25x", 1), "status"] == "stored" and by.loc[("0.25x", 1), "seeds"] == "1/1"
    t3 = t3.set_index("g")
    assert t3.loc[3, "gain_pp"] == pytest.approx(1.5) and t3.loc[8, "gain_pp"] == pytest.approx(4.0)


# --- verdicts ----------------------------------------------------------------------------------------

def test_verdicts_when_the_paper_holds():
    table, _, t3 = _tables("cpu", PAPER_LIKE)
    frame = rep.verdicts(table, t3, "cpu")
    assert _verdict(frame, "i", "0.25x") == "reproduced"
    assert _verdict(frame, "i", "0.5x") == "reproduced"
    # (ii): gain at 0.25x for g=8 is 5.0, at 0.5x 2.0 -> +3.0 > 1.41
    row = frame[frame["id"] == "ii"].iloc[0]
    assert row["ours_pp"] == pytest.approx(3.0) and row["verdict"] == "reproduced"
    assert row["paper_pp"] == pytest.approx(1.6)
    assert _verdict(frame, "iii", "g=3") == "reproduced"  # 1.5 > 1.0
    assert _verdict(frame, "iii", "g=8") == "reproduced"
    row = frame[frame["id"] == "iv"].iloc[0]
    assert row["ours_pp"] == pytest.approx(2.5) and row["verdict"] == "reproduced"
    assert set(frame["profile"]) == {"cpu"}
    assert (frame["delta_pp"] == (frame["ours_pp"] - frame["paper_pp"]).round(2)).all()


def test_verdicts_within_noise_and_against_the_paper():
    errors = dict(PAPER_LIKE)
    errors[(0.25, 2, True)] = 29.6            # g=2 only 0.4 pp better: within noise -> (i) partly
    errors[(0.25, 3, False)] = 27.5           # shuffle gain +0.5: partly
    errors[(0.25, 8, False)] = 24.0           # shuffle hurts at g=8: not reproduced, and (iv) too
    errors[(0.5, 8, True)] = 21.0             # grouping hurts at 0.5x
    table, _, t3 = _tables("cpu", errors)
    frame = rep.verdicts(table, t3, "cpu")
    assert _verdict(frame, "i", "0.25x") == "partly"
    assert _verdict(frame, "i", "0.5x") == "not reproduced"
    assert _verdict(frame, "ii", "") == "reproduced"  # 5.0 - (-1.0) = 6.0
    assert _verdict(frame, "iii", "g=3") == "partly"
    assert _verdict(frame, "iii", "g=8") == "not reproduced"
    assert _verdict(frame, "iv", "") == "not reproduced"


def test_missing_runs_cap_or_block_verdicts():
    errors = {k: v for k, v in PAPER_LIKE.items() if k not in {(0.25, 4, True), (0.5, 1, True), (0.25, 8, False)}}
    table, _, t3 = _tables("cpu", errors)
    frame = rep.verdicts(table, t3, "cpu")
    assert _verdict(frame, "i", "0.25x") == "partly"      # every stored g>1 wins, but g=4 is missing
    assert "3/4 g>1 runs" in frame[(frame["id"] == "i")]["evidence"].iloc[0]
    assert _verdict(frame, "i", "0.5x") == "not run"      # g=1 missing
    assert _verdict(frame, "ii", "") == "not run"
    assert _verdict(frame, "iii", "g=3") == "reproduced"
    assert _verdict(frame, "iii", "g=8") == "not run"
    assert _verdict(frame, "iv", "") == "not run"


def test_several_seeds_use_their_spread():
    errors = {(w, g, True): [e, e + 0.2, e - 0.2] for (w, g, s), e in PAPER_LIKE.items() if s}
    errors.update({(w, g, False): [e, e + 0.2, e - 0.2] for (w, g, s), e in PAPER_LIKE.items() if not s})
    errors[(0.25, 1, True)] = [30.0, 33.0, 27.0]           # a noisy baseline widens the threshold
    table, t2, t3 = _tables("full", errors)
    row = t2[(t2["width"] == "0.25x") & (t2["g"] == 2)].iloc[0]
    assert row["seeds"] == "3/3" and row["error_std"] == pytest.approx(0.2)
    frame = rep.verdicts(table, t3, "full")
    # baseline std 3 -> threshold 2*sqrt(9/3 + 0.04/3) ~ 3.47: the 1.5 pp gain of g=2 is within noise
    row = frame[(frame["id"] == "i") & frame["claim"].str.contains("0.25x")].iloc[0]
    assert row["threshold_pp"] == pytest.approx(2 * math.sqrt(9 / 3 + 0.04 / 3), abs=0.01)
    assert row["verdict"] == "partly"
    # the full plan has 1.0x without results: not run, and (ii) has two width pairs; 0.25x vs 0.5x has only
    # g=8 stored at 0.5x (g=2/3/4 are planned) and the noisy baseline: partly
    assert _verdict(frame, "i", "1.0x") == "not run"
    assert list(frame.loc[frame["id"] == "ii", "verdict"]) == ["partly", "not run"]
    # shuffle pair at 0.25x g=3: gain 1.5 with a small spread -> threshold 2*sqrt(2*0.04/3)
    row = frame[(frame["id"] == "iii") & frame["claim"].str.contains("0.25x g=3")].iloc[0]
    assert row["threshold_pp"] == pytest.approx(2 * math.sqrt(2 * 0.04 / 3), abs=0.01)
    assert row["verdict"] == "reproduced"


def test_single_width_profile_says_why_not_run():
    table, t2, t3 = _tables("smoke", {(0.25, 1, True): 60.0, (0.25, 3, True): 58.0, (0.25, 3, False): 59.0})
    frame = rep.verdicts(table, t3, "smoke")
    assert _verdict(frame, "i", "0.25x") == "reproduced"
    assert _verdict(frame, "ii", "") == "not run"
    assert "single width" in frame[frame["id"] == "ii"]["evidence"].iloc[0]
    assert _verdict(frame, "iv", "") == "not run"


def test_training_claims_rows():
    table, _, t3 = _tables("cpu", {k: v for k, v in PAPER_LIKE.items() if k[0] == 0.25})
    frame = rep.verdicts(table, t3, "cpu")
    claims = ClaimsTable("shufflenet")
    rep.add_training_claims(claims, frame)
    out = claims.frame()
    assert len(out) == len(frame) and set(out["verdict"]) <= set(VERDICTS)
    not_run = out[out["verdict"] == "not run"]
    assert (not_run["ours"] == "").all() and (not_run["delta"] == "").all()
    assert "not run" in set(out["verdict"]) and "reproduced" in set(out["verdict"])


def test_latency_claims_with_and_without_measurements():
    claims = ClaimsTable("shufflenet")
    study.add_latency_claims(claims, None)
    out = claims.frame()
    assert set(out["verdict"]) == {"not run"} and len(out) == 4
    alexnet = pd.DataFrame({"device": ["cpu"] * 3, "model": ["AlexNet (torchvision)", "ShuffleNet 0.5x g=3",
                                                              "ShuffleNet 0.5x g=8"],
                            "measured_speedup": [1.0, 11.0, 4.0], "flops_speedup": [1.0, 19.0, 17.6]})
    shuffles = pd.DataFrame({"device": ["cpu"] * 2, "g": [3, 8], "shuffle_share_%": [2.0, 3.0],
                             "difference_share_%": [6.0, 8.0]})
    claims = ClaimsTable("shufflenet")
    study.add_latency_claims(claims, (pd.DataFrame(), shuffles, alexnet))
    out = claims.frame().set_index("claim")
    assert out.loc["ShuffleNet 0.5x vs AlexNet, measured speedup (x)", "verdict"] == "reproduced"  # 11 vs 13
    assert out.loc["ShuffleNet 0.5x runs about 10x faster than AlexNet", "verdict"] == "reproduced"
    # judged on the shuffle timed alone (2.5%), not on the noisier with-minus-without difference (7%)
    assert out.loc["the channel shuffle is costly in practice", "verdict"] == "not reproduced"
    shuffles["shuffle_share_%"] = [6.0, 7.0]
    claims = ClaimsTable("shufflenet")
    study.add_latency_claims(claims, (pd.DataFrame(), shuffles, alexnet))
    assert claims.frame().set_index("claim").loc["the channel shuffle is costly in practice", "verdict"] == "partly"


@pytest.mark.parametrize("paper, ours, verdict", [(13, 13.0, "reproduced"), (13, 10.5, "reproduced"),
                                                  (13, 3.4, "partly"), (13, 0.8, "not reproduced")])
def test_speed_verdict(paper, ours, verdict):
    assert study.speed_verdict(paper, ours) == verdict


# --- plots and loading -------------------------------------------------------------------------------

@pytest.mark.parametrize("errors", [{}, PAPER_LIKE])
def test_plots_with_and_without_results(errors):
    specs, results = _runs("cpu", errors)
    table = rep.run_table(specs, results)
    t2, t3 = rep.table2(table, "cpu"), rep.table3(table, "cpu")
    for fig in (rep.plot_table2(t2, "cpu"), rep.plot_table3(t3, "cpu"),
                rep.plot_curves(rep.curves(specs, results), "cpu")):
        assert fig.axes
        matplotlib.pyplot.close(fig)
    points = rep.curves(specs, results)
    assert len(points) == (3 * sum(r is not None for r in results))


def test_load_runs_with_an_empty_store(tmp_path, monkeypatch):
    monkeypatch.setenv("EFFCONV_RESULTS", str(tmp_path / "results"))
    loaded = rep.load_runs("cpu", log=lambda *a: None)
    assert loaded.profile == "cpu" and len(loaded.specs) == len(runs.experiments("cpu"))
    assert all(r is None for r in loaded.results)


def test_shuffle_example_matches_the_worked_example():
    example = study.shuffle_example(3, 5)
    rows = study.shuffle_rows(example, 3)
    assert rows.iloc[0].tolist() == ["a1", "b1", "c1", "a2", "b2"]
    assert rows.iloc[1].tolist() == ["c2", "a3", "b3", "c3", "a4"]
    assert rows.iloc[2].tolist() == ["b4", "c4", "a5", "b5", "c5"]
    assert example["unshuffled"].tolist() == study.channel_labels(3, 5)


def test_cifar_complexity_is_matched_within_a_few_percent_at_half_width():
    table = study.cifar_complexity(scales=(0.5,))
    assert table["mflops_vs_g1_%"].abs().max() < 5
