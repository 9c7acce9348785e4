"""Chapter 1: split blocks (equivalences, costs, errors), MobileNet v1 and Xception, the study's
tables and claims, and the chapter notebook's conventions."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from effconv.analysis.claims import COLUMNS
from effconv.analysis.flops import count_flops
from effconv.errors import EffconvError
from effconv.models import create_model, get_conv_factory
from effconv.ops.separable import (AsymmetricPair, DepthwiseSeparableConv, FlattenedConv, check_groups,
                                   grouped_conv)
from effconv.studies import splitting as study
from effconv.studies.paper import paper_table

NOTEBOOK = Path(__file__).resolve().parents[1] / "chapters" / "01_splitting.ipynb"


# ---------------------------------------------------------------- blocks

@pytest.mark.parametrize("stride", [1, 2])
def test_flattened_conv_equals_a_dense_conv_with_rank_one_filters(stride):
    torch.manual_seed(0)
    flat = FlattenedConv(5, 7, 3, stride=stride).double()
    x = torch.randn(2, 5, 11, 11, dtype=torch.float64)
    dense = F.conv2d(x, flat.dense_weight(), stride=stride, padding=1)
    torch.testing.assert_close(flat(x), dense)


def test_flattened_weights_per_output_channel():
    flat = FlattenedConv(64, 32, 5)
    assert sum(p.numel() for p in flat.parameters()) == 32 * (64 + 5 + 5)


def test_depthwise_separable_structure_and_cost():
    block = DepthwiseSeparableConv(16, 32, 3, stride=2, bn=True, activation=nn.ReLU)
    assert [type(m).__name__ for m in block] == ["Conv2d", "BatchNorm2d", "ReLU", "Conv2d", "BatchNorm2d", "ReLU"]
    assert block.depthwise.groups == 16 and block.pointwise.bias is None
    got = count_flops(block, (16, 20, 20))
    assert got.macs == 10 * 10 * 16 * 9 + 10 * 10 * 16 * 32
    assert DepthwiseSeparableConv(4, 8).pointwise.bias is not None  # no BN follows: keep the bias
    assert DepthwiseSeparableConv(4, 8, depth_multiplier=2).pointwise.in_channels == 8


def test_depthwise_separable_is_depthwise_then_pointwise():
    torch.manual_seed(0)
    block = DepthwiseSeparableConv(6, 4, 3, bias=False).double()
    x = torch.randn(1, 6, 9, 9, dtype=torch.float64)
    expected = F.conv2d(F.conv2d(x, block.depthwise.weight, padding=1, groups=6), block.pointwise.weight)
    torch.testing.assert_close(block(x), expected)


def test_asymmetric_pair_shapes_and_cost():
    pair = AsymmetricPair(8, 8, 7, bias=False)
    assert (pair.row.kernel_size, pair.column.kernel_size) == ((1, 7), (7, 1))
    assert count_flops(pair, (8, 17, 17)).macs * 7 == count_flops(nn.Conv2d(8, 8, 7, padding=3, bias=False),
                                                                  (8, 17, 17)).macs * 2
    assert AsymmetricPair(8, 16, 3, stride=2)(torch.randn(1, 8, 10, 10)).shape == (1, 16, 5, 5)
    inception = AsymmetricPair(8, 8, 7, mid_channels=6, bn=True, activation=nn.ReLU)
    assert [type(m).__name__ for m in inception].count("ReLU") == 2


def test_grouped_conv_and_group_errors():
    conv = grouped_conv(12, 18, 3, groups=3)
    assert conv.groups == 3 and conv.padding == (1, 1) and conv.weight.shape == (18, 4, 3, 3)
    with pytest.raises(EffconvError, match="groups=5 does not divide in_channels=12 and out_channels=18"):
        grouped_conv(12, 18, 3, groups=5)
    with pytest.raises(EffconvError, match="groups=4 does not divide"):
        check_groups(12, 18, 4)
    with pytest.raises(EffconvError, match="positive integer"):
        check_groups(12, 0, 1)


def test_conv_factories_swap_the_dense_convs_of_a_model():
    base = create_model("resnet20")
    separable = create_model("resnet20", conv="separable")
    flattened = create_model("resnet20", conv="flattened")
    x = torch.randn(2, 3, 32, 32)
    for model in (separable, flattened):
        assert model(x).shape == (2, 10)
    cost = {name: count_flops(m, (3, 32, 32)).macs for name, m in
            [("base", base), ("separable", separable), ("flattened", flattened)]}
    assert cost["separable"] < cost["base"] / 3 and cost["flattened"] < cost["base"] / 3
    with pytest.raises(EffconvError, match="replaces dense convolutions"):
        get_conv_factory("separable")(8, 8, 3, groups=8)


# ---------------------------------------------------------------- models

def test_mobilenet_v1_builds_runs_and_scales():
    model = create_model("mobilenet_v1", num_classes=10, width=0.25)
    assert model(torch.randn(1, 3, 128, 128)).shape == (1, 10)
    assert create_model("mobilenet_v1", num_classes=1000).classifier.in_features == 1024
    with torch.device("meta"):
        dense = create_model("conv_mobilenet_v1", num_classes=1000)
    assert not any(isinstance(m, DepthwiseSeparableConv) for m in dense.modules())
    assert count_flops(dense, 224).macs > 8 * count_flops(create_model("mobilenet_v1", num_classes=1000), 224).macs
    with pytest.raises(EffconvError, match="width"):
        create_model("mobilenet_v1", width=-1.0)
    with pytest.raises(EffconvError, match="does not take a conv factory"):
        create_model("mobilenet_v1", conv="acb")


def test_xception_shapes():
    with torch.device("meta"):
        model = create_model("xception", num_classes=1000)
        out = model(torch.zeros(1, 3, 299, 299))
    assert out.shape == (1, 1000)
    layers = count_flops(model, 299).by_layer
    # the paper's 36 conv layers: a two-conv stem and 34 depthwise-separable convs
    assert (layers["kind"] == "depthwise 3x3").sum() == 34
    assert (layers["kind"] == "conv 3x3").sum() == 2
    assert layers.loc[layers["kind"] == "depthwise 3x3", "output"].iloc[-1] == (1536, 10, 10)


# ---------------------------------------------------------------- study tables and claims

def test_formula_table_is_exact():
    table = study.formula_table()
    assert table["exact"].all(), table
    assert set(table["design"]) >= {"depthwise separable", "grouped, g=8", "1x7 + 7x1 pair"}


def test_separable_ratio_points_follow_the_formula():
    points = study.separable_ratio_points(ns=(8, 100), kernels=(3, 5))
    assert (points["counted"] - points["formula"]).abs().max() < 1e-12


def test_mobilenet_table_against_published_values():
    table = study.mobilenet_table().set_index("model")
    assert round(table.loc["1.0 MobileNet-224", "ours_Mmacs"]) == 569
    assert round(table.loc["1.0 MobileNet-192", "ours_Mmacs"]) == 418
    assert round(table.loc["1.0 MobileNet-128", "ours_Mmacs"]) == 186
    assert round(table.loc["0.5 MobileNet-160", "ours_Mweights"], 2) == 1.32


def test_inception_conventions():
    table = study.inception_v3_variants().set_index("params")
    assert 27_161_264 in table.index and 23_834_568 in table.index
    assert table["minus_paper"].abs().min() > 0  # no convention reproduces 23,626,728 exactly


def test_alexnet_two_tower_is_the_60m_network():
    got = count_flops(study.on_meta(study.alexnet_two_tower), 227)
    assert got.params == 60_965_224
    assert abs(got.macs / 720e6 - 1) < 0.01


def test_paper_values_file_is_complete_and_tagged():
    table = paper_table("splitting")
    assert list(table.columns) == ["value", "unit", "tag", "source", "note"]
    assert set(table["tag"]) <= {"seed", "paper", "repo", "transcribed", "derived"}
    for key in ["mobilenet_macs", "xception_params", "octconv_cost_alpha_0125", "dsconv_speedup"]:
        assert key in table.index


def _small_latency():
    return study.latency_table(channels=16, sizes=(8,), batches=(1,), groups=(2,), warmup=0, repeats=2, rounds=1)


def test_latency_table_ratios():
    table = _small_latency()
    assert list(table["layer"]) == ["dense", "grouped g=2", "depthwise separable"]
    assert table.set_index("layer").loc["grouped g=2", "flop_ratio"] == 0.5
    assert table.set_index("layer").loc["dense", "time_ratio"] == 1.0
    assert (table["median_ms"] > 0).all() and (table["calls"] == 2).all()


@pytest.mark.parametrize("flop, time_ratio, verdict", [(0.125, 0.15, "reproduced"), (0.125, 0.5, "partly"),
                                                      (0.125, 1.2, "not reproduced")])
def test_latency_verdict(flop, time_ratio, verdict):
    assert study.latency_verdict(flop, time_ratio) == verdict


@pytest.mark.parametrize("paper, ours, half, verdict", [(569, 568.74, 0.5, "reproduced"), (4866, 4867.3, 0.5, "reproduced"),
                                                        (15300, 15470, 0.5, "partly"), (1.19, 1.906, 0.005, "not reproduced")])
def test_count_verdict(paper, ours, half, verdict):
    assert study.count_verdict(paper, ours, half) == verdict


def test_claims_are_complete_and_written(tmp_path):
    counts = study.reference_counts()
    claims = study.build_claims(study.formula_table(), study.octave_table(), study.mobilenet_table(),
                                study.mobilenet_shares(), counts, study.inception_v3_variants(), _small_latency())
    path = claims.write(tmp_path)
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert list(table.columns) == COLUMNS
    assert set(table["profile"]) == {"count", "live"}
    verdicts = table.set_index("claim")["verdict"]
    assert verdicts["Xception params"] == "reproduced"
    assert verdicts["MobileNet Table 2: conv 3x3 share of mult-adds (%)"] == "not reproduced"
    assert verdicts["DSConv speed-up (x)"] == "not run"
    assert (table.loc[table["verdict"] != "not run", "ours"] != "").all()
    assert table.loc[table["profile"] == "live", "evidence"].str.contains("on ").all()


# ---------------------------------------------------------------- notebook conventions

def test_notebook_is_stored_without_outputs_and_follows_the_conventions():
    nb = json.loads(NOTEBOOK.read_text())
    assert nb["metadata"]["kernelspec"] == {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                            "language": "python"}
    assert nb["metadata"]["language_info"] == {"name": "python"}
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    for cell in code:
        assert cell["outputs"] == [] and cell["execution_count"] is None
    first_md = next(c for c in nb["cells"] if c["cell_type"] == "markdown")
    assert "".join(first_md["source"]).startswith("# 1. Splitting and grouping convolutions")
    params = code[0]
    assert "parameters" in params["metadata"].get("tags", [])
    source = "".join(params["source"])
    assert 'profile = "best"' in source and "run_missing = False" in source
    text = "\n".join("".join(c["source"]) for c in nb["cells"])
    assert "ClaimsTable" in text or "build_claims" in text
    assert "{glue:text}" in text and "{cite}" in text
