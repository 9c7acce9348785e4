"""Learnable versatile masks: straight-through gradients, orthogonal loss, clipping, costs, statistics."""

import json
import math

import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from effconv.models import create_model  # first: importing effconv.ops before effconv.models is circular
from effconv.analysis.flops import count_flops
from effconv.errors import EffconvError
from effconv.ops.versatile import VersatileConv2d, concentric_masks, cost_convention
from effconv.ops.versatile_masks import (
    LearnableMaskConv2d, binarize, mask_statistics, orthogonal_loss, versatile_mask,
)


def test_binarize_threshold_and_straight_through():
    h = torch.tensor([0.0, 0.2, 0.49, 0.5, 0.8, 1.0], requires_grad=True)
    m = binarize(h)
    assert m.tolist() == [0, 0, 0, 1, 1, 1]
    upstream = torch.arange(6.0)
    m.backward(upstream)
    assert h.grad.tolist() == upstream.tolist()  # dL/dH = dL/dM


def test_orthogonal_loss_hand_example():
    # two disjoint halves of 4 entries: M^T M / 4 = diag(1/2, 1/2); loss = 1/2 * 2 * (1/2)^2
    masks = torch.tensor([[1.0, 1, 0, 0], [0, 0, 1, 1]])
    assert orthogonal_loss(masks).item() == pytest.approx(0.25)
    # concentric 3x3 masks over c channels: Gram [[1, 1/9], [1/9, 1/9]] -> 1/2 (2/81 + 64/81)
    rings = concentric_masks(3)[:, None].expand(2, 5, 3, 3).flatten(1)
    assert orthogonal_loss(rings).item() == pytest.approx(33 / 81)
    assert orthogonal_loss(torch.zeros(7, 3, 10)).shape == (7,)
    with pytest.raises(EffconvError, match="shape"):
        orthogonal_loss(torch.ones(4))


@pytest.mark.parametrize("s,m", [(2, 18), (3, 50), (4, 49 * 3)])
def test_orthogonal_loss_gradient_closed_form_and_autograd(s, m):
    torch.manual_seed(s)
    rows = torch.rand(s, m, dtype=torch.double, requires_grad=True)  # row j = vec(M_j)
    orthogonal_loss(rows).backward()
    cols = rows.detach().t()  # the paper's M: one mask per column, m = d^2 c rows
    closed = 2 / m ** 2 * cols @ cols.t() @ cols - 2 / m * cols
    torch.testing.assert_close(rows.grad, closed.t())
    assert torch.autograd.gradcheck(orthogonal_loss, (rows.detach().requires_grad_(),))


@pytest.mark.parametrize("strategy", ["a", "b"])
@pytest.mark.parametrize("c,out,d", [(3, 8, 3), (2, 7, 5), (4, 5, 1), (2, 6, 4)])
def test_shapes_and_initial_masks(strategy, c, out, d):
    torch.manual_seed(0)
    layer = LearnableMaskConv2d(c, out, d, strategy=strategy)
    s = math.ceil(d / 2)
    primaries = math.ceil(out / s)
    assert layer.weight.shape == (primaries, c, d, d)
    assert layer.mask_proxy.shape == (1 if strategy == "a" else primaries, s, c, d, d)
    assert layer.masked_weight().shape == (out, c, d, d)
    size = 9 + 2 * layer.padding - d + 1  # "same" padding for odd kernels
    assert layer(torch.randn(2, c, 9, 9)).shape == (2, out, size, size)
    # the initial binary masks are exactly the concentric ones, proxies strictly inside [0, 1]
    ring = concentric_masks(d).bool()[None, :, None].expand_as(layer.mask_proxy)
    assert torch.equal(layer.binary_masks(), ring)
    assert layer.mask_proxy.min() >= 0 and layer.mask_proxy.max() <= 1
    assert ((layer.mask_proxy - 0.5).abs() > 0).all()


def test_init_starts_as_spatial_versatile():
    torch.manual_seed(0)
    masked = LearnableMaskConv2d(3, 8, 3, strategy="b", bias=False).double()
    plain = VersatileConv2d(3, 8, 3, bias=False).double()
    with torch.no_grad():
        plain.weight.copy_(masked.weight)
    x = torch.randn(2, 3, 7, 7, dtype=torch.double)
    torch.testing.assert_close(masked(x), plain(x))


@pytest.mark.parametrize("strategy", ["a", "b"])
@pytest.mark.parametrize("out", [6, 5])  # 5: the last block is cut short
def test_straight_through_gradients_match_hand_derivation(strategy, out):
    torch.manual_seed(1)
    layer = LearnableMaskConv2d(3, out, 3, strategy=strategy, ortho_weight=0.0).double()
    with torch.no_grad():  # masks that differ per primary and from the rings
        layer.mask_proxy.uniform_(0, 1)
    x = torch.randn(2, 3, 6, 6, dtype=torch.double)
    target = torch.randn(2, out, 6, 6, dtype=torch.double)
    (layer(x) * target).sum().backward()

    # dL/dW for the masked kernel, from a plain conv with an independent leaf kernel
    masks = layer.binary_masks().double()  # (sets, s, c, d, d)
    f = layer.weight.detach()
    kernel = (f.unsqueeze(1) * masks).transpose(0, 1).flatten(0, 1)[:out].requires_grad_()
    (F.conv2d(x, kernel, layer.bias, 1, 1) * target).sum().backward()
    grad = torch.zeros(layer.s * layer.primaries, *kernel.shape[1:], dtype=torch.double)
    grad[:out] = kernel.grad
    grad = grad.view(layer.s, layer.primaries, *kernel.shape[1:]).transpose(0, 1)  # (P, s, c, d, d)
    # dL/df_p = sum_j dL/dW_pj * M_j ; dL/dH_j = sum over the primaries sharing the set of dL/dW_pj * f_p
    torch.testing.assert_close(layer.weight.grad, (grad * masks).sum(1))
    expected_h = grad * f.unsqueeze(1)
    if strategy == "a":
        expected_h = expected_h.sum(0, keepdim=True)
    torch.testing.assert_close(layer.mask_proxy.grad, expected_h)


def test_auxiliary_loss_is_weighted_sum_with_closed_form_gradient():
    torch.manual_seed(2)
    layer = LearnableMaskConv2d(2, 6, 3, strategy="b", ortho_weight=0.3).double()
    with torch.no_grad():
        layer.mask_proxy.uniform_(0, 1)
    masks = layer.binary_masks().double().flatten(2)  # (P, s, m)
    loss = layer.auxiliary_loss()
    assert loss.item() == pytest.approx(0.3 * orthogonal_loss(masks).sum().item())
    loss.backward()
    m = masks.shape[-1]
    closed = 2 / m ** 2 * masks @ masks.transpose(1, 2) @ masks - 2 / m * masks  # row form, per primary
    torch.testing.assert_close(layer.mask_proxy.grad.flatten(2), 0.3 * closed)


def test_post_step_clips_and_parameters_are_listed():
    layer = LearnableMaskConv2d(2, 4, 3)
    with torch.no_grad():
        layer.mask_proxy.uniform_(-2, 3)
    layer.post_step()
    assert layer.mask_proxy.min() >= 0 and layer.mask_proxy.max() <= 1
    assert layer.mask_parameters() == [layer.mask_proxy]
    assert layer.mask_proxy._no_weight_decay and not getattr(layer.weight, "_no_weight_decay", False)
    # one SGD step + post_step keeps the proxies in range and moves the masks the gradient asks for
    opt = torch.optim.SGD([layer.mask_proxy], lr=100.0)
    layer(torch.randn(1, 2, 5, 5)).sum().backward()
    opt.step()
    layer.post_step()
    assert layer.mask_proxy.min() >= 0 and layer.mask_proxy.max() <= 1


def measured_macs(module, x):
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        module(x)
    return counter.get_total_flops() // 2


def test_costs_paper_and_executed():
    torch.manual_seed(0)
    layer = LearnableMaskConv2d(4, 8, 3, strategy="b")
    x = torch.randn(1, 4, 8, 8)
    y = layer(x)
    assert layer.count_macs((x,), y) == VersatileConv2d(4, 8, 3).count_macs((x,), y)  # rings: 10/18
    assert layer.executed_macs((x,), y) == measured_macs(layer, x) == 8 * 4 * 9 * 64
    with torch.no_grad():  # switch one entry of primary 0's second mask on: +1 MAC per output pixel
        layer.mask_proxy[0, 1, 0, 0, 0] = 1.0
    assert layer.count_macs((x,), y) == VersatileConv2d(4, 8, 3).count_macs((x,), y) + 64
    with cost_convention(layer, "executed"):
        assert layer.count_macs((x,), y) == measured_macs(layer, x)
    assert layer.count_convention == "paper"
    with torch.device("meta"):
        meta = LearnableMaskConv2d(4, 8, 3)
    with pytest.raises(EffconvError, match="meta device"):
        count_flops(meta, (4, 8, 8))


def test_mask_statistics():
    torch.manual_seed(0)
    model = create_model("vgg16_cifar", width=0.125, conv="versatile_mask", conv_kwargs={"strategy": "b"})
    stats = mask_statistics(model)
    json.dumps(stats)  # plain numbers only
    overall = stats["overall"]
    assert overall["layers"] == 13
    assert overall["changed_from_init"] == 0.0 and overall["all_equal_fraction"] == 0.0
    assert overall["pairwise_hamming"] == pytest.approx(8 / 9) and overall["density"] == pytest.approx(5 / 9)
    assert overall["ortho_loss"] == pytest.approx(33 / 81)
    # make both masks of every primary of the first layer equal (all ones)
    first = model.features[0].conv
    with torch.no_grad():
        first.mask_proxy.fill_(1.0)
    layer = mask_statistics(model)["layers"]["features.0.conv"]
    assert layer["all_equal_fraction"] == 1.0 and layer["pairwise_hamming"] == 0.0 and layer["density"] == 1.0
    assert layer["changed_from_init"] == pytest.approx(4 / 9)  # mask 2 gained its 8 border entries
    # strategy a: one set; s = 1 layers have no pairs
    shared = LearnableMaskConv2d(3, 4, 3, strategy="a")
    single = LearnableMaskConv2d(3, 4, 1)
    stats = mask_statistics(torch.nn.Sequential(shared, single))
    assert stats["layers"]["0"]["mask_sets"] == 1 and stats["layers"]["0"]["primaries"] == 2
    assert stats["layers"]["1"]["pairwise_hamming"] is None
    assert mask_statistics(torch.nn.Linear(2, 2))["overall"]["density"] is None


def test_model_training_step_with_hooks():
    torch.manual_seed(0)
    model = create_model("vgg16_cifar", width=0.125, conv="versatile_mask",
                         conv_kwargs={"strategy": "a", "ortho_weight": 0.1})
    x, labels = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
    aux = sum(m.auxiliary_loss() for m in model.modules() if hasattr(m, "auxiliary_loss"))
    assert aux.item() == pytest.approx(13 * 0.1 * 33 / 81, rel=1e-5)
    loss = F.cross_entropy(model(x), labels) + aux
    loss.backward()
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    for m in model.modules():
        if hasattr(m, "post_step"):
            m.post_step()
    assert all(0 <= m.mask_proxy.min() and m.mask_proxy.max() <= 1
               for m in model.modules() if isinstance(m, LearnableMaskConv2d))


def test_bad_inputs():
    with pytest.raises(EffconvError, match="unknown mask strategy"):
        LearnableMaskConv2d(3, 4, 3, strategy="c")
    with pytest.raises(EffconvError, match="ortho_weight"):
        LearnableMaskConv2d(3, 4, 3, ortho_weight=-1)
    with pytest.raises(EffconvError, match="init_noise"):
        LearnableMaskConv2d(3, 4, 3, init_noise=-0.1)
    with pytest.raises(EffconvError, match="expects input of shape"):
        LearnableMaskConv2d(3, 4, 3)(torch.zeros(1, 2, 5, 5))
    with pytest.raises(EffconvError, match="groups=2"):
        versatile_mask(4, 4, 3, groups=2)
