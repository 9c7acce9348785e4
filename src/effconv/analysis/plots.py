"""Figures as the book shows them: sized for the page, glued under a key, numbered by a caption.

A chapter draws a figure with a study's ``plot_*`` function and hands it to :func:`glue_figure`; the
markdown cell after it places the figure with a ``{glue:figure}`` directive that gives it a name and a
caption. Sphinx (``numfig``) numbers it.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

# The book's content column is about 7.5 inches at the figures' resolution: a figure this wide is shown
# at its drawn size, so its 9-10 pt text reads as drawn. A wider figure is scaled down, and its text with it;
# tests hold the plot functions to MAX_WIDTH.
PAGE_WIDTH = 7.5
MAX_WIDTH = 8.0


def not_run_figure(text: str, width: float = PAGE_WIDTH) -> plt.Figure:
    """A small figure that says what is missing, so the caption below it still has a figure to number."""
    fig, ax = plt.subplots(figsize=(width, 1.2))
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=10, color="grey", transform=ax.transAxes,
            wrap=True)
    ax.set_axis_off()
    return fig


def glue_figure(key: str, fig: plt.Figure | None, *, missing: str = "not run yet") -> None:
    """Glue ``fig`` under ``key`` for a ``{glue:figure}`` directive, and close it so it is not shown twice.

    ``fig=None`` (a plot function with nothing stored to draw) glues a figure saying ``missing``. Returns
    nothing, so a call on a cell's last line does not show the figure again as the cell's value.
    """
    from myst_nb import glue  # the notebook side only: the library itself never needs myst-nb

    if fig is None:
        fig = not_run_figure(missing)
    glue(key, fig, display=False)
    plt.close(fig)


def cell_labels(values, fmt: str = ".2f") -> np.ndarray:
    """Text for a heat map's cells (``sns.heatmap(..., annot=cell_labels(v, fmt), fmt="")``).

    Formats like ``fmt`` but prints a value that rounds to zero without a sign: a "-0.00" reads as a
    negative effect where there is none. NaN cells get no text.
    """
    array = np.asarray(values, dtype=float)

    def label(value: float) -> str:
        if np.isnan(value):
            return ""
        text = format(value, fmt)
        return text[1:] if text.startswith("-") and float(text) == 0 else text

    return np.vectorize(label, otypes=[object])(array)
