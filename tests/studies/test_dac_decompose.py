"""Chapter 4 (DAC), ``decompose``: the rank sweeps on a tiny model (agreement with the original as the accuracy),
the ImageNet VGG-16 rank allocations (complexity only) and the paper's values the chapter grades against."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

from effconv.analysis.flops import count_flops
from effconv.errors import EffconvError
from effconv.ops import dac
from effconv.studies.dac import decompose as study
from effconv.studies.paper import paper_table, paper_value


def _json_ok(table) -> None:
    json.dumps(table.to_dict("records"), allow_nan=False)  # raises on numpy scalars or NaN


class Tiny(nn.Module):
    """Four 3x3 convs (one strided, one dilated), a 1x1 conv that DAC must skip, a linear head."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 12, 3, padding=1), nn.ReLU(),
            nn.Conv2d(12, 16, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(16, 16, 1), nn.ReLU(),
            nn.Conv2d(16, 16, 3, padding=2, dilation=2), nn.ReLU(),
            nn.Conv2d(16, 10, 3, padding=1), nn.ReLU(),
            nn.Flatten(), nn.Linear(10 * 4 * 4, 10),
        )
        # with PyTorch's default init (positive-leaning biases) one class wins for every random input;
        # zero biases and a unit-normal head make the top-1 depend on the input
        for layer in self.body:
            if isinstance(layer, (nn.Conv2d, nn.Linear)):
                nn.init.zeros_(layer.bias)
        nn.init.normal_(self.body[-1].weight)

    def forward(self, x):
        return self.body(x)


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return Tiny().eval()


@pytest.fixture(scope="module")
def tiny_eval(tiny):
    torch.manual_seed(1)
    return study.agreement(tiny, torch.randn(64, 3, 8, 8))


def test_vgg16_imagenet_allocations():
    table = study.vgg16_imagenet_allocations(53.0)
    _json_ok(table)
    assert table["formula_agrees"].all() and (table["accuracy"] == "not run").all()
    base = table["baseline_macs"].iloc[0]
    assert base == 15_470_264_320  # torchvision VGG-16 at 224: 15.47 GMACs
    uniform = table.set_index("allocation")["macs_saved_pct"]
    uniform_savings = list(uniform[[f"uniform r={r}" for r in range(1, 9)]])
    assert uniform_savings == sorted(uniform_savings, reverse=True)
    assert uniform["uniform r=4"] == pytest.approx(53.0, abs=0.01)
    later = table[table["rule"] == "later layers lower"].iloc[0]
    ranks = [int(r) for r in later["ranks"].split(",")]
    assert ranks == sorted(ranks, reverse=True) and ranks[0] > ranks[-1]
    assert later["gap_to_target_pct"] < 0.5


def _counted(model, plan, method="dac"):
    return count_flops(dac.apply(model, plan, method=method), (3, 8, 8)).macs


def test_single_layer_sweep(tiny, tiny_eval):
    table = study.single_layer_sweep(tiny, tiny_eval, ranks=[1, 2, 9], input_size=(3, 8, 8))
    _json_ok(table)
    assert list(table["layer"].unique()) == ["conv2d_1", "conv2d_2", "conv2d_3", "conv2d_4"]
    assert (table["baseline_accuracy"] == 100.0).all()
    full = table[table["rank"] == 9]
    assert (full["accuracy"] == 100.0).all()  # exact at full rank
    assert (table.loc[table["rank"] == 1, "accuracy"] < 100).any()  # rank 1 is lossy somewhere
    for row in table.itertuples():
        assert row.macs == _counted(tiny, {row.module: row.rank})
    assert (table.loc[table["rank"] == 9, "macs_saved_pct"] < 0).all()  # full rank costs more than a 3x3
    assert (table.loc[table["rank"] == 1, "macs_saved_pct"] > 0).all()


def test_sweep_evaluates_in_eval_mode_and_leaves_model_alone():
    model = Tiny().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    modes = []
    table = study.single_layer_sweep(model, lambda m: modes.append(m.training) or 50.0, ranks=[1],
                                     input_size=(3, 8, 8), layers=["conv2d_4"])
    assert modes == [False, False] and model.training  # baseline + one config, caller's mode restored
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert table["accuracy_drop"].tolist() == [0.0]


def test_first_last_sweep(tiny, tiny_eval):
    table = study.first_last_sweep(tiny, tiny_eval, ranks=[1, 3], input_size=(3, 8, 8))
    _json_ok(table)
    assert len(table) == 2 * 4 * 2
    last2 = table[(table.end == "last") & (table.k == 2) & (table["rank"] == 3)].iloc[0]
    assert last2.layers == "conv2d_3..conv2d_4"
    assert last2.macs == _counted(tiny, {"conv2d_3": 3, "conv2d_4": 3})
    every = table[table.k == 4].groupby("rank")["macs"].nunique()
    assert (every == 1).all()  # first 4 == last 4 == all layers
    with pytest.raises(EffconvError, match=r"1\.\.4"):
        study.first_last_sweep(tiny, tiny_eval, ks=[5], input_size=(3, 8, 8))


def test_sweeps_follow_forward_order():
    class Reversed(nn.Module):  # registration order differs from forward order
        def __init__(self):
            super().__init__()
            self.late = nn.Conv2d(16, 16, 3, padding=1)
            self.early = nn.Conv2d(3, 16, 3, padding=1)

        def forward(self, x):
            return self.late(self.early(x)).mean(dim=(2, 3))

    model = Reversed()
    early_decomposed = lambda m: float(isinstance(m.early, nn.Sequential))  # noqa: E731
    table = study.first_last_sweep(model, early_decomposed, ranks=[2], ks=[1], input_size=(3, 8, 8))
    first, last = table[table.end == "first"].iloc[0], table[table.end == "last"].iloc[0]
    assert first.layers == "conv2d_1..conv2d_1" and first.accuracy == 1.0 and last.accuracy == 0.0
    assert first.macs == count_flops(dac.apply(model, {"early": 2}), (3, 8, 8)).macs


def test_equal_flops_sweep(tiny, tiny_eval):
    table = study.equal_flops_sweep(tiny, tiny_eval, ranks=[1, 2], input_size=(3, 8, 8))
    _json_ok(table)
    assert len(table) == (4 + 1) * 2 * 2
    pairs = table.pivot_table(index=["config", "dac_rank"], columns="method", values="macs")
    assert (pairs["channel_svd"] <= pairs["dac"]).all()
    row = table[(table.config == "all") & (table.method == "channel_svd") & (table.dac_rank == 2)].iloc[0]
    plan = dict(zip(dac.conv_layers(tiny), map(int, row.layer_ranks.split(","))))
    assert row.macs == _counted(tiny, plan, "channel_svd")


def test_pareto_front():
    import pandas as pd

    a = pd.DataFrame({"accuracy": [90.0, 80.0, 85.0, 70.0], "macs_saved_pct": [10.0, 50.0, 20.0, 40.0]})
    b = pd.DataFrame({"accuracy": [88.0, 60.0], "macs_saved_pct": [30.0, 60.0]})
    front = study.pareto_front([a, b])
    assert list(zip(front.macs_saved_pct, front.accuracy)) == [(10, 90), (30, 88), (50, 80), (60, 60)]
    everything = pd.concat([a, b])
    for row in front.itertuples():  # nothing dominates a front row
        assert not ((everything.accuracy >= row.accuracy) & (everything.macs_saved_pct >= row.macs_saved_pct)
                    & ((everything.accuracy > row.accuracy) | (everything.macs_saved_pct > row.macs_saved_pct))).any()
    with pytest.raises(EffconvError, match="missing"):
        study.pareto_front(pd.DataFrame({"x": [1]}))


def test_sweep_bad_input(tiny, tiny_eval):
    with pytest.raises(EffconvError, match="evaluate"):
        study.single_layer_sweep(tiny, 0.5, input_size=(3, 8, 8))
    with pytest.raises(EffconvError, match="number"):
        study.single_layer_sweep(tiny, lambda m: "high", input_size=(3, 8, 8))
    with pytest.raises(EffconvError, match="positive ints"):
        study.single_layer_sweep(tiny, tiny_eval, ranks=[0], input_size=(3, 8, 8))
    with pytest.raises(EffconvError, match="kxk conv"):
        study.single_layer_sweep(tiny, tiny_eval, layers=["body.4"], input_size=(3, 8, 8))  # the 1x1 conv


def test_paper_values():
    table = paper_table("dac")
    assert paper_value("dac", "cifar_vgg_baseline_acc").value == 93.6
    assert paper_value("dac", "conv2d_1_rank1_acc").value == 18.6
    assert paper_value("dac", "conv2d_13_rank1_acc").value == 92.9
    assert paper_value("dac", "imagenet_vgg16_flops_saved").value == 53
    assert paper_value("dac", "ssd300_voc07_flops_saved").value == 29
    assert paper_value("dac", "pose_coco_flops_saved").value == 46
    assert {"trend_rank", "trend_layer", "trend_last_k"} <= set(table.index)
    assert set(table.loc[["trend_rank", "trend_layer", "trend_last_k"], "tag"]) == {"seed"}
    assert not math.isnan(paper_value("dac", "exact_rank").value)
    assert paper_value("dac", "keras_cifar_vgg_acc").tag == "repo"  # a third-party README, not the DAC text
    assert paper_value("dac", "beats_other_decompositions").tag == "paper"


def test_anatomy_table():
    table = study.anatomy_table(in_channels=16, out_channels=32, rank=2, size=8).set_index("part")
    assert table.loc["DAC depthwise", "out"] == 32 and table.loc["DAC depthwise", "groups"] == 16
    assert table.loc["DAC pointwise", "in"] == 32
    assert table.loc["DAC pair", "macs_vs_original"] == pytest.approx(2 / 32 + 2 / 9)
    assert table.loc["DAC pair", "weights_vs_original"] == pytest.approx(2 / 32 + 2 / 9)
