"""Chapter 3 live checks on tiny inputs: random blocks and whole models folded, counted costs, the branch
kernels of the fusion figure, interleaved latency; and the exactness figure."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from torch import nn

from effconv.errors import EffconvError
from effconv.ops import ACBlock
from effconv.studies.acnet import checks, plots, report, results
from effconv.studies.acnet import probes as study

pytestmark = pytest.mark.usefixtures("single_thread")


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
    assert (blocks["max_rel"] < results.FUSION_TOLERANCE).all()
    assert (blocks["max_rel_float64"] < results.FLOAT64_TOLERANCE).all()
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
        assert (table["max_rel"] < results.FUSION_TOLERANCE).all() and (table["float32_rounding"] < 1e-5).all()
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
