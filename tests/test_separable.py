"""Split blocks (flattened, depthwise separable, asymmetric pairs, grouped convs: equivalences, costs,
errors), the conv factories that swap them into a model, and the networks built of them (MobileNet v1,
Xception). The chapter's tables and claims are tested in ``tests/studies/test_splitting_*.py``."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from effconv.analysis.flops import count_flops
from effconv.errors import EffconvError
from effconv.models import create_model, get_conv_factory
from effconv.ops.separable import (AsymmetricPair, DepthwiseSeparableConv, FlattenedConv, check_groups,
                                   grouped_conv)


# ---------------------------------------------------------------- blocks

@pytest.mark.parametrize("stride", [1, 2])
def test_flattened_conv_equals_a_dense_conv_with_rank_one_filters(stride):
    torch.manual_seed(0)
    flat = FlattenedConv(5, 7, 3, stride=stride).double()
    x = torch.randn(2, 5, 11, 11, dtype=torch.float64)
    dense = F.conv2d(x, flat.dense_weight(), stride=stride, padding=1)
    torch.testing.assert_close(flat(x), dense)


def test_flattened_weights_per_output_channel():
    flat = FlattenedConv(64, 32, 5)
    assert sum(p.numel() for p in flat.parameters()) == 32 * (64 + 5 + 5)


def test_depthwise_separable_structure_and_cost():
    block = DepthwiseSeparableConv(16, 32, 3, stride=2, bn=True, activation=nn.ReLU)
    assert [type(m).__name__ for m in block] == ["Conv2d", "BatchNorm2d", "ReLU", "Conv2d", "BatchNorm2d", "ReLU"]
    assert block.depthwise.groups == 16 and block.pointwise.bias is None
    got = count_flops(block, (16, 20, 20))
    assert got.macs == 10 * 10 * 16 * 9 + 10 * 10 * 16 * 32
    assert DepthwiseSeparableConv(4, 8).pointwise.bias is not None  # no BN follows: keep the bias
    assert DepthwiseSeparableConv(4, 8, depth_multiplier=2).pointwise.in_channels == 8


def test_depthwise_separable_is_depthwise_then_pointwise():
    torch.manual_seed(0)
    block = DepthwiseSeparableConv(6, 4, 3, bias=False).double()
    x = torch.randn(1, 6, 9, 9, dtype=torch.float64)
    expected = F.conv2d(F.conv2d(x, block.depthwise.weight, padding=1, groups=6), block.pointwise.weight)
    torch.testing.assert_close(block(x), expected)


def test_asymmetric_pair_shapes_and_cost():
    pair = AsymmetricPair(8, 8, 7, bias=False)
    assert (pair.row.kernel_size, pair.column.kernel_size) == ((1, 7), (7, 1))
    assert count_flops(pair, (8, 17, 17)).macs * 7 == count_flops(nn.Conv2d(8, 8, 7, padding=3, bias=False),
                                                                  (8, 17, 17)).macs * 2
    assert AsymmetricPair(8, 16, 3, stride=2)(torch.randn(1, 8, 10, 10)).shape == (1, 16, 5, 5)
    inception = AsymmetricPair(8, 8, 7, mid_channels=6, bn=True, activation=nn.ReLU)
    assert [type(m).__name__ for m in inception].count("ReLU") == 2


def test_grouped_conv_and_group_errors():
    conv = grouped_conv(12, 18, 3, groups=3)
    assert conv.groups == 3 and conv.padding == (1, 1) and conv.weight.shape == (18, 4, 3, 3)
    with pytest.raises(EffconvError, match="groups=5 does not divide in_channels=12 and out_channels=18"):
        grouped_conv(12, 18, 3, groups=5)
    with pytest.raises(EffconvError, match="groups=4 does not divide"):
        check_groups(12, 18, 4)
    with pytest.raises(EffconvError, match="positive integer"):
        check_groups(12, 0, 1)


def test_conv_factories_swap_the_dense_convs_of_a_model():
    base = create_model("resnet20")
    separable = create_model("resnet20", conv="separable")
    flattened = create_model("resnet20", conv="flattened")
    x = torch.randn(2, 3, 32, 32)
    for model in (separable, flattened):
        assert model(x).shape == (2, 10)
    cost = {name: count_flops(m, (3, 32, 32)).macs for name, m in
            [("base", base), ("separable", separable), ("flattened", flattened)]}
    assert cost["separable"] < cost["base"] / 3 and cost["flattened"] < cost["base"] / 3
    with pytest.raises(EffconvError, match="replaces dense convolutions"):
        get_conv_factory("separable")(8, 8, 3, groups=8)


# ---------------------------------------------------------------- models

def test_mobilenet_v1_builds_runs_and_scales():
    model = create_model("mobilenet_v1", num_classes=10, width=0.25)
    assert model(torch.randn(1, 3, 128, 128)).shape == (1, 10)
    assert create_model("mobilenet_v1", num_classes=1000).classifier.in_features == 1024
    with torch.device("meta"):
        dense = create_model("conv_mobilenet_v1", num_classes=1000)
    assert not any(isinstance(m, DepthwiseSeparableConv) for m in dense.modules())
    assert count_flops(dense, 224).macs > 8 * count_flops(create_model("mobilenet_v1", num_classes=1000), 224).macs
    with pytest.raises(EffconvError, match="width"):
        create_model("mobilenet_v1", width=-1.0)
    with pytest.raises(EffconvError, match="does not take a conv factory"):
        create_model("mobilenet_v1", conv="acb")


def test_xception_shapes():
    with torch.device("meta"):
        model = create_model("xception", num_classes=1000)
        out = model(torch.zeros(1, 3, 299, 299))
    assert out.shape == (1, 1000)
    layers = count_flops(model, 299).by_layer
    # the paper's 36 conv layers: a two-conv stem and 34 depthwise-separable convs
    assert (layers["kind"] == "depthwise 3x3").sum() == 34
    assert (layers["kind"] == "conv 3x3").sum() == 2
    assert layers.loc[layers["kind"] == "depthwise 3x3", "output"].iloc[-1] == (1536, 10, 10)
