"""ShuffleNet V1: architecture, Table 1 and the released models by counting, unit formulas, errata, latency."""

import math

import pytest
import torch
from torch import nn

from effconv.models import create_model
from effconv.claims import ClaimsTable
from effconv.analysis.flops import count_flops
from effconv.errors import EffconvError
from effconv.models.shufflenet_v1 import (
    PAPER_SCALES, TABLE1_CHANNELS, ShuffleUnit, shufflenet_v1, stage_channels, stem_channels,
)
from effconv.ops import reparameterize_model
from effconv.ops.shuffle import ChannelShuffle, channel_shuffle
from effconv.studies.shufflenet.costs import shufflenet_cost
from effconv.studies.shufflenet.claims import add_complexity_claims
from effconv.studies.shufflenet.errata import official_code_notes, seed_errata
from effconv.studies.shufflenet.latency import model_latency, shuffle_cost
from effconv.studies.shufflenet.tables import (
    alexnet_speedup, paper_table2, paper_table3, repo_table, scaled_complexity, table1_channels, table1_complexity,
    torchvision_v2_table,
)
from effconv.studies.shufflenet.units import (
    UNIT_FORMULAS, resnext_pointwise_search, resnext_torchvision_units, unit_formulas,
)
from effconv.studies.paper import paper_table, paper_value

GROUPS = (1, 2, 3, 4, 8)


def _meta(**kwargs) -> nn.Module:
    with torch.device("meta"):
        return shufflenet_v1(**kwargs)


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


# --- counting: Table 1, released models, torchvision ---------------------------------------------

def test_table1_complexity_matches_only_without_fc():
    table = table1_complexity().set_index("g")
    assert table["match_without_fc"].all()
    assert not table["match_with_fc"].all()
    assert list(table.index[~table["match_with_fc"]]) == [2, 4, 8]
    for g in GROUPS:  # the independent count, to its two decimals
        independent = paper_value("shufflenet", f"count_nofc_mflops_g{g}").value
        assert table.loc[g, "ours_without_fc"] == pytest.approx(independent, abs=0.006)
    with_fc = paper_value("shufflenet", "count_withfc_mflops_g3").value
    assert table.loc[3, "ours_with_fc"] == pytest.approx(with_fc, abs=0.006)


def test_exact_counts_of_the_1x_models():
    assert shufflenet_cost(3).params == paper_value("shufflenet", "repo_params_exact_1.0x_g3").value
    assert shufflenet_cost(8).params == paper_value("shufflenet", "repo_params_exact_1.0x_g8").value
    assert count_flops(_meta(groups=3), 224).macs == 137_460_672


def test_table1_channels_all_match():
    table = table1_channels()
    assert len(table) == 15 and table["match"].all()


def test_released_models():
    table = repo_table().set_index("model")
    assert (table["delta_mflops"].abs() < 0.6).all()
    # all 8 within the book's 0.5% for counted values; 1.0x g=3 (137.46 against the README's 138) only by it
    assert table["mflops_match"].all()
    assert round(table.loc["1.0x g=3", "ours_mflops"]) != table.loc["1.0x g=3", "repo_mflops"]
    # the README's params are the authors' bias-free classifier; with our FC bias 2.0x g=3 rounds to 5.5M
    assert table["params_match_no_fc_bias"].all()
    assert not table.loc["2.0x g=3", "params_match"]


def test_scaled_complexity_near_table2_headers():
    table = scaled_complexity()
    assert len(table) == 15
    close = table[table["g"] != 8]
    assert (close["delta_%"].abs() < 5).all()


def test_torchvision_v2_metadata():
    table = torchvision_v2_table()
    assert table["params_match"].all() and table["gflops_match"].all()


# --- unit formulas and the 93.4% ------------------------------------------------------------------

def test_unit_formulas_equal_counts():
    table = unit_formulas()
    assert set(table["unit"]) == {"ResNet", "ResNeXt", "ShuffleNet"}
    assert table["equal"].all()
    assert len(table) == 2 * 2 * 2 * (1 + 5 + 5)


def test_unit_formulas_would_catch_a_wrong_unit():
    # a ShuffleNet unit whose 3x3 is dense is not hw(2cm/g+9m): the check is not vacuous
    unit = ShuffleUnit(96, 96, groups=4, mid_channels=24, conv_factory=lambda i, o, k, stride=1, groups=1:
                       nn.Conv2d(i, o, k, stride, 1, bias=False))
    assert count_flops(unit, (96, 7, 7)).macs != UNIT_FORMULAS["ShuffleNet"](7, 7, 96, 24, 4)


def test_pointwise_share_of_resnext():
    search = resnext_pointwise_search()
    assert set(search.loc[search["matches"], "template"]) == {"32x4d", "64x4d"}
    assert search.loc[search["matches"], "pointwise_%"].eq(round(100 * 128 / 137, 2)).all()
    units = resnext_torchvision_units()
    matching = units[units["matches"]]
    assert set(matching["model"]) == {"resnext50_32x4d", "resnext101_64x4d"}
    assert (matching["unit"] == "others").all()


# --- errata, paper values, claims, latency ---------------------------------------------------------

def test_seed_errata():
    errata = seed_errata()
    text = " ".join(errata.astype(str).to_numpy().ravel())
    for needle in ("567", "576", "num_groups", "bias", "kaiming_normal", "[3, 7, 3]", "4/8/4"):
        assert needle in text
    typo = errata.set_index("what").loc["g=1 stage-4 width", "effect"]
    assert f"{shufflenet_cost(1, channels=(144, 288, 567)).mflops:.2f}" in typo
    assert not official_code_notes().empty


def test_paper_values_file():
    table = paper_table("shufflenet")
    assert table.index.is_unique
    for g in GROUPS:
        for stage, c in zip((2, 3, 4), TABLE1_CHANNELS[g]):
            assert paper_value("shufflenet", f"table1_c{stage}_g{g}").value == c
    assert paper_table2().shape == (3, 5)
    assert paper_table3()["gain"].gt(0).all()
    assert paper_value("shufflenet", "repo_mflops_2.0x_g3").tag == "repo"


def test_complexity_claims():
    claims = ClaimsTable("shufflenet")
    add_complexity_claims(claims)
    frame = claims.frame()
    assert len(frame) == 5 + 1 + 8 + 1 + 1 and set(frame["kind"]) == {"counted"}
    # every count is within the book's 0.5% tolerance, the released 1.0x g=3 included (137.46 against the
    # README's 138, which the old whole-number rule called not reproduced)
    assert set(frame["verdict"]) == {"reproduced"}
    row = frame[frame["claim"] == "released ShuffleNetV1 1.0x g=3 (MFLOPs)"].iloc[0]
    assert row["paper"] == "138" and row["ours"] == "137.5"


def test_latency_functions_run():
    models = model_latency(groups=(3,), repeats=2)
    assert models.loc[0, "best_ms"] > 0 and models.loc[0, "mflops"] == pytest.approx(137.46, abs=0.01)
    shuffles = shuffle_cost(groups=(3,), repeats=3)
    row = shuffles.iloc[0]
    assert row["c"] == 480 and row["shuffle_alone_ms"] > 0 and row["unit_ms"] > 0
    # the share is the shuffle's best time over the unit's; with 3 repeats on a loaded machine it went
    # above 100% once (two trainings shared the cores), so the test checks the arithmetic, not the timing
    assert row["shuffle_share_%"] == pytest.approx(100 * row["shuffle_alone_ms"] / row["unit_ms"], abs=0.1)
    assert math.isfinite(row["difference_share_%"])


def test_theoretical_speedup_over_alexnet():
    table = alexnet_speedup()
    assert table["speedup"].between(17, 20).all()  # the paper's 18x, not the seed's "about 10x"
