"""Chapter 5 costs: one layer in every form, the CIFAR-10 and ImageNet networks counted, the memory gap."""

import pandas as pd
import pytest
import torch
import torchvision

from effconv.analysis.flops import count_flops
from effconv.errors import EffconvError
from effconv.studies.versatile import costs


@pytest.fixture(scope="module")
def imagenet():
    """A stand-in for imagenet_complexity() (counting the networks takes seconds)."""
    return pd.DataFrame([
        {"model": "ResNet-50", "params_M": 25.557, "params_official_M": 25.557, "memory_MB": 97.49, "GFLOPs": 4.089},
        {"model": "Versatile-v1 ResNet-50", "params_M": 19.89, "params_official_M": 19.89, "memory_MB": 75.88,
         "GFLOPs": 3.200},
        {"model": "Versatile-v2 ResNet-50", "params_M": 10.98, "params_official_M": 10.997, "memory_MB": 41.95,
         "GFLOPs": 3.167},
        {"model": "Versatile-v2 ResNet-50 (c_hat = 15c/16)", "params_M": 10.44, "params_official_M": 10.997,
         "memory_MB": 41.95, "GFLOPs": 2.986},
    ]).assign(paper_memory_MB=[97.2, 75.6, 41.7, 41.7],
              delta_memory_MB=lambda t: t["memory_MB"] - t["paper_memory_MB"],
              note=["torchvision resnet50", "v1", "official", "our fit, not a published setting"])


def test_layer_costs():
    layer = costs.layer_cost_table(channels=32, out_channels=32, size=8).set_index("layer")
    assert layer.loc["versatile v1 (spatial)", "FLOPs ratio"] == pytest.approx(10 / 18)
    assert layer["FLOPs ratio"].to_numpy() == pytest.approx(layer["expected FLOPs ratio"].to_numpy())
    assert layer.loc["learned masks (b), at init", "executed ratio"] == 1.0
    assert layer.loc["learned masks (b), at init", "mask_bits"] == 32 * 32 * 9  # one bit per weight of the dense layer
    assert layer.loc["learned masks (a), at init", "mask_bits"] == 2 * 32 * 9  # one shared set of s = 2 masks
    assert layer.loc["versatile v2, c_hat = c - 1, g = 1 (official)", "params_official ratio"] == 0.25


def test_memory_offsets_leave_out_our_fit(imagenet):
    offsets = costs.memory_offsets(imagenet)
    assert len(offsets) == 3 and "c_hat" not in " ".join(offsets["model"])
    assert offsets.loc[0, "delta_kparams"] == pytest.approx(0.29 * 2 ** 20 / 4 / 1e3)


def test_memory_ratio_gap_cancels_a_common_offset(imagenet):
    offsets = costs.memory_offsets(imagenet)
    gap = costs.memory_ratio_gap(offsets)
    # v1 and v2 against the baseline, ours and published: 75.88/97.49 vs 75.6/97.2 and 41.95/97.49 vs 41.7/97.2
    assert gap == pytest.approx(max(abs((75.88 / 97.49) / (75.6 / 97.2) - 1),
                                    abs((41.95 / 97.49) / (41.7 / 97.2) - 1)))
    assert gap < 0.01  # far closer than the 0.3 MB offset of each memory
    with pytest.raises(EffconvError, match="at least one other"):
        costs.memory_ratio_gap(offsets.iloc[:1])


def test_vgg_fc6_as_conv():
    with torch.device("meta"):
        model = torchvision.models.vgg16(weights=None)
    costs.vgg_fc6_as_conv(model)
    counted = count_flops(model, (3, 224, 224))
    assert counted.by_layer.set_index("name").loc["classifier.0.1", "macs"] == 25088 * 4096
    with pytest.raises(EffconvError, match="torchvision VGG"):
        costs.vgg_fc6_as_conv(model)


def test_imagenet_complexity_against_published():
    table = costs.imagenet_complexity().set_index("model")
    base, v1, v2 = (table.loc[k] for k in ("ResNet-50", "Versatile-v1 ResNet-50", "Versatile-v2 ResNet-50"))
    assert base["GFLOPs"] == pytest.approx(4.1, abs=0.05) and base["params_M"] == pytest.approx(25.6, abs=0.05)
    assert v1["GFLOPs"] == pytest.approx(3.2, abs=0.05)
    assert v2["params_official_M"] == pytest.approx(11.0, abs=0.05)
    # memory: 32-bit parameters in MB of 2^20 bytes is within 0.4 MB of every published value
    assert (table["delta_memory_MB"].dropna().abs() < 0.4).all()
    assert table.loc["VGG-16", "memory_MB"] == pytest.approx(527.8, abs=0.1)
    # the official v2 setting (c_hat = c - 1) barely changes FLOPs: the published 3.0 needs thinner primaries
    assert v2["GFLOPs"] > 3.1
    assert table.loc["Versatile-v2 ResNet-50 (c_hat = 15c/16)", "GFLOPs"] == pytest.approx(3.0, abs=0.05)


def test_cifar_complexity_table():
    table = costs.cifar_vgg16_complexity(width=0.125).set_index("model")
    assert list(table.index) == list(costs.CIFAR_VARIANTS)
    assert table.loc["versatile v1", "params_ratio"] < 0.55
    assert table.loc["versatile v2", "params_ratio"] < table.loc["versatile v1", "params_ratio"]
    # learned masks start at the concentric masks: same paper FLOPs as v1, dense execution
    assert table.loc["learned masks (b)", "MFLOPs"] == table.loc["versatile v1", "MFLOPs"]
    assert table.loc["learned masks (b)", "MFLOPs_executed"] == table.loc["baseline", "MFLOPs"]
    assert table.loc["learned masks (b)", "memory_MB"] > table.loc["learned masks (a)", "memory_MB"]
    assert table.loc["learned masks (a)", "params_M"] == table.loc["versatile v1", "params_M"]
