"""Chapter 4 report: tables, trend verdicts and claims from small synthetic results (no training, no data)."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from effconv.analysis.claims import COLUMNS, VERDICTS  # noqa: E402
from effconv.models import create_model  # noqa: E402
from effconv.ops import dac  # noqa: E402
from effconv.studies import dac as study  # noqa: E402
from effconv.studies import dac_report as report  # noqa: E402
from effconv.studies import dac_runs  # noqa: E402

LAYERS = [f"conv2d_{i}" for i in range(1, 14)]
RANKS = range(1, 6)


# ---------------------------------------------------------------------------------------------
# synthetic results, shaped like the stored ones (accuracies as fractions)
# ---------------------------------------------------------------------------------------------

def single_records(drop, base=0.9):
    """``drop(layer_index, rank)`` in pp."""
    return [{"layer": name, "module": f"m{i}", "rank": r, "accuracy": base - drop(i, r) / 100,
             "baseline_accuracy": base, "accuracy_drop": drop(i, r) / 100, "macs": 1000 - i * r,
             "baseline_macs": 1000, "macs_saved_pct": 0.1 * i * r}
            for i, name in enumerate(LAYERS, start=1) for r in RANKS]


def first_last_records(drop_first, drop_last, base=0.9):
    """``drop_<end>(k, rank)`` in pp; first-k saves 5k% (at rank 1) and last-k 3k%."""
    rows = []
    for end, drop, share in (("first", drop_first, 5.0), ("last", drop_last, 3.0)):
        for k in range(1, 14):
            for r in RANKS:
                d = drop(k, r) if k < 13 else drop_first(13, r)  # k = 13 is the same network both ways
                saved = share * k / r if k < 13 else 5.0 * 13 / r
                rows.append({"end": end, "k": k, "rank": r, "layers": "x", "accuracy": base - d / 100,
                             "baseline_accuracy": base, "accuracy_drop": d / 100, "macs": 1,
                             "baseline_macs": 1, "macs_saved_pct": saved})
    return rows


def equal_flops_records(base=0.9, dac_better=2.0):
    rows = []
    for config in [*LAYERS, "all"]:
        for r in RANKS:
            for method, drop in (("dac", 1.0), ("channel_svd", 1.0 + dac_better)):
                rows.append({"config": config, "dac_rank": r, "method": method, "layer_ranks": str(r),
                             "accuracy": base - drop / 100, "baseline_accuracy": base, "accuracy_drop": drop / 100,
                             "macs": 1, "baseline_macs": 1, "macs_saved_pct": 10.0 * r})
    return rows


def reconstruction_records():
    return [{"layer": name, "module": "m", "rank": r, "cost_ratio": r / 64 + r / 9, "rel_error": 1 - r / 9,
             "rel_tail": 1 - r / 9, "channel_rank": r, "channel_cost_ratio": r / 70, "channel_rel_error": 1 - r / 10}
            for name in LAYERS for r in range(1, 10)]


def good_single(i, r):
    return 80.0 / (i * r)  # falls with depth and with rank


def make_result(seed=0, acc=0.9, test=None, single=good_single, first=None, last=None):
    first = first or (lambda k, r: 3.0 * k / r)
    last = last or (lambda k, r: 1.0 * k / r)
    return {
        "metrics": {"final": {"test_acc": acc}, "best": {"test_acc": acc + 0.001, "epoch": 3}},
        "spec": {"model_kwargs": {"width": 0.25}, "recipe": {"epochs": 15}},
        "curve": [{"epoch": 1, "seconds": 10.0}],
        "model": {"params": 100, "macs": 1000},
        "provenance": {"device": "cpu", "wall_seconds": 60.0, "data": {"source": "jpeg", "subset": test}},
        "analyses": {"dac.single_layer": single_records(single, acc),
                     "dac.first_last": first_last_records(first, last, acc),
                     "dac.equal_flops": equal_flops_records(acc),
                     "dac.reconstruction": reconstruction_records()},
    }


def specs(seeds=(0,)):
    return [dac_runs.baseline_spec("cpu", s) for s in seeds]


def singles(result, seeds=(0,)):
    return report.single_layer_means(report.sweep_frame(specs(seeds), [result] * len(seeds), "dac.single_layer"))


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# ---------------------------------------------------------------------------------------------
# noise, baseline, sweeps
# ---------------------------------------------------------------------------------------------

def test_noise_threshold():
    assert report.noise_threshold(90.0, 10_000) == pytest.approx(0.6)
    assert report.noise_threshold(99.9, 10_000) == 0.5  # the floor
    assert report.noise_threshold(None, 10_000) == 0.5
    assert report.noise_threshold(50.0, 256) == pytest.approx(2 * 100 * math.sqrt(0.25 / 256))


def test_test_image_count():
    assert report.n_test_images(None) == 10_000
    assert report.n_test_images(make_result()) == 10_000
    assert report.n_test_images(make_result(test={"test": 250, "train": 510})) == 250


def test_baseline_summary_and_table():
    empty = report.baseline_summary("cpu", [None])
    assert not empty.stored and empty.text() == "not run" and empty.tau == 0.5
    two = report.baseline_summary("full", [make_result(acc=0.90), make_result(acc=0.92), None])
    assert two.seeds == 2 and two.accuracy == pytest.approx(91.0) and two.std == pytest.approx(math.sqrt(2))
    assert two.text().startswith("91.00 ± 1.41%") and "2 seeds" in two.text()
    assert two.setting.startswith("VGG-16 at width 0.25, 15 epochs")
    table = report.baseline_table(specs((0, 1)), [make_result(acc=0.9), None])
    assert list(table["status"]) == ["stored", "not run"]
    assert table["test_acc_%"].iloc[0] == pytest.approx(90.0) and math.isnan(table["test_acc_%"].iloc[1])
    assert table["width"].iloc[0] == 0.25


def test_sweep_frame_percent_and_seeds():
    frame = report.sweep_frame(specs((0, 1)), [make_result(acc=0.9), make_result(acc=0.8)], "dac.single_layer")
    assert set(frame["seed"]) == {0, 1} and len(frame) == 2 * 13 * 5
    assert frame["baseline_accuracy"].max() == pytest.approx(90.0)
    means = report.single_layer_means(frame)
    assert len(means) == 65 and (means["seeds"] == 2).all()
    assert means["accuracy_std"].iloc[0] == pytest.approx(math.sqrt(50))  # 10 pp apart
    assert report.sweep_frame(specs(), [None], "dac.single_layer").empty
    assert report.sweep_frame(specs(), [make_result()], "dac.unknown").empty


def test_single_layer_pivot_and_cells():
    means = singles(make_result())
    grid = report.single_layer_pivot(means)
    assert list(grid.index) == LAYERS and list(grid.columns) == [f"rank {r}" for r in RANKS]
    assert grid.loc["conv2d_1", "rank 1"] == pytest.approx(10.0)  # 90 - 80
    baseline = report.baseline_summary("cpu", [make_result()])
    cells = report.seed_cells(means, baseline).set_index("layer")
    assert cells.loc["conv2d_1", "paper_drop_pp"] == pytest.approx(75.0)
    assert cells.loc["conv2d_1", "ours_drop_pp"] == pytest.approx(80.0)
    assert cells.loc["conv2d_1", "verdict"] == "reproduced"  # within 20% of 75
    assert cells.loc["conv2d_13", "verdict"] == "not reproduced"  # 80/13 = 6.2 vs 0.7, tolerance 1.2 / 2.4
    missing = report.seed_cells(pd.DataFrame(), empty_baseline())
    assert set(missing["verdict"]) == {"not run"} and missing["ours_acc_%"].isna().all()
    assert report.single_layer_pivot(pd.DataFrame()).empty


def empty_baseline():
    return report.baseline_summary("cpu", [None])


@pytest.mark.parametrize("paper,ours,verdict", [(75, 70, "reproduced"), (75, 50, "partly"), (75, 30, "not reproduced"),
                                                (0.7, 1.5, "reproduced"), (0.7, 3.0, "partly"),
                                                (0.7, None, "not run")])
def test_drop_verdict(paper, ours, verdict):
    assert report.drop_verdict(paper, ours, tau=0.6) == verdict


# ---------------------------------------------------------------------------------------------
# trend verdicts
# ---------------------------------------------------------------------------------------------

def test_rank_trend():
    assert report.rank_trend(singles(make_result()), 0.6).verdict == "reproduced"
    # one violating step (conv2d_5 loses 5 pp more at rank 3 than at rank 2)
    bumped = singles(make_result(single=lambda i, r: good_single(i, r) + (5.0 if (i, r) == (5, 3) else 0.0)))
    one = report.rank_trend(bumped, 0.6)
    assert one.verdict == "partly" and "1/52" in one.ours
    rising = singles(make_result(single=lambda i, r: 5.0 * r))
    assert report.rank_trend(rising, 0.6).verdict == "not reproduced"
    flat = singles(make_result(single=lambda i, r: 0.0))
    assert report.rank_trend(flat, 0.6).verdict == "partly"  # nothing contradicts, nothing visible
    assert report.rank_trend(pd.DataFrame(), 0.6).verdict == "not run"


def test_layer_trend():
    assert report.layer_trend(singles(make_result()), 0.6).verdict == "reproduced"
    deeper_worse = singles(make_result(single=lambda i, r: float(i)))
    assert report.layer_trend(deeper_worse, 0.6).verdict == "not reproduced"
    # the ends differ, but in between the drop rises with depth: only one of the two conditions
    ends_only = singles(make_result(single=lambda i, r: 50.0 if i == 1 else float(i)))
    verdict = report.layer_trend(ends_only, 0.6)
    assert verdict.verdict == "partly" and "rho" in verdict.ours
    assert report.layer_trend(pd.DataFrame(), 0.6).verdict == "not run"


def fl_means(first, last):
    result = make_result(first=first, last=last)
    return report.first_last_means(report.sweep_frame(specs(), [result], "dac.first_last"))


def test_last_k_trend():
    good = fl_means(lambda k, r: 3.0 * k / r, lambda k, r: 1.0 * k / r)
    verdict = report.last_k_trend(good, 0.6)
    assert verdict.verdict == "reproduced" and "/60" in verdict.ours  # 12 values of k x 5 ranks
    reverse = fl_means(lambda k, r: 1.0 * k / r, lambda k, r: 3.0 * k / r)
    assert report.last_k_trend(reverse, 0.6).verdict == "not reproduced"
    same = fl_means(lambda k, r: 1.0, lambda k, r: 1.0)
    assert report.last_k_trend(same, 0.6).verdict == "partly"
    assert report.last_k_trend(pd.DataFrame(), 0.6).verdict == "not run"
    pairs = report.compare_ends(good)
    assert len(pairs) == 60 and (pairs["first_minus_last_pp"] >= 0).all()


def test_equal_saving_interpolates_first_k():
    means = fl_means(lambda k, r: 2.0 * k, lambda k, r: 2.0 * k)  # same drop per k, but last-k saves less
    table = report.equal_saving(means, 0.6)
    assert not table.empty and (table["k_last"] < 13).all()
    row = table[(table["rank"] == 1) & (table["k_last"] == 5)].iloc[0]
    # last 5 saves 15%, where first-k (5% per k) sits at k = 3: drop 6 pp -> first is better by 4 pp
    assert row["first_acc_at_same_saving_%"] == pytest.approx(90.0 - 6.0)
    assert row["last_minus_first_pp"] == pytest.approx(-4.0) and row["winner"] == "first"
    assert report.equal_saving(pd.DataFrame(), 0.6).empty


# ---------------------------------------------------------------------------------------------
# frontier, channel SVD, reconstruction
# ---------------------------------------------------------------------------------------------

def test_configurations_and_pareto():
    result = make_result()
    single = singles(result)
    fl = fl_means(lambda k, r: 3.0 * k / r, lambda k, r: 1.0 * k / r)
    equal = report.seed_mean(report.sweep_frame(specs(), [result], "dac.equal_flops"), ["config", "dac_rank", "method"])
    configs = report.configurations(single, fl, equal)
    assert set(configs["sweep"]) == {"one layer", "first k", "last k", "channel SVD"}
    front = report.pareto(configs)
    assert front["macs_saved_pct"].is_monotonic_increasing and front["accuracy"].is_monotonic_decreasing
    for row in configs.itertuples():  # nothing beats a front point on both axes
        assert not ((configs["accuracy"] > row.accuracy) & (configs["macs_saved_pct"] > row.macs_saved_pct)).any() \
            or row.label not in set(front["label"])
    assert report.configurations(pd.DataFrame(), pd.DataFrame(), pd.DataFrame()).empty
    assert report.pareto(pd.DataFrame()).empty


def test_equal_flops_table():
    frame = report.sweep_frame(specs(), [make_result()], "dac.equal_flops")
    table = report.equal_flops_table(frame, 0.6)
    assert len(table) == 14 * 5 and (table["better"] == "DAC").all()
    assert table["dac_minus_svd_pp"].iloc[0] == pytest.approx(2.0)
    close = report.sweep_frame(specs(), [{**make_result(), "analyses": {
        "dac.equal_flops": equal_flops_records(dac_better=0.3)}}], "dac.equal_flops")
    assert (report.equal_flops_table(close, 0.6)["better"] == "tie").all()
    assert report.equal_flops_table(pd.DataFrame(), 0.6).empty


def test_figures_cope_with_missing_results():
    base, none = report.baseline_summary("cpu", [make_result()]), empty_baseline()
    assert report.plot_single_layer(pd.DataFrame(), none) is None
    assert report.plot_first_last(pd.DataFrame(), none) is None
    assert report.plot_pareto(pd.DataFrame(), pd.DataFrame(), none) is None
    assert report.plot_equal_flops(pd.DataFrame(), "cpu") is None
    random_init = pd.DataFrame([{"layer": "conv2d_1", "rank": r, "rel_error": 1 - r / 9} for r in range(1, 10)])
    assert isinstance(report.plot_reconstruction(random_init, pd.DataFrame(), "cpu"), plt.Figure)
    result = make_result()
    single = singles(result)
    fl = fl_means(lambda k, r: 3.0 * k / r, lambda k, r: 1.0 * k / r)
    assert isinstance(report.plot_single_layer(single, base), plt.Figure)
    assert isinstance(report.plot_first_last(fl, base), plt.Figure)
    configs = report.configurations(single, fl, pd.DataFrame())
    assert isinstance(report.plot_pareto(configs, report.pareto(configs), base), plt.Figure)
    table = report.equal_flops_table(report.sweep_frame(specs(), [result], "dac.equal_flops"), 0.6)
    assert isinstance(report.plot_equal_flops(table, "cpu"), plt.Figure)
    recon = report.reconstruction_means(report.sweep_frame(specs(), [result], "dac.reconstruction"))
    assert isinstance(report.plot_reconstruction(random_init, recon, "cpu"), plt.Figure)
    assert "not run yet" in report.not_run_note("Single-layer sweep", "cpu").data


# ---------------------------------------------------------------------------------------------
# latency rule and claims
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("macs,time,verdict", [(0.25, 0.3, "reproduced"), (0.25, 0.8, "partly"),
                                               (0.25, 1.2, "not reproduced"), (0.5, 1.0, "not reproduced")])
def test_latency_verdict(macs, time, verdict):
    assert report.latency_verdict(macs, time) == verdict


def test_depthwise_slowdown():
    layers = pd.DataFrame([{"in_channels": 8, "out_channels": 8, "size": 4, "rank": r, "depthwise_ms": ms}
                           for r, ms in ((1, 1.0), (2, 6.0))])
    assert report.depthwise_slowdown(layers) == pytest.approx(6.0)
    assert math.isnan(report.depthwise_slowdown(layers.drop(columns="depthwise_ms")))


@pytest.fixture(scope="module")
def live():
    """The cheap live inputs of the claims, on a narrow VGG (random weights)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: more threads only contend with each other
    try:
        torch.manual_seed(0)
        model = create_model("vgg16_cifar", width=0.125)
        with torch.device("meta"):
            meta = create_model("vgg16_cifar", width=0.25)
        return {"exactness": study.exactness_table(model), "eckart": study.eckart_young_table(model),
                "cost": study.cost_check(meta, ranks=[1, 5, 6, 9]), "allocations": study.vgg16_imagenet_allocations()}
    finally:
        torch.set_num_threads(threads)


def model_latency(time_ratio):
    return pd.DataFrame([{"rank": 0, "macs": 100, "ms": 1.0, "device": "cpu", "batch_size": 8, "macs_ratio": 1.0,
                          "time_ratio": 1.0},
                         {"rank": 1, "macs": 20, "ms": time_ratio, "device": "cpu", "batch_size": 8,
                          "macs_ratio": 0.2, "time_ratio": time_ratio}])


def _claims(live, results, latency):
    baseline = report.baseline_summary("cpu", results)
    single = report.single_layer_means(report.sweep_frame(specs(), results, "dac.single_layer"))
    fl = report.first_last_means(report.sweep_frame(specs(), results, "dac.first_last"))
    cells = report.seed_cells(single, baseline)
    return report.build_claims(**live, model_latency=latency, baseline=baseline, cells=cells, single=single,
                               first_last=fl).frame()


def test_claims_without_trained_results(live):
    table = _claims(live, [None], None)
    assert list(table.columns) == COLUMNS and set(table["verdict"]) <= set(VERDICTS)
    rows = table.set_index("claim")
    for claim in ("CIFAR-VGG baseline accuracy (%)", "conv2d_1 alone at rank 1: accuracy drop (pp)",
                  "higher rank loses less accuracy", "a later layer loses less than an early one",
                  "last k layers lose less than first k at equal rank"):
        assert rows.loc[claim, "verdict"] == "not run" and rows.loc[claim, "ours"] == ""
        assert rows.loc[claim, "profile"] == "cpu"
    for claim in ("DAC is exact at rank k^2 (3x3: rank 9)", "truncation error = singular-value tail, never growing with rank",
                  "cost of a decomposed layer = r/N + r/k^2 of the original", "saves only below r = k^2 N / (N + k^2)",
                  "ImageNet VGG-16: FLOPs saved (%)"):
        assert rows.loc[claim, "verdict"] == "reproduced", claim
    assert rows.loc["ImageNet VGG-16: FLOPs saved (%)", "ours"] == "53.00"
    assert rows.loc["a decomposed VGG-16 runs faster (whole model)", "verdict"] == "not run"
    assert (table["verdict"] == "not run").sum() == 5 + 5 + 1 + 1  # trained rows, other tasks, ImageNet drop, time


def test_claims_with_trained_results(live):
    table = _claims(live, [make_result()], model_latency(0.5)).set_index("claim")
    assert table.loc["CIFAR-VGG baseline accuracy (%)", "verdict"] == "not reproduced"  # 90.0 vs 93.6
    assert table.loc["CIFAR-VGG baseline accuracy (%)", "delta"] == "-3.6"
    assert table.loc["higher rank loses less accuracy", "verdict"] == "reproduced"
    assert table.loc["a later layer loses less than an early one", "verdict"] == "reproduced"
    assert table.loc["last k layers lose less than first k at equal rank", "verdict"] == "reproduced"
    assert table.loc["conv2d_1 alone at rank 1: accuracy drop (pp)", "verdict"] == "reproduced"
    latency = table.loc["VGG-16 with every conv at rank 1 runs faster (time / original)"]
    assert latency["verdict"] == "partly" and latency["profile"] == "live"


# ---------------------------------------------------------------------------------------------
# the live helpers the chapter adds to studies.dac
# ---------------------------------------------------------------------------------------------

def test_live_checks(live):
    exactness, eckart = live["exactness"], live["eckart"]
    assert len(exactness) == 13 and (exactness["rank"] == 8).sum() == 2  # 8 outputs in conv2d_1/2 at width 1/8
    assert exactness["rel_error_float32"].max() < 1e-5 and exactness["rel_error_float64"].max() < 1e-12
    assert eckart["monotone"].all() and eckart["max_rel_gap"].max() < 1e-12
    assert eckart["rel_error_full"].max() < 1e-12


def test_spectrum_errors_match_reconstruction():
    torch.manual_seed(0)
    model = create_model("vgg16_cifar", width=0.125)
    spectrum = study.spectrum_errors(model, ranks=[1, 4, 8])
    recon = study.reconstruction_errors(model, ranks=[1, 4, 8], with_channel_svd=False)
    merged = spectrum.merge(recon, on=["layer", "rank"], suffixes=("", "_decomposed"))
    assert len(merged) == 39 and (merged["rel_error"] - merged["rel_tail"]).abs().max() < 1e-12


def test_anatomy_table():
    table = study.anatomy_table(in_channels=16, out_channels=32, rank=2, size=8).set_index("part")
    assert table.loc["DAC depthwise", "out"] == 32 and table.loc["DAC depthwise", "groups"] == 16
    assert table.loc["DAC pointwise", "in"] == 32
    assert table.loc["DAC pair", "macs_vs_original"] == pytest.approx(2 / 32 + 2 / 9)
    assert table.loc["DAC pair", "weights_vs_original"] == pytest.approx(2 / 32 + 2 / 9)


def test_model_latency_and_layer_parts():
    torch.manual_seed(0)
    model = create_model("vgg16_cifar", width=0.125)
    table = study.model_latency_table(model, ranks=[1], batch_size=1, repeats=1, warmup=0, threads=1)
    assert list(table["rank"]) == [0, 1] and table["macs_ratio"].iloc[0] == 1.0
    assert 0 < table["macs_ratio"].iloc[1] < 0.5 and (table["ms"] > 0).all()
    assert next(model.parameters()).device.type == "cpu"
    layers = study.latency_table([(8, 16, 8)], ranks=[1, 2], batch_size=1, repeats=1, warmup=0, threads=1, parts=True)
    assert {"depthwise_ms", "pointwise_ms"} <= set(layers.columns) and (layers["depthwise_ms"] > 0).all()
    assert dac.max_rank(torch.nn.Conv2d(8, 16, 3)) == 9


def test_spread_over_seeds_in_tables():
    results = [make_result(acc=0.9), make_result(acc=0.8)]
    means = report.single_layer_means(report.sweep_frame(specs((0, 1)), results, "dac.single_layer"))
    grid = report.single_layer_pivot(means, spread=True)
    assert grid.loc["conv2d_1", "rank 1"] == "5.00 ± 7.07"  # 90 - 80 = 10 and 80 - 80 = 0
    assert isinstance(report.single_layer_pivot(means).loc["conv2d_1", "rank 1"], float)
    one = report.single_layer_pivot(singles(make_result()), spread=True)
    assert isinstance(one.loc["conv2d_1", "rank 1"], float)  # one seed: numbers, no spread
    cells = report.seed_cells(means, report.baseline_summary("full", results)).set_index("layer")
    assert cells.loc["conv2d_1", "ours_drop_std_pp"] == pytest.approx(0.0)
    assert math.isnan(report.seed_cells(singles(make_result()), empty_baseline())["ours_drop_std_pp"].iloc[0])


def test_claims_show_seed_spread(live):
    results = [make_result(acc=0.9), make_result(acc=0.8)]
    baseline = report.baseline_summary("full", results)
    single = report.single_layer_means(report.sweep_frame(specs((0, 1)), results, "dac.single_layer"))
    fl = report.first_last_means(report.sweep_frame(specs((0, 1)), results, "dac.first_last"))
    table = report.build_claims(**live, model_latency=None, baseline=baseline, cells=report.seed_cells(single, baseline),
                                single=single, first_last=fl).frame().set_index("claim")
    assert table.loc["conv2d_1 alone at rank 1: accuracy drop (pp)", "ours"] == "80.00 ± 0.00 (2 seeds)"
    assert table.loc["CIFAR-VGG baseline accuracy (%)", "ours"].startswith("85.00 ± 7.07%")
    assert table.loc["CIFAR-VGG baseline accuracy (%)", "profile"] == "full"


def test_end_shares_and_ranges():
    with torch.device("meta"):
        layers = study.layer_table(create_model("vgg16_cifar"))
    shares = report.end_shares(layers).set_index("k")
    assert shares.loc[13, "first_k_%"] == pytest.approx(100.0) and shares.loc[13, "last_k_%"] == pytest.approx(100.0)
    fewer = shares.index[shares["last_k_%"] < shares["first_k_%"]]
    assert report.ranges(fewer) == "2-11"  # conv2d_1 (3 inputs) is cheaper than conv2d_13, conv2d_2 dearer
    assert report.ranges([1, 3, 4, 5, 9]) == "1, 3-5, 9" and report.ranges([]) == "none"
