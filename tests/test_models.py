"""The model zoo: registry, create_model errors, published sizes, width scaling and the conv factory hook."""

import pytest
import torch
from torch import nn

from effconv.analysis.flops import count_flops
from effconv.errors import EffconvError
from effconv.models import create_model, get_conv_factory, list_convs, list_models
from effconv.ops import ConvBN

CIFAR = ["resnet20", "resnet32", "resnet56", "resnet110", "vgg16_cifar", "cifar_quick", "wrn16_8", "densenet40"]


@pytest.mark.parametrize("name", CIFAR)
def test_cifar_models_run(name):
    model = create_model(name, width=0.25).eval()
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert create_model(name, num_classes=100, width=0.25)(torch.randn(1, 3, 32, 32)).shape == (1, 100)


@pytest.mark.parametrize("name, params_m, digits", [
    # He et al. report 0.27M / 0.85M / 1.7M with zero-padded shortcuts; ours use 1x1 projections (a little more)
    ("resnet20", 0.27, 2), ("resnet56", 0.86, 2), ("resnet110", 1.7, 1),
    ("wrn16_8", 11.0, 1), ("densenet40", 1.0, 1), ("vgg16_cifar", 15.0, 1),
])
def test_published_sizes(name, params_m, digits):
    counted = count_flops(create_model(name), (3, 32, 32))
    assert round(counted.params / 1e6, digits) == params_m


def test_cifar_quick_head_sees_576_features():
    model = create_model("cifar_quick")
    assert model.classifier[1].in_features == 576


def test_width_scales_channels():
    wide, narrow = count_flops(create_model("resnet56"), (3, 32, 32)), count_flops(create_model("resnet56", width=0.5), (3, 32, 32))
    assert 0.2 < narrow.params / wide.params < 0.3 and 0.2 < narrow.macs / wide.macs < 0.3


def test_conv_factory_swaps_every_kxk_conv():
    built = []

    def recording(in_channels, out_channels, kernel_size, stride=1, padding=None, groups=1, bn=True):
        built.append(kernel_size)
        return ConvBN(in_channels, out_channels, kernel_size, stride, padding, groups, bn)

    from effconv.models.registry import get_builder

    model = get_builder("vgg16_cifar")(conv_factory=recording)
    assert built == [3] * 13
    kxk = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.kernel_size != (1, 1)]
    assert len(kxk) == 13
    built.clear()
    get_builder("resnet56")(conv_factory=recording)
    assert len(built) == 1 + 2 * 27  # stem + two per block; 1x1 shortcuts are not swapped


def test_create_model_errors():
    with pytest.raises(EffconvError, match="unknown model 'resnet21'.*resnet20"):
        create_model("resnet21")
    with pytest.raises(EffconvError, match="width"):
        create_model("resnet20", width=0)
    with pytest.raises(EffconvError, match="num_classes"):
        create_model("resnet20", num_classes=0)
    with pytest.raises(EffconvError, match="unknown conv factory"):
        create_model("resnet20", conv="nope")
    with pytest.raises(EffconvError, match="does not accept"):
        create_model("resnet20", depth=7)
    with pytest.raises(EffconvError, match="does not accept"):
        get_conv_factory("conv_bn", wings=2)


def test_registry_lists():
    assert set(CIFAR) <= set(list_models())
    assert "conv_bn" in list_convs()
