"""Versatile convolutions (chapter 5's layers, ``effconv.ops.versatile``): crop form = mask form, shapes, costs,
the converter. The chapter's counted networks and paper values are tested in tests/studies/."""

import math

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from effconv.models import create_model  # first: importing effconv.ops before effconv.models is circular
from effconv.analysis.flops import count_flops
from effconv.errors import EffconvError
from effconv.ops.versatile import (
    VersatileConv2d, concentric_masks, convert, cost_convention, num_secondary, versatile_v1, versatile_v2,
)
from effconv.studies.paper import paper_value


def mask_form(layer: VersatileConv2d, x: torch.Tensor) -> torch.Tensor:
    """The definition, written independently of the layer: masked full-size kernels at full padding."""
    d, outs = layer.kernel_size, []
    for i, mask in enumerate(concentric_masks(d, dtype=x.dtype)):
        for j in range(layer.n):
            inputs = x[:, j * layer.g: j * layer.g + layer.c_hat]
            outs.append(F.conv2d(inputs, layer.weight * mask, None, layer.stride, layer.padding))
    y = torch.cat(outs, 1)[:, :layer.out_channels]
    return y if layer.bias is None else y + layer.bias.view(1, -1, 1, 1)


def test_concentric_masks():
    assert [num_secondary(d) for d in (1, 2, 3, 4, 5, 7)] == [1, 1, 2, 2, 3, 4]
    masks = concentric_masks(5)
    assert masks.shape == (3, 5, 5)
    assert masks.sum(dim=(1, 2)).tolist() == [25, 9, 1]
    assert masks[2, 2, 2] == 1 and masks[1, 0, 2] == 0 and masks[1, 1, 3] == 1
    assert concentric_masks(4).sum(dim=(1, 2)).tolist() == [16, 4]


# (c, out, d, stride, padding, c_hat, g): odd/even kernels, stride 2, padding 0 (cropped inputs),
# channel sliding with g > 1, out_channels not divisible by s * n
CASES = [
    (5, 8, 3, 1, 1, None, 1), (5, 7, 3, 1, None, None, 1), (6, 10, 5, 2, 0, 4, 1), (6, 9, 3, 1, 1, 2, 2),
    (4, 8, 7, 1, 0, None, 1), (3, 64, 3, 1, 1, 2, 1), (4, 6, 4, 1, 1, None, 1), (8, 5, 3, 2, 1, 6, 2),
    (7, 13, 5, 1, 2, 3, 2), (2, 3, 1, 1, 0, 1, 1),
]


@pytest.mark.parametrize("c,out,d,stride,padding,c_hat,g", CASES)
def test_crop_form_equals_mask_form(c, out, d, stride, padding, c_hat, g):
    torch.manual_seed(0)
    layer = VersatileConv2d(c, out, d, stride, padding, c_hat=c_hat, g=g).double()
    nn.init.normal_(layer.bias)
    x = torch.randn(2, c, 11, 10, dtype=torch.double)
    y = layer(x)
    assert y.shape[1] == out
    torch.testing.assert_close(y, mask_form(layer, x))
    dense = F.conv2d(x, layer.dense_weight(), layer.bias, layer.stride, layer.padding)
    torch.testing.assert_close(y, dense)


@pytest.mark.parametrize("c,out,d,stride,padding,c_hat,g", CASES)
def test_shapes(c, out, d, stride, padding, c_hat, g):
    layer = VersatileConv2d(c, out, d, stride, padding, c_hat=c_hat, g=g)
    c_hat = c if c_hat is None else c_hat
    s, n = math.ceil(d / 2), (c - c_hat) // g + 1
    assert (layer.s, layer.n, layer.primaries) == (s, n, math.ceil(out / (s * n)))
    assert layer.weight.shape == (layer.primaries, c_hat, d, d)
    assert sum(used for *_, used in layer.blocks) == out
    assert layer.bias.shape == (out,)


def test_channel_sliding_reads_the_right_channels():
    # one primary, 1x1, c=4, c_hat=2, g=1: outputs are f.x[0:2], f.x[1:3], f.x[2:4]
    layer = VersatileConv2d(4, 3, 1, c_hat=2, g=1, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([1.0, 10.0]).view(1, 2, 1, 1))
    x = torch.arange(4.0).view(1, 4, 1, 1)
    assert layer(x).flatten().tolist() == [10.0, 21.0, 32.0]


def test_bad_inputs():
    with pytest.raises(EffconvError, match="larger than in_channels"):
        VersatileConv2d(4, 8, 3, c_hat=5)
    with pytest.raises(EffconvError, match="not a multiple of the channel stride"):
        VersatileConv2d(8, 8, 3, c_hat=5, g=2)
    with pytest.raises(EffconvError, match="g \\(channel stride\\)"):
        VersatileConv2d(8, 8, 3, c_hat=8, g=0)
    with pytest.raises(EffconvError, match="square kernel"):
        VersatileConv2d(8, 8, (3, 1))
    with pytest.raises(EffconvError, match="out_channels"):
        VersatileConv2d(8, 0, 3)
    with pytest.raises(EffconvError, match="expects input of shape"):
        VersatileConv2d(8, 8, 3)(torch.zeros(1, 3, 8, 8))
    with pytest.raises(EffconvError, match="groups=2"):
        versatile_v1(8, 8, 3, groups=2)
    with pytest.raises(EffconvError, match="leaves no channel"):
        versatile_v2(1, 8, 3)
    with pytest.raises(EffconvError, match="multiple of the channel stride"):
        versatile_v2(8, 8, 3, delta=3, g=2)
    with pytest.raises(EffconvError, match="unknown versatile variant"):
        convert(nn.Conv2d(3, 8, 3), "v3")
    with pytest.raises(EffconvError, match="unknown cost convention"):
        with cost_convention(nn.Identity(), "measured"):
            pass
    with pytest.raises(EffconvError, match="does not accept"):
        create_model("vgg16_cifar", conv="versatile_v2", conv_kwargs={"c_hat": 3})


def measured_macs(module: nn.Module, x: torch.Tensor) -> int:
    """What PyTorch's own counter sees the forward run (it counts 2 FLOPs per multiply-add)."""
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        module(x)
    return counter.get_total_flops() // 2


@pytest.mark.parametrize("c,out,d,stride,padding,c_hat,g", CASES)
def test_declared_cost_is_what_the_crop_form_runs(c, out, d, stride, padding, c_hat, g):
    layer = VersatileConv2d(c, out, d, stride, padding, c_hat=c_hat, g=g)
    x = torch.randn(2, c, 11, 10)
    y = layer(x)
    assert layer.count_macs((x,), y) == layer.executed_macs((x,), y) == measured_macs(layer, x)


def test_spatial_3x3_costs_10_of_18_and_half_the_parameters():
    standard = count_flops(create_model("vgg16_cifar", width=0.25), (3, 32, 32)).by_layer
    versatile = count_flops(create_model("vgg16_cifar", width=0.25, conv="versatile_v1"), (3, 32, 32)).by_layer
    conv_macs = standard[standard["kind"] == "conv 3x3"]["macs"]
    vers = versatile[versatile["type"] == "VersatileConv2d"]
    assert len(vers) == len(conv_macs) == 13
    assert vers["macs"].tolist() == [m * 10 // 18 for m in conv_macs]
    ratio = paper_value("versatile", "spatial_3x3_flops_ratio").value
    assert vers["macs"].sum() / conv_macs.sum() == pytest.approx(ratio, abs=1e-6)
    conv_params = standard[standard["kind"] == "conv 3x3"]["params"]  # no bias: BN follows
    assert vers["params"].tolist() == [p // 2 for p in conv_params]


def test_v2_parameters_follow_the_official_storage():
    layer = VersatileConv2d(64, 128, 3, c_hat=63, g=1, bias=False)
    standard = 128 * 64 * 9
    assert layer.n == 2 and layer.primaries == 32
    assert layer.official_params() == standard * paper_value("versatile", "spatial_channel_3x3_params_ratio").value
    assert layer.weight.numel() == layer.official_params() * 63 // 64  # we store only the c_hat used channels


def test_v2_rgb_layer_and_vgg_through_the_factory():
    model = create_model("vgg16_cifar", width=0.125, conv="versatile_v2")
    first = model.features[0].conv
    assert (first.in_channels, first.c_hat, first.n, first.s) == (3, 2, 2, 2)
    x = torch.randn(2, 3, 32, 32)
    assert model(x).shape == (2, 10)
    model(x).sum().backward()
    assert first.weight.grad is not None and first.weight.grad.abs().sum() > 0


def test_factory_bias_only_without_bn():
    assert versatile_v1(8, 8, 3).conv.bias is None and isinstance(versatile_v1(8, 8, 3).bn, nn.BatchNorm2d)
    bare = versatile_v1(8, 8, 3, bn=False)
    assert bare.conv.bias is not None and not hasattr(bare, "bn")


def test_convert_keeps_geometry_and_counts_on_meta():
    with torch.device("meta"):
        model = torchvision.models.resnet18(weights=None)
    convert(model, "v1")
    assert isinstance(model.conv1, VersatileConv2d) and model.conv1.s == 4 and model.conv1.padding == 3
    assert isinstance(model.layer2[0].downsample[0], nn.Conv2d)  # 1x1: s = 1, left alone by v1
    convert(model, "v2")  # the remaining 1x1 convs slide over channels
    assert isinstance(model.layer2[0].downsample[0], VersatileConv2d)
    assert model.layer2[0].downsample[0].n == 2
    assert count_flops(model, (3, 224, 224)).macs > 0


def test_convert_matches_a_conv_on_cpu():
    # converted layers compute the function of the definition at the original geometry
    model = nn.Sequential(nn.Conv2d(4, 8, 3, stride=2, padding=1, bias=True))
    convert(model, "v2", delta=lambda c: c // 4, g=lambda c: c // 4)
    layer = model[0]
    assert (layer.stride, layer.padding, layer.c_hat, layer.g) == (2, 1, 3, 1)
    x = torch.randn(1, 4, 9, 9)
    torch.testing.assert_close(model(x), mask_form(layer, x))
