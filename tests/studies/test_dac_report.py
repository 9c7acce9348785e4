"""Chapter 4 report: stored results read as frames, the tables and figures made from them, on small synthetic
results (no training, no data); the claims are tested in test_dac_claims."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from effconv.models import create_model  # noqa: E402
from effconv.studies.dac import plots as dac_plots  # noqa: E402
from effconv.studies.dac import decompose as study  # noqa: E402
from effconv.studies.dac import report  # noqa: E402
from effconv.studies.dac import results as dac_results  # noqa: E402
from effconv.studies.dac import plan as dac_runs  # noqa: E402

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
    return report.single_layer_means(dac_results.sweep_frame(specs(seeds), [result] * len(seeds), "dac.single_layer"))


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# ---------------------------------------------------------------------------------------------
# baseline, sweeps
# ---------------------------------------------------------------------------------------------

def test_test_image_count():
    assert dac_results.n_test_images(None) == 10_000
    assert dac_results.n_test_images(make_result()) == 10_000
    assert dac_results.n_test_images(make_result(test={"test": 250, "train": 510})) == 250


def test_baseline_summary_and_table():
    empty = dac_results.baseline_summary("cpu", [None])
    assert not empty.stored and empty.text() == "not run"
    two = dac_results.baseline_summary("full", [make_result(acc=0.90), make_result(acc=0.92), None])
    assert two.seeds == 2 and two.accuracy == pytest.approx(91.0) and two.std == pytest.approx(math.sqrt(2))
    assert two.text().startswith("91.00 ± 1.41%") and "2 random seeds" in two.text()
    assert two.setting.startswith("VGG-16 at width 0.25, 15 epochs")
    table = dac_results.baseline_table(specs((0, 1)), [make_result(acc=0.9), None])
    assert list(table["status"]) == ["stored", "not run"]
    assert table["test_acc_%"].iloc[0] == pytest.approx(90.0) and math.isnan(table["test_acc_%"].iloc[1])
    assert table["width"].iloc[0] == 0.25


def test_sweep_frame_percent_and_seeds():
    frame = dac_results.sweep_frame(specs((0, 1)), [make_result(acc=0.9), make_result(acc=0.8)], "dac.single_layer")
    assert set(frame["seed"]) == {0, 1} and len(frame) == 2 * 13 * 5
    assert frame["baseline_accuracy"].max() == pytest.approx(90.0)
    means = report.single_layer_means(frame)
    assert len(means) == 65 and (means["seeds"] == 2).all()
    assert means["accuracy_std"].iloc[0] == pytest.approx(math.sqrt(50))  # 10 pp apart
    assert dac_results.sweep_frame(specs(), [None], "dac.single_layer").empty
    assert dac_results.sweep_frame(specs(), [make_result()], "dac.unknown").empty


def test_single_layer_pivot_and_cells():
    means = singles(make_result())
    grid = report.single_layer_pivot(means)
    assert list(grid.index) == LAYERS and list(grid.columns) == [f"rank {r}" for r in RANKS]
    assert grid.loc["conv2d_1", "rank 1"] == pytest.approx(10.0)  # 90 - 80
    baseline = dac_results.baseline_summary("cpu", [make_result()])
    cells = report.seed_cells(means, baseline).set_index("layer")
    assert cells.loc["conv2d_1", "paper_drop_pp"] == pytest.approx(75.0)
    assert cells.loc["conv2d_1", "ours_drop_pp"] == pytest.approx(80.0)
    assert "verdict" not in cells  # the ledger grades these cells, the table only shows them
    missing = report.seed_cells(pd.DataFrame(), empty_baseline())
    assert missing["ours_acc_%"].isna().all() and missing["ours_drop_pp"].isna().all()
    assert report.single_layer_pivot(pd.DataFrame()).empty


def empty_baseline():
    return dac_results.baseline_summary("cpu", [None])


def fl_means(first, last):
    result = make_result(first=first, last=last)
    return report.first_last_means(dac_results.sweep_frame(specs(), [result], "dac.first_last"))


def test_compare_ends():
    pairs = report.compare_ends(fl_means(lambda k, r: 3.0 * k / r, lambda k, r: 1.0 * k / r))
    assert len(pairs) == 60 and (pairs["first_minus_last_pp"] > 0).all()  # 12 values of k x 5 ranks
    assert report.compare_ends(pd.DataFrame()).empty


def test_equal_saving_interpolates_first_k():
    means = fl_means(lambda k, r: 2.0 * k, lambda k, r: 2.0 * k)  # same drop per k, but last-k saves less
    table = report.equal_saving(means)
    assert not table.empty and (table["k_last"] < 13).all()
    row = table[(table["rank"] == 1) & (table["k_last"] == 5)].iloc[0]
    # last 5 saves 15%, where first-k (5% per k) sits at k = 3: drop 6 pp -> first is better by 4 pp
    assert row["first_acc_at_same_saving_%"] == pytest.approx(90.0 - 6.0)
    assert row["last_minus_first_pp"] == pytest.approx(-4.0) and row["winner"] == "first"
    assert report.equal_saving(pd.DataFrame()).empty


# ---------------------------------------------------------------------------------------------
# frontier, channel SVD, reconstruction
# ---------------------------------------------------------------------------------------------

def test_configurations_and_pareto():
    result = make_result()
    single = singles(result)
    fl = fl_means(lambda k, r: 3.0 * k / r, lambda k, r: 1.0 * k / r)
    equal = dac_results.seed_mean(dac_results.sweep_frame(specs(), [result], "dac.equal_flops"),
                                  ["config", "dac_rank", "method"])
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
    frame = dac_results.sweep_frame(specs(), [make_result()], "dac.equal_flops")
    table = report.equal_flops_table(frame)
    assert len(table) == 14 * 5 and (table["better"] == "DAC").all()
    assert table["dac_minus_svd_pp"].iloc[0] == pytest.approx(2.0)
    worse = dac_results.sweep_frame(specs(), [{**make_result(), "analyses": {
        "dac.equal_flops": equal_flops_records(dac_better=-0.3)}}], "dac.equal_flops")
    assert (report.equal_flops_table(worse)["better"] == "channel SVD").all()  # the sign, no noise threshold
    tied = dac_results.sweep_frame(specs(), [{**make_result(), "analyses": {
        "dac.equal_flops": equal_flops_records(dac_better=0.0)}}], "dac.equal_flops")
    assert (report.equal_flops_table(tied)["better"] == "tie").all()
    assert report.equal_flops_table(pd.DataFrame()).empty


def test_figures_cope_with_missing_results():
    base, none = dac_results.baseline_summary("cpu", [make_result()]), empty_baseline()
    assert dac_plots.plot_single_layer(pd.DataFrame(), none) is None
    assert dac_plots.plot_first_last(pd.DataFrame(), none) is None
    assert dac_plots.plot_pareto(pd.DataFrame(), pd.DataFrame(), none) is None
    assert dac_plots.plot_equal_flops(pd.DataFrame(), "cpu") is None
    random_init = pd.DataFrame([{"layer": "conv2d_1", "rank": r, "rel_error": 1 - r / 9} for r in range(1, 10)])
    assert isinstance(dac_plots.plot_reconstruction(random_init, pd.DataFrame(), "cpu"), plt.Figure)
    result = make_result()
    single = singles(result)
    fl = fl_means(lambda k, r: 3.0 * k / r, lambda k, r: 1.0 * k / r)
    assert isinstance(dac_plots.plot_single_layer(single, base), plt.Figure)
    assert isinstance(dac_plots.plot_first_last(fl, base), plt.Figure)
    configs = report.configurations(single, fl, pd.DataFrame())
    assert isinstance(dac_plots.plot_pareto(configs, report.pareto(configs), base), plt.Figure)
    table = report.equal_flops_table(dac_results.sweep_frame(specs(), [result], "dac.equal_flops"))
    assert isinstance(dac_plots.plot_equal_flops(table, "cpu"), plt.Figure)
    recon = report.reconstruction_means(dac_results.sweep_frame(specs(), [result], "dac.reconstruction"))
    assert isinstance(dac_plots.plot_reconstruction(random_init, recon, "cpu"), plt.Figure)
    assert "not run yet" in dac_plots.not_run_note("Single-layer sweep", "cpu").data


# ---------------------------------------------------------------------------------------------
# latency
# ---------------------------------------------------------------------------------------------

def test_depthwise_slowdown():
    layers = pd.DataFrame([{"in_channels": 8, "out_channels": 8, "size": 4, "rank": r, "depthwise_ms": ms}
                           for r, ms in ((1, 1.0), (2, 6.0))])
    assert report.depthwise_slowdown(layers) == pytest.approx(6.0)
    assert math.isnan(report.depthwise_slowdown(layers.drop(columns="depthwise_ms")))


# ---------------------------------------------------------------------------------------------
# spread over seeds, shares of the MACs
# ---------------------------------------------------------------------------------------------

def test_spread_over_seeds_in_tables():
    results = [make_result(acc=0.9), make_result(acc=0.8)]
    means = report.single_layer_means(dac_results.sweep_frame(specs((0, 1)), results, "dac.single_layer"))
    grid = report.single_layer_pivot(means, spread=True)
    assert grid.loc["conv2d_1", "rank 1"] == "5.00 ± 7.07"  # 90 - 80 = 10 and 80 - 80 = 0
    assert isinstance(report.single_layer_pivot(means).loc["conv2d_1", "rank 1"], float)
    one = report.single_layer_pivot(singles(make_result()), spread=True)
    assert isinstance(one.loc["conv2d_1", "rank 1"], float)  # one seed: numbers, no spread
    cells = report.seed_cells(means, dac_results.baseline_summary("full", results)).set_index("layer")
    assert cells.loc["conv2d_1", "ours_drop_std_pp"] == pytest.approx(0.0)
    assert math.isnan(report.seed_cells(singles(make_result()), empty_baseline())["ours_drop_std_pp"].iloc[0])


def test_end_shares_and_ranges():
    with torch.device("meta"):
        layers = study.layer_table(create_model("vgg16_cifar"))
    shares = report.end_shares(layers).set_index("k")
    assert shares.loc[13, "first_k_%"] == pytest.approx(100.0) and shares.loc[13, "last_k_%"] == pytest.approx(100.0)
    fewer = shares.index[shares["last_k_%"] < shares["first_k_%"]]
    assert report.ranges(fewer) == "2-11"  # conv2d_1 (3 inputs) is cheaper than conv2d_13, conv2d_2 dearer
    assert report.ranges([1, 3, 4, 5, 9]) == "1, 3-5, 9" and report.ranges([]) == "none"


# ---------------------------------------------------------------------------------------------
# every stored seed of the planned baseline, and the FLOPs channel SVD gets
# ---------------------------------------------------------------------------------------------

def _stored(spec, acc=0.85):
    result = make_result(seed=spec.seed, acc=acc)
    result["curve"] = [{"epoch": e, "seconds": 1.0} for e in range(1, spec.recipe.epochs + 1)]
    del result["spec"]  # the store writes the spec itself
    return result


def test_every_stored_seed_of_the_planned_baseline_is_read(tmp_path, monkeypatch):
    import dataclasses

    from effconv.experiments import ResultStore
    from effconv.train.recipes import recipe_for

    monkeypatch.setenv("EFFCONV_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("EFFCONV_CACHE", str(tmp_path / "cache"))
    store = ResultStore()
    for seed in (0, 2, 3, 4):   # the plan's seed 1 is missing; 3 and 4 are another chapter's, same spec
        store.save(dac_runs.baseline_spec("cpu", seed), _stored(dac_runs.baseline_spec("cpu", seed)))
    other = dataclasses.replace(dac_runs.baseline_spec("cpu", 7), recipe=recipe_for("cpu", epochs=3))
    store.save(other, _stored(other))  # a baseline with another recipe is not the planned arm
    assert dac_results.stored_seeds("cpu") == [0, 2, 3, 4]
    runs = dac_results.load_runs("cpu", log=lambda *a, **k: None)
    assert [s.seed for s in runs.specs] == [0, 1, 2, 3, 4]
    assert [r is not None for r in runs.results] == [True, False, True, True, True]
    assert dac_results.baseline_summary("cpu", runs.results).seeds == 4


def test_flops_gap_says_how_much_less_channel_svd_gets():
    frame = pd.DataFrame([{"config": c, "dac_rank": r, "method": m, "macs": macs, "baseline_macs": 1000, "seed": s}
                          for s in (0, 1) for c, r, dac, svd in (("a", 1, 500, 490), ("a", 2, 600, 600), ("b", 1, 400, 387))
                          for m, macs in (("dac", dac), ("channel_svd", svd))])
    gap = report.flops_gap(frame)
    assert (gap.configurations, gap.fewer) == (3, 2)
    assert gap.mean_pp == pytest.approx((1.0 + 0.0 + 1.3) / 3) and gap.max_pp == pytest.approx(1.3)
    assert report.flops_gap(pd.DataFrame()) is None
    from effconv.errors import EffconvError
    with pytest.raises(EffconvError, match="re-run"):
        report.flops_gap(frame.assign(macs=frame["macs"].where(frame["method"] == "dac", 2000)))


def test_the_single_layer_map_is_one_panel_with_the_quoted_cells_outlined():
    """No second, nearly empty panel: the specification's two cells sit on our map, outlined, with its drop."""
    base = dac_results.baseline_summary("cpu", [make_result()])
    fig = dac_plots.plot_single_layer(singles(make_result()), base)
    heat = fig.axes[0]
    assert len(fig.axes) == 2  # the map and its colour bar
    outlined = [p for p in heat.patches if isinstance(p, plt.Rectangle) and not p.get_fill()]
    assert sorted((p.get_x(), p.get_y()) for p in outlined) == [(0, 0), (0, 12)]  # conv2d_1 and conv2d_13, rank 1
    labels = [t.get_text() for t in heat.texts]
    assert any("(spec. 75.0)" in t for t in labels) and any("(spec. 0.7)" in t for t in labels)
    assert "_" not in heat.get_title() and "random seed" in heat.get_title()  # no code names; runs are random seeds
