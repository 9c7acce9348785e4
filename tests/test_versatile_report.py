"""Chapter 5 report: CIFAR table, paired comparisons, mask curves and claims from synthetic results (no training);
the chapter's live checks in studies.versatile_checks and versatile_costs (crop form, channel windows, costs, orthogonal loss)."""

import math
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from effconv.claims import COLUMNS, VERDICTS, ClaimsTable
from effconv.errors import EffconvError
from effconv.studies.versatile import checks
from effconv.studies.versatile import costs
from effconv.studies.versatile import claims as versatile_claims
from effconv.studies.versatile import plots as versatile_plots
from effconv.studies.versatile import report
from effconv.studies.versatile import results as versatile_results
from effconv.studies.versatile import plan as runs_spec

LABELS = list(versatile_results.VARIANTS.values())


def counted_frame() -> pd.DataFrame:
    """A stand-in for cifar_vgg16_complexity(): baseline 1.0M params, v1 half, v2 a quarter."""
    rows = [("baseline", 1.0, 0.0, 4.0, 20.0, 20.0), ("versatile v1", 0.5, 0.0, 2.0, 11.0, 11.0),
            ("versatile v2", 0.25, 0.0, 1.0, 10.0, 10.0), ("learned masks (a)", 0.5, 0.01, 2.0, 11.0, 20.0),
            ("learned masks (b)", 0.5, 0.5, 2.1, 11.0, 20.0), ("learned masks (b), lambda = 0", 0.5, 0.5, 2.1, 11.0, 20.0)]
    return pd.DataFrame(rows, columns=["model", "params_M", "mask_Mbit", "memory_MB", "MFLOPs", "MFLOPs_executed"])


def mask_overall(changed: float, equal: float = 0.0, hamming: float = 8 / 9) -> dict:
    return {"density": 5 / 9, "changed_from_init": changed, "pairwise_hamming": hamming, "all_equal_fraction": equal,
            "ortho_loss": 33 / 81, "layers": 13, "primaries": 100}


def fake_result(acc: float, *, epochs: int = 3, masked: bool = False, changed: float = 0.0, equal: float = 0.0,
                hamming: float = 8 / 9, complexity: dict | None = None) -> dict:
    curve = []
    for epoch in range(1, epochs + 1):
        row = {"epoch": epoch, "test_acc": acc - 0.01 * (epochs - epoch), "seconds": 10.0 + epoch, "lr": 0.1,
               "train_loss": 1.0, "train_acc": 0.5, "test_loss": 1.0}
        if masked:
            row["versatile.masks"] = {"overall": mask_overall(changed * epoch / epochs, equal, hamming), "layers": {}}
        curve.append(row)
    analyses = {}
    if complexity is not None:
        analyses["versatile.complexity"] = complexity
    if masked:
        analyses["versatile.masks"] = {"overall": mask_overall(changed, equal, hamming), "layers": {
            "features.0.conv": {**mask_overall(changed, equal, hamming), "mask_sets": 8, "mask_entries": 27, "s": 2,
                                "strategy": "b"}}}
    return {
        "key": "k", "spec": {},
        "metrics": {"final": {"test_acc": acc}, "best": {"test_acc": acc + 0.002, "epoch": epochs}},
        "curve": curve, "analyses": analyses, "model": {"params": 1, "macs": 1, "input_size": [3, 32, 32]},
        "provenance": {"device": "test cpu", "wall_seconds": 120.0, "data": {"source": "jpeg"}},
    }


COMPLEXITY = {"params": 480_000, "params_official": 480_000, "mask_bits": 0, "memory_mb": 1.83,
              "memory_mb_official": 1.83, "macs": 11_000_000, "macs_executed": 11_000_000}


def cpu_results(accs: dict, profile: str = "cpu", **mask_kwargs) -> tuple[list, list]:
    """Synthetic results: ``accs[label]`` is one accuracy for every seed of the arm, or {seed: accuracy}
    (seeds left out are not run); ``mask_kwargs[label]`` may override the mask statistics of one arm."""
    specs = runs_spec.experiments(profile)
    results = []
    for spec in specs:
        label = versatile_results.VARIANTS[spec.name]
        acc = accs.get(label)
        acc = acc.get(spec.seed) if isinstance(acc, dict) else acc
        masked = label in versatile_results.MASKED
        per_arm = any(key in versatile_results.MASKED for key in mask_kwargs)
        kwargs = (mask_kwargs.get(label, {}) if per_arm else mask_kwargs) if masked else {}
        kwargs = {k: v[spec.seed] if isinstance(v, dict) else v for k, v in kwargs.items()
                  if not isinstance(v, dict) or spec.seed in v}
        results.append(None if acc is None else fake_result(
            acc, masked=masked, complexity=None if label == "baseline" else COMPLEXITY, **kwargs))
    return specs, results


def first_seed(specs, results):
    """Only seed 0 of each arm stored (the state of the committed cpu results)."""
    return [r if s.seed == 0 else None for s, r in zip(specs, results)]


# ---------------------------------------------------------------------------------------------
# CIFAR table
# ---------------------------------------------------------------------------------------------

def test_cifar_table_with_nothing_stored():
    specs, results = cpu_results({})
    table = report.cifar_table("cpu", specs, results, counted_frame())
    assert list(table["variant"]) == LABELS
    assert (table["status"] == "not run").all() and table["test_acc_%"].isna().all()
    seeds = table.set_index("variant")["seeds"]
    assert seeds["baseline"] == seeds["versatile v1"] == "0/5" and seeds["versatile v2"] == "0/3"
    assert (table["profile"] == "cpu").all()
    assert (table["complexity from"] == "counted (fresh model)").all()
    by = table.set_index("variant")
    assert by.loc["versatile v1", "params_ratio"] == pytest.approx(0.5)
    assert by.loc["learned masks (b)", "executed_ratio"] == pytest.approx(1.0)
    assert by.loc["learned masks (b)", "mask_kbit"] == pytest.approx(500.0)


def test_cifar_table_partial_uses_stored_complexity_and_accuracy():
    specs, results = cpu_results({"baseline": 0.90, "versatile v1": 0.895})
    results = first_seed(specs, results)
    table = report.cifar_table("cpu", specs, results, counted_frame()).set_index("variant")
    assert table.loc["baseline", "status"] == "partial" and table.loc["versatile v2", "status"] == "not run"
    assert table.loc["versatile v1", "test_acc_%"] == pytest.approx(89.5)
    assert table.loc["versatile v1", "delta_vs_baseline"] == pytest.approx(-0.5)
    assert math.isnan(table.loc["versatile v1", "std_%"])  # one seed: no spread
    assert table.loc["versatile v1", "complexity from"] == "trained model (1 run)"
    assert table.loc["versatile v1", "params_M"] == pytest.approx(0.48)
    assert table.loc["baseline", "complexity from"] == "counted (fresh model)"  # chapter 4's run stores none
    assert math.isnan(table.loc["versatile v2", "delta_vs_baseline"])


def test_cifar_table_over_seeds():
    specs = runs_spec.experiments("full")
    accs = {("baseline", 0): 0.93, ("baseline", 1): 0.94, ("baseline", 2): 0.935, ("versatile v1", 0): 0.93,
            ("versatile v1", 1): 0.92}
    results = [None if (versatile_results.VARIANTS[s.name], s.seed) not in accs else
               fake_result(accs[versatile_results.VARIANTS[s.name], s.seed]) for s in specs]
    table = report.cifar_table("full", specs, results, counted_frame()).set_index("variant")
    assert table.loc["baseline", "seeds"] == "3/3" and table.loc["baseline", "status"] == "stored"
    assert table.loc["versatile v1", "seeds"] == "2/3" and table.loc["versatile v1", "status"] == "partial"
    assert table.loc["baseline", "test_acc_%"] == pytest.approx(93.5)
    assert table.loc["baseline", "std_%"] == pytest.approx(0.5)
    runs = versatile_results.run_table(specs, results)
    assert report.arm_values(runs, "versatile v1") == pytest.approx({0: 93.0, 1: 92.0})
    # paired on seeds 0 and 1 only: differences 0 and -2
    assert "-1.00 points, mean over 2 paired seed(s)" in report.comparison_sentence(runs, "versatile v1", "baseline",
                                                                                  "full")


def test_run_table_and_sentences():
    specs, results = cpu_results({"baseline": 0.90, "versatile v1": 0.91})
    results = first_seed(specs, results)
    runs = versatile_results.run_table(specs, results)
    assert (runs["status"] == "stored").sum() == 2 and len(runs) == len(specs)
    assert runs.loc[0, "seconds_per_epoch"] == pytest.approx(12.0) and runs.loc[0, "data"] == "jpeg"
    text = report.comparison_sentence(runs, "versatile v1", "baseline", "cpu")
    assert "+1.00 points, mean over 1 paired seed(s)" in text and "interval" not in text
    missing = report.comparison_sentence(runs, "versatile v2", "baseline", "cpu")
    assert missing == "not run yet (versatile v2: no stored cpu run)"
    assert "baseline 12 s" in report.epoch_time_sentence(runs, "cpu")
    empty = versatile_results.run_table(*cpu_results({}))
    assert report.epoch_time_sentence(empty, "cpu").startswith("not run yet")


def test_cpu_plan_seeds_per_arm_keep_the_stored_specs():
    specs = runs_spec.experiments("cpu")
    count = pd.Series([versatile_results.VARIANTS[s.name] for s in specs]).value_counts()
    assert count["baseline"] == count["versatile v1"] == 5
    assert all(count[label] == 3 for label in LABELS[2:])
    control = next(s for s in specs if s.name == "vgg16-masks-b-lambda0")
    assert control.model_kwargs["conv_kwargs"]["ortho_weight"] == 0.0
    # adding seeds and the control must not move the specs of the runs already stored
    stored = {s.filename for s in specs if s.seed == 0}
    assert {"vgg16-v1-b95b22d4fa.json", "vgg16-v2-3b84ef0c3b.json", "vgg16-masks-a-9b95549570.json",
            "vgg16-masks-b-5a3532ad9b.json", "vgg16-baseline-04de584c56.json"} <= stored
    with pytest.raises(EffconvError, match="not defined for chapter 5"):
        runs_spec.experiments("huge")


# ---------------------------------------------------------------------------------------------
# Masks
# ---------------------------------------------------------------------------------------------

def test_mask_curves_and_final_masks():
    specs, results = cpu_results({"learned masks (a)": 0.85, "learned masks (b)": 0.86}, changed=0.03)
    initial = {"learned masks (a)": mask_overall(0.0), "learned masks (b)": mask_overall(0.0)}
    curves = versatile_results.mask_curves(specs, results, initial)
    assert set(curves["variant"]) == {"learned masks (a)", "learned masks (b)"}  # the control was not run
    changed = curves[(curves["statistic"] == "changed_from_init") & (curves["variant"] == "learned masks (b)")
                     & (curves["seed"] == 0)]
    assert list(changed["epoch"]) == [0, 1, 2, 3]
    assert changed["value"].iloc[0] == 0.0 and changed["value"].iloc[-1] == pytest.approx(0.03)
    assert versatile_results.mask_curves(specs, results).query("epoch == 0").empty  # no initial stats given
    final = versatile_results.final_masks(specs, results)
    assert set(final["status"]) == {"stored", "not run"} and (final["status"] == "stored").sum() == 6
    assert final.loc[final["status"] == "stored", "changed_from_init"].tolist() == [0.03] * 6
    layers = versatile_results.mask_layers(next(r for s, r in zip(specs, results) if s.name == "vgg16-masks-b" and r))
    assert list(layers["layer"]) == ["features.0.conv"] and layers.loc[0, "mask_entries"] == 27


def test_mask_tables_when_not_run():
    specs, results = cpu_results({})
    assert versatile_results.mask_curves(specs, results, {"learned masks (a)": mask_overall(0.0)}).empty
    final = versatile_results.final_masks(specs, results)
    assert (final["status"] == "not run").all() and len(final) == 9 and final["density"].isna().all()
    assert versatile_results.mask_layers(None).empty


def test_plots_draw_without_warnings_with_and_without_runs():
    optimum = {"relaxed_density": 0.6, "relaxed_hamming": 0.8, "relaxed_loss": 0.2}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for accs in ({}, {"baseline": 0.9, "versatile v1": 0.9, "learned masks (a)": 0.85, "learned masks (b)": 0.86}):
            specs, results = cpu_results(accs, changed=0.01)
            table = report.cifar_table("cpu", specs, results, counted_frame())
            fig = versatile_plots.plot_cifar(table, versatile_results.accuracy_curves(specs, results), "cpu")
            assert len(fig.axes) == 2
            curves = versatile_results.mask_curves(specs, results, {"learned masks (a)": mask_overall(0.0)})
            fig = versatile_plots.plot_mask_curves(curves, "cpu", optimum=optimum)
            assert len(fig.axes) == 4
            plt.close("all")


# ---------------------------------------------------------------------------------------------
# Claims
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def live_frames():
    """The live checks at small sizes, plus a stand-in for the ImageNet table (counting it takes seconds)."""
    imagenet = pd.DataFrame([
        {"model": "ResNet-50", "params_M": 25.557, "params_official_M": 25.557, "memory_MB": 97.49, "GFLOPs": 4.089},
        {"model": "Versatile-v1 ResNet-50", "params_M": 19.89, "params_official_M": 19.89, "memory_MB": 75.88,
         "GFLOPs": 3.200},
        {"model": "Versatile-v2 ResNet-50", "params_M": 10.98, "params_official_M": 10.997, "memory_MB": 41.95,
         "GFLOPs": 3.167},
        {"model": "Versatile-v2 ResNet-50 (c_hat = 15c/16)", "params_M": 10.44, "params_official_M": 10.997,
         "memory_MB": 41.95, "GFLOPs": 2.986},
    ])
    return dict(spatial=checks.spatial_check_table(((3, 1, None), (5, 2, None)), channels=3, out_channels=6, size=7),
                channel=checks.channel_check_table(((8, 7, 1), (8, 4, 2)), out_channels=24, size=5),
                layer_costs=costs.layer_cost_table(channels=32, out_channels=32, size=8),
                ortho=checks.ortho_gradient_check(((2, 3, 2),)), imagenet=imagenet)


def trained_frame(accs, profile="cpu", **mask_kwargs):
    specs, results = cpu_results(accs, profile, **mask_kwargs)
    claims = versatile_claims.add_trained(ClaimsTable("versatile"), profile, specs, results)
    return claims.frame().set_index("claim")


def row(table, text):
    rows = table.filter(like=text, axis=0)
    assert len(rows) == 1, text
    return rows.iloc[0]


@pytest.fixture(scope="module")
def counted_ledger():
    return versatile_claims.add_counted(ClaimsTable("versatile")).frame().set_index("claim")


def test_counted_claims(counted_ledger):
    table = counted_ledger
    assert set(table["kind"]) == {"counted"} and set(table["verdict"]) <= set(VERDICTS)
    assert row(table, "10/18")["verdict"] == "reproduced"
    assert row(table, "centre crop")["verdict"] == "reproduced" and row(table, "centre crop")["ours"] == "0"
    assert row(table, "gradient of the orthogonal")["verdict"] == "reproduced"
    assert table.loc["Versatile-v2 ResNet-50 GFLOPs", "verdict"] == "not reproduced"  # 3.167 vs 3.0
    assert table.loc["Versatile-v2 ResNet-50 memory (MB)", "verdict"] == "partly"  # 0.6% above 41.7
    assert table.loc["Versatile-v1 ResNet-50 memory / ResNet-50 memory", "verdict"] == "reproduced"
    assert "torchvision" in table.loc["ResNet-50 GFLOPs", "source"]  # 4.1 G is torchvision's v1.5, not He et al.


def test_trained_claims_with_nothing_stored():
    table = trained_frame({})
    trained = table[table["profile"] == "cpu"]
    assert len(trained) == 8 and (trained["verdict"] == "not run").all() and (trained["ours"] == "").all()
    assert ["claim", *table.columns] == COLUMNS


def test_one_seed_per_arm_is_inconclusive():
    specs, results = cpu_results({label: 0.9 for label in LABELS}, changed=0.02)
    claims = versatile_claims.add_trained(ClaimsTable("versatile"), "cpu", specs, first_seed(specs, results))
    table = claims.frame().set_index("claim")
    effects = table[table["evidence"].str.contains("paired by seed")]
    assert len(effects) == 5 and (effects["verdict"] == "inconclusive").all() and (effects["n"] == "1").all()


def test_effects_over_seeds_in_both_directions():
    noise = {0: 0.0, 1: 0.002, 2: -0.001, 3: 0.001, 4: -0.002}
    accs = {"baseline": {s: 0.90 + e for s, e in noise.items()},
            "versatile v1": {s: 0.88 + 1.5 * e for s, e in noise.items()},  # 2 points below the baseline
            "versatile v2": {s: 0.86 + e for s, e in noise.items()},
            "learned masks (a)": {s: 0.89 for s in range(3)}, "learned masks (b)": {0: 0.891, 1: 0.889, 2: 0.890}}
    table = trained_frame(accs)
    v1 = row(table, "(v1) are at least as accurate")
    assert v1["verdict"] == "not reproduced" and v1["n"] == "5" and v1["paper"] == "0.7"  # the wrong sign
    assert row(table, "(v2) lose accuracy")["verdict"] == "reproduced"
    assert row(table, "v1 beats v2")["verdict"] == "reproduced"
    assert row(table, "(b) beats")["verdict"] == "inconclusive"  # +0.1, -0.1, 0: the interval holds 0
    cifar = row(table, "VGG-16 top-1 (%): ImageNet")
    assert cifar["verdict"] == "not comparable" and "width 0.25" in cifar["evidence"]


def test_orthogonal_loss_is_graded_against_its_lambda0_control():
    accs = {label: 0.9 for label in LABELS}
    apart = trained_frame(accs, **{"learned masks (b)": {"hamming": {0: 0.7, 1: 0.72, 2: 0.71}},
                                   "learned masks (b), lambda = 0": {"hamming": {0: 0.5, 1: 0.49, 2: 0.52}}})
    assert row(apart, "orthogonal loss")["verdict"] == "reproduced"
    closer = trained_frame(accs, **{"learned masks (b)": {"hamming": {0: 0.4, 1: 0.41, 2: 0.42}},
                                    "learned masks (b), lambda = 0": {"hamming": {0: 0.5, 1: 0.49, 2: 0.52}}})
    assert row(closer, "orthogonal loss")["verdict"] == "not reproduced"
    no_control = {label: acc for label, acc in accs.items() if label != "learned masks (b), lambda = 0"}
    assert row(trained_frame(no_control), "orthogonal loss")["verdict"] == "not run"


def test_smoke_claims_give_no_verdict():
    table = trained_frame({label: 0.1 for label in LABELS}, "smoke", changed=0.0)
    smoke = table[table["profile"] == "smoke"]
    assert len(smoke) == 8 and (smoke["verdict"] == "not run").all()
    assert smoke[smoke["evidence"].str.contains("paired by seed")]["evidence"].str.contains("smoke profile").sum() == 4


# ---------------------------------------------------------------------------------------------
# Live checks in studies.versatile_checks and versatile_costs
# ---------------------------------------------------------------------------------------------

def test_spatial_and_channel_checks(live_frames):
    spatial = live_frames["spatial"]
    assert list(spatial["crops"]) == ["3x3, 1x1", "5x5, 3x3, 1x1"]
    assert list(spatial["crop paddings"]) == ["1, 0", "2, 1, 0"] and list(spatial["output"]) == ["6x7x7", "6x4x4"]
    assert (spatial[["max |crop - mask form|", "max |crop - dense conv|"]] < 1e-12).all().all()
    channel = live_frames["channel"]
    assert list(channel["n (layer)"]) == [2, 3] and list(channel["channel windows"]) == ["0-6, 1-7", "0-3, 2-5, 4-7"]
    assert list(channel["official / standard"]) == pytest.approx([1 / 4, 1 / 6])
    assert (channel["max |layer - definition|"] < 1e-12).all()


def test_layer_costs(live_frames):
    costs = live_frames["layer_costs"].set_index("layer")
    assert costs.loc["versatile v1 (spatial)", "FLOPs ratio"] == pytest.approx(10 / 18)
    assert costs["FLOPs ratio"].to_numpy() == pytest.approx(costs["expected FLOPs ratio"].to_numpy())
    assert costs.loc["learned masks (b), at init", "executed ratio"] == 1.0
    assert costs.loc["learned masks (b), at init", "mask_bits"] == 32 * 32 * 9  # one bit per weight of the dense layer
    assert costs.loc["learned masks (a), at init", "mask_bits"] == 2 * 32 * 9  # one shared set of s = 2 masks
    assert costs.loc["versatile v2, c_hat = c - 1, g = 1 (official)", "params_official ratio"] == 0.25


def test_ortho_checks(live_frames):
    ortho = live_frames["ortho"]
    assert ortho.loc[0, "m = d^2 c"] == 18
    assert ortho.loc[0, "max |autograd - closed form|"] < 1e-12
    assert ortho.loc[0, "max |layer (STE) - closed form|"] < 1e-12
    best = checks.ortho_minimum(3, 1)
    assert best["pairs"] == 4 ** 9 and best["concentric_loss"] == pytest.approx(33 / 81)
    assert best["min_loss"] == pytest.approx(33 / 162)  # densities 5/9, 6/9, overlap 2/9
    assert sorted([best["min_density_1"], best["min_density_2"]]) == pytest.approx([5 / 9, 6 / 9])
    assert best["min_loss"] >= best["relaxed_loss"]  # the relaxation bounds every binary pair from below
    assert best["concentric_hamming"] == pytest.approx(8 / 9) and best["concentric_overlap"] == pytest.approx(1 / 9)
    with pytest.raises(EffconvError, match="too large"):
        checks.ortho_minimum(3, 2)


def test_memory_offsets_leave_out_our_fit(live_frames):
    table = live_frames["imagenet"].assign(
        paper_memory_MB=[97.2, 75.6, 41.7, 41.7], delta_memory_MB=lambda t: t["memory_MB"] - t["paper_memory_MB"],
        note=["torchvision resnet50", "v1", "official", "our fit, not a published setting"])
    offsets = costs.memory_offsets(table)
    assert len(offsets) == 3 and "c_hat" not in " ".join(offsets["model"])
    assert offsets.loc[0, "delta_kparams"] == pytest.approx(0.29 * 2 ** 20 / 4 / 1e3)


def test_concentric_mask_figure():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = versatile_plots.plot_concentric_masks((3, 5))
    assert len(fig.axes) == 2 * 3
    plt.close(fig)


def test_latency_table_is_small_and_complete():
    table = checks.latency_table(channels=8, size=8, batch=1, repeats=2, warmup=1)
    assert len(table) == 4 and table.loc[0, "time ratio"] == 1.0 and (table["median_ms"] > 0).all()
    assert (table["calls"] == 3).all()  # at least one call per round
    assert "1 thread" in table.loc[0, "device"]


def test_mask_drift_bound_orders_the_strategies():
    cpu = next(s for s in runs_spec.experiments("cpu") if s.name == "vgg16-masks-b").recipe
    smoke = next(s for s in runs_spec.experiments("smoke") if s.name == "vgg16-masks-b").recipe
    table = checks.mask_drift_bound({"width": 0.125}, cpu, batch=8).set_index("strategy")
    assert table.loc["a", "steps"] == cpu.epochs * math.ceil(50_000 / cpu.batch_size)
    # a shared mask collects the gradient of all primaries using it; a per-primary mask only its own
    assert table.loc["a", "median |dL/dH|"] > table.loc["b", "median |dL/dH|"] > 0
    assert 0 <= table.loc["b", "share that could flip"] <= table.loc["a", "share that could flip"] <= 1
    assert 0.3 < table.loc["a", "median distance to 1/2"] < 0.5  # nudged at most 0.49 from the rings
    short = checks.mask_drift_bound({"width": 0.125}, smoke, batch=8).set_index("strategy")
    assert short.loc["a", "steps"] == math.ceil(512 / smoke.batch_size)
    assert short.loc["b", "share that could flip"] <= table.loc["b", "share that could flip"]
