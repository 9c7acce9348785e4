"""Chapter 5 figures draw without warnings, with and without stored runs."""

import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

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
