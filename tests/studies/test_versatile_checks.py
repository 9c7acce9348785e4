"""Chapter 5 live checks: crop form, channel windows, the orthogonal loss, the layer timing and the mask drift bound."""

import math

import pytest

from effconv.errors import EffconvError
from effconv.studies.versatile import checks
from effconv.studies.versatile import plan


@pytest.fixture(scope="module")
def live_frames():
    """The live checks at small sizes."""
    return dict(spatial=checks.spatial_check_table(((3, 1, None), (5, 2, None)), channels=3, out_channels=6, size=7),
                channel=checks.channel_check_table(((8, 7, 1), (8, 4, 2)), out_channels=24, size=5),
                ortho=checks.ortho_gradient_check(((2, 3, 2),)))


def test_spatial_and_channel_checks(live_frames):
    spatial = live_frames["spatial"]
    assert list(spatial["crops"]) == ["3x3, 1x1", "5x5, 3x3, 1x1"]
    assert list(spatial["crop paddings"]) == ["1, 0", "2, 1, 0"] and list(spatial["output"]) == ["6x7x7", "6x4x4"]
    assert (spatial[["max |crop - mask form|", "max |crop - dense conv|"]] < 1e-12).all().all()
    channel = live_frames["channel"]
    assert list(channel["n (layer)"]) == [2, 3] and list(channel["channel windows"]) == ["0-6, 1-7", "0-3, 2-5, 4-7"]
    assert list(channel["official / standard"]) == pytest.approx([1 / 4, 1 / 6])
    assert (channel["max |layer - definition|"] < 1e-12).all()


def test_ortho_checks(live_frames):
    ortho = live_frames["ortho"]
    assert ortho.loc[0, "m = d^2 c"] == 18
    assert ortho.loc[0, "max |autograd - closed form|"] < 1e-12
    assert ortho.loc[0, "max |layer (STE) - closed form|"] < 1e-12
    best = checks.ortho_minimum(3, 1)
    assert best["pairs"] == 4 ** 9 and best["concentric_loss"] == pytest.approx(33 / 81)
    assert best["min_loss"] == pytest.approx(33 / 162)  # densities 5/9, 6/9, overlap 2/9
    assert sorted([best["min_density_1"], best["min_density_2"]]) == pytest.approx([5 / 9, 6 / 9])
    assert best["min_loss"] >= best["relaxed_loss"]  # the relaxation bounds every binary pair from below
    assert best["concentric_hamming"] == pytest.approx(8 / 9) and best["concentric_overlap"] == pytest.approx(1 / 9)
    with pytest.raises(EffconvError, match="too large"):
        checks.ortho_minimum(3, 2)


def test_ortho_minimum_table_reads_the_three_points():
    best = checks.ortho_minimum(3, 1)
    table = checks.ortho_minimum_table(best).set_index("masks")
    assert list(table.index) == ["concentric (the initialisation)", "best binary pair, 3x3x1 (all pairs tried)",
                                 "relaxed optimum (real-valued shares)"]
    rings = table.loc["concentric (the initialisation)"]
    assert (rings["density 1"], rings["density 2"]) == pytest.approx((1.0, 1 / 9))  # the full 3x3 and its centre
    assert rings["L_ortho"] == pytest.approx(33 / 81)
    assert table["L_ortho"].iloc[1] == best["min_loss"] and table["Hamming"].iloc[2] == best["relaxed_hamming"]


def test_latency_table_is_small_and_complete():
    table = checks.latency_table(channels=8, size=8, batch=1, repeats=2, warmup=1)
    assert len(table) == 4 and table.loc[0, "time ratio"] == 1.0 and (table["median_ms"] > 0).all()
    assert (table["calls"] == 3).all()  # at least one call per round
    assert "1 thread" in table.loc[0, "device"]


def test_mask_drift_bound_orders_the_strategies():
    cpu = next(s for s in plan.experiments("cpu") if s.name == "vgg16-masks-b").recipe
    smoke = next(s for s in plan.experiments("smoke") if s.name == "vgg16-masks-b").recipe
    table = checks.mask_drift_bound({"width": 0.125}, cpu, batch=8).set_index("strategy")
    assert table.loc["a", "steps"] == cpu.epochs * math.ceil(50_000 / cpu.batch_size)
    # a shared mask collects the gradient of all primaries using it; a per-primary mask only its own
    assert table.loc["a", "median |dL/dH|"] > table.loc["b", "median |dL/dH|"] > 0
    assert 0 <= table.loc["b", "share that could flip"] <= table.loc["a", "share that could flip"] <= 1
    assert 0.3 < table.loc["a", "median distance to 1/2"] < 0.5  # nudged at most 0.49 from the rings
    short = checks.mask_drift_bound({"width": 0.125}, smoke, batch=8).set_index("strategy")
    assert short.loc["a", "steps"] == math.ceil(512 / smoke.batch_size)
    assert short.loc["b", "share that could flip"] <= table.loc["b", "share that could flip"]
