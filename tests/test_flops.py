"""count_flops: every conv geometry against an independent closed form, published network costs,
element-wise work, errors, and torchvision's own published parameter and FLOP metadata."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from effconv.analysis.flops import count_flops
from effconv.errors import EffconvError
from effconv.models.mobilenet_v1 import MobileNetV1
from effconv.studies.splitting import costs as study


def _meta(build):
    with torch.device("meta"):
        return build()


# ---------------------------------------------------------------- single layers, closed forms

def conv_macs(c_in, c_out, kernel, size, stride=1, padding=0, dilation=1, groups=1):
    """Mult-adds of a 2-D conv written from the output-size formula (no torch involved)."""
    kh, kw = kernel
    h, w = size
    out_h = (h + 2 * padding[0] - dilation * (kh - 1) - 1) // stride + 1
    out_w = (w + 2 * padding[1] - dilation * (kw - 1) - 1) // stride + 1
    return c_out * out_h * out_w * (c_in // groups) * kh * kw


CONV_CASES = {
    "standard 3x3": dict(c_in=16, c_out=32, kernel=(3, 3), padding=(1, 1)),
    "unpadded 5x5": dict(c_in=8, c_out=12, kernel=(5, 5), padding=(0, 0)),
    "padded 3x3, pad 2": dict(c_in=8, c_out=8, kernel=(3, 3), padding=(2, 2)),
    "strided 3x3": dict(c_in=16, c_out=16, kernel=(3, 3), padding=(1, 1), stride=2),
    "strided 7x7, stride 3": dict(c_in=3, c_out=8, kernel=(7, 7), padding=(3, 3), stride=3),
    "dilated 3x3": dict(c_in=8, c_out=8, kernel=(3, 3), padding=(2, 2), dilation=2),
    "grouped g=4": dict(c_in=16, c_out=32, kernel=(3, 3), padding=(1, 1), groups=4),
    "depthwise": dict(c_in=24, c_out=24, kernel=(3, 3), padding=(1, 1), groups=24),
    "depthwise multiplier 2": dict(c_in=8, c_out=16, kernel=(3, 3), padding=(1, 1), groups=8),
    "pointwise": dict(c_in=32, c_out=64, kernel=(1, 1), padding=(0, 0)),
    "1-D vertical 7x1": dict(c_in=8, c_out=8, kernel=(7, 1), padding=(3, 0)),
    "1-D horizontal 1x5": dict(c_in=8, c_out=4, kernel=(1, 5), padding=(0, 2)),
}


@pytest.mark.parametrize("case", CONV_CASES, ids=list(CONV_CASES))
@pytest.mark.parametrize("size", [(17, 17), (20, 13)], ids=["17x17", "20x13"])
def test_conv_macs_match_closed_form(case, size):
    spec = dict(CONV_CASES[case])
    c_in, c_out, kernel = spec["c_in"], spec["c_out"], spec["kernel"]
    conv = nn.Conv2d(c_in, c_out, kernel, stride=spec.get("stride", 1), padding=spec["padding"],
                     dilation=spec.get("dilation", 1), groups=spec.get("groups", 1), bias=False)
    got = count_flops(conv, (c_in, *size))
    assert got.macs == conv_macs(size=size, **spec)
    assert got.params == c_out * (c_in // spec.get("groups", 1)) * kernel[0] * kernel[1]


def test_conv1d_and_linear_macs():
    class OneD(nn.Module):
        """count_flops feeds images, so the 1-D signal is the single row of a (3, 1, 40) input."""

        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Conv1d(3, 6, 5, padding=2), nn.Flatten(), nn.Linear(6 * 40, 7))

        def forward(self, x):
            return self.net(x[:, :, 0, :])

    got = count_flops(OneD(), (3, 1, 40))
    assert got.macs == 6 * 40 * 3 * 5 + 6 * 40 * 7
    assert got.params == (6 * 3 * 5 + 6) + (6 * 40 * 7 + 7)


def test_linear_macs():
    got = count_flops(nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 5, 11)), (3, 4, 5))
    assert got.macs == 60 * 11
    assert got.params == 60 * 11 + 11


class ShuffleNetLike(nn.Module):
    """A 1x1 conv, a channel shuffle written as reshape/transpose, a concat and an addition."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(8, 8, 1, bias=False)

    def forward(self, x):
        y = self.conv(x)
        n, c, h, w = y.shape
        y = y.reshape(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)
        return torch.cat([y, x], 1) + 1.0


def test_functional_ops_cost_nothing():
    got = count_flops(ShuffleNetLike(), (8, 6, 6))
    assert got.macs == 8 * 8 * 36  # the conv only


def test_elementwise_work_is_reported_but_excluded():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.MaxPool2d(2), nn.AdaptiveAvgPool2d(1))
    got = count_flops(model, (3, 8, 8))
    conv = 4 * 64 * 3 * 9
    assert got.macs == conv
    assert got.elementwise == {"norm": 4 * 64, "activation": 4 * 64, "pooling": 4 * 16 * 4 + 4 * 16}
    with_elementwise = count_flops(model, (3, 8, 8), include_elementwise=True)
    assert with_elementwise.macs == conv + sum(got.elementwise.values())
    assert set(got.by_layer.columns) == {"name", "type", "kind", "macs", "params", "elementwise", "output"}


def test_model_that_rejects_the_input_size():
    cifar_head = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 10))
    with pytest.raises(EffconvError, match="does not accept an input of size"):
        count_flops(cifar_head, 224)


@pytest.mark.parametrize("bad", [0, -3, (3, 0, 8), (0, 3, 32, 32), (1, 1, 3, 32, 32), "224", 2.5, True, (3, True, 32),
                                 (3, 32.0, 32)])
def test_bad_input_size(bad):
    with pytest.raises(EffconvError, match="input_size"):
        count_flops(nn.Conv2d(3, 3, 1), bad)


def test_batched_input_size_counts_per_sample():
    conv = nn.Conv2d(3, 8, 3, padding=1)
    single, batched = count_flops(conv, (3, 16, 16)), count_flops(conv, (4, 3, 16, 16))
    assert batched.macs == single.macs == 8 * 3 * 9 * 16 * 16 and batched.input_size == (3, 16, 16)
    with pytest.raises(EffconvError, match="needs a torch.nn.Module"):
        count_flops("resnet20", (3, 32, 32))


# ---------------------------------------------------------------- published network costs

def mobilenet(width=1.0, separable=True):
    return _meta(lambda: MobileNetV1(width=width, separable=separable))


def test_mobilenet_v1_published_cost():
    model = mobilenet()
    got = count_flops(model, 224)
    assert round(got.macs / 1e6) == 569  # paper: 569M mult-adds
    assert round(study.conv_weights(model) / 1e6, 1) == 4.2  # paper: 4.2M parameters
    assert round(got.params / 1e6, 1) == 4.2  # also with BN and bias


@pytest.mark.parametrize("width, macs, params", [(0.75, 325, 2.6), (0.5, 149, 1.3), (0.25, 41, 0.5)])
def test_mobilenet_v1_width_table(width, macs, params):
    model = mobilenet(width)
    got = count_flops(model, 224)
    assert round(got.macs / 1e6) == macs
    assert round(study.conv_weights(model) / 1e6, 1) == params


def test_conv_mobilenet_published_cost():
    model = mobilenet(separable=False)
    got = count_flops(model, 224)
    assert abs(got.macs / 1e6 - 4866) / 4866 < 5e-4  # paper 4866M; ours 4867.3M
    assert round(got.params / 1e6, 1) == 29.3


def test_vgg16_published_cost():
    vgg = _meta(lambda: torchvision.models.vgg16(weights=None))
    got = count_flops(vgg, 224)
    assert round(got.params / 1e6) == 138
    assert round(count_flops(vgg.features, 224).macs / 1e9, 1) == 15.3  # the 13 convs: 15.35G
    assert abs(got.macs / 15.3e9 - 1) < 0.012  # with the FC layers: 15.47G


def test_squeezenet_published_cost():
    squeeze = _meta(lambda: torchvision.models.squeezenet1_0(weights=None))
    at_227 = count_flops(squeeze, 227)
    assert at_227.params == 1_248_424
    assert round(at_227.macs / 1e6) == 833  # MobileNet's Table 9, at Caffe's 227x227 input


def test_xception_published_params():
    from effconv.models.xception import Xception

    assert count_flops(_meta(Xception), 299).params == 22_855_952


# ---------------------------------------------------------------- torchvision's published metadata

def _torchvision_cases():
    """(model name, builder kwargs, crop size) -> the weights' published num_params and _ops, deduplicated."""
    cases: dict[tuple, tuple[str, int, float]] = {}
    for name in torchvision.models.list_models(module=torchvision.models):
        for weights in torchvision.models.get_model_weights(name):
            meta = weights.meta
            kwargs = {"num_classes": len(meta["categories"]) if meta["categories"] else 1000}
            if name == "inception_v3":
                kwargs.update(aux_logits=True, init_weights=False)
            if name == "googlenet":
                kwargs.update(aux_logits=False, init_weights=False)
            size = weights.transforms.keywords["crop_size"]
            if name.startswith("vit_") and "SWAG" in weights.name:
                kwargs["image_size"] = size
            key = (name, tuple(sorted(kwargs.items())), size)
            cases.setdefault(key, (weights.name, meta["num_params"], meta["_ops"]))
    return cases


@pytest.mark.slow
def test_torchvision_published_params_and_gflops(monkeypatch):
    # RegNet builders compute their widths with tensor arithmetic, which has no values on the meta
    # device: let that one step run on the CPU and build the rest on meta.
    from torchvision.models.regnet import BlockParams

    original = BlockParams.from_init_params.__func__

    def on_cpu(cls, *args, **kwargs):
        with torch.device("cpu"):
            return original(cls, *args, **kwargs)

    monkeypatch.setattr(BlockParams, "from_init_params", classmethod(on_cpu))
    mismatches = []
    cases = _torchvision_cases()
    assert len(cases) > 70
    for (name, kwargs, size), (weights, num_params, gflops) in cases.items():
        model = _meta(lambda: torchvision.models.get_model(name, weights=None, **dict(kwargs)))
        got = count_flops(model, size)
        if got.params != num_params or round(got.macs / 1e9, 3) != gflops:
            mismatches.append((name, weights, got.params, num_params, round(got.macs / 1e9, 3), gflops))
    assert not mismatches, mismatches
