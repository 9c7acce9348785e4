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

from effconv.claims import COLUMNS
from effconv.analysis.flops import count_flops
from effconv.errors import EffconvError
from effconv.models import create_model, get_conv_factory
from effconv.ops.separable import (AsymmetricPair, DepthwiseSeparableConv, FlattenedConv, check_groups,
                                   grouped_conv)
from effconv.studies.splitting import costs as study
from effconv.studies.splitting import report as splitting_report
from effconv.studies.splitting import claims as splitting_claims
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
    table = splitting_report.formula_table()
    assert table["exact"].all(), table
    assert set(table["design"]) >= {"depthwise separable", "grouped, g=8", "1x7 + 7x1 pair"}


def test_separable_ratio_points_follow_the_formula():
    points = study.separable_ratio_points(ns=(8, 100), kernels=(3, 5))
    assert (points["counted"] - points["formula"]).abs().max() < 1e-12


def test_mobilenet_table_against_published_values():
    table = splitting_report.mobilenet_table().set_index("model")
    assert round(table.loc["1.0 MobileNet-224", "ours_Mmacs"]) == 569
    assert round(table.loc["1.0 MobileNet-192", "ours_Mmacs"]) == 418
    assert round(table.loc["1.0 MobileNet-128", "ours_Mmacs"]) == 186
    assert round(table.loc["0.5 MobileNet-160", "ours_Mweights"], 2) == 1.32


def test_inception_conventions():
    table = splitting_report.inception_v3_variants().set_index("params")
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
    return splitting_report.latency_table(channels=16, sizes=(8,), batches=(1,), groups=(2,), warmup=0, repeats=2, rounds=3)


def test_latency_table_ratios():
    table = _small_latency()
    assert list(table["layer"]) == ["dense", "grouped g=2", "depthwise separable"]
    assert table.set_index("layer").loc["grouped g=2", "flop_ratio"] == 0.5
    assert (table["median_ms"] > 0).all() and (table["calls"] == 6).all()
    assert all(len(r) == 3 and min(r) > 0 for r in table["round_ratios"])


def _fake_latency(ratios: dict[str, list[float]]) -> pd.DataFrame:
    """A latency table with chosen per-round time ratios (two settings), for grading without timing."""
    rows = [{"layer": "dense", "setting": s, "flop_ratio": 1.0, "round_ratios": (1.0,) * 3, "device": "test"}
            for s in ("a", "b")]
    rows += [{"layer": layer, "setting": s, "flop_ratio": 0.25, "round_ratios": tuple(r), "device": "test"}
             for layer, r in ratios.items() for s in ("a", "b")]
    return pd.DataFrame(rows)


def test_live_claims_grade_rounds_and_stay_out_of_the_ledger():
    from effconv.claims import ClaimsTable

    table = splitting_claims.live_claims(ClaimsTable("splitting"), _fake_latency({"fast": [0.30, 0.32, 0.31],
                                                                     "slow": [1.30, 1.35, 1.32],
                                                                     "noisy": [0.5, 1.6, 0.9]}))
    verdicts = table.frame().set_index("claim")["verdict"]
    assert verdicts["fast runs faster than the dense conv (time ratio < 1)"] == "reproduced"
    assert verdicts["slow runs faster than the dense conv (time ratio < 1)"] == "not reproduced"
    assert verdicts["noisy runs faster than the dense conv (time ratio < 1)"] == "inconclusive"
    assert set(table.frame()["kind"]) == {"live"} and table.csv().count("\n") == 1  # header only
    empty = splitting_claims.live_claims(ClaimsTable("splitting"), None).frame()
    assert list(empty["verdict"]) == ["not run"]


def test_printed_decimals_follow_the_printed_figure():
    assert splitting_claims.printed_decimals("mobilenet_params") == 1
    assert splitting_claims.printed_decimals("mobilenet_macs") == 0
    assert splitting_claims.printed_decimals("mobilenet_share_conv1x1_macs") == 2
    assert splitting_claims.printed_decimals("alexnet_params") == -1  # "60 million": a round figure


@pytest.fixture(scope="module")
def ledger_frame():
    return splitting_claims.ledger("best").frame()


def test_ledger_is_complete_and_counted(ledger_frame):
    table = ledger_frame
    assert list(table.columns) == COLUMNS
    assert set(table["kind"]) == {"counted", "trained"}
    verdicts = table.set_index("claim")["verdict"]
    assert verdicts["Xception params"] == "reproduced"
    assert verdicts["VGG-16 mult-adds (M)"] == "partly"  # 15,470 M counted against a printed 15,300 M
    assert verdicts["DSConv speed-up (x)"] == "not run"
    assert (table.loc[table["verdict"] != "not run", "ours"] != "").all()
    assert table["evidence"].str.contains(r"\(counted:|\(bound:|\(not run\)|combine").all()
    bound = table.set_index("claim").loc["MobileNet has less than 1/32 of VGG-16's params (x fewer)"]
    assert bound["paper"] == "> 32" and bound["verdict"] == "reproduced"  # printed as "less than 1/32"


def test_probable_erratum_is_graded_against_the_corrected_figure(ledger_frame):
    rows = ledger_frame[ledger_frame["claim"].str.startswith("MobileNet Table 2: conv 3x3 share of mult-adds")]
    assert len(rows) == 1
    row = rows.iloc[0]
    assert row["paper"] == "1.91" and "printed 1.19" in row["claim"] and row["verdict"] == "reproduced"


def test_a_wrong_printed_figure_is_not_reproduced(monkeypatch):
    from effconv.claims import ClaimsTable
    from effconv.studies.paper import PaperValue

    real = splitting_claims.paper_value

    def shifted(chapter, key):
        ref = real(chapter, key)
        return PaperValue(key, ref.value * 1.2, ref.unit, ref.tag, ref.source, ref.note) if key == "vgg16_params" else ref

    monkeypatch.setattr(splitting_claims, "paper_value", shifted)
    claims = ClaimsTable("splitting")
    assert splitting_claims._count(claims, "VGG-16 params (M)", "vgg16_params", 138.36, "test") == "not reproduced"


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
    assert "splitting_claims.ledger(profile)" in text and "splitting_claims.live_claims(" in text
    assert ".write(" not in text and "build_claims" not in text  # rendering never writes the ledger
    assert "{glue:text}" in text and "{cite}" in text
