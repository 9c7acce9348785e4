"""Chapter 3 report: the tables from small synthetic results (no training), with and without stored runs.
The claims are tested in ``test_acnet_claims``, the live checks in ``test_acnet_checks``."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pandas as pd

import pytest
from acnet_fakes import comparison, paper_like_runs

from effconv.studies.acnet import plan as runs
from effconv.studies.acnet import plots, report, results
from effconv.studies.acnet import skeleton as skeleton_tables

pytestmark = pytest.mark.usefixtures("single_thread")


def test_everything_copes_with_no_runs():
    table, ablation, skeleton = (comparison(runs.table_specs), comparison(runs.ablation_specs),
                                 comparison(runs.skeleton_specs))
    cifar10 = report.cifar10_table(table)
    # the cpu profile trains narrow stand-ins of VGG-16, WRN-16-8 and DenseNet-40; ResNet-20 stands in for ResNet-56
    assert list(cifar10["model"][:6]) == ["Cifar-quick", "VGG-16 (width 0.25)", "ResNet-56", "ResNet-20",
                                          "WRN-16-8 (width 0.25)", "DenseNet-40 (width 0.25)"]
    assert cifar10["gain"].isna().all() and cifar10.iloc[-1]["dataset"] == "CIFAR-100"
    assert set(cifar10["status"]) == {"not run", "not in the cpu profile", "not run (no data)"}
    shown = report.cifar10_display(cifar10)
    assert (shown["ours: gain pp"] == "not run").all()
    assert shown.loc[1, "paper"] == "94.12 → 94.47 (+0.35) *"  # transcribed values are starred
    assert report.ablation_table(ablation)["acc_pct"].isna().all()
    rotation = report.rotation_table(results.merge(ablation, table))
    # 5 variants x 3 seeds, plus base and ACB at seeds 3 and 4 (Table 1's headline seeds)
    assert len(rotation) == 19 and (rotation["status"] == "not run").all()
    assert skeleton_tables.importance_by_seed(skeleton) == {"base": {}, "acnet": {}, "border": {}}
    assert skeleton_tables.mean_maps(skeleton_tables.importance_by_seed(skeleton)) == {
        "base": None, "acnet": None, "border": None}
    assert skeleton_tables.peak_positions({}).empty
    rows = skeleton_tables.pruning_rows(skeleton)
    assert rows.empty and skeleton_tables.pruning_summary(rows).empty and skeleton_tables.pruning_wide(skeleton_tables.pruning_summary(rows), "acnet").empty
    assert (report.trained_fusion_table(table)["status"] == "not run").all()
    assert report.training_time_table(table).empty
    for fig in (plots.plot_rotation(rotation, "cpu"),
                plots.plot_importance(skeleton_tables.mean_maps(skeleton_tables.importance_by_seed(skeleton)), "cpu",
                                      "resnet20"),
                plots.plot_base_peaks({}, skeleton_tables.peak_positions({}), "resnet20"),
                plots.plot_pruning(rows, "cpu", "resnet20")):
        assert fig.axes
        fig.clf()


def test_cifar10_table_partial_runs_and_paired_gain():
    table = comparison(runs.table_specs, {("cifar_quick", "base", 0): 0.80, ("cifar_quick", "base", 1): 0.81,
                                          ("cifar_quick", "acnet", 0): 0.815})
    row = report.cifar10_table(table).iloc[0]
    assert row["base_mean"] == pytest.approx(80.5) and row["base_std"] == pytest.approx(0.7071, abs=1e-3)
    assert row["acnet_mean"] == pytest.approx(81.5) and math.isnan(row["acnet_std"])
    assert row["gain"] == pytest.approx(1.5)  # paired on seed 0 only, not 81.5 - 80.5
    assert row["paired_seeds"] == 1 and row["status"] == "partial (3 of 10 runs)"
    assert row["repo_gain"] == pytest.approx(0.67) and math.isnan(row["paper_gain"])
    shown = report.cifar10_display(report.cifar10_table(table)).iloc[0]
    assert shown["ours: base %"] == "80.50 ± 0.71 (2 seeds)" and shown["ours: ACNet %"] == "81.50"
    assert shown["our runs"].endswith("partial (3 of 10 runs)")


def test_ablation_and_rotation_tables():
    accs = {("cifar_quick", v, 0): a for v, a in
            {"base": 0.80, "hor": 0.81, "ver": 0.805, "sum-bn": 0.79, "acnet": 0.82}.items()}
    rot = {("cifar_quick", "hor", 0): {"rotation": {"original": 0.81, "rot90_ccw": 0.3, "rot180": 0.40, "flip_ud": 0.41}},
           ("cifar_quick", "ver", 0): {"rotation": {"original": 0.805, "rot90_ccw": 0.3, "rot180": 0.35, "flip_ud": 0.34}},
           ("cifar_quick", "base", 0): {"rotation": {"original": 0.80, "rot90_ccw": 0.3, "rot180": 0.36, "flip_ud": 0.36}}}
    ablation = comparison(runs.ablation_specs, accs, rot)
    table = report.ablation_table(ablation).set_index("key")
    assert table.loc["hor", "vs_base_pp"] == pytest.approx(1.0) and table.loc["sum-bn", "vs_acb_pp"] == pytest.approx(-3.0)
    assert table.loc["sum-bn", "BN"] == "one, after the sum" and table.loc["hor", "vertical kx1"] == "–"
    shown = report.ablation_display(report.ablation_table(ablation))
    assert list(shown["accuracy %"]) == ["80.00", "81.00", "80.50", "79.00", "82.00"]
    assert shown["vs base pp"].iloc[1] == "+1.00 (1 paired)" and shown["seeds"].iloc[0] == "1/3"
    # a second seed: mean ± sd over seeds, and differences paired by seed (not difference of means)
    accs.update({("cifar_quick", "base", 1): 0.78, ("cifar_quick", "hor", 1): 0.80})
    table = report.ablation_table(comparison(runs.ablation_specs, accs, rot)).set_index("key")
    assert table.loc["base", "n"] == 2 and table.loc["base", "acc_std"] == pytest.approx(1.4142, abs=1e-3)
    assert table.loc["hor", "vs_base_pp"] == pytest.approx(1.5) and table.loc["hor", "pairs_base"] == 2
    assert table.loc["acnet", "vs_base_pp"] == pytest.approx(2.0) and table.loc["acnet", "pairs_base"] == 1
    rotation = report.rotation_table(ablation)
    gaps = report.rotation_gaps(rotation).set_index("comparison")
    assert gaps.loc["hor − base", "rot180"] == pytest.approx(4.0)
    assert gaps.loc["hor − ver", "rot180"] == pytest.approx(5.0) and gaps.loc["hor − base", "pairs"] == 1
    # every stored seed is read: a second paired seed moves the gap to the mean of the two
    rot.update({("cifar_quick", "hor", 1): {"rotation": {"original": 0.80, "rot90_ccw": 0.3, "rot180": 0.38, "flip_ud": 0.38}},
                ("cifar_quick", "base", 1): {"rotation": {"original": 0.78, "rot90_ccw": 0.3, "rot180": 0.36, "flip_ud": 0.36}}})
    two = report.rotation_gaps(report.rotation_table(comparison(runs.ablation_specs, accs, rot))).set_index("comparison")
    assert two.loc["hor − base", "rot180"] == pytest.approx(3.0) and two.loc["hor − base", "pairs"] == 2
    assert two.loc["hor − ver", "pairs"] == 1
    assert report.rotation_display(rotation).columns.tolist() == ["variant", "seed", *report.CONDITIONS.values()]


def test_training_time_and_fusion_tables():
    table, ablation, skeleton = paper_like_runs()
    merged = results.merge(table, ablation, skeleton)
    times = report.training_time_table(merged)
    assert (times.loc[times["variant"] == "base", "ratio_to_base"] == 1.0).all()
    # a ratio is taken on one machine only: an ACB run with no base on its machine has none
    moved = merged.table().assign(device=lambda t: t["device"].where(t["variant"] != "acnet", "other CPU, AVX2"))
    merged.table = lambda: moved
    elsewhere = report.training_time_table(merged).query("variant == 'acnet'")
    assert set(elsewhere["device"]) == {"other CPU, AVX2"} and elsewhere["ratio_to_base"].isna().all()
    fusion = report.trained_fusion_table(merged)
    # 7 stored ACB runs (Cifar-quick ACNet x2, hor, ver, sum-bn; ResNet-20 ACNet, border); the rest not run yet
    assert (fusion["status"] == "stored").sum() == 7 and (fusion["variant"] != "base").all()
    shown = report.trained_fusion_display(fusion[fusion["status"] == "stored"])
    assert set(shown["fused MACs = base MACs"]) == {"yes"}


def test_pruning_legend_names_every_region_drawn_in_any_panel():
    from acnet_fakes import pruning_curve

    regions = ("corners", "skeleton", "global", "border", "top_left")
    frames = [pd.DataFrame(pruning_curve(0.85, 0.3, 2.0)).assign(variant="base", run_seed=0),
              pd.DataFrame(pruning_curve(0.85, 0.2, 3.0, regions=regions, extra={"border": 3.0, "top_left": 2.5}))
              .assign(variant="border", run_seed=0)]
    rows = pd.concat(frames, ignore_index=True).assign(accuracy=lambda f: 100 * f["accuracy"])
    fig = plots.plot_pruning(rows, "cpu", "resnet20")
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["corners", "skeleton", "global", "border", "top-left"]   # the base panel draws only 3
    fig.clf()


def test_a_cut_interval_end_is_written_inside_the_axes():
    rows = [{"profile": "cpu", "variant": v, "seed": s, "status": "stored",
             **{c: 80.0 + (3.0 * s * s if v == "hor" else 0.0) for c in report.CONDITIONS}}
            for v in ("base", "hor") for s in (0, 1)]            # two seeds: t = 12.7, an interval far past the dots
    fig = plots.plot_rotation(pd.DataFrame(rows), "cpu")
    ax = fig.axes[0]
    fig.canvas.draw()
    box = ax.get_window_extent()
    labels = [t for t in ax.texts if t.get_text().startswith(("+", "-", "−"))]
    assert labels and all(box.contains(*t.get_window_extent().corners()[i]) for t in labels for i in range(4))
    fig.clf()


def test_block_diagram_is_drawn_from_the_real_layer_shapes():
    from effconv.studies.acnet import checks

    shapes = checks.block_shapes("resnet20")
    assert shapes["input"] == (1, 3, 32, 32) and shapes["output"] == (1, 16, 32, 32)
    assert {n: b["kernel"] for n, b in shapes["branches"].items()} == {
        "square": (16, 3, 3, 3), "hor": (16, 3, 1, 3), "ver": (16, 3, 3, 1)}
    fig = plots.plot_acb_block(shapes)
    text = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "weight 16 × 3 × 1 × 3" in text and "BN (16 channels)" in text and "folds into one 3x3 conv" in text
    fig.clf()


def test_the_base_peak_is_found_off_the_centre():
    off = pd.DataFrame([[0.97, 0.98, 0.99], [0.98, 1.0, 1.02], [1.0, 1.01, 1.03]])
    centred = pd.DataFrame([[0.9, 0.95, 0.9], [0.95, 1.0, 0.95], [0.9, 0.95, 0.9]])
    peaks = skeleton_tables.peak_positions({0: off, 1: centred, 2: off.T})
    assert list(peaks["position"]) == ["bottom-right", "centre", "bottom-right"]
    assert list(peaks["centre"]) == [False, True, False]
    fig = plots.plot_base_peaks({0: off, 1: centred}, peaks.iloc[:2], "resnet20")
    assert [ax.get_title() for ax in fig.axes] == ["random seed 0\npeak: bottom-right", "random seed 1\npeak: centre"]
    fig.clf()


def test_numbers_never_print_minus_zero():
    assert results.fmt(-0.0004, 3, signed=True) == "+0.000" and results.fmt(-0.0004, 2) == "0.00"


def test_peak_numbers_say_where_the_base_peaks_by_random_seed():
    from effconv.studies.acnet import cited

    peaks = pd.DataFrame({"seed": [0, 1, 2], "row": [2, 1, 2], "col": [2, 2, 2],
                          "position": ["bottom-right", "right-middle", "bottom-right"], "centre": [False] * 3})
    assert cited.peak_numbers(peaks) == {"base_peaks_off_centre": "3 of 3",
                                         "base_peaks_where": "bottom-right in random seeds 0, 2; right-middle in random seed 1"}
    assert cited.count(1, "pair") == "1 pair" and cited.count("5", "paired random seed") == "5 paired random seeds"


def test_the_setting_names_every_cpu_family_with_its_width_epochs_and_pairs():
    from effconv.studies.acnet import plan as acnet_plan
    from effconv.studies.acnet.cited import cpu_families
    from effconv.studies.acnet.results import MODEL_LABELS

    text = cpu_families()
    for model, cfg in acnet_plan.TABLE["cpu"].items():
        width = "full width" if cfg["width"] == 1 else f"width {cfg['width']:g}"
        longer = acnet_plan.LONGER_EPOCHS["cpu"] if model == acnet_plan.SCHEDULE_MODEL else ()
        epochs = " and ".join(str(e) for e in (cfg["recipe"]["epochs"], *longer))
        pairs = f"{len(acnet_plan.table_seeds('cpu', model))} pairs" + (" each" if longer else "")
        assert f"{MODEL_LABELS[model]} at {width} for {epochs} epochs ({pairs})" in text


def test_the_table_gains_name_every_family_with_its_gain_and_verdict():
    import pandas as pd

    from effconv.studies.acnet.cited import table_gains

    def row(claim, ours, verdict):
        return {"claim": claim, "ours": ours, "verdict": verdict}
    frame = pd.DataFrame([
        row("CIFAR-10 Cifar-quick: ACNet gain over the base (direction, pp)", "0.648", "reproduced"),
        row("CIFAR-10 Cifar-quick: base accuracy (%)", "79.24", "not comparable"),
        row("CIFAR-10 ResNet-56 (ResNet-20 at width 1 stands in for ResNet-56): ACNet gain over the base (direction, pp)",
            "-0.492", "inconclusive"),
        row("CIFAR-10 DenseNet-40 (at width 0.25, a narrow stand-in): ACNet gain over the base (direction, pp)", "",
            "not run"),
        row("CIFAR-100: ACNet improves every family (direction)", "", "not run")])
    assert table_gains(frame) == ("Cifar-quick +0.65 pp (reproduced), ResNet-56 (as ResNet-20) -0.49 pp "
                                  "(inconclusive) and DenseNet-40 not run")


def test_the_power_planned_gain_is_cited_only_at_its_planned_pairs():
    from effconv.studies.acnet.cited import power_result

    claim = ("CIFAR-10 ResNet-56 (ResNet-20 at width 1 stands in for ResNet-56): ACNet gain over the base "
             "(direction, pp)")
    pairs = runs.power_plan("cpu", "resnet20").pairs
    frame = pd.DataFrame([{"claim": claim, "ours": "-0.4467", "interval": "[-1.09, 0.192]", "n": str(pairs),
                           "verdict": "inconclusive"}])
    assert power_result(frame) == "-0.45 pp (95% interval [-1.09, 0.192]), inconclusive"
    frame["n"] = str(pairs - 1)
    assert power_result(frame) == f"not graded yet ({pairs - 1} of {pairs} pairs stored)"


def test_the_claim_waits_for_a_schedule_with_all_its_pairs_and_the_figure_says_how_many():
    from effconv.studies.acnet.evidence import longest_complete

    ten = (10, 5, {s: 80.0 + s for s in range(5)}, {s: 79.0 for s in range(5)})
    thirty = (30, 5, {s: 83.0 for s in range(4)}, {s: 82.0 for s in range(5)})   # one ACB still training
    assert longest_complete([ten, thirty])[0] == 10
    assert longest_complete([ten, (30, 5, {**thirty[2], 4: 83.0}, thirty[3])])[0] == 30
    row = {"model": "Cifar-quick", "planned": 5, "verdict": "reproduced"}
    gains = pd.DataFrame([{**row, "epochs": 10, "pairs": 5, "gain_pp": 0.6, "low": 0.2, "high": 1.1},
                          {**row, "epochs": 30, "pairs": 4, "gain_pp": 0.9, "low": 0.4, "high": 1.4},
                          {**row, "epochs": 60, "pairs": 0, "gain_pp": math.nan, "low": math.nan, "high": math.nan}])
    fig = plots.plot_gain_vs_epochs(gains, 0.67, "the authors' re-run")
    shown = {text.get_text() for text in fig.axes[0].texts}
    assert {"5 of 5 pairs", "4 of 5 pairs", "60 epochs:\nnot run yet"} <= shown
    plt.close(fig)
