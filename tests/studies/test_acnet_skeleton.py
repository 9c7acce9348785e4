"""Chapter 3 kernel skeletons: the pruning-curve helpers and the importance maps at initialisation."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from effconv.studies.acnet import skeleton

pytestmark = pytest.mark.usefixtures("single_thread")


def test_pruning_helpers():
    summary = pd.DataFrame({"variant": "acnet", "region": "skeleton", "sparsity": [0.0, 0.05, 0.1, 0.15],
                            "mean": [80.0, 60.0, 30.0, 10.0], "std": [0.0, 1.0, 2.0, 1.0], "repeats": 5})
    assert skeleton.destroyed_at(summary, "acnet") == pytest.approx(10 + 5 * 10 / 20)  # 30 -> 10 crosses 20 midway
    assert math.isnan(skeleton.destroyed_at(summary, "base"))
    assert math.isnan(skeleton.destroyed_at(summary.assign(mean=[15.0, 12, 11, 10]), "acnet"))  # at chance from the start
    assert math.isnan(skeleton.destroyed_at(summary.assign(mean=[80.0, 70, 60, 50]), "acnet"))  # never destroyed
    assert skeleton.accuracy_at(summary, "acnet", "skeleton") == 10.0
    assert skeleton.accuracy_at(summary, "acnet", "skeleton", 0.05) == 60.0
    both = pd.concat([summary, summary.assign(region="corners", mean=[80.0, 79, 78, 77])], ignore_index=True)
    gap, spread = skeleton.curve_gap(both, "acnet", "corners", "skeleton")
    assert gap == pytest.approx((19 + 48 + 67) / 3) and spread == pytest.approx((1 + 2 + 1 + 1 + 2 + 1) / 6)
    wide = skeleton.pruning_wide(both, "acnet")
    assert list(wide.columns) == ["corners", "skeleton"] and wide.loc["10%", "skeleton"] == "30.0 ± 2.0"


def test_importance_at_init_shows_the_constructed_skeleton():
    from effconv.studies.acnet.skeleton_claims import importance_init

    matrices = {v: maps[0] for v, maps in importance_init("cpu", [0]).items()}
    assert set(matrices) == {"base", "acnet", "border"}
    acnet = skeleton.importance_summary_table({"acnet": {0: matrices["acnet"]}}, "init").iloc[0]
    assert acnet["skeleton_contrast"] > 0.5 and acnet["border_contrast"] < 0   # by construction, before training
    assert acnet["centre"] == pytest.approx(1.0) and acnet["corner_max"] < acnet["skeleton_min"]
    border = matrices["border"].to_numpy()
    assert border[2, 2] == pytest.approx(1.0)  # the border variant's cross meets at the bottom-right corner
