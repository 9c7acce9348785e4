"""Chapter 5 figures draw without warnings, with and without stored runs."""

import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
from matplotlib.colors import to_hex

from effconv.studies.versatile import plots as versatile_plots
from effconv.studies.versatile import report
from effconv.studies.versatile import results as versatile_results
from versatile_fakes import counted_frame, cpu_results, mask_overall


def test_plots_draw_without_warnings_with_and_without_runs():
    optimum = {"relaxed_density": 0.6, "relaxed_hamming": 0.8, "relaxed_loss": 0.2}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for accs in ({}, {"baseline": 0.9, "versatile v1": 0.9, "learned masks (a)": 0.85, "learned masks (b)": 0.86}):
            specs, results = cpu_results(accs, changed=0.01)
            table = report.cifar_table("cpu", specs, results, counted_frame())
            fig = versatile_plots.plot_cifar(table, versatile_results.accuracy_curves(specs, results), "cpu")
            assert len(fig.axes) == 2
            curves = versatile_results.mask_curves(specs, results, {"learned masks (a)": mask_overall(0.0)})
            fig = versatile_plots.plot_mask_curves(curves, "cpu", optimum=optimum)
            assert len(fig.axes) == 4
            plt.close("all")


def test_concentric_mask_figure():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = versatile_plots.plot_concentric_masks((3, 5))
    assert len(fig.axes) == 2 * 3
    plt.close(fig)


def test_block_diagram_draws_the_real_layers():
    from effconv.studies.versatile.page_method import block_layers

    layers = block_layers(0.25)
    stem, vgg = (layer for _, layer in layers)
    assert (stem.kernel_size, stem.s, stem.primaries, stem.out_channels) == (7, 4, 16, 64)
    assert (vgg.kernel_size, vgg.s, vgg.primaries, vgg.out_channels) == (3, 2, 32, 64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = versatile_plots.plot_versatile_block(layers)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert "secondary 4\n1×1×3" in texts and "secondary 2\n1×1×64" in texts  # the centre tap of each
    assert "channels 48–63" in texts and "16 primaries stored" in texts
    assert all("_" not in ax.get_title(loc="left") for ax in fig.axes)  # reader names, no code names
    plt.close(fig)


def test_cost_plot_has_one_legend_entry_per_drawn_variant_and_no_point_labels():
    specs, results = cpu_results({label: 0.9 for label in versatile_results.VARIANTS.values()})
    table = report.cifar_table("cpu", specs, results, counted_frame())
    fig = versatile_plots.plot_accuracy_cost(table, "cpu")
    legend = fig.legends[0]
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels == list(table["variant"])
    drawn = {bars.get_label(): to_hex(bars.lines[0].get_color()) for bars in fig.axes[0].containers}
    handles = dict(zip(labels, legend.legend_handles))
    assert {label: to_hex(h[0].get_color() if isinstance(h, tuple) else h.get_color()) for label, h in
            handles.items()} == drawn  # every entry has its line's colour
    assert len(set(drawn.values())) == len(drawn)  # no colour used twice
    assert not any(ax.texts for ax in fig.axes)  # no labels beside points to print over each other
    plt.close(fig)


def test_points_on_about_one_cost_are_spread_apart():
    drawn = versatile_plots.dodged([0.48, 0.48, 0.94, 0.247, 0.481])
    assert drawn[2] == 0.94 and drawn[3] == 0.247  # alone: where they are
    near = sorted(drawn[i] for i in (0, 1, 4))
    assert near[1] / near[0] == pytest.approx(versatile_plots.DODGE) and near[2] / near[1] == pytest.approx(
        versatile_plots.DODGE)
