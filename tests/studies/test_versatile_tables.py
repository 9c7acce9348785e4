"""Chapter 5's wide tables fold what does not fit the text column, and a folded number reads as it would in
a column of its own."""

import math

import pandas as pd

from effconv.studies.versatile.page import CIFAR_SHOWN
from effconv.studies.versatile.tables import folded


def test_folded_columns_keep_their_format_and_missing_values_are_left_out():
    frame = pd.DataFrame({"layer": ["standard", "v1"], "ratio": [1.0, 0.5555555], "macs": [37748736, 20971520],
                          "std": [0.1994, math.nan]})
    html = folded(frame, shown=["layer", "ratio"], into="layer",
                  formats={"ratio": "{:.4f}", "macs": "{:,}", "std": "{:.2f}"}).to_html()
    assert "0.5556" in html and "0.5555555" not in html  # the visible column
    assert "37,748,736" in html and "20,971,520" in html  # folded, with the same format
    assert "0.20" in html and html.count("<dt>std</dt>") == 1  # the missing std is left out, not "nan"
    assert ">nan<" not in html.lower()
    assert ">macs<" not in html.replace("<dt>macs</dt>", "")  # macs is no column of its own


def test_the_cifar_table_keeps_accuracy_against_the_cost_ratios_in_view():
    assert CIFAR_SHOWN[0] == "variant" and {"test_acc_%", "delta_vs_baseline"} <= set(CIFAR_SHOWN)
    assert {"params_ratio", "memory_ratio", "FLOPs_ratio", "executed_ratio"} <= set(CIFAR_SHOWN)
