"""Chapter 3 report: tables and figures from small synthetic results (no training), the live checks on
tiny inputs, and the chapter notebook's glue names. The claims are tested in ``test_acnet_claims``."""

from __future__ import annotations

import math
import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import torch
from torch import nn

from effconv.errors import EffconvError
from effconv.ops import ACBlock
from effconv.studies.acnet import probes as study
from effconv.studies.acnet import checks
from effconv.studies.acnet import plots
from effconv.studies.acnet import report
from effconv.studies.acnet import plan as runs

NOTEBOOK = Path(__file__).resolve().parents[1] / "chapters" / "03_acnet.ipynb"


pytestmark = pytest.mark.usefixtures("single_thread")


# --------------------------------------------------------------------------- synthetic results


def fake_result(spec, acc: float, *, rotation: dict | None = None, importance: list | None = None,
                pruning: list | None = None, seconds: float = 10.0, fused_acc: float | None = None) -> dict:
    """A result dict shaped like the store's, with the chapter's analyses."""
    analyses = {"acnet.fusion": {"max_abs_error": 1e-7, "max_rel_error": 2e-7, "params_unfused": 150, "params_fused": 100,
                                 "macs_unfused": 1500, "macs_fused": 1000,
                                 "test_acc_fused": acc if fused_acc is None else fused_acc}}
    analyses["acnet.rotation"] = rotation or {"original": acc, "rot90_ccw": acc / 2, "rot180": acc / 3,
                                              "flip_ud": acc / 3}
    if importance is not None:
        frame = pd.DataFrame(importance)
        analyses["acnet.importance"] = {"matrix": importance, **study.importance_summary(frame)}
    if pruning is not None:
        analyses["acnet.pruning"] = pruning
    return {
        "key": spec.key, "spec": spec.to_dict(),
        "metrics": {"final": {"test_acc": acc, "test_loss": 1.0, "train_acc": acc, "train_loss": 1.0},
                    "best": {"test_acc": acc, "epoch": 1}},
        "curve": [{"epoch": 1, "seconds": seconds, "test_acc": acc}],
        "analyses": analyses, "model": {"params": 100, "macs": 1000, "input_size": [3, 32, 32]},
        "provenance": {"device": "test CPU", "wall_seconds": 60.0, "data": {"source": "jpeg"}, "seed": spec.seed},
    }


def comparison(spec_fn, accs: dict[tuple[str, str, int], float] | None = None,
               extra: dict[tuple[str, str, int], dict] | None = None) -> report.Runs:
    """``Runs`` of the cpu profile with results for the (model, variant, seed) keys in ``accs``; ``extra``
    holds ``fake_result`` options per key."""
    specs = spec_fn("cpu")
    accs, extra = accs or {}, extra or {}
    results = []
    for spec in specs:
        key = (spec.model, report.variant_of(spec), spec.seed)
        kwargs = extra.get(key, {})
        results.append(fake_result(spec, accs[key], **kwargs) if key in accs else None)
    return report.Runs("cpu", specs, results)


def pruning_curve(unpruned: float, corner_drop: float, skeleton_drop: float, regions=("corners", "skeleton", "global"),
                  extra: dict[str, float] | None = None) -> list[dict]:
    """Linear synthetic curves: accuracy = unpruned - drop * sparsity, the same for every repeat but one."""
    drops = {"corners": corner_drop, "skeleton": skeleton_drop, "global": (corner_drop + skeleton_drop) / 2,
             **(extra or {})}
    rows = []
    for region in regions:
        limit = study.region_fraction(region)
        for sparsity in runs.PRUNING_SPARSITIES:
            if sparsity > limit + 1e-9:
                continue
            for repeat in range(5):
                noise = 0.002 * (repeat - 2)
                accuracy = max(0.1, unpruned - drops[region] * sparsity) + (noise if sparsity else 0)
                rows.append({"region": region, "sparsity": sparsity, "repeat": repeat, "seed": repeat,
                             "pruned": sparsity, "accuracy": accuracy})
    return rows


def test_fmt():
    assert report.fmt(math.nan) == "not run" and report.fmt(None) == "not run"
    assert report.fmt(0.51234, signed=True, unit=" pp") == "+0.51 pp"


# --------------------------------------------------------------------------- tables with missing runs


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
    rotation = report.rotation_table(report.merge(ablation, table))
    # 5 variants x 3 seeds, plus base and ACB at seeds 3 and 4 (Table 1's headline seeds)
    assert len(rotation) == 19 and (rotation["status"] == "not run").all()
    assert report.importance_matrices(skeleton) == {"base": None, "acnet": None, "border": None}
    rows = report.pruning_rows(skeleton)
    assert rows.empty and report.pruning_summary(rows).empty and report.pruning_wide(report.pruning_summary(rows), "acnet").empty
    assert (report.trained_fusion_table(table)["status"] == "not run").all()
    assert report.training_time_table(table).empty
    for fig in (plots.plot_rotation(rotation, "cpu"),
                plots.plot_importance(report.importance_matrices(skeleton), "cpu", "resnet20"),
                plots.plot_pruning(rows, "cpu", "resnet20")):
        assert fig.axes
        fig.clf()


# --------------------------------------------------------------------------- tables with (partial) runs


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
    assert gaps.loc["hor − ver", "rot180"] == pytest.approx(5.0)
    assert report.rotation_display(rotation).columns.tolist() == ["variant", "seed", *report.CONDITIONS.values()]


def test_pruning_helpers():
    summary = pd.DataFrame({"variant": "acnet", "region": "skeleton", "sparsity": [0.0, 0.05, 0.1, 0.15],
                            "mean": [80.0, 60.0, 30.0, 10.0], "std": [0.0, 1.0, 2.0, 1.0], "repeats": 5})
    assert report.destroyed_at(summary, "acnet") == pytest.approx(10 + 5 * 10 / 20)  # 30 -> 10 crosses 20 midway
    assert math.isnan(report.destroyed_at(summary, "base"))
    assert math.isnan(report.destroyed_at(summary.assign(mean=[15.0, 12, 11, 10]), "acnet"))  # at chance from the start
    assert math.isnan(report.destroyed_at(summary.assign(mean=[80.0, 70, 60, 50]), "acnet"))  # never destroyed
    assert report.accuracy_at(summary, "acnet", "skeleton") == 10.0
    assert report.accuracy_at(summary, "acnet", "skeleton", 0.05) == 60.0
    both = pd.concat([summary, summary.assign(region="corners", mean=[80.0, 79, 78, 77])], ignore_index=True)
    gap, spread = report.curve_gap(both, "acnet", "corners", "skeleton")
    assert gap == pytest.approx((19 + 48 + 67) / 3) and spread == pytest.approx((1 + 2 + 1 + 1 + 2 + 1) / 6)
    wide = report.pruning_wide(both, "acnet")
    assert list(wide.columns) == ["corners", "skeleton"] and wide.loc["10%", "skeleton"] == "30.0 ± 2.0"


def paper_like_runs():
    """Synthetic cpu runs in which every published effect holds clearly."""
    table_accs = {("cifar_quick", "base", 0): 0.80, ("cifar_quick", "base", 1): 0.802,
                  ("cifar_quick", "acnet", 0): 0.815, ("cifar_quick", "acnet", 1): 0.813,
                  ("resnet20", "base", 0): 0.85, ("resnet20", "acnet", 0): 0.86}
    ablation_accs = {("cifar_quick", v, 0): a for v, a in
                     {"base": 0.80, "hor": 0.807, "ver": 0.809, "sum-bn": 0.805, "acnet": 0.815}.items()}
    rotations = {
        ("cifar_quick", "base", 0): {"original": 0.800, "rot90_ccw": 0.30, "rot180": 0.350, "flip_ud": 0.352},
        ("cifar_quick", "hor", 0): {"original": 0.807, "rot90_ccw": 0.30, "rot180": 0.380, "flip_ud": 0.378},
        ("cifar_quick", "ver", 0): {"original": 0.809, "rot90_ccw": 0.30, "rot180": 0.360, "flip_ud": 0.361},
        ("cifar_quick", "sum-bn", 0): {"original": 0.805, "rot90_ccw": 0.30, "rot180": 0.360, "flip_ud": 0.360},
        ("cifar_quick", "acnet", 0): {"original": 0.815, "rot90_ccw": 0.30, "rot180": 0.370, "flip_ud": 0.370},
        ("cifar_quick", "base", 1): {"original": 0.802, "rot90_ccw": 0.30, "rot180": 0.352, "flip_ud": 0.352},
        ("cifar_quick", "acnet", 1): {"original": 0.813, "rot90_ccw": 0.30, "rot180": 0.371, "flip_ud": 0.371},
    }
    extra = {key: {"rotation": value} for key, value in rotations.items()}
    base_matrix = [[0.5, 0.7, 0.5], [0.7, 1.0, 0.7], [0.5, 0.7, 0.5]]
    acnet_matrix = [[0.2, 0.9, 0.2], [0.9, 1.0, 0.9], [0.2, 0.9, 0.2]]         # skeleton +0.16 over base
    border_matrix = [[0.5, 0.6, 0.65], [0.6, 0.9, 0.65], [0.65, 0.65, 1.0]]    # border +0.14 over base
    skeleton_extra = {
        ("resnet20", "base", 0): {"importance": base_matrix, "pruning": pruning_curve(0.85, 0.3, 2.0)},
        ("resnet20", "acnet", 0): {"importance": acnet_matrix, "pruning": pruning_curve(0.86, 0.4, 5.0)},
        ("resnet20", "border", 0): {"importance": border_matrix, "pruning": pruning_curve(
            0.855, 0.2, 3.0, regions=("corners", "skeleton", "global", "border", "top_left"),
            extra={"border": 3.0, "top_left": 2.5})},
    }
    skeleton_accs = {("resnet20", "base", 0): 0.85, ("resnet20", "acnet", 0): 0.86, ("resnet20", "border", 0): 0.852}
    return (comparison(runs.table_specs, table_accs, {**extra, **skeleton_extra}),
            comparison(runs.ablation_specs, ablation_accs, extra),
            comparison(runs.skeleton_specs, skeleton_accs, skeleton_extra))


def test_merge_refuses_mixed_profiles():
    a = comparison(runs.table_specs)
    b = report.Runs("full", runs.table_specs("full"), [None] * len(runs.table_specs("full")))
    with pytest.raises(EffconvError, match="different profiles"):
        report.merge(a, b)
    merged = report.merge(a, comparison(runs.ablation_specs))
    # base and ACNet of the ablation model are in both comparisons (seeds 0-2): each run once
    table_keys, ablation_keys = ({s.key for s in fn("cpu")} for fn in (runs.table_specs, runs.ablation_specs))
    assert len(table_keys & ablation_keys) == 6
    assert len(merged.specs) == len({s.key for s in merged.specs}) == len(table_keys | ablation_keys)


def test_training_time_and_fusion_tables():
    table, ablation, skeleton = paper_like_runs()
    merged = report.merge(table, ablation, skeleton)
    times = report.training_time_table(merged)
    assert (times.loc[times["variant"] == "base", "ratio_to_base"] == 1.0).all()
    fusion = report.trained_fusion_table(merged)
    # 7 stored ACB runs (Cifar-quick ACNet x2, hor, ver, sum-bn; ResNet-20 ACNet, border); the rest not run yet
    assert (fusion["status"] == "stored").sum() == 7 and (fusion["variant"] != "base").all()
    shown = report.trained_fusion_display(fusion[fusion["status"] == "stored"])
    assert set(shown["fused MACs = base MACs"]) == {"yes"}


def test_variant_of():
    names = {report.variant_of(s) for s in runs.experiments("cpu")}
    assert names == {"base", "acnet", "hor", "ver", "sum-bn", "border"}


# --------------------------------------------------------------------------- live checks (study)


def test_exactness_configs_cover_every_axis():
    configs = checks.exactness_configs()
    table = pd.DataFrame(configs)
    assert len(configs) == 36
    assert set(table["stride"]) == {1, 2} and set(table["kernel_size"]) == {3, 5}
    assert set(table["grouping"]) == {"dense", "grouped", "depthwise"}
    classes = {checks.padding_class(k, p) for k, p in zip(table["kernel_size"], table["padding"])}
    assert classes == {"below k//2", "k//2", "above k//2"}
    assert {h % 2 for h in table["height"]} == {0, 1}
    depthwise = table[table["grouping"] == "depthwise"]
    assert (depthwise["groups"] == depthwise["in_channels"]).all()
    assert checks.exactness_configs(seed=0) == configs  # reproducible


def test_in_seed_demo():
    demo = dict(kernel_size=5, stride=1, padding=6, groups=1, border=False, norm="branch",
                branches=("square", "hor", "ver"))
    assert checks.in_seed_demo(demo)
    assert not checks.in_seed_demo({**demo, "stride": 2})
    assert not checks.in_seed_demo({**demo, "groups": 2})
    assert not checks.in_seed_demo({**demo, "padding": 0})  # (5, 0) is not among the demo's pairs


def test_block_exactness_table_and_coverage():
    configs = checks.exactness_configs()[::6]
    blocks = checks.block_exactness_table(configs)
    assert len(blocks) == len(configs) and blocks["same_geometry"].all()
    assert (blocks["max_rel"] < report.FUSION_TOLERANCE).all()
    assert (blocks["max_rel_float64"] < report.FLOAT64_TOLERANCE).all()
    coverage = checks.exactness_coverage(blocks)
    assert set(coverage["axis"]) >= {"stride", "padding", "grouping", "input size"}
    assert (coverage.groupby("axis")["blocks"].sum() == len(blocks)).all()


def test_model_exactness_and_cost_on_small_models():
    case = checks.ModelCase("tiny", "convert", lambda: nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
        nn.Conv2d(4, 4, 3, stride=2, padding=1, groups=4, bias=False), nn.BatchNorm2d(4)), (3, 9, 9))
    factory = checks.ModelCase("cq", "factory", lambda: study.create_model("cifar_quick", width=0.25),
                              factory_name="cifar_quick", width=0.25)
    for calibrate in (None, 4):
        table = checks.model_exactness_table([case, factory], calibrate=calibrate)
        assert list(table["blocks"]) == [2, 3] and table["same_as_base"].all()
        assert (table["max_rel"] < report.FUSION_TOLERANCE).all() and (table["float32_rounding"] < 1e-5).all()
    shown = report.models_display(table)
    assert list(shown["fused = folded base"]) == ["yes", "yes"]
    with pytest.raises(EffconvError, match="route"):
        checks.acnet_pair(checks.ModelCase("x", "magic", lambda: nn.Identity()))
    costs = checks.cost_table(["cifar_quick"])
    row = costs.iloc[0]
    assert row["same_as_base"] and row["acnet_fused_macs"] == row["base_macs"]
    assert row["train_macs_ratio"] > 1.3
    assert report.cost_display(costs).loc["fused = folded base", "Cifar-quick"] == "yes"


def test_branch_kernels_sum_to_the_fused_kernel():
    torch.manual_seed(0)
    block = study.randomise_bn(ACBlock(2, 3, 3), seed=1).eval()
    kernels = checks.branch_kernels(block, out_channel=2, in_channel=1)
    assert list(kernels) == ["square", "hor", "ver", "fused"]
    assert torch.allclose(kernels["square"] + kernels["hor"] + kernels["ver"], kernels["fused"], atol=1e-6)
    assert (kernels["hor"][[0, 2]] == 0).all() and (kernels["ver"][:, [0, 2]] == 0).all()
    fig = plots.plot_branch_fusion(kernels)
    assert len(fig.axes) == 4
    fig.clf()


def test_importance_at_init_shows_the_constructed_skeleton():
    matrices = report.init_importance("cpu")
    assert set(matrices) == {"base", "acnet", "border"}
    acnet = report.importance_summary_table({"acnet": matrices["acnet"]}, "init").iloc[0]
    assert acnet["centre"] == pytest.approx(1.0) and acnet["corner_max"] < acnet["skeleton_min"]
    border = matrices["border"].to_numpy()
    assert border[2, 2] == pytest.approx(1.0)  # the border variant's cross meets at the bottom-right corner


def test_interleaved_latency():
    models = {"a": nn.Conv2d(3, 4, 3), "b": nn.Conv2d(3, 4, 1)}
    table = checks.interleaved_latency(models, torch.randn(1, 3, 8, 8), rounds=2, repeats=2)
    assert list(table["variant"]) == ["a", "b"] and (table["calls"] == 4).all() and (table["median_ms"] > 0).all()
    with pytest.raises(EffconvError, match="at least one"):
        checks.interleaved_latency({}, torch.randn(1, 3, 8, 8))


def test_plot_exactness_draws_every_block_twice():
    blocks = checks.block_exactness_table(checks.exactness_configs()[:3])
    fig = plots.plot_exactness(blocks)
    points = sum(len(c.get_offsets()) for c in fig.axes[0].collections)
    assert points == 2 * len(blocks)  # one float32 and one float64 point per block
    fig.clf()


# --------------------------------------------------------------------------- the chapter notebook


def test_notebook_glues_every_name_it_quotes():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    text = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    quoted = set(re.findall(r"\{glue:text\}`([^`]+)`", text))
    glued = set(re.findall(r'glue\(\s*f?"([^"{]+)"', code))
    glued |= {f"{prefix}_{name}" for prefix in ("profile", "stored") for name in ("table", "ablation", "skeleton")}
    assert quoted and quoted <= glued, sorted(quoted - glued)
    assert notebook.cells[0].source.startswith("# 3. ACNet")
    # rendering never writes tracked files: the ledger is written by `effconv claims acnet` only
    assert ".write(" not in code and "claims.csv" not in code
