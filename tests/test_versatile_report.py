"""Chapter 5 report: CIFAR table, accuracy verdicts, mask curves and claims from synthetic results (no training);
the chapter's live checks in studies.versatile (crop form, channel windows, costs, orthogonal loss)."""

import math
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from effconv.models import create_model  # first: importing effconv.ops before effconv.models is circular
from effconv.analysis.claims import COLUMNS, VERDICTS
from effconv.errors import EffconvError
from effconv.studies import versatile as study
from effconv.studies import versatile_report as report
from effconv.studies import versatile_runs as runs_spec

LABELS = list(report.VARIANTS.values())


def counted_frame() -> pd.DataFrame:
    """A stand-in for cifar_vgg16_complexity(): baseline 1.0M params, v1 half, v2 a quarter."""
    rows = [("baseline", 1.0, 0.0, 4.0, 20.0, 20.0), ("versatile v1", 0.5, 0.0, 2.0, 11.0, 11.0),
            ("versatile v2", 0.25, 0.0, 1.0, 10.0, 10.0), ("learned masks (a)", 0.5, 0.01, 2.0, 11.0, 20.0),
            ("learned masks (b)", 0.5, 0.5, 2.1, 11.0, 20.0)]
    return pd.DataFrame(rows, columns=["model", "params_M", "mask_Mbit", "memory_MB", "MFLOPs", "MFLOPs_executed"])


def mask_overall(changed: float, equal: float = 0.0) -> dict:
    return {"density": 5 / 9, "changed_from_init": changed, "pairwise_hamming": 8 / 9, "all_equal_fraction": equal,
            "ortho_loss": 33 / 81, "layers": 13, "primaries": 100}


def fake_result(acc: float, *, epochs: int = 3, masked: bool = False, changed: float = 0.0, equal: float = 0.0,
                complexity: dict | None = None) -> dict:
    curve = []
    for epoch in range(1, epochs + 1):
        row = {"epoch": epoch, "test_acc": acc - 0.01 * (epochs - epoch), "seconds": 10.0 + epoch, "lr": 0.1,
               "train_loss": 1.0, "train_acc": 0.5, "test_loss": 1.0}
        if masked:
            row["versatile.masks"] = {"overall": mask_overall(changed * epoch / epochs, equal), "layers": {}}
        curve.append(row)
    analyses = {}
    if complexity is not None:
        analyses["versatile.complexity"] = complexity
    if masked:
        analyses["versatile.masks"] = {"overall": mask_overall(changed, equal), "layers": {
            "features.0.conv": {**mask_overall(changed, equal), "mask_sets": 8, "mask_entries": 27, "s": 2,
                                "strategy": "b"}}}
    return {
        "key": "k", "spec": {},
        "metrics": {"final": {"test_acc": acc}, "best": {"test_acc": acc + 0.002, "epoch": epochs}},
        "curve": curve, "analyses": analyses, "model": {"params": 1, "macs": 1, "input_size": [3, 32, 32]},
        "provenance": {"device": "test cpu", "wall_seconds": 120.0, "data": {"source": "jpeg"}},
    }


COMPLEXITY = {"params": 480_000, "params_official": 480_000, "mask_bits": 0, "memory_mb": 1.83,
              "memory_mb_official": 1.83, "macs": 11_000_000, "macs_executed": 11_000_000}


def cpu_results(accs: dict[str, float | None], **mask_kwargs) -> tuple[list, list]:
    specs = runs_spec.experiments("cpu")
    results = []
    for spec in specs:
        label = report.VARIANTS[spec.name]
        acc = accs.get(label)
        masked = label in report.MASKED
        results.append(None if acc is None else fake_result(
            acc, masked=masked, complexity=None if label == "baseline" else COMPLEXITY,
            **(mask_kwargs if masked else {})))
    return specs, results


# ---------------------------------------------------------------------------------------------
# CIFAR table
# ---------------------------------------------------------------------------------------------

def test_cifar_table_with_nothing_stored():
    specs, results = cpu_results({})
    table = report.cifar_table("cpu", specs, results, counted_frame())
    assert list(table["variant"]) == LABELS
    assert (table["status"] == "not run").all() and table["test_acc_%"].isna().all()
    assert (table["seeds"] == "0/1").all() and (table["profile"] == "cpu").all()
    assert (table["complexity from"] == "counted (fresh model)").all()
    by = table.set_index("variant")
    assert by.loc["versatile v1", "params_ratio"] == pytest.approx(0.5)
    assert by.loc["learned masks (b)", "executed_ratio"] == pytest.approx(1.0)
    assert by.loc["learned masks (b)", "mask_kbit"] == pytest.approx(500.0)


def test_cifar_table_partial_uses_stored_complexity_and_accuracy():
    specs, results = cpu_results({"baseline": 0.90, "versatile v1": 0.895})
    table = report.cifar_table("cpu", specs, results, counted_frame()).set_index("variant")
    assert table.loc["baseline", "status"] == "stored" and table.loc["versatile v2", "status"] == "not run"
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
    results = [None if (report.VARIANTS[s.name], s.seed) not in accs else
               fake_result(accs[report.VARIANTS[s.name], s.seed]) for s in specs]
    table = report.cifar_table("full", specs, results, counted_frame()).set_index("variant")
    assert table.loc["baseline", "seeds"] == "3/3" and table.loc["baseline", "status"] == "stored"
    assert table.loc["versatile v1", "seeds"] == "2/3" and table.loc["versatile v1", "status"] == "partial"
    assert table.loc["baseline", "test_acc_%"] == pytest.approx(93.5)
    assert table.loc["baseline", "std_%"] == pytest.approx(0.5)
    runs = report.run_table(specs, results)
    comp = report.compare_accuracy(runs, "versatile v1", "baseline")
    expected_tau = 2 * math.sqrt(0.5 / 2 + 0.25 / 3)  # variances: v1 (93, 92) 0.5, baseline (93, 94, 93.5) 0.25
    assert comp.delta == pytest.approx(92.5 - 93.5) and comp.tau == pytest.approx(expected_tau)
    assert (comp.seeds_a, comp.seeds_b) == (2, 3)


def test_run_table_and_sentences():
    specs, results = cpu_results({"baseline": 0.90, "versatile v1": 0.91})
    runs = report.run_table(specs, results)
    assert list(runs["status"]) == ["stored", "stored", "not run", "not run", "not run"]
    assert runs.loc[0, "seconds_per_epoch"] == pytest.approx(12.0) and runs.loc[0, "data"] == "jpeg"
    text = report.comparison_sentence(runs, "versatile v1", "baseline", "cpu")
    assert "91.00%" in text and "+1.00 points" in text and "noise threshold 0.50" in text
    missing = report.comparison_sentence(runs, "versatile v2", "baseline", "cpu")
    assert missing == "not run yet (versatile v2: no stored cpu run)"
    assert "baseline 12 s" in report.epoch_time_sentence(runs, "cpu")
    empty = report.run_table(*cpu_results({}))
    assert report.epoch_time_sentence(empty, "cpu").startswith("not run yet")


# ---------------------------------------------------------------------------------------------
# Verdict rules
# ---------------------------------------------------------------------------------------------

def test_compare_accuracy_single_seed_and_missing():
    specs, results = cpu_results({"baseline": 0.90, "versatile v1": 0.893})
    runs = report.run_table(specs, results)
    comp = report.compare_accuracy(runs, "versatile v1", "baseline")
    assert comp.delta == pytest.approx(-0.7) and comp.tau == report.SINGLE_SEED_NOISE
    assert report.compare_accuracy(runs, "versatile v2", "baseline") is None
    assert "-0.70 points" in comp.describe()


@pytest.mark.parametrize("delta,expected", [(0.8, "reproduced"), (0.5, "partly"), (0.0, "partly"), (-0.5, "partly"),
                                            (-0.6, "not reproduced"), (None, "not run"), (math.nan, "not run")])
def test_verdict_beats(delta, expected):
    assert report.verdict_beats(delta, 0.5) == expected


@pytest.mark.parametrize("delta,margin,expected", [
    (0.3, 0.0, "reproduced"), (-0.5, 0.0, "reproduced"), (-0.6, 0.0, "partly"), (-1.5, 0.0, "partly"),
    (-1.6, 0.0, "not reproduced"),
    # a published loss of 1.1 points: losing 1.5 is within noise of it, 2.5 within one more point, 3 not
    (-1.5, -1.1, "reproduced"), (-2.5, -1.1, "partly"), (-3.0, -1.1, "not reproduced"),
    # a published gain is no licence to lose: the margin is capped at 0
    (-0.6, 0.7, "partly"), (None, 0.0, "not run"),
])
def test_verdict_no_worse(delta, margin, expected):
    assert report.verdict_no_worse(delta, margin, 0.5) == expected


# ---------------------------------------------------------------------------------------------
# Masks
# ---------------------------------------------------------------------------------------------

def test_mask_curves_and_final_masks():
    specs, results = cpu_results({"learned masks (a)": 0.85, "learned masks (b)": 0.86}, changed=0.03)
    initial = {"learned masks (a)": mask_overall(0.0), "learned masks (b)": mask_overall(0.0)}
    curves = report.mask_curves(specs, results, initial)
    assert set(curves["variant"]) == set(report.MASKED)
    changed = curves[(curves["statistic"] == "changed_from_init") & (curves["variant"] == "learned masks (b)")]
    assert list(changed["epoch"]) == [0, 1, 2, 3]
    assert changed["value"].iloc[0] == 0.0 and changed["value"].iloc[-1] == pytest.approx(0.03)
    assert report.mask_curves(specs, results).query("epoch == 0").empty  # no initial stats given
    final = report.final_masks(specs, results)
    assert list(final["status"]) == ["stored", "stored"] and final["changed_from_init"].tolist() == [0.03, 0.03]
    layers = report.mask_layers(results[-1])
    assert list(layers["layer"]) == ["features.0.conv"] and layers.loc[0, "mask_entries"] == 27


def test_mask_tables_when_not_run():
    specs, results = cpu_results({})
    assert report.mask_curves(specs, results, {"learned masks (a)": mask_overall(0.0)}).empty
    final = report.final_masks(specs, results)
    assert list(final["status"]) == ["not run", "not run"] and final["density"].isna().all()
    assert report.mask_layers(None).empty


def test_plots_draw_without_warnings_with_and_without_runs():
    optimum = {"relaxed_density": 0.6, "relaxed_hamming": 0.8, "relaxed_loss": 0.2}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for accs in ({}, {"baseline": 0.9, "versatile v1": 0.9, "learned masks (a)": 0.85, "learned masks (b)": 0.86}):
            specs, results = cpu_results(accs, changed=0.01)
            table = report.cifar_table("cpu", specs, results, counted_frame())
            fig = report.plot_cifar(table, report.accuracy_curves(specs, results), "cpu")
            assert len(fig.axes) == 2
            curves = report.mask_curves(specs, results, {"learned masks (a)": mask_overall(0.0)})
            fig = report.plot_mask_curves(curves, "cpu", optimum=optimum)
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
    return dict(spatial=study.spatial_check_table(((3, 1, None), (5, 2, None)), channels=3, out_channels=6, size=7),
                channel=study.channel_check_table(((8, 7, 1), (8, 4, 2)), out_channels=24, size=5),
                layer_costs=study.layer_cost_table(channels=32, out_channels=32, size=8),
                ortho=study.ortho_gradient_check(((2, 3, 2),)), imagenet=imagenet)


def claims_frame(frames, profile, accs, **mask_kwargs):
    specs, results = cpu_results(accs, **mask_kwargs)
    runs = report.run_table(specs, results)
    claims = report.build_claims(**frames, profile=profile, runs=runs, masks=report.final_masks(specs, results))
    return claims, claims.frame().set_index("claim")


def test_claims_with_nothing_trained(live_frames, tmp_path):
    claims, table = claims_frame(live_frames, "cpu", {})
    assert set(table["verdict"]) <= set(VERDICTS)
    assert table.filter(like="10/18", axis=0)["verdict"].item() == "reproduced"
    assert table.filter(like="centre crop", axis=0)["verdict"].item() == "reproduced"
    assert table.filter(like="gradient of the orthogonal", axis=0)["verdict"].item() == "reproduced"
    assert table.loc["Versatile-v2 ResNet-50 GFLOPs", "verdict"] == "not reproduced"  # 3.167 vs 3.0
    assert table.loc["Versatile-v2 ResNet-50 memory (MB)", "verdict"] == "partly"  # 0.6% above 41.7
    assert table.loc["Versatile-v1 ResNet-50 memory / ResNet-50 memory", "verdict"] == "reproduced"
    trained = table[table["profile"] == "cpu"]
    assert len(trained) == 5 and (trained["verdict"] == "not run").all() and (trained["ours"] == "").all()
    imagenet = table.filter(like="ImageNet VGG-16", axis=0)
    assert (imagenet["verdict"] == "not run").all() and len(imagenet) == 3
    path = claims.write(tmp_path)
    written = pd.read_csv(path)
    assert list(written.columns) == COLUMNS and len(written) == len(table)


def test_claims_with_cpu_results(live_frames):
    accs = {"baseline": 0.900, "versatile v1": 0.897, "versatile v2": 0.880, "learned masks (a)": 0.890,
            "learned masks (b)": 0.8925}
    _, table = claims_frame(live_frames, "cpu", accs, changed=0.02)
    keep = table.filter(like="(v1) keep", axis=0).iloc[0]
    assert keep["verdict"] == "reproduced" and keep["ours"] == "-0.30" and keep["paper"] == "+0.7"
    v2 = table.filter(like="(v2) lose", axis=0).iloc[0]
    assert v2["verdict"] == "partly" and v2["ours"] == "-2.00"  # below -1.1 - 0.5, within one more point
    assert table.filter(like="v1 beats v2", axis=0)["verdict"].item() == "reproduced"  # +1.7 > 0.5
    assert table.filter(like="(b) beats", axis=0)["verdict"].item() == "partly"  # +0.25, within noise
    assert table.filter(like="distinct", axis=0)["verdict"].item() == "reproduced"


def test_claims_v2_bands_and_unmoved_masks(live_frames):
    accs = {"baseline": 0.900, "versatile v1": 0.880, "versatile v2": 0.860, "learned masks (a)": 0.89,
            "learned masks (b)": 0.87}
    _, table = claims_frame(live_frames, "cpu", accs, changed=0.0)
    assert table.filter(like="(v1) keep", axis=0)["verdict"].item() == "not reproduced"  # -2.0 < -1.5
    assert table.filter(like="(v2) lose", axis=0)["verdict"].item() == "not reproduced"  # -4.0 < -2.6
    assert table.filter(like="(b) beats", axis=0)["verdict"].item() == "not reproduced"  # b loses by 2
    assert table.filter(like="distinct", axis=0)["verdict"].item() == "partly"  # never moved
    _, copies = claims_frame(live_frames, "cpu", accs, changed=0.1, equal=0.2)
    assert copies.filter(like="distinct", axis=0)["verdict"].item() == "not reproduced"


def test_masks_distinct_is_judged_on_the_run_that_moved_least(live_frames):
    accs = {label: 0.9 for label in LABELS}
    specs, results = cpu_results(accs, changed=0.1)
    for spec, result in zip(specs, results):
        if report.VARIANTS[spec.name] == "learned masks (b)":
            result["analyses"]["versatile.masks"]["overall"]["changed_from_init"] = 0.0
    claims = report.build_claims(**live_frames, profile="cpu", runs=report.run_table(specs, results),
                                 masks=report.final_masks(specs, results))
    row = claims.frame().set_index("claim").filter(like="distinct", axis=0).iloc[0]
    assert row["verdict"] == "partly" and "changed from init 0 to 0.1" in row["ours"]


def test_smoke_claims_give_no_verdict(live_frames):
    accs = {label: 0.1 for label in LABELS}
    _, table = claims_frame(live_frames, "smoke", accs, changed=0.0)
    smoke = table[table["profile"] == "smoke"]
    assert len(smoke) == 5 and (smoke["verdict"] == "not run").all()
    assert smoke["evidence"].str.contains("smoke profile").all()
    assert smoke.filter(like="(v1) keep", axis=0)["ours"].item() == "+0.00"


# ---------------------------------------------------------------------------------------------
# Live checks in studies.versatile
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
    best = study.ortho_minimum(3, 1)
    assert best["pairs"] == 4 ** 9 and best["concentric_loss"] == pytest.approx(33 / 81)
    assert best["min_loss"] == pytest.approx(33 / 162)  # densities 5/9, 6/9, overlap 2/9
    assert sorted([best["min_density_1"], best["min_density_2"]]) == pytest.approx([5 / 9, 6 / 9])
    assert best["min_loss"] >= best["relaxed_loss"]  # the relaxation bounds every binary pair from below
    assert best["concentric_hamming"] == pytest.approx(8 / 9) and best["concentric_overlap"] == pytest.approx(1 / 9)
    with pytest.raises(EffconvError, match="too large"):
        study.ortho_minimum(3, 2)


def test_memory_offsets_leave_out_our_fit(live_frames):
    table = live_frames["imagenet"].assign(
        paper_memory_MB=[97.2, 75.6, 41.7, 41.7], delta_memory_MB=lambda t: t["memory_MB"] - t["paper_memory_MB"],
        note=["torchvision resnet50", "v1", "official", "our fit, not a published setting"])
    offsets = study.memory_offsets(table)
    assert len(offsets) == 3 and "c_hat" not in " ".join(offsets["model"])
    assert offsets.loc[0, "delta_kparams"] == pytest.approx(0.29 * 2 ** 20 / 4 / 1e3)


def test_concentric_mask_figure():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = study.plot_concentric_masks((3, 5))
    assert len(fig.axes) == 2 * 3
    plt.close(fig)


def test_latency_table_is_small_and_complete():
    table = study.latency_table(channels=8, size=8, batch=1, repeats=2, warmup=1)
    assert len(table) == 4 and table.loc[0, "time ratio"] == 1.0 and (table["median_ms"] > 0).all()
    assert (table["calls"] == 3).all()  # at least one call per round
    assert "1 thread" in table.loc[0, "device"]


def test_mask_drift_bound_orders_the_strategies():
    cpu = next(s for s in runs_spec.experiments("cpu") if s.name == "vgg16-masks-b").recipe
    smoke = next(s for s in runs_spec.experiments("smoke") if s.name == "vgg16-masks-b").recipe
    table = study.mask_drift_bound({"width": 0.125}, cpu, batch=8).set_index("strategy")
    assert table.loc["a", "steps"] == cpu.epochs * math.ceil(50_000 / cpu.batch_size)
    # a shared mask collects the gradient of all primaries using it; a per-primary mask only its own
    assert table.loc["a", "median |dL/dH|"] > table.loc["b", "median |dL/dH|"] > 0
    assert 0 <= table.loc["b", "share that could flip"] <= table.loc["a", "share that could flip"] <= 1
    assert 0.3 < table.loc["a", "median distance to 1/2"] < 0.5  # nudged at most 0.49 from the rings
    short = study.mask_drift_bound({"width": 0.125}, smoke, batch=8).set_index("strategy")
    assert short.loc["a", "steps"] == math.ceil(512 / smoke.batch_size)
    assert short.loc["b", "share that could flip"] <= table.loc["b", "share that could flip"]
