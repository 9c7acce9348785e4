"""Chapter 5, Versatile filters: the chapter's study module (``effconv.studies.versatile``).

What the chapter computes lives in one module per idea; the names the notebook calls stay reachable here:

- ``versatile_costs``: parameters, memory and FLOPs in the papers' conventions (``complexity``,
  ``imagenet_complexity``, ``cifar_vgg16_complexity``, ``layer_cost_table``, ``memory_offsets``);
- ``versatile_checks``: the live checks (crop form = mask form, channel windows, the orthogonal loss,
  layer timing, how far learned masks can move);
- ``versatile_report``: stored runs -> tables and figures; ``versatile_claims``: the ledger.
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt

from effconv.ops.versatile import concentric_masks, num_secondary
from effconv.studies.paper import paper_value  # noqa: F401  (the notebook reads published values here)
from effconv.studies.versatile_checks import (  # noqa: F401  (the notebook's names)
    CHANNEL_CASES, SPATIAL_CASES, channel_check_table, latency_table, mask_drift_bound, mask_form,
    ortho_gradient_check, ortho_minimum, spatial_check_table)
from effconv.studies.versatile_costs import (  # noqa: F401  (the notebook's names)
    BYTES_PER_PARAM, CHAPTER, CIFAR_VARIANTS, IMAGENET_MODELS, MB, build_imagenet_model, cifar_vgg16_complexity,
    complexity, imagenet_complexity, layer_cost_table, memory_offsets, vgg_fc6_as_conv)


def plot_concentric_masks(sizes: Sequence[int] = (3, 5, 7)) -> plt.Figure:
    """The concentric masks of each kernel size: one row per ``d``, one panel per secondary filter."""
    cols = max(num_secondary(d) for d in sizes)
    fig, axes = plt.subplots(len(sizes), cols, figsize=(1.6 * cols + 0.6, 1.6 * len(sizes)), squeeze=False)
    for r, d in enumerate(sizes):
        masks = concentric_masks(d)
        for i in range(cols):
            ax = axes[r][i]
            ax.set_xticks([])
            ax.set_yticks([])
            if i >= masks.shape[0]:
                ax.axis("off")
                continue
            ax.imshow(masks[i].numpy(), cmap="Greys", vmin=0, vmax=1.4)
            ax.set_xticks([x - 0.5 for x in range(1, d)], minor=True)
            ax.set_yticks([x - 0.5 for x in range(1, d)], minor=True)
            ax.grid(which="minor", color="white", linewidth=0.8)
            ax.tick_params(which="minor", length=0)
            ax.set_title(f"d={d}, i={i + 1}: {d - 2 * i}x{d - 2 * i}", fontsize=8)
    fig.suptitle("Concentric masks: secondary i keeps the centre (d - 2(i-1)) x (d - 2(i-1)) window", fontsize=9)
    fig.tight_layout()
    return fig


def ledger(profile: str = "best"):
    """The chapter's committed claims, graded by ``effconv.claims.rules`` (see ``versatile_claims``)."""
    from effconv.studies.versatile_claims import ledger as build

    return build(profile)
