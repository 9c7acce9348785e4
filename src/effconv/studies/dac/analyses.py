"""Chapter 4 (DAC): the rank sweeps each baseline run does on its trained weights, registered by name.

Single-layer, first-k / last-k and equal-FLOPs sweeps (each a test-set evaluation per point) and the
weight reconstruction errors; the result stores what they return.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from effconv.experiments import AnalysisContext, register_analysis
from effconv.studies.dac import decompose


def _records(frame) -> list[dict[str, Any]]:
    return frame.round(6).to_dict(orient="records")


@register_analysis("dac.single_layer")
def single_layer(model: nn.Module, ctx: AnalysisContext) -> list[dict[str, Any]]:
    """conv2d_i decomposed alone at ranks 1..5, test accuracy of the whole model."""
    return _records(decompose.single_layer_sweep(model, ctx.evaluate))


@register_analysis("dac.first_last")
def first_last(model: nn.Module, ctx: AnalysisContext) -> list[dict[str, Any]]:
    """The first k or the last k convs decomposed at one rank, k = 1..13."""
    return _records(decompose.first_last_sweep(model, ctx.evaluate))


@register_analysis("dac.equal_flops")
def equal_flops(model: nn.Module, ctx: AnalysisContext) -> list[dict[str, Any]]:
    """DAC against a plain per-layer channel SVD at equal (not larger) FLOPs."""
    return _records(decompose.equal_flops_sweep(model, ctx.evaluate))


@register_analysis("dac.reconstruction")
def reconstruction(model: nn.Module, ctx: AnalysisContext) -> list[dict[str, Any]]:
    """Relative weight reconstruction error of every layer at every rank (no evaluation)."""
    return _records(decompose.reconstruction_errors(model))
