"""ACBlock: alignment, exact fusion over a grid of geometries, the conv factory, whole zoo models."""

from __future__ import annotations

import itertools
import random

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from effconv.analysis.flops import count_flops
from effconv.errors import EffconvError
from effconv.models import create_model, get_conv_factory
from effconv.ops import ACBlock, reparameterize_model
from effconv.studies.acnet.probes import randomise_bn

TOLERANCE = 1e-5  # max|fused - unfused| / max|unfused|, float32


pytestmark = pytest.mark.usefixtures("single_thread")


def rel_err(out: torch.Tensor, ref: torch.Tensor) -> float:
    return ((out - ref).abs().max() / ref.abs().max()).item()


def grid(seed: int = 0):
    """Every kernel x stride x padding x groups x norm x border, with random channels, sizes and branches."""
    rng = random.Random(seed)
    subsets = [s for r in (1, 2, 3) for s in itertools.combinations(("square", "hor", "ver"), r)]
    for k, stride, groups, norm, border in itertools.product(
            (3, 5), (1, 2), ("1", "2", "dw"), ("branch", "sum", "none"), (False, True)):
        for padding in range(0, k // 2 + 2):  # below, at and above k//2
            g = {"1": 1, "2": 2, "dw": rng.choice((2, 4, 6))}[groups]
            in_ch = g if groups == "dw" else g * rng.randint(1, 3)
            out_ch = in_ch if groups == "dw" else g * rng.randint(1, 3)
            low = max(1, k - 2 * padding)
            size = (rng.randint(low, low + 8), rng.randint(low, low + 8))  # odd and even sizes
            yield dict(in_channels=in_ch, out_channels=out_ch, kernel_size=k, stride=stride, padding=padding,
                       groups=g, norm=norm, border=border, branches=rng.choice(subsets)), size


def random_block(config: dict, seed: int) -> ACBlock:
    torch.manual_seed(seed)
    block = ACBlock(**config)
    for branch in block.branches.values():  # random biases too, where the block has any
        if branch.conv.bias is not None:
            nn.init.normal_(branch.conv.bias)
    return randomise_bn(block, seed)


def embedded_reference(block: ACBlock, x: torch.Tensor) -> torch.Tensor:
    """The block's definition written out independently: each branch kernel zero-padded to kxk."""
    k, outputs = block.kernel_size, []
    for name, branch in block.branches.items():
        weight = branch.conv.weight
        full = weight.new_zeros(weight.shape[0], weight.shape[1], k, k)
        if name == "square":
            full += weight
        elif name == "hor":
            full[:, :, k - 1 if block.border else k // 2, :] += weight[:, :, 0, :]
        else:
            full[:, :, :, k - 1 if block.border else k // 2] += weight[:, :, :, 0]
        y = F.conv2d(x, full, branch.conv.bias, block.stride, block.padding, groups=block.groups)
        outputs.append(branch.bn(y) if hasattr(branch, "bn") else y)
    out = sum(outputs)
    return block.bn(out) if block.bn is not None else out


def test_fusion_is_exact_over_the_grid():
    configs = list(grid())
    assert len(configs) == 2 * 3 * 3 * 2 * (3 + 4)  # strides x groups x norms x borders x paddings of k=3, 5
    worst = 0.0
    for index, (config, (h, w)) in enumerate(configs):
        block = random_block(config, index).eval()
        x = torch.randn(2, config["in_channels"], h, w)
        plain = nn.Conv2d(config["in_channels"], config["out_channels"], config["kernel_size"], config["stride"],
                          config["padding"], groups=config["groups"])
        with torch.no_grad():
            ref, fused = block(x), block.fuse()
            out = fused(x)
        assert ref.shape == plain(x).shape, config  # same geometry as the conv it replaces
        assert isinstance(fused, nn.Conv2d) and fused.bias is not None
        assert (fused.kernel_size, fused.stride, fused.padding, fused.groups) == (
            plain.kernel_size, plain.stride, plain.padding, plain.groups)
        err = rel_err(out, ref)
        assert err < TOLERANCE, (config, (h, w), err)
        worst = max(worst, err)
    assert worst > 0  # the comparison really ran in float32


def test_fusion_is_exact_in_float64():
    # In double precision the only error left is rounding at 1e-16: the fusion algebra is exact.
    for index, (config, (h, w)) in enumerate(itertools.islice(grid(seed=2), 0, None, 3)):
        block = random_block(config, index).double().eval()
        x = torch.randn(2, config["in_channels"], h, w, dtype=torch.float64)
        with torch.no_grad():
            assert rel_err(block.fuse()(x), block(x)) < 1e-12, config


def test_training_forward_matches_the_definition():
    # In train mode (batch statistics) the block must equal kernels zero-padded to kxk: this checks the
    # branch alignment (stride, cropping, border shift) independently of fuse().
    for index, (config, (h, w)) in enumerate(itertools.islice(grid(seed=1), 0, None, 5)):
        block = random_block(config, index).train()
        x = torch.randn(3, config["in_channels"], h, w)
        # both use batch statistics, so sharing the BNs (and their running-stat updates) is harmless
        assert rel_err(block(x), embedded_reference(block, x)) < TOLERANCE, config


def test_centre_branch_matches_padded_1xk_conv():
    # The authors' formulation for padding >= k//2: the 1xk conv padded by (p - k//2, p).
    block = ACBlock(3, 4, 5, stride=2, padding=3, norm="none", branches=("hor",))
    x = torch.randn(2, 3, 11, 10)
    conv = block.branches["hor"].conv
    expected = F.conv2d(x, conv.weight, conv.bias, 2, padding=(1, 3))
    assert torch.allclose(block(x), expected, atol=1e-6)


@pytest.mark.parametrize("border, region", [(False, "skeleton"), (True, "border")])
def test_asymmetric_kernels_land_on_their_positions(border, region):
    block = randomise_bn(ACBlock(4, 4, 3, branches=("hor", "ver"), border=border)).eval()
    kernel, _ = block.fused_kernel_bias()
    nonzero = kernel.abs().sum(dim=(0, 1)) > 0
    expected = torch.zeros(3, 3, dtype=torch.bool)
    line = 2 if border else 1
    expected[line, :] = expected[:, line] = True
    assert torch.equal(nonzero, expected), region


def test_structure_per_option():
    full = ACBlock(8, 16, 3)
    assert list(full.branches) == ["square", "hor", "ver"]
    assert [b.weight.unique().item() for b in full.batch_norms()] == [1.0, 1.0, 1.0]
    third = ACBlock(8, 16, 3, gamma_init=1 / 3)
    assert all(torch.allclose(b.weight, torch.full((16,), 1 / 3)) for b in third.batch_norms())
    summed = ACBlock(8, 16, 3, norm="sum", branches=("ver", "square"))
    assert list(summed.branches) == ["square", "ver"] and len(summed.batch_norms()) == 1
    bare = ACBlock(8, 16, 3, norm="none")
    assert not bare.batch_norms()
    assert [b.conv.bias is not None for b in bare.branches.values()] == [True, False, False]
    params = sum(p.numel() for p in full.parameters())
    assert params == 16 * 8 * (9 + 3 + 3) + 3 * 2 * 16


def test_gradients_reach_every_branch():
    block = ACBlock(4, 4, 3, stride=2, padding=0, border=True).train()
    block(torch.randn(2, 4, 9, 9)).square().mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in block.parameters())


@pytest.mark.parametrize("kwargs, match", [
    (dict(kernel_size=4), "odd kernel_size"),
    (dict(kernel_size=1), "odd kernel_size"),
    (dict(groups=3), "groups=3 must divide"),
    (dict(branches=("square", "diag")), "branches"),
    (dict(branches=()), "branches"),
    (dict(branches=("hor", "hor")), "branches"),
    (dict(norm="group"), "unknown ACBlock norm"),
    (dict(norm="none", gamma_init=0.5), "gamma_init"),
    (dict(padding=-1), "padding"),
    (dict(stride=0), "stride"),
])
def test_bad_inputs(kwargs, match):
    args = dict(in_channels=4, out_channels=8, kernel_size=3) | kwargs
    with pytest.raises(EffconvError, match=match):
        ACBlock(**args)


def test_conv_factory():
    factory = get_conv_factory("acb", norm="sum", gamma_init=0.5)
    block = factory(8, 8, 3, stride=2, bn=False)
    assert isinstance(block, ACBlock) and block.norm == "sum" and block.stride == 2
    # bn=False keeps the block's own normalisation (the branch BNs fold away into the conv's bias)
    assert len(get_conv_factory("acb")(8, 8, 3, bn=False).batch_norms()) == 3
    with pytest.raises(EffconvError, match="does not accept"):
        get_conv_factory("acb", bogus=1)
    model = create_model("resnet20", width=0.25, conv="acb", conv_kwargs={"branches": ("square", "hor")})
    blocks = [m for m in model.modules() if isinstance(m, ACBlock)]
    assert len(blocks) == 19 and all(list(b.branches) == ["square", "hor"] for b in blocks)


FAMILIES = ("resnet56", "vgg16_cifar", "cifar_quick", "wrn16_8", "densenet40")


@pytest.mark.parametrize("name, width, options", [
    ("resnet56", 1.0, {}),
    ("vgg16_cifar", 0.5, {}),
    ("cifar_quick", 1.0, {"border": True}),
    ("wrn16_8", 0.25, {"norm": "sum"}),
    ("densenet40", 0.5, {"gamma_init": 1 / 3}),
])
def test_zoo_models_fuse_exactly(name, width, options):
    torch.manual_seed(0)
    model = randomise_bn(create_model(name, width=width, conv="acb", conv_kwargs=options or None)).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ref = model(x)
        fused = reparameterize_model(model)
        out = fused(x)
    assert not any(isinstance(m, ACBlock) for m in fused.modules())
    assert rel_err(out, ref) < TOLERANCE


@pytest.mark.parametrize("name", FAMILIES)
def test_fused_acnet_has_exactly_the_fused_base_cost(name):
    # Pre-activation families (WRN's second conv, DenseNet) build convs with bn=False: the base conv
    # then carries a bias, and so does the fused ACB, so even those counts agree exactly.
    acnet = reparameterize_model(create_model(name, conv="acb"))
    base = reparameterize_model(create_model(name))
    a, b = count_flops(acnet, (3, 32, 32)), count_flops(base, (3, 32, 32))
    assert (a.params, a.macs) == (b.params, b.macs)
    shapes = lambda m: [tuple(p.shape) for p in m.parameters()]  # noqa: E731
    assert shapes(acnet) == shapes(base)
