"""Chapter 2's wide tables folded to fit the text column: a folded number reads as its column would print it."""

import math

import pandas as pd
import pytest

from effconv.errors import EffconvError
from effconv.studies.shufflenet.display import folded, interval_text


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"model": ["1.0x g=3", "0.5x g=8"], "ours_mflops": [137.4567, 40.47],
                         "delta_mflops": [-0.5433, math.nan], "ours_params": [1865728, 1011448],
                         "params_match": [True, False], "channels": ["240/480/960", "192/384/768"]})


def test_folded_columns_read_as_the_table_would_print_them():
    html = folded(_frame(), shown=["model", "ours_mflops"], into="model", summary="counts",
                  formats={"ours_mflops": "{:.2f}", "delta_mflops": "{:+.2f}"}).to_html()
    assert "137.46" in html and "-0.54" in html and "1,865,728" in html and "240/480/960" in html
    assert "<dd>no</dd>" in html and "<dd>yes</dd>" in html  # flags as yes/no, not True/False
    assert "137.4567" not in html and "-0.5433" not in html and "nan" not in html.lower()  # a missing value is left out
    assert "<summary>counts</summary>" in html and "ours params" in html
    assert ">ours (MFLOPs)<" in html and ">ours params<" not in html.split("<tbody>")[0]  # folded: not a header


def test_a_folded_fraction_needs_a_format():
    with pytest.raises(EffconvError, match="delta_mflops"):
        folded(_frame(), shown=["model", "ours_mflops"], into="model", formats={"ours_mflops": "{:.2f}"})


def test_interval_text_keeps_both_ends_on_one_line():
    assert interval_text(-3.4213, 5.0271) == "[-3.42,\u00a0+5.03]"
    assert interval_text(0.1, 2.5, "{:.1f}") == "[0.1,\u00a02.5]"
    assert math.isnan(interval_text(math.nan, 1.0)) and math.isnan(interval_text(None, 1.0))
