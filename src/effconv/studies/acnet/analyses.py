"""Chapter 3 (ACNet): the analyses each run does on its trained weights, registered by name for the runner.

The fusion check, accuracy on rotated and flipped test sets and, for the skeleton model, the
kernel-importance matrix and the position-wise pruning curves; each result stores what they return.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from torch import nn

from effconv.analysis.flops import count_flops
from effconv.data.cifar import subset
from effconv.experiments import AnalysisContext, register_analysis
from effconv.ops import reparameterize_model
from effconv.studies.acnet import probes
from effconv.studies.acnet.plan import PRUNING_TEST_IMAGES


def _test_batch(ctx: AnalysisContext, count: int = 256) -> torch.Tensor:
    images = torch.from_numpy(ctx.data.test_x[:count]).permute(0, 3, 1, 2).float().div(255)
    mean = torch.tensor(ctx.data.mean).view(1, 3, 1, 1)
    std = torch.tensor(ctx.data.std).view(1, 3, 1, 1)
    return ((images - mean) / std).to(ctx.device)


@register_analysis("acnet.fusion")
def fusion_analysis(model: nn.Module, ctx: AnalysisContext) -> dict[str, Any]:
    """Fold BN and branches of the trained model; compare outputs, parameters, MACs and test accuracy.

    The outputs and the two ``_exact`` accuracies are computed in fp32 with TF32 off on any device: under
    bf16 autocast about 1% of predictions flip between two equal models, so only fp32 can show that the fold
    changes nothing. ``test_acc_fused`` is the fused model at the run's own evaluation precision."""
    trained = copy.deepcopy(model).float().eval()
    fused = reparameterize_model(copy.deepcopy(trained))
    batch = _test_batch(ctx)
    with torch.no_grad(), ctx.exact():
        reference, folded = trained(batch), fused(batch)
    unfused_count, fused_count = count_flops(trained, (3, 32, 32)), count_flops(fused, (3, 32, 32))
    return {
        "max_abs_error": float((folded - reference).abs().max()),
        "max_rel_error": float((folded - reference).abs().max() / reference.abs().max()),
        "params_unfused": unfused_count.params, "params_fused": fused_count.params,
        "macs_unfused": unfused_count.macs, "macs_fused": fused_count.macs,
        "test_acc_fused": ctx.evaluate(fused),
        "test_acc_unfused_exact": ctx.evaluate(trained, exact=True),
        "test_acc_fused_exact": ctx.evaluate(fused, exact=True),
    }


@register_analysis("acnet.rotation")
def rotation_analysis(model: nn.Module, ctx: AnalysisContext) -> dict[str, float]:
    """Test accuracy on the original, 90-degree counter-clockwise, 180-degree and up-down flipped images."""
    nchw = torch.from_numpy(ctx.data.test_x).permute(0, 3, 1, 2)

    def evaluate_on(trained: nn.Module, transform) -> float:
        images = np.ascontiguousarray(transform(nchw).permute(0, 2, 3, 1).numpy())
        return ctx.evaluate(trained, images, ctx.data.test_y)

    return probes.rotation_robustness(model, evaluate_on)


@register_analysis("acnet.importance")
def importance_analysis(model: nn.Module, ctx: AnalysisContext) -> dict[str, Any]:
    """The average relative importance of each 3x3 position of the fused model (the paper's Fig. 6)."""
    importance = probes.kernel_importance(model)
    return {"matrix": importance.to_numpy().round(4).tolist(), **probes.importance_summary(importance)}


@register_analysis("acnet.pruning")
def pruning_analysis(model: nn.Module, ctx: AnalysisContext, *, regions: list[str], sparsities: list[float],
                     repeats: int) -> list[dict[str, Any]]:
    """Accuracy of the fused model with random weights zeroed in each region (the paper's Fig. 5)."""
    part = subset(ctx.data, None, PRUNING_TEST_IMAGES, seed=0)
    curve = probes.pruning_curve(model, lambda m: ctx.evaluate(m, part.test_x, part.test_y), sparsities,
                                regions=regions, repeats=repeats)
    return curve.round(5).to_dict(orient="records")
