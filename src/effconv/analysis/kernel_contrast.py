"""Within-model contrasts of a kxk kernel-importance map: a measure that can fail either way.

A map divided by its own maximum makes a flat map (every position about equal) look "weaker" than a
peaked one everywhere but the peak, so comparing such maps across models can report a change that is only
the normalisation. A contrast stays within one model: the mean of one region minus the mean of another,
on the map divided by its own mean over all kxk positions. It is 0 for a flat map whatever its scale,
positive when the first region carries more magnitude, negative when it carries less, and comparable
across models (a share of the model's average position).

Regions (``region_mask``, rows from the top, columns from the left): ``skeleton`` the centre row and column
(the cross the 1xk and kx1 kernels are added to), ``corners`` the rest; ``border`` the bottom row and the
right column (where the border ACB variant adds them), ``top_left`` the rest; ``global`` every position.
``CONTRASTS`` names the two the ACNet chapter grades.

>>> region_contrast([[0, 1, 0], [1, 1, 1], [0, 1, 0]], "skeleton", "corners")   # doctest: +SKIP
1.8
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Hashable

import numpy as np

from effconv.errors import EffconvError

REGIONS = ("corners", "skeleton", "global", "border", "top_left")
CONTRASTS = {"skeleton": ("skeleton", "corners"), "border": ("border", "top_left")}   # region minus its complement


def region_mask(region: str, kernel_size: int) -> np.ndarray:
    """Boolean kxk mask of ``region`` (see the module docstring)."""
    k, centre = kernel_size, kernel_size // 2
    mask = np.zeros((k, k), dtype=bool)
    if region in ("skeleton", "corners"):
        mask[centre, :] = mask[:, centre] = True
    elif region in ("border", "top_left"):
        mask[k - 1, :] = mask[:, k - 1] = True
    elif region == "global":
        mask[:] = True
    else:
        raise EffconvError(f"unknown kernel region {region!r}; use one of {REGIONS}.")
    return ~mask if region in ("corners", "top_left") else mask


def standardised(matrix) -> np.ndarray:
    """A kxk map of magnitudes (odd k >= 3; a DataFrame, an array or nested lists) divided by its own mean.

    Dividing by the mean, not z-scoring: a flat map has no spread to divide by, and a nearly flat one
    would have its noise blown up. Magnitudes are non-negative and not all zero."""
    values = np.asarray(matrix, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] != values.shape[1] or values.shape[0] < 3 or values.shape[0] % 2 == 0:
        raise EffconvError(f"an importance map must be a square kxk matrix with odd k >= 3 (a 3x3 kernel's), got "
                           f"shape {values.shape}; pass one model's map, e.g. the stored 'acnet.importance' matrix.")
    if not np.all(np.isfinite(values)) or np.any(values < 0) or not values.any():
        raise EffconvError("an importance map holds magnitudes: finite, non-negative and not all zero; pass "
                           "sums of |w| per kernel position (or a positive rescaling of them), not signed weights.")
    return values / values.mean()


def region_contrast(matrix, region: str, against: str) -> float:
    """Mean of ``region`` minus mean of ``against`` on the ``standardised`` map: 0 for a flat map, positive
    when ``region`` carries more of the model's magnitude, negative when less."""
    values = standardised(matrix)
    k = values.shape[0]
    return float(values[region_mask(region, k)].mean() - values[region_mask(against, k)].mean())


def contrasts_by_seed(matrices: Mapping[Hashable, object], region: str, against: str) -> dict[Hashable, float]:
    """``region_contrast`` of each seed's map (seed -> map; a map of None, a run not made, is left out), ready
    for ``grade_effect`` (two models, paired by seed) or ``grade_change`` (initialised against trained)."""
    return {seed: region_contrast(matrix, region, against) for seed, matrix in matrices.items() if matrix is not None}
