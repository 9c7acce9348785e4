"""Channel shuffle: the seed's worked example, inverse, independent formulations, compile, bad input."""

import time

import pytest
import torch

from effconv.errors import EffconvError
from effconv.ops.shuffle import ChannelShuffle, channel_shuffle, channel_unshuffle, shuffle_permutation


def _labelled(groups: int, per_group: int) -> tuple[torch.Tensor, list[str]]:
    names = [f"{chr(ord('a') + g)}{i + 1}" for g in range(groups) for i in range(per_group)]
    x = torch.arange(len(names), dtype=torch.float32).view(1, len(names), 1, 1)
    return x, names


def test_seed_example_three_groups_of_five():
    x, names = _labelled(3, 5)
    out = channel_shuffle(x, 3).flatten().long().tolist()
    shuffled = [names[i] for i in out]
    regrouped = [" ".join(shuffled[k:k + 5]) for k in range(0, 15, 5)]
    assert regrouped == ["a1 b1 c1 a2 b2", "c2 a3 b3 c3 a4", "b4 c4 a5 b5 c5"]


@pytest.mark.parametrize("channels,groups", [(15, 3), (12, 4), (24, 8), (16, 2), (7, 7), (6, 1)])
def test_unshuffle_inverts_shuffle(channels, groups):
    x = torch.randn(2, channels, 3, 5)
    assert torch.equal(channel_unshuffle(channel_shuffle(x, groups), groups), x)
    assert torch.equal(channel_shuffle(channel_unshuffle(x, groups), groups), x)


@pytest.mark.parametrize("channels,groups", [(15, 3), (240, 3), (384, 8), (18, 6)])
def test_matches_reshape_transpose_and_permutation(channels, groups):
    x = torch.randn(2, channels, 4, 3)
    n, h, w = channels // groups, 4, 3
    # the textbook formulation: (N, g, n, H, W) -> swap g and n -> flatten
    reference = x.reshape(2, groups, n, h, w).permute(0, 2, 1, 3, 4).reshape(2, channels, h, w)
    assert torch.equal(channel_shuffle(x, groups), reference)
    # output channel j*g + i is input channel i*n + j
    perm = torch.tensor([i * n + j for j in range(n) for i in range(groups)])
    assert torch.equal(shuffle_permutation(channels, groups), perm)
    assert torch.equal(channel_shuffle(x, groups), x[:, perm])
    # the inverse is the (n, g) reshape transposed back, i.e. the inverse permutation
    unshuffled = x.reshape(2, n, groups, h, w).permute(0, 2, 1, 3, 4).reshape(2, channels, h, w)
    assert torch.equal(channel_unshuffle(x, groups), unshuffled)
    assert torch.equal(channel_unshuffle(x, groups), x[:, torch.argsort(perm)])


def test_shuffle_actually_moves_channels():
    x = torch.randn(1, 12, 2, 2)
    assert not torch.equal(channel_shuffle(x, 3), x)
    assert torch.equal(channel_shuffle(x, 1), x) and torch.equal(channel_shuffle(x, 12), x)


def test_channels_last_input_keeps_layout_and_values():
    x = torch.randn(2, 24, 5, 7)
    xl = x.contiguous(memory_format=torch.channels_last)
    out = channel_shuffle(xl, 4)
    assert out.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(out, channel_shuffle(x, 4))
    assert torch.equal(channel_unshuffle(out, 4), x)


def test_other_layouts_and_gradients():
    x = torch.randn(3, 12, requires_grad=True)  # (N, C): works on any (N, C, ...) tensor
    y = channel_shuffle(x, 3)
    assert torch.equal(y, x[:, shuffle_permutation(12, 3)])
    (y * torch.arange(12.0)).sum().backward()
    assert torch.equal(x.grad[0], channel_unshuffle(torch.arange(12.0).view(1, 12), 3)[0])


def test_module_wraps_function():
    layer = ChannelShuffle(3)
    x = torch.randn(2, 9, 4, 4)
    assert torch.equal(layer(x), channel_shuffle(x, 3))
    assert "groups=3" in repr(layer)
    assert list(layer.parameters()) == []


@pytest.mark.parametrize("groups", [4, 0, -3, 2.0, True, None])
def test_bad_group_counts_are_explained(groups):
    with pytest.raises(EffconvError) as info:
        channel_shuffle(torch.randn(1, 15, 2, 2), groups)
    message = str(info.value)
    assert "groups" in message
    if groups == 4:
        assert "15 channels" in message and "4 groups" in message and "divides" in message


def test_bad_layouts_and_module_arguments():
    with pytest.raises(EffconvError, match="N, C"):
        channel_shuffle(torch.randn(6), 2)
    with pytest.raises(EffconvError, match="positive integer"):
        ChannelShuffle(0)
    with pytest.raises(EffconvError, match="does not divide|do not divide|cannot shuffle"):
        ChannelShuffle(5)(torch.randn(1, 12, 2, 2))


def test_torch_compile_fullgraph():
    # aot_eager captures the whole graph (fullgraph) and runs AOT autograd without code generation,
    # which keeps this test at seconds; the inductor variant below is marked slow
    torch._dynamo.reset()
    start = time.perf_counter()
    compiled = torch.compile(channel_shuffle, fullgraph=True, backend="aot_eager")
    x = torch.randn(2, 15, 3, 3)
    assert torch.equal(compiled(x, 3), channel_shuffle(x, 3))
    xl = torch.randn(2, 24, 3, 3).contiguous(memory_format=torch.channels_last)
    assert torch.equal(compiled(xl, 8), channel_shuffle(xl, 8))
    assert time.perf_counter() - start < 60


@pytest.mark.slow
def test_torch_compile_inductor_module():
    # the default backend generates C++ code: about a minute on 2 busy CPU cores
    torch._dynamo.reset()
    compiled = torch.compile(ChannelShuffle(3), fullgraph=True)
    x = torch.randn(2, 15, 3, 3)
    assert torch.equal(compiled(x), channel_shuffle(x, 3))
