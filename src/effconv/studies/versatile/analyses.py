"""Chapter 5 (versatile filters): what each run stores from its trained weights, registered by name.

Every run stores its counted complexity; the learnable-mask runs also record mask statistics at each
epoch's end. The baseline is chapter 4's VGG-16 run, so its rank sweeps are registered here too.
"""

from __future__ import annotations

from typing import Any

from torch import nn

import effconv.studies.dac.analyses  # noqa: F401  (registers the shared baseline's rank sweeps)
from effconv.experiments import AnalysisContext, register_analysis
from effconv.ops.versatile_masks import mask_statistics
from effconv.studies.versatile.costs import complexity


@register_analysis("versatile.complexity")
def trained_complexity(model: nn.Module, ctx: AnalysisContext) -> dict[str, float]:
    """Parameters, memory and multiply-adds (paper convention and as executed) of the trained model."""
    return complexity(model, (3, 32, 32))


@register_analysis("versatile.masks")
def masks(model: nn.Module, ctx: AnalysisContext) -> dict[str, Any]:
    """Density and diversity of the learned masks (cheap: no forward pass)."""
    return mask_statistics(model)
