"""OctConv2d: alpha = 0 is a plain conv, the four paths against a hand-written reference, shapes,
the closed form of its cost, and bad input (the counted table is chapter 1's, in tests/studies)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from effconv.errors import EffconvError
from effconv.ops.octconv import OctConv2d, octave_cost_ratio, split_channels, split_octave


@pytest.mark.parametrize("kernel, padding", [(3, None), (5, None), (3, 0), (1, None)])
def test_alpha_zero_is_a_plain_conv(kernel, padding):
    torch.manual_seed(0)
    oct_layer = OctConv2d(6, 10, kernel, alpha_in=0, alpha_out=0, padding=padding, bias=True)
    plain = nn.Conv2d(6, 10, kernel, padding=kernel // 2 if padding is None else padding)
    plain.load_state_dict(oct_layer.high_to_high.state_dict())
    x = torch.randn(2, 6, 12, 12)
    high, low = oct_layer(x)
    assert low is None
    torch.testing.assert_close(high, plain(x), rtol=0, atol=0)
    high_pair, _ = oct_layer((x, None))
    torch.testing.assert_close(high_pair, plain(x), rtol=0, atol=0)


def test_alpha_zero_stride_two_pools_then_convolves():
    torch.manual_seed(0)
    oct_layer = OctConv2d(4, 4, 3, 0, 0, stride=2)
    x = torch.randn(1, 4, 8, 8)
    expected = F.conv2d(F.avg_pool2d(x, 2), oct_layer.high_to_high.weight, padding=1)
    torch.testing.assert_close(oct_layer(x)[0], expected)


def test_four_paths_match_a_hand_written_reference():
    torch.manual_seed(1)
    layer = OctConv2d(8, 12, 3, alpha_in=0.5, alpha_out=0.25)
    assert (layer.in_high, layer.in_low, layer.out_high, layer.out_low) == (4, 4, 9, 3)
    high, low = torch.randn(2, 4, 10, 10), torch.randn(2, 4, 5, 5)
    w = {name: getattr(layer, name).weight for name in ("high_to_high", "high_to_low", "low_to_high", "low_to_low")}
    expected_high = F.conv2d(high, w["high_to_high"], padding=1) + F.conv2d(low, w["low_to_high"], padding=1).repeat_interleave(2, -1).repeat_interleave(2, -2)
    expected_low = F.conv2d(low, w["low_to_low"], padding=1) + F.conv2d(F.avg_pool2d(high, 2), w["high_to_low"], padding=1)
    out_high, out_low = layer((high, low))
    torch.testing.assert_close(out_high, expected_high)
    torch.testing.assert_close(out_low, expected_low)


@pytest.mark.parametrize("alpha_in, alpha_out", [(0, 0.5), (0.5, 0.5), (0.5, 0), (0.25, 1.0), (1.0, 1.0), (1.0, 0)])
@pytest.mark.parametrize("stride", [1, 2])
def test_shapes_and_absent_groups(alpha_in, alpha_out, stride):
    layer = OctConv2d(16, 8, 3, alpha_in, alpha_out, stride=stride)
    x = torch.randn(2, 16, 16, 16)
    high, low = layer(split_octave(x, alpha_in))
    size = 16 // stride
    if alpha_out == 0:
        assert low is None
    else:
        assert low.shape == (2, int(alpha_out * 8), size // 2, size // 2)
    if alpha_out == 1:
        assert high is None
    else:
        assert high.shape == (2, 8 - int(alpha_out * 8), size, size)


def test_chain_first_middle_last_and_gradients():
    net = nn.ModuleList([OctConv2d(3, 16, 3, 0, 0.5), OctConv2d(16, 16, 3, 0.5, 0.5), OctConv2d(16, 5, 3, 0.5, 0)])
    x = torch.randn(2, 3, 8, 8, requires_grad=True)
    y = x
    for layer in net:
        y = layer(y)
    high, low = y
    assert low is None and high.shape == (2, 5, 8, 8)
    high.sum().backward()
    assert all(p.grad is not None for p in net.parameters())


@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.5, 1.0])
def test_closed_form_is_the_path_sum(alpha):
    paths = (1 - alpha) ** 2 + (2 * alpha * (1 - alpha) + alpha**2) / 4
    assert octave_cost_ratio(alpha) == pytest.approx(paths)


def test_split_channels_rounds_down():
    assert split_channels(256, 0.125) == (224, 32)
    assert split_channels(10, 0.25) == (8, 2)  # 2.5 low channels -> 2


@pytest.mark.parametrize("kwargs, message", [
    (dict(alpha_in=1.5), "alpha must be"),
    (dict(alpha_out=-0.1), "alpha must be"),
    (dict(stride=3), "stride 1 or 2"),
])
def test_bad_construction(kwargs, message):
    base = dict(in_channels=8, out_channels=8, kernel_size=3, alpha_in=0.5, alpha_out=0.5)
    with pytest.raises(EffconvError, match=message):
        OctConv2d(**{**base, **kwargs})


def test_bad_inputs():
    layer = OctConv2d(8, 8, 3, 0.5, 0.5)
    with pytest.raises(EffconvError, match="expects 4 high-frequency input channels, got 8"):
        layer(torch.randn(1, 8, 8, 8))  # a plain tensor where a pair is needed
    with pytest.raises(EffconvError, match="half the size"):
        layer((torch.randn(1, 4, 8, 8), torch.randn(1, 4, 8, 8)))
    with pytest.raises(EffconvError, match="high-frequency input channels"):
        layer((torch.randn(1, 5, 8, 8), torch.randn(1, 4, 4, 4)))
