"""DAC (``effconv.ops.dac``): the decomposition, its costs and errors, the channel-SVD baseline and model
conversion; the chapter's sweeps, allocations and timings are tested in ``tests/studies/test_dac_*``."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from effconv.models import create_model
from effconv.analysis.flops import count_flops
from effconv.errors import EffconvError
from effconv.ops import dac
from effconv.studies.dac import decompose as study


def _conv(c=6, n=16, k=3, dtype=torch.float64, seed=0, **kw) -> nn.Conv2d:
    torch.manual_seed(seed)
    kw.setdefault("padding", 1)
    return nn.Conv2d(c, n, k, **kw).to(dtype)


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach(), b.detach()
    return float(torch.linalg.vector_norm(a - b) / torch.linalg.vector_norm(b))


def _json_ok(table) -> None:
    json.dumps(table.to_dict("records"), allow_nan=False)  # raises on numpy scalars or NaN


# ---------------------------------------------------------------------------------------------
# decompose
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("groups,kernel", [(1, 3), (1, (3, 5)), (2, 3)])
def test_exact_at_full_rank(dtype, groups, kernel):
    conv = _conv(c=6, n=24, k=kernel, dtype=dtype, groups=groups, padding=(1, 2) if kernel == (3, 5) else 1)
    block = dac.decompose(conv, dac.max_rank(conv))
    x = torch.randn(2, 6, 11, 13, dtype=dtype)
    out = block(x)
    assert out.dtype == dtype and block.depthwise.weight.dtype == dtype
    assert _rel(out, conv(x)) < 1e-5
    kh, kw = conv.kernel_size
    assert dac.max_rank(conv) == kh * kw  # 24/groups >= kh*kw here


def test_structure():
    conv = _conv(c=6, n=16, bias=False)
    block = dac.decompose(conv, 2)
    assert list(dict(block.named_children())) == ["depthwise", "pointwise"]  # nothing between them
    dw, pw = block.depthwise, block.pointwise
    assert (dw.in_channels, dw.out_channels, dw.groups, dw.kernel_size, dw.bias) == (6, 12, 6, (3, 3), None)
    assert (pw.in_channels, pw.out_channels, pw.kernel_size, pw.bias) == (12, 16, (1, 1), None)


def test_true_maximum_rank_is_min_of_outputs_and_kernel_area():
    conv = _conv(c=5, n=4)  # each channel slice is 4 x 9: rank at most 4
    assert dac.max_rank(conv) == 4
    x = torch.randn(1, 5, 9, 9, dtype=torch.float64)
    assert _rel(dac.decompose(conv, 4)(x), conv(x)) < 1e-12
    assert _rel(dac.decompose(conv, 3)(x), conv(x)) > 1e-3  # truly lower rank is not exact
    with pytest.raises(EffconvError, match=r"1\.\.4"):
        dac.decompose(conv, 5)


@pytest.mark.parametrize("kw", [
    dict(stride=2), dict(padding=0), dict(padding=2, dilation=2), dict(padding="same"),
    dict(padding=1, padding_mode="reflect"), dict(padding=1, padding_mode="circular"),
    dict(stride=(2, 1), padding=(0, 1)),
])
def test_geometry_preserved(kw):
    conv = _conv(**kw)
    block = dac.decompose(conv, 9)
    for attr in ("stride", "padding", "dilation", "padding_mode"):
        assert getattr(block.depthwise, attr) == getattr(conv, attr)
    assert block.pointwise.stride == (1, 1) and block.pointwise.padding == (0, 0)
    x = torch.randn(2, 6, 12, 10, dtype=torch.float64)
    assert block(x).shape == conv(x).shape
    assert _rel(block(x), conv(x)) < 1e-10


@pytest.mark.parametrize("bias", [True, False])
def test_bias_moves_to_pointwise(bias):
    conv = _conv(bias=bias)
    if bias:
        with torch.no_grad():
            conv.bias.uniform_(-3, 3)
    block = dac.decompose(conv, 1)
    assert block.depthwise.bias is None
    if bias:
        assert torch.equal(block.pointwise.bias, conv.bias)
        # a zero input sees only the bias, at any rank
        out = block(torch.zeros(1, 6, 4, 4, dtype=torch.float64))
        assert torch.allclose(out, conv.bias.view(1, -1, 1, 1).expand(1, -1, 4, 4))
    else:
        assert block.pointwise.bias is None


def test_split_changes_factors_not_function():
    conv = _conv()
    x = torch.randn(2, 6, 8, 8, dtype=torch.float64)
    balanced, pointwise = dac.decompose(conv, 3), dac.decompose(conv, 3, split="pointwise")
    assert torch.allclose(balanced(x), pointwise(x), atol=1e-12)
    filters = pointwise.depthwise.weight.reshape(6, 3, 9)
    eye = torch.eye(3, dtype=torch.float64).expand(6, 3, 3)
    assert torch.allclose(filters @ filters.transpose(1, 2), eye, atol=1e-12)
    # balanced: both factors carry sqrt(s), so each channel's filter norms equal its mixing-vector norms
    dw = balanced.depthwise.weight.reshape(6, 3, 9).norm(dim=2)
    pw = balanced.pointwise.weight.reshape(16, 6, 3).norm(dim=0)
    assert torch.allclose(dw, pw, atol=1e-12)


def test_recompose_matches_conv_with_truncated_kernel():
    conv = _conv()
    block = dac.decompose(conv, 2)
    truncated = nn.Conv2d(6, 16, 3, padding=1).double()
    with torch.no_grad():
        truncated.weight.copy_(dac.recompose_weight(block))
        truncated.bias.copy_(conv.bias)
    x = torch.randn(1, 6, 7, 7, dtype=torch.float64)
    assert _rel(block(x), truncated(x)) < 1e-12


def test_error_shrinks_with_rank_and_equals_singular_value_tail():
    for groups in (1, 2):
        conv = _conv(c=6, n=16, groups=groups)
        check = study.eckart_young_check(conv)
        assert list(check["rank"]) == list(range(1, dac.max_rank(conv) + 1))  # 9, then 8 = 16/2
        assert (check["max_abs_gap"] < 1e-12 * check["scale"]).all()
        errors = check["error_sq"].to_numpy()
        assert (errors[1:] <= errors[:-1] + 1e-12).all() and errors[0] > 0
        assert errors[-1] < 1e-20  # exact at full rank


def test_reconstruction_table_on_vgg():
    model = create_model("vgg16_cifar", width=0.125)
    table = study.reconstruction_errors(model, ranks=[1, 3, 8])
    assert len(table) == 13 * 3
    # float32 model: the factors are rounded to float32, so measured and predicted differ by ~1e-7
    assert (table["rel_error"] - table["rel_tail"]).abs().max() < 1e-6
    for _, layer in table.groupby("layer"):
        assert layer["rel_error"].is_monotonic_decreasing
    full = table[(table["rank"] == 8) & table["layer"].isin(["conv2d_1", "conv2d_2"])]  # 8 outputs: full rank
    assert len(full) == 2 and full["rel_error"].max() < 1e-6 and full["rel_tail"].max() < 1e-12
    assert table.loc[table["rank"] == 8, "rel_error"].max() > 1e-3  # 16+ outputs: rank 8 < 9 is lossy
    # channel SVD of equal FLOPs is a valid rank and never costs more
    assert (table["channel_cost_ratio"] <= table["cost_ratio"] + 1e-12).all()
    _json_ok(table)


@pytest.mark.parametrize("bad,match", [
    (0, r"1\.\.9"), (10, r"1\.\.9"), (-1, r"1\.\.9"), (2.0, "int"), (True, "int"), ("3", "int"),
])
def test_bad_rank(bad, match):
    with pytest.raises(EffconvError, match=match):
        dac.decompose(_conv(), bad)


def test_bad_module_and_split():
    with pytest.raises(EffconvError, match="Conv2d"):
        dac.decompose(nn.Linear(3, 3), 1)
    with pytest.raises(EffconvError, match=r"\.conv"):
        dac.decompose(create_model("vgg16_cifar", width=0.125).features[0], 1)  # a ConvBN, not its conv
    with pytest.raises(EffconvError, match="Conv2d"):
        dac.decompose(nn.Conv1d(3, 3, 3), 1)
    with pytest.raises(EffconvError, match="split"):
        dac.decompose(_conv(), 1, split="half")


# ---------------------------------------------------------------------------------------------
# costs
# ---------------------------------------------------------------------------------------------

def test_cost_ratio_counted_on_real_layers():
    """Counted MACs of decomposed layers == original * (r/N + r/k^2), exactly, on every CIFAR VGG-16 layer."""
    with torch.device("meta"):
        model = create_model("vgg16_cifar")
    table = study.cost_check(model, ranks=[1, 4, 9])
    assert len(table) == 13 * 3 and table["agrees"].all()
    assert (table["counted_ratio"] - table["formula_ratio"]).abs().max() < 1e-12
    row = table[(table.layer == "conv2d_13") & (table["rank"] == 1)].iloc[0]
    assert row.macs_decomposed * 4608 == row.macs * (9 + 512)  # 1/512 + 1/9 = 521/4608
    channel = study.cost_check(model, ranks=[1, 64], method="channel_svd")
    assert channel["agrees"].all()


def test_cost_ratio_on_cpu_layer_with_count_flops():
    conv = nn.Conv2d(64, 128, 3, stride=2, padding=1)
    base = count_flops(conv, (64, 16, 16)).macs
    for rank in (1, 5, 9):
        macs = count_flops(dac.decompose(conv, rank), (64, 16, 16)).macs
        assert macs / base == pytest.approx(rank / 128 + rank / 9, abs=1e-15)


def test_break_even_rank_for_vgg_widths():
    table = study.break_even_table()
    expected = {64: 576 / 73, 128: 1152 / 137, 256: 2304 / 265, 512: 4608 / 521}
    for row in table.itertuples():
        assert row.break_even_rank == pytest.approx(expected[row.out_channels])
        saving = getattr(row, f"ratio_r{row.max_saving_rank}")
        not_saving = getattr(row, f"ratio_r{row.max_saving_rank + 1}")
        assert saving < 1 <= not_saving
    assert list(table["max_saving_rank"]) == [7, 8, 8, 8]
    # and counted: rank 8 of a 64-wide 3x3 layer costs more than the layer itself
    conv = nn.Conv2d(64, 64, 3, padding=1)
    assert count_flops(dac.decompose(conv, 8), (64, 8, 8)).macs > count_flops(conv, (64, 8, 8)).macs
    assert count_flops(dac.decompose(conv, 7), (64, 8, 8)).macs < count_flops(conv, (64, 8, 8)).macs
    with pytest.raises(EffconvError):
        dac.break_even_rank(0)


# ---------------------------------------------------------------------------------------------
# channel SVD baseline
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_channel_svd_exact_at_full_rank(dtype):
    conv = _conv(c=3, n=32, dtype=dtype, stride=2)
    block = dac.channel_svd(conv, dac.channel_max_rank(conv))  # min(32, 27) = 27
    x = torch.randn(2, 3, 9, 9, dtype=dtype)
    assert dac.channel_max_rank(conv) == 27
    assert _rel(block(x), conv(x)) < 1e-5
    with pytest.raises(EffconvError, match=r"1\.\.27"):
        dac.channel_svd(conv, 28)
    with pytest.raises(EffconvError, match="groups"):
        dac.channel_svd(_conv(groups=2), 1)


def test_matched_channel_rank_is_the_largest_not_above():
    for c, n in [(3, 64), (64, 64), (128, 256), (512, 512), (16, 8)]:
        with torch.device("meta"):  # shapes only: counting and (meta) SVDs cost nothing
            conv = nn.Conv2d(c, n, 3, padding=1)
        for rank in range(1, dac.max_rank(conv) + 1):
            matched = dac.matched_channel_rank(conv, rank)
            size = (c, 4, 4)
            dac_macs = count_flops(dac.decompose(conv, rank), size).macs
            assert count_flops(dac.channel_svd(conv, matched), size).macs <= dac_macs
            if matched < dac.channel_max_rank(conv):
                assert count_flops(dac.channel_svd(conv, matched + 1), size).macs > dac_macs
    with pytest.raises(EffconvError, match="groups"):
        dac.matched_channel_rank(_conv(groups=2), 1)


# ---------------------------------------------------------------------------------------------
# models
# ---------------------------------------------------------------------------------------------

def test_conv_layers_vgg16_keras_names():
    model = create_model("vgg16_cifar", width=0.125)
    layers = dac.conv_layers(model)
    assert list(layers) == [f"conv2d_{i}" for i in range(1, 14)]
    assert layers["conv2d_1"] == "features.0.conv" and layers["conv2d_13"] == "features.28.conv"
    assert dac.conv_layers(model, (3, 32, 32)) == layers


def test_conv_layers_follow_forward_order_and_skip_1x1():
    class Reversed(nn.Module):
        def __init__(self):
            super().__init__()
            self.late = nn.Conv2d(8, 8, 3, padding=1)
            self.point = nn.Conv2d(8, 8, 1)
            self.early = nn.Conv2d(3, 8, 3, padding=1)

        def forward(self, x):
            return self.late(self.point(self.early(x)))

    model = Reversed()
    assert dac.conv_layers(model) == {"conv2d_1": "late", "conv2d_2": "early"}  # registration order
    assert dac.conv_layers(model, (3, 8, 8)) == {"conv2d_1": "early", "conv2d_2": "late"}


def test_apply_converts_a_copy():
    model = create_model("vgg16_cifar", width=0.25).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    converted = dac.apply(model, {"conv2d_2": 9, "features.28.conv": 2})
    assert isinstance(model.features[2].conv, nn.Conv2d)  # caller's model untouched
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert isinstance(converted.features[2].conv, nn.Sequential)
    assert isinstance(converted.features[28].conv, nn.Sequential)
    assert isinstance(converted.features[0].conv, nn.Conv2d)
    x = torch.randn(4, 3, 32, 32)
    exact = dac.apply(model, {name: 9 for name in dac.conv_layers(model)})
    assert _rel(exact(x), model(x)) < 1e-4  # 13 full-rank layers in float32
    svd = dac.apply(model, {"conv2d_5": 2}, method="channel_svd")
    assert isinstance(svd.features[10].conv.basis, nn.Conv2d)


@pytest.mark.parametrize("ranks,match", [
    ({"conv2d_14": 1}, "conv2d_1..conv2d_13"),
    ({"features.0": 1}, "Conv2d"),
    ({"classifier.2": 1}, "Conv2d"),
    ({"conv2d_1": 1, "features.0.conv": 2}, "twice"),
    ({"conv2d_1": 0}, r"valid range is 1\.\.8"),  # conv2d_1 has 8 outputs at width 1/8
    ([("conv2d_1", 1)], "dict"),
])
def test_apply_bad_input(ranks, match):
    model = create_model("vgg16_cifar", width=0.125)
    with pytest.raises(EffconvError, match=match):
        dac.apply(model, ranks)


def test_apply_bad_method():
    with pytest.raises(EffconvError, match="channel_svd"):
        dac.apply(create_model("vgg16_cifar", width=0.125), {"conv2d_1": 1}, method="tucker")
