"""The book's figures: glued and closed, sized for the page, and the new plots drawing what they claim to."""

from __future__ import annotations

import math
import statistics

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from effconv.analysis import plots  # noqa: E402
from effconv.claims.rules import mean_interval  # noqa: E402
from effconv.studies.acnet import plots as acnet_plots  # noqa: E402
from effconv.studies.shufflenet import plots as shufflenet_plots  # noqa: E402
from effconv.studies.versatile import plots as versatile_plots  # noqa: E402
from effconv.studies.acnet.report import CONDITIONS  # noqa: E402


def fits_the_page(fig: plt.Figure) -> bool:
    return fig.get_size_inches()[0] <= plots.MAX_WIDTH + 1e-9


@pytest.fixture
def glued(monkeypatch):
    import myst_nb

    seen = {}
    monkeypatch.setattr(myst_nb, "glue", lambda key, value, display=True: seen.update({key: (value, display)}))
    return seen


def test_glue_figure_glues_hidden_and_closes(glued):
    fig, _ = plt.subplots(figsize=(5, 3))
    assert plots.glue_figure("fig-a", fig) is None  # nothing for a cell's last line to show again
    assert glued["fig-a"] == (fig, False)
    assert not plt.fignum_exists(fig.number)  # closed: the inline backend will not show it a second time


def test_glue_figure_without_a_figure_glues_a_note(glued):
    plots.glue_figure("fig-b", None, missing="sweep: not run yet (cpu)")
    fig = glued["fig-b"][0]
    assert fits_the_page(fig)
    assert "sweep: not run yet (cpu)" in [t.get_text() for t in fig.axes[0].texts]


def rotation_frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for variant, seeds in (("base", (0, 1, 2)), ("hor", (0, 1)), ("ver", (0,)), ("acnet", (0, 1, 2))):
        for seed in seeds:
            rows.append({"profile": "cpu", "variant": variant, "seed": seed, "status": "stored",
                         **{c: 70 + rng.normal() for c in CONDITIONS}})
    rows.append({"profile": "cpu", "variant": "ver", "seed": 1, "status": "not run", **{c: math.nan for c in CONDITIONS}})
    return pd.DataFrame(rows)


def test_rotation_gaps_pair_by_seed_with_the_shared_interval():
    rotation = rotation_frame()
    points = acnet_plots.rotation_gap_points(rotation).set_index(["condition", "pair"])
    acc = rotation.set_index(["variant", "seed"])
    for condition in CONDITIONS:
        acnet = points.loc[(condition, "ACB − base")]
        gaps = [acc.loc[("acnet", s), condition] - acc.loc[("base", s), condition] for s in (0, 1, 2)]
        assert acnet["seeds"] == [0, 1, 2] and acnet["gaps"] == pytest.approx(gaps)
        assert (acnet["mean_pp"], acnet["low_pp"], acnet["high_pp"]) == pytest.approx(mean_interval(gaps))
        noise = 2 * statistics.stdev(acc.loc["base", condition])
        assert acnet["noise_pp"] == pytest.approx(noise)
        one_pair = points.loc[(condition, "square + ver − base")]  # ver has one stored seed: a gap, no interval
        assert one_pair["n"] == 1 and math.isnan(one_pair["low_pp"])


def test_rotation_figure_draws_gaps_not_accuracies():
    fig = acnet_plots.plot_rotation(rotation_frame(), "cpu")
    ax = fig.axes[0]
    assert fits_the_page(fig) and "difference (pp)" in ax.get_ylabel()
    assert len(ax.patches) == len(CONDITIONS)  # one noise band per test condition
    assert ax.get_ylim()[1] < 30  # gaps of a few points, not a 0-100% accuracy axis
    plt.close(fig)
    empty = acnet_plots.plot_rotation(rotation_frame().iloc[0:0], "cpu")
    assert "not run" in empty.axes[0].texts[0].get_text()
    plt.close(empty)


def cifar_frame() -> pd.DataFrame:
    return pd.DataFrame({"variant": ["baseline", "versatile v1", "versatile v2"], "test_acc_%": [83.0, 82.0, math.nan],
                         "std_%": [0.3, math.nan, math.nan], "params_M": [0.94, 0.48, 0.25], "MFLOPs": [19.9, 11.1, 10.7]})


def test_versatile_accuracy_cost_scatter():
    table = cifar_frame()
    fig = versatile_plots.plot_accuracy_cost(table, "cpu")
    assert fits_the_page(fig) and [ax.get_xscale() for ax in fig.axes] == ["log", "log"]
    # stored variants only, each named once in the figure's legend (point labels used to overprint)
    labels = [t.get_text() for legend in fig.legends + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
              for t in legend.get_texts()]
    assert labels == ["baseline", "versatile v1"] and not fig.axes[0].texts
    assert versatile_plots.not_run_variants(table) == ["versatile v2"]
    plt.close(fig)


def test_imagenet_points_keep_the_papers_accuracy_beside_our_count():
    scaled = pd.DataFrame({"scale": ["1.0x", "1.0x", "0.5x"], "g": [3, 8, 3], "ours_with_fc": [137.5, 138.4, 37.6],
                           "paper_mflops": [140.0, 140.0, 38.0]})
    mobilenet = pd.DataFrame({"model": ["1.0 MobileNet-224", "1.0 MobileNet-192", "Conv MobileNet-224", "0.5 MobileNet-224"],
                              "ours_Mmacs": [568.7, 418.1, 4867.3, 149.5], "paper_Mmacs": [569.0, 418.0, 4866.0, 149.0],
                              "paper_top1_%": [70.6, 69.1, 71.7, None]})
    points = shufflenet_plots.imagenet_cost_points(scaled, mobilenet)
    assert list(points["model"]) == ["1.0x (g=3)", "0.5x (g=3)", "1.0x", "Conv"]
    shuffle = points.set_index("model").loc["1.0x (g=3)"]
    assert shuffle["paper_top1_%"] == pytest.approx(100 - 32.6)  # ShuffleNet Table 2: 32.6% error
    assert shuffle["ours_Mmacs"] == 137.5 and shuffle["paper_Mmacs"] == 140.0
    fig = shufflenet_plots.plot_imagenet_cost(points)
    ax = fig.axes[0]
    assert fits_the_page(fig) and ax.get_xscale() == "log"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("from the paper at our counted cost" in t for t in legend)
    assert any("printed cost" in t for t in legend)
    plt.close(fig)


def test_acnet_panels_fit_the_page():
    kernels = {n: np.ones((3, 3)) for n in ("square", "hor", "ver", "fused")}
    matrices = {n: np.full((3, 3), 0.5) for n in ("base", "acnet", "border")}
    empty = pd.DataFrame(columns=["variant", "region", "sparsity", "accuracy"])
    for fig in (acnet_plots.plot_branch_fusion(kernels),
                acnet_plots.plot_importance(matrices, "cpu", "resnet20", at_init=matrices),
                acnet_plots.plot_pruning(empty, "cpu", "resnet20")):
        assert fits_the_page(fig)
        plt.close(fig)


def test_heat_map_cells_that_round_to_zero_print_without_a_sign():
    labels = plots.cell_labels([[-0.004, 0.004, -0.006], [float("nan"), -1.25, 0.0]], ".2f")
    assert labels.tolist() == [["0.00", "0.00", "-0.01"], ["", "-1.25", "0.00"]]
    assert plots.cell_labels([-0.04], ".1f").tolist() == ["0.0"]


def test_branch_fusion_heat_map_prints_no_negative_zero():
    kernel = np.array([[-0.001, 0.5, -0.5], [0.0, -0.004, 0.2], [0.3, -0.2, 0.1]])
    fig = acnet_plots.plot_branch_fusion({"square": kernel, "fused": kernel})
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert "0.00" in texts and "-0.00" not in texts
    plt.close(fig)
