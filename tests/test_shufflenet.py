"""ShuffleNet V1, the model: architecture, widths and rounding, the no-shuffle ablation, bad input.

The chapter's counted tables, unit formulas, errata, claims and timings are tested in ``tests/studies/``."""

import pytest
import torch
from torch import nn

from effconv.models import create_model
from effconv.analysis.flops import count_flops
from effconv.errors import EffconvError
from effconv.models.shufflenet_v1 import (
    PAPER_SCALES, TABLE1_CHANNELS, ShuffleUnit, shufflenet_v1, stage_channels, stem_channels,
)
from effconv.ops import reparameterize_model
from effconv.ops.shuffle import ChannelShuffle, channel_shuffle

GROUPS = (1, 2, 3, 4, 8)


def _stage_shapes(model: nn.Module, size: int) -> list[tuple[int, ...]]:
    shapes = []
    hooks = [s.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape[1:]))) for s in model.stages]
    with torch.no_grad():
        out = model.eval()(torch.randn(2, 3, size, size))
    for h in hooks:
        h.remove()
    return shapes + [tuple(out.shape)]


# --- architecture --------------------------------------------------------------------------------

@pytest.mark.parametrize("g", GROUPS)
def test_imagenet_form_shapes(g):
    c2, c3, c4 = TABLE1_CHANNELS[g]
    shapes = _stage_shapes(shufflenet_v1(groups=g), 224)
    assert shapes == [(c2, 28, 28), (c3, 14, 14), (c4, 7, 7), (2, 1000)]


@pytest.mark.parametrize("g", GROUPS)
@pytest.mark.parametrize("scale", [0.5, 1.0])
def test_cifar_form_shapes(g, scale):
    model = create_model("shufflenet_v1_cifar", groups=g, width=scale)
    c2, c3, c4 = stage_channels(g, scale)
    # stages receive 32/16/8 maps; each starts with a stride-2 unit
    assert _stage_shapes(model, 32) == [(c2, 16, 16), (c3, 8, 8), (c4, 4, 4), (2, 10)]
    assert model.stem[0].conv.stride == (1, 1) and isinstance(model.maxpool, nn.Identity)


def test_scaled_imagenet_models_run():
    for scale, g in [(0.25, 8), (1.5, 3), (2.0, 4)]:
        model = shufflenet_v1(groups=g, scale=scale, num_classes=7)
        assert _stage_shapes(model, 224)[-1] == (2, 7)


def test_unit_structure_follows_the_paper():
    model = shufflenet_v1(groups=3)
    first, later = model.stages[0][0], model.stages[1][1]
    assert first.compress.conv.groups == 1  # stage 2's first 1x1 is not grouped
    assert model.stages[1][0].compress.conv.groups == 3
    assert first.expand.conv.out_channels == 240 - 24  # concat unit makes out - in channels
    assert later.compress.conv.out_channels == 480 // 4 and later.depthwise.conv.groups == 480 // 4
    assert later.depthwise.conv.stride == (1, 1) and model.stages[1][0].depthwise.conv.stride == (2, 2)
    assert isinstance(first.shortcut, nn.AvgPool2d) and first.shortcut.kernel_size == 3
    assert [len(s) for s in model.stages] == [4, 8, 4]
    assert all(m.bias is None for m in model.modules() if isinstance(m, nn.Conv2d))
    # no ReLU between the depthwise conv and the second 1x1: the depthwise block is conv + BN only
    assert [type(m) for m in later.depthwise] == [nn.Conv2d, nn.BatchNorm2d]


def test_unit_computes_the_paper_formula_by_hand():
    torch.manual_seed(0)
    unit = ShuffleUnit(24, 48, groups=3, stride=2).eval()
    x = torch.randn(2, 24, 8, 8).relu()
    branch = unit.expand(unit.depthwise(channel_shuffle(torch.relu(unit.compress(x)), 3)))
    expected = torch.relu(torch.cat([nn.functional.avg_pool2d(x, 3, 2, 1), branch], 1))
    with torch.no_grad():
        assert torch.allclose(unit(x), expected)
    same = ShuffleUnit(48, 48, groups=3).eval()
    y = torch.randn(2, 48, 4, 4)
    branch = same.expand(same.depthwise(channel_shuffle(torch.relu(same.compress(y)), 3)))
    with torch.no_grad():
        assert torch.allclose(same(y), torch.relu(y + branch))


def test_fused_model_computes_the_same():
    model = shufflenet_v1(groups=3, scale=0.5, input_size=32, num_classes=10)
    for m in model.modules():  # non-trivial BN statistics so the fold is tested
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        before = model.eval()(x)
        after = reparameterize_model(model)(x)
    assert torch.allclose(before, after, atol=1e-4, rtol=1e-4)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())


@pytest.mark.parametrize("g", [2, 3, 8])
def test_no_shuffle_ablation_differs_only_by_the_permutation(g):
    torch.manual_seed(0)
    shuffled = shufflenet_v1(groups=g, scale=0.5, input_size=32)
    plain = shufflenet_v1(groups=g, scale=0.5, input_size=32, shuffle=False)
    assert shuffled.state_dict().keys() == plain.state_dict().keys()
    plain.load_state_dict(shuffled.state_dict())
    kinds = {type(m) for m in plain.modules()}
    assert ChannelShuffle not in kinds
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert not torch.allclose(shuffled.eval()(x), plain.eval()(x))
        # replacing every shuffle by the identity turns the shuffled model into the plain one
        for unit in shuffled.modules():
            if isinstance(unit, ShuffleUnit):
                unit.shuffle = nn.Identity()
        assert torch.equal(shuffled(x), plain(x))
    assert count_flops(plain, 32).macs == count_flops(shuffled, 32).macs


def test_no_shuffle_is_a_no_op_at_g1():
    torch.manual_seed(0)
    a = shufflenet_v1(groups=1, scale=0.25, input_size=32)
    b = shufflenet_v1(groups=1, scale=0.25, input_size=32, shuffle=False)
    b.load_state_dict(a.state_dict())
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(a.eval()(x), b.eval()(x))


# --- widths and rounding ------------------------------------------------------------------------

def test_stage_widths_are_table1_times_scale_when_divisible():
    for g in GROUPS:
        assert stage_channels(g, 1.0) == TABLE1_CHANNELS[g]
        assert stage_channels(g, 2.0) == tuple(2 * c for c in TABLE1_CHANNELS[g])
        for scale in PAPER_SCALES:
            widths = stage_channels(g, scale)
            assert all(c % (4 * g) == 0 for c in widths)
            assert all(abs(c - t * scale) <= 2 * g for c, t in zip(widths, TABLE1_CHANNELS[g]))
    assert stage_channels(2, 0.5) == (104, 200, 400)  # 100 -> 104 (ties round up)
    assert stage_channels(4, 0.25) == (64, 144, 272)  # 68 -> 64, 136 -> 144


def test_stem_rule_reproduces_the_released_models():
    released = {3: {0.5: 12, 1.0: 24, 1.5: 24, 2.0: 48}, 8: {0.5: 16, 1.0: 24, 1.5: 24, 2.0: 48}}
    for g, stems in released.items():
        for scale, stem in stems.items():
            assert stem_channels(g, scale) == stem
    assert all(stem_channels(g, 0.25) % g == 0 for g in GROUPS)


def test_width_and_scale_are_aliases():
    assert create_model("shufflenet_v1", width=0.5, groups=8).widths == (16, 192, 384, 768)
    assert shufflenet_v1(scale=0.5, groups=8).widths == (16, 192, 384, 768)
    with pytest.raises(EffconvError, match="only one"):
        shufflenet_v1(scale=0.5, width=2.0)


# --- bad input -------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,match", [
    ({"groups": 5}, "groups"),
    ({"groups": 6}, "channels="),
    ({"scale": 0}, "positive"),
    ({"scale": -1.0}, "positive"),
    ({"scale": "1x"}, "positive"),
    ({"input_size": 4}, "at least 8"),
    ({"groups": 8, "stem": 12}, "multiple of groups"),
    ({"groups": 3, "channels": (240, 480)}, "3 stage widths"),
    ({"groups": 3, "channels": (250, 500, 1000)}, "do not divide"),
])
def test_bad_builder_arguments(kwargs, match):
    with pytest.raises(EffconvError, match=match):
        shufflenet_v1(**kwargs)


def test_input_too_small_is_explained():
    model = shufflenet_v1(groups=3, scale=0.25)
    with pytest.raises(EffconvError, match="at least 32x32.*input_size=32"):
        model(torch.randn(1, 3, 16, 16))
    cifar = shufflenet_v1(groups=3, scale=0.25, input_size=32)
    with pytest.raises(EffconvError, match="at least 8x8"):
        cifar(torch.randn(1, 3, 4, 4))


def test_bad_unit_arguments():
    with pytest.raises(EffconvError, match="in_channels == out_channels"):
        ShuffleUnit(24, 48, groups=3)
    with pytest.raises(EffconvError, match="widen"):
        ShuffleUnit(48, 48, groups=3, stride=2)
    with pytest.raises(EffconvError, match="stride 1 or 2"):
        ShuffleUnit(48, 48, groups=3, stride=3)
