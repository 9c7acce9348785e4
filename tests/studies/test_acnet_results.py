"""Chapter 3 stored runs: formatting a missing value, merging comparisons, the variant of a run."""

from __future__ import annotations

import math

import pytest
from acnet_fakes import comparison

from effconv.errors import EffconvError
from effconv.studies.acnet import plan as runs
from effconv.studies.acnet import results


def test_fmt():
    assert results.fmt(math.nan) == "not run" and results.fmt(None) == "not run"
    assert results.fmt(0.51234, signed=True, unit=" pp") == "+0.51 pp"


def test_merge_refuses_mixed_profiles():
    a = comparison(runs.table_specs)
    b = results.Runs("full", runs.table_specs("full"), [None] * len(runs.table_specs("full")))
    with pytest.raises(EffconvError, match="different profiles"):
        results.merge(a, b)
    merged = results.merge(a, comparison(runs.ablation_specs))
    # base and ACNet of the ablation model are in both comparisons (seeds 0-2): each run once
    table_keys, ablation_keys = ({s.key for s in fn("cpu")} for fn in (runs.table_specs, runs.ablation_specs))
    assert len(table_keys & ablation_keys) == 6
    assert len(merged.specs) == len({s.key for s in merged.specs}) == len(table_keys | ablation_keys)


def test_variant_of():
    names = {results.variant_of(s) for s in runs.experiments("cpu")}
    assert names == {"base", "acnet", "hor", "ver", "sum-bn", "border"}
