"""ACNet: convert() on zoo and torchvision models, the chapter's analyses, the published values."""

from __future__ import annotations

import copy
import json
import math

import pytest
import torch
import torchvision
from torch import nn

from effconv.analysis.kernel_contrast import REGIONS
from effconv.errors import EffconvError
from effconv.models import create_model
from effconv.ops import ACBlock, reparameterize_model
from effconv.ops.acnet import convert
from effconv.studies.acnet import probes as study
from effconv.studies.paper import paper_table, paper_value

TOLERANCE = 1e-5


pytestmark = pytest.mark.usefixtures("single_thread")


def rel_err(out: torch.Tensor, ref: torch.Tensor) -> float:
    return ((out - ref).abs().max() / ref.abs().max()).item()


def blocks(model: nn.Module) -> list[ACBlock]:
    return [m for m in model.modules() if isinstance(m, ACBlock)]


def state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def same_state(model: nn.Module, before: dict[str, torch.Tensor]) -> bool:
    after = model.state_dict()
    return after.keys() == before.keys() and all(torch.equal(after[k], before[k]) for k in before)


@torch.no_grad()
def silence_asymmetric_branches(model: nn.Module) -> None:
    """Zero the 1xk / kx1 branch BNs: the block then computes exactly its square branch."""
    for block in blocks(model):
        for name in ("hor", "ver"):
            if name in block.branches:
                block.branches[name].bn.weight.zero_()
                block.branches[name].bn.bias.zero_()


# --------------------------------------------------------------------------- convert()

CASES = {
    "resnet56": (lambda: create_model("resnet56", width=0.5), 32, 55),
    "vgg16_cifar": (lambda: create_model("vgg16_cifar", width=0.25), 32, 13),
    "tv_resnet18": (lambda: torchvision.models.resnet18(num_classes=10), 32, 16),
    "tv_mobilenet_v2": (lambda: torchvision.models.mobilenet_v2(num_classes=10), 32, 18),
}


@pytest.mark.parametrize("case", CASES)
def test_convert_fuses_exactly(case):
    build, size, expected_blocks = CASES[case]
    torch.manual_seed(0)
    model = convert(build())
    assert len(blocks(model)) == expected_blocks
    study.randomise_bn(model).eval()
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        ref = model(x)
        out = reparameterize_model(model)(x)
    assert not blocks(model)
    assert rel_err(out, ref) < TOLERANCE


def test_convert_handles_depthwise_convs():
    model = torchvision.models.mobilenet_v2()
    bns_before = sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    convert(model)
    depthwise = [b for b in blocks(model) if b.groups > 1]
    assert len(depthwise) == 17 and all(b.groups == b.in_channels == b.out_channels for b in depthwise)
    assert {b.stride for b in depthwise} == {1, 2}
    # each converted conv's BN became an Identity; the 1x1 convs keep theirs
    in_blocks = sum(len(b.batch_norms()) for b in blocks(model))
    outside = sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) - in_blocks
    assert outside == bns_before - 18
    assert sum(isinstance(m, nn.Identity) for m in model.modules()) >= 18


@pytest.mark.parametrize("case", ["resnet56", "tv_resnet18"])
def test_convert_copies_the_original_weights_and_bn(case):
    build, size, _ = CASES[case]
    torch.manual_seed(0)
    original = study.randomise_bn(build()).eval()
    converted = convert(copy.deepcopy(original))
    silence_asymmetric_branches(converted)
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        assert rel_err(converted.eval()(x), original(x)) < TOLERANCE


def test_convert_matches_the_conv_factory_structure():
    converted = convert(create_model("resnet56", width=0.5))
    built = create_model("resnet56", width=0.5, conv="acb")
    assert [(k, v.shape) for k, v in converted.state_dict().items()] == \
        [(k, v.shape) for k, v in built.state_dict().items()]


def test_convert_conv_with_bias_before_bn():
    torch.manual_seed(0)
    original = study.randomise_bn(nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=True),
                                                nn.BatchNorm2d(8, eps=1e-3, momentum=0.01), nn.ReLU())).eval()
    nn.init.normal_(original[0].bias)
    converted = convert(copy.deepcopy(original))
    assert isinstance(converted[0], ACBlock) and isinstance(converted[1], nn.Identity)
    assert {(bn.eps, bn.momentum) for bn in converted[0].batch_norms()} == {(1e-3, 0.01)}
    silence_asymmetric_branches(converted)
    x = torch.randn(2, 3, 9, 9)
    with torch.no_grad():
        assert rel_err(converted.eval()(x), original(x)) < TOLERANCE


def test_convert_conv_without_bn_gets_the_blocks_own_bn():
    original = nn.Sequential(nn.Conv2d(3, 8, 5, padding=2, bias=True), nn.ReLU())
    converted = convert(copy.deepcopy(original))
    block = converted[0]
    assert isinstance(block, ACBlock) and block.kernel_size == 5 and len(block.batch_norms()) == 3
    assert torch.equal(block.branches["square"].bn.bias, original[0].bias)  # the bias becomes the shift
    assert torch.equal(block.branches["square"].conv.weight, original[0].weight)


def test_convert_norm_none_keeps_the_bn():
    torch.manual_seed(0)
    original = study.randomise_bn(create_model("cifar_quick", width=0.5)).eval()
    converted = convert(copy.deepcopy(original), norm="none")
    assert len(blocks(converted)) == 3
    assert sum(isinstance(m, nn.BatchNorm2d) for m in converted.modules()) == 3  # the BNs stay
    with torch.no_grad():
        for block in blocks(converted):
            for name in ("hor", "ver"):
                block.branches[name].conv.weight.zero_()
        x = torch.randn(2, 3, 32, 32)
        assert rel_err(converted.eval()(x), original(x)) < TOLERANCE
        assert rel_err(reparameterize_model(converted)(x), original(x)) < TOLERANCE


def test_convert_norm_sum_and_gamma_init():
    torch.manual_seed(0)
    model = convert(torchvision.models.resnet18(num_classes=10), norm="sum", gamma_init=1 / 3)
    assert all(len(b.batch_norms()) == 1 for b in blocks(model))
    assert all(torch.allclose(b.bn.weight, torch.tensor(1 / 3)) for b in blocks(model))
    study.randomise_bn(model).eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert rel_err(reparameterize_model(copy.deepcopy(model))(x), model(x)) < TOLERANCE


def test_convert_rules_for_other_convs():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.dilated = nn.Conv2d(3, 4, 3, padding=2, dilation=2)
            self.lopsided = nn.Conv2d(4, 4, 3, padding=(1, 0))
            self.same = nn.Conv2d(4, 4, 3, padding="same")
            self.shared_out = nn.Conv2d(4, 4, 3, padding=1)
            self.bn = nn.BatchNorm2d(4)
            self.big = nn.Conv2d(4, 4, 7, padding=3)

        def forward(self, x):
            y = self.shared_out(self.same(self.lopsided(self.dilated(x))))
            return self.big(self.bn(y) + y)  # y has two users: its BN is not absorbed

    model = convert(Net())
    assert type(model.dilated) is nn.Conv2d and type(model.lopsided) is nn.Conv2d and type(model.big) is nn.Conv2d
    assert isinstance(model.same, ACBlock) and model.same.padding == 1
    assert isinstance(model.shared_out, ACBlock) and isinstance(model.bn, nn.BatchNorm2d)
    model = convert(Net(), kernel_sizes=(3, 7))
    assert isinstance(model.big, ACBlock)
    study.randomise_bn(model).eval()
    x = torch.randn(1, 3, 12, 12)
    with torch.no_grad():
        assert rel_err(reparameterize_model(copy.deepcopy(model))(x), model(x)) < TOLERANCE


def test_convert_twice_does_not_nest():
    model = convert(convert(create_model("resnet20", width=0.25)))
    assert len(blocks(model)) == 19
    assert all(type(b.branches["square"].conv) is nn.Conv2d for b in blocks(model))


def test_convert_errors_leave_the_model_untouched():
    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 3, padding=1)

        def forward(self, x):
            return self.conv(x) if x.sum() > 0 else x  # data-dependent: fx cannot trace it

    model = Branchy()
    with pytest.raises(EffconvError, match="cannot trace Branchy"):
        convert(model)
    assert type(model.conv) is nn.Conv2d
    resnet = create_model("resnet20", width=0.25)
    for bad, match in [(dict(kernel_sizes=(4,)), "odd"), (dict(branches=("hor", "ver")), "square"),
                       (dict(norm="bogus"), "norm"), (dict(kernel_sizes=()), "odd")]:
        with pytest.raises(EffconvError, match=match):
            convert(resnet, **bad)
    assert not blocks(resnet)


# --------------------------------------------------------------------------- kernel importance


def test_region_masks():
    assert [int(study.region_mask(r, 3).sum()) for r in REGIONS] == [4, 5, 9, 5, 4]
    assert [int(study.region_mask(r, 5).sum()) for r in REGIONS] == [16, 9, 25, 9, 16]
    assert study.region_mask("corners")[0, 0] and not study.region_mask("corners")[1, 0]
    assert study.region_mask("border")[2, 0] and not study.region_mask("border")[1, 1]
    assert math.isclose(study.region_fraction("corners"), 4 / 9, rel_tol=1e-6)
    with pytest.raises(EffconvError, match="unknown kernel region"):
        study.region_mask("edges")


def test_kernel_importance_definition():
    conv_a, conv_b = nn.Conv2d(2, 2, 3, bias=False), nn.Conv2d(2, 2, 3, bias=False)
    pattern_a = torch.tensor([[1.0, 2, 1], [2, 4, 2], [1, 2, 1]])
    pattern_b = torch.tensor([[0.0, 1, 0], [1, 2, 1], [0, 1, 0]])
    with torch.no_grad():
        signs = torch.randn(2, 2, 3, 3).sign()  # |w| is what counts
        conv_a.weight.copy_(pattern_a * signs)
        conv_b.weight.copy_(pattern_b * signs * 3)
    model = nn.Sequential(conv_a, nn.ReLU(), conv_b, nn.Conv2d(2, 2, 1))  # the 1x1 conv is ignored
    importance = study.kernel_importance(model)
    expected = (pattern_a / 4 + pattern_b / 2) / 2
    assert importance.shape == (3, 3) and torch.allclose(torch.tensor(importance.to_numpy()), expected.double())
    assert study.importance_summary(importance) == pytest.approx(
        {"corner_max": 0.125, "skeleton_min": 0.5, "centre": 1.0})
    with pytest.raises(EffconvError, match="no 5x5"):
        study.kernel_importance(model, kernel_size=5)


@pytest.mark.parametrize("border", [False, True])
def test_kernel_importance_of_acnet_with_only_asymmetric_kernels(border):
    torch.manual_seed(0)
    model = study.randomise_bn(create_model("resnet20", width=0.25, conv="acb",
                                            conv_kwargs={"branches": ("hor", "ver"), "border": border}))
    before = state(model)
    was_training = model.training
    importance = torch.tensor(study.kernel_importance(model).to_numpy())
    assert torch.equal(importance, torch.tensor(study.kernel_importance(model).to_numpy()))  # deterministic
    off = study.region_mask("top_left" if border else "corners")
    assert importance[off].abs().max() == 0 and importance[~off].min() > 0
    assert same_state(model, before) and model.training == was_training


# --------------------------------------------------------------------------- pruning


def zero_fraction(model: nn.Module, kernel_size: int = 3) -> float:
    weights = torch.cat([c.weight.flatten() for _, c in study.square_convs(model, kernel_size)])
    return (weights == 0).double().mean().item()


def test_prune_kernels_counts_and_positions():
    torch.manual_seed(0)
    model = create_model("resnet20", width=0.25, conv="acb")
    before = state(model)
    pruned = study.prune_kernels(model, 0.3, "corners", seed=3)
    assert same_state(model, before)
    for _, conv in study.square_convs(pruned):
        zeros = conv.weight == 0
        assert int(zeros.sum()) == round(0.3 * conv.weight.numel())
        assert not zeros[..., study.region_mask("skeleton")].any()
    assert zero_fraction(pruned) == pytest.approx(0.3, abs=1e-3)
    again = study.prune_kernels(model, 0.3, "corners", seed=3)
    other = study.prune_kernels(model, 0.3, "corners", seed=4)
    mask = lambda m: torch.cat([c.weight.flatten() == 0 for _, c in study.square_convs(m)])  # noqa: E731
    assert torch.equal(mask(pruned), mask(again)) and not torch.equal(mask(pruned), mask(other))
    whole = study.prune_kernels(model, 4 / 9, "corners")
    for _, conv in study.square_convs(whole):
        assert (conv.weight[..., study.region_mask("corners")] == 0).all()
    with pytest.raises(EffconvError, match="at most 0.4444"):
        study.prune_kernels(model, 0.5, "corners")
    with pytest.raises(EffconvError, match="unknown kernel region"):
        study.prune_kernels(model, 0.1, "edges")


def test_pruning_curve():
    torch.manual_seed(0)
    model = create_model("cifar_quick", width=0.25, conv="acb")
    before, was_training = state(model), model.training
    calls = []

    def evaluate(m: nn.Module) -> float:  # a real function of the pruned model: its surviving weights
        calls.append(m.training)
        return 1.0 - zero_fraction(m, 5)

    sparsities = [0.0, 0.2, 0.4, 0.5, 0.6]
    curve = study.pruning_curve(model, evaluate, sparsities, repeats=2, seed=7, kernel_size=5)
    assert same_state(model, before) and model.training == was_training
    assert not any(calls)  # the evaluator gets the fused copy in eval mode
    assert list(curve.columns) == ["region", "sparsity", "repeat", "seed", "pruned", "accuracy"]
    limits = curve.groupby("region")["sparsity"].max().to_dict()
    assert limits == {"corners": 0.6, "global": 0.6, "skeleton": 0.2}  # 5x5: corners 16/25, skeleton 9/25
    assert curve["accuracy"].to_numpy() == pytest.approx(1 - curve["pruned"].to_numpy(), abs=1e-9)
    assert curve["pruned"].to_numpy() == pytest.approx(curve["sparsity"].to_numpy(), abs=2e-3)
    assert len(calls) == 1 + 2 * (4 + 1 + 4)  # sparsity 0 once, then each point and repeat
    again = study.pruning_curve(model, evaluate, sparsities, repeats=2, seed=7, kernel_size=5)
    assert again.equals(curve)
    summary = study.summarise_curve(curve)
    assert set(summary.columns) == {"region", "sparsity", "mean", "std", "count"}
    json.dumps(curve.to_dict(orient="records"))
    with pytest.raises(EffconvError, match="repeats"):
        study.pruning_curve(model, evaluate, [0.1], repeats=0)


# --------------------------------------------------------------------------- rotations


def test_rotation_transforms():
    x = torch.tensor([[0, 1], [2, 3]], dtype=torch.uint8).view(1, 1, 2, 2)
    assert study.rotate90_ccw(x).flatten().tolist() == [1, 3, 0, 2]  # top-right corner goes top-left
    assert study.rotate180(x).flatten().tolist() == [3, 2, 1, 0]
    assert study.flip_updown(x).flatten().tolist() == [2, 3, 0, 1]
    images = torch.randn(2, 3, 5, 5)
    assert torch.equal(study.rotate180(images), study.flip_updown(images).flip(-1))
    four = images
    for _ in range(4):
        four = study.rotate90_ccw(four)
    assert torch.equal(four, images)
    with pytest.raises(EffconvError, match="permute"):
        study.rotate180(images.numpy())


class TopBrighter(nn.Module):
    """Predicts class 1 when the top half of the image is brighter than the bottom half."""

    def forward(self, x):
        h = x.shape[-2] // 2
        top, bottom = x[..., :h, :].mean(dim=(1, 2, 3)), x[..., h:, :].mean(dim=(1, 2, 3))
        return torch.stack([bottom, top], dim=1)


def test_rotation_robustness():
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(64, 3, 8, 8, generator=generator)
    labels = (images[..., :4, :].mean(dim=(1, 2, 3)) > images[..., 4:, :].mean(dim=(1, 2, 3))).long()
    batches = [(images[i:i + 16], labels[i:i + 16]) for i in range(0, 64, 16)]

    def evaluate_on(model, transform):
        hits = sum((model(x).argmax(1) == y).sum().item() for x, y in study.transformed(batches, transform))
        return hits / 64

    result = study.rotation_robustness(TopBrighter(), evaluate_on)
    assert list(result) == ["original", "rot90_ccw", "rot180", "flip_ud"]
    assert result["original"] == 1.0 and result["rot180"] == 0.0 and result["flip_ud"] == 0.0
    assert 0.0 < result["rot90_ccw"] < 1.0
    json.dumps(result)
    with pytest.raises(EffconvError, match="unknown transforms"):
        study.rotation_robustness(TopBrighter(), evaluate_on, ["rot45"])


# --------------------------------------------------------------------------- fusion report, latency


def test_randomise_bn():
    def stats(model):
        return torch.cat([torch.cat([m.weight, m.bias, m.running_mean, m.running_var])
                          for m in model.modules() if isinstance(m, nn.BatchNorm2d)])

    a, b = create_model("resnet20", width=0.25), create_model("resnet20", width=0.25)
    assert torch.equal(stats(study.randomise_bn(a, 3)), stats(study.randomise_bn(b, 3)))
    assert (stats(a) != stats(create_model("resnet20", width=0.25))).all()
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4, momentum=0.1))
    batch = torch.randn(8, 3, 6, 6)
    study.randomise_bn(model, calibrate=batch)
    with torch.no_grad():
        conv_out = model[0](batch)
    assert torch.allclose(model[1].running_mean, conv_out.mean(dim=(0, 2, 3)), atol=1e-6)
    assert model[1].momentum == 0.1 and model.training


def test_fusion_report():
    torch.manual_seed(0)
    acnet = study.randomise_bn(create_model("resnet20", width=0.5, conv="acb"))
    base = create_model("resnet20", width=0.5)
    before, base_before = state(acnet), state(base)
    report = study.fusion_report(acnet, base)
    assert torch.backends.cudnn.allow_tf32  # switched off only during the check
    assert same_state(acnet, before) and same_state(base, base_before) and acnet.training
    assert 0 < report["max_rel"] < TOLERANCE and report["max_rel_float64"] < 1e-12
    assert report["same_as_base"] is True
    assert report["fused_params"] == report["base_fused_params"] < report["base_params"] < report["acnet_params"]
    assert report["fused_macs"] == report["base_macs"] < report["acnet_macs"]
    json.dumps(report)
    table = study.zoo_fusion_table(["cifar_quick", "densenet40"], width=0.25, border=True)
    assert table["same_as_base"].all() and (table["max_rel"] < TOLERANCE).all()


def test_latency_table():
    pytest.importorskip("effconv.analysis.latency")  # another engineer's module, not committed with this one
    acnet = create_model("resnet20", width=0.25, conv="acb")
    base = create_model("resnet20", width=0.25)
    table = study.latency_table(acnet, base, warmup=1, repeats=3)
    assert list(table["variant"]) == ["base", "base_fused", "acnet_unfused", "acnet_fused"]
    assert (table["median_ms"] > 0).all() and (table["repeats"] == 3).all()
    assert acnet.training and len(blocks(acnet)) == 19  # the caller's model is untouched


# --------------------------------------------------------------------------- published values


def test_paper_values():
    table = paper_table("acnet")
    assert table.index.is_unique and set(table["tag"]) <= {"seed", "paper", "repo", "transcribed", "derived"}
    assert paper_value("acnet", "cifar10_resnet56_acnet").value == 95.09
    assert paper_value("acnet", "importance_acnet_corner_max").value == 0.4
    assert paper_value("acnet", "cifar100_results").value == "not available"
    # the derived rows are the arithmetic they claim to be
    value = lambda key: paper_value("acnet", key).value  # noqa: E731
    assert value("cifar10_resnet56_gain") == pytest.approx(value("cifar10_resnet56_acnet") - value("cifar10_resnet56_base"))
    assert value("border_implied_normal_acnet") == pytest.approx(
        value("border_acnet_resnet56_cifar10") - value("border_vs_normal_acnet"))
    assert value("border_implied_normal_acnet") == value("cifar10_resnet56_acnet")
    assert value("dbb_cifar10_vgg16_gain") == pytest.approx(value("dbb_cifar10_vgg16_acnet") - value("dbb_cifar10_vgg16_base"))
    # the unverified recollections stay marked as such
    for family in ("vgg16", "wrn16_8", "densenet40"):
        assert "UNVERIFIED" in paper_value("acnet", f"cifar10_{family}_acnet").note
    assert value("pruning_acnet_skeleton_destroyed_skeleton_share") == pytest.approx(
        value("pruning_acnet_skeleton_destroyed_sparsity") * 9 / 5)
    assert value("pruning_corner_share") == pytest.approx(100 * 4 / 9, abs=0.05)
