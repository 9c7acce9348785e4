"""Chapter 4 (DAC), ``latency``: decomposed layers and whole models timed (tiny sizes, one thread)."""

from __future__ import annotations

import json

import pytest
import torch

from effconv.models import create_model
from effconv.ops import dac
from effconv.studies.dac import latency as dac_latency


def test_latency_table_small():
    table = dac_latency.latency_table([(8, 16, 8)], ranks=[1, 9], batch_size=2, repeats=3, device="cpu")
    json.dumps(table.to_dict("records"), allow_nan=False)  # plain numbers, no NaN
    assert list(table["rank"]) == [1, 9]
    assert (table["conv_ms"] > 0).all() and (table["dac_ms"] > 0).all()
    assert table["macs_ratio"].tolist() == pytest.approx([1 / 16 + 1 / 9, 9 / 16 + 1])


def test_vgg16_cifar_shapes():
    assert dac_latency.vgg16_cifar_shapes() == [(3, 64, 32), (64, 64, 32), (64, 128, 16), (128, 128, 16),
                                          (128, 256, 8), (256, 256, 8), (256, 512, 4), (512, 512, 4),
                                          (512, 512, 2)]


def test_model_latency_and_layer_parts():
    torch.manual_seed(0)
    model = create_model("vgg16_cifar", width=0.125)
    table = dac_latency.model_latency_table(model, ranks=[1], batch_size=1, repeats=1, warmup=0, threads=1)
    assert list(table["rank"]) == [0, 1] and table["macs_ratio"].iloc[0] == 1.0
    assert 0 < table["macs_ratio"].iloc[1] < 0.5 and (table["ms"] > 0).all()
    assert next(model.parameters()).device.type == "cpu"
    layers = dac_latency.latency_table([(8, 16, 8)], ranks=[1, 2], batch_size=1, repeats=1, warmup=0, threads=1, parts=True)
    assert {"depthwise_ms", "pointwise_ms"} <= set(layers.columns) and (layers["depthwise_ms"] > 0).all()
    assert dac.max_rank(torch.nn.Conv2d(8, 16, 3)) == 9


def test_model_latency_rounds():
    torch.manual_seed(0)
    model = create_model("vgg16_cifar", width=0.125)
    table = dac_latency.model_latency_rounds(model, ranks=[1, 2], rounds=2, batch_size=1, repeats=1, warmup=0,
                                             threads=1)
    assert list(table["round"]) == [0, 0, 1, 1] and list(table["rank"]) == [1, 2, 1, 2]
    assert (table["time_ratio"] > 0).all() and 0 < table["macs_ratio"].iloc[0] < 0.5
    with pytest.raises(Exception, match="rounds must be"):
        dac_latency.model_latency_rounds(model, rounds=0)
