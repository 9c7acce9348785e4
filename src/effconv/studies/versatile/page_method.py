"""Chapter 5's Method sections as the page shows them: the live checks of the definitions, the counted and
timed cost of one layer, the orthogonal loss, and the ImageNet networks counted against the published sizes.

Nothing here trains or reads a stored run; ``add_method`` adds the tables, the mask figure and the numbers
the prose cites to a ``Page`` (``page.load`` assembles the rest).
"""

from __future__ import annotations

import pandas as pd

from effconv.claims.style import styled
from effconv.models import create_model
from effconv.ops.versatile import VersatileConv2d
from effconv.studies.page import Page
from effconv.studies.paper import paper_value
from effconv.studies.versatile import checks, costs, plots
from effconv.studies.versatile.plan import CHAPTER
from effconv.studies.versatile.tables import folded

MASK_SIZES = (3, 5, 7)  # the primaries the mask figure draws
VGG_LAYER = 6  # the VGG-16 conv the block diagram draws (counted from 1): a c -> c layer in the middle
SPATIAL_DIFFS = ["max |crop - mask form|", "max |crop - dense conv|"]
ORTHO_DIFFS = ["max |autograd - closed form|", "max |layer (STE) - closed form|"]
SPATIAL_CLAIM = "secondary filter i = centre crop"  # how the crop-form claim of the ledger starts
# the ImageNet columns the table shows (all but the first and last are sizes)
IMAGENET_SHOWN = ["model", "params_M", "params_official_M", "paper_params_M", "memory_MB", "paper_memory_MB",
                  "GFLOPs", "paper_GFLOPs", "note"]
V1, V2, FIT = "Versatile-v1 ResNet-50", "Versatile-v2 ResNet-50", "Versatile-v2 ResNet-50 (c_hat = 15c/16)"
R50_COUNTS = ("ResNet-50 parameters (M)", "ResNet-50 GFLOPs", "Versatile-v1 ResNet-50 GFLOPs")
LAYER_FORMATS = {"params": "{:,}", "params_official": "{:,}", "mask_bits": "{:,}", "macs": "{:,}",
                 "macs_executed": "{:,}", "expected FLOPs ratio": "{:.4f}", "params_official ratio": "{:.4f}",
                 "FLOPs ratio": "{:.4f}", "executed ratio": "{:.4f}"}


def add_method(page: Page, verdict: pd.Series, *, width: float, latency_repeats: int = 9) -> dict[str, float]:
    """Add the Method sections to ``page``; ``verdict`` is the ledger's verdict by claim, ``width`` the CIFAR
    VGG-16's width in the runs shown. Returns the orthogonal loss's optimum (``checks.ortho_minimum``), which
    the mask-curve figure marks."""
    page.figure("fig-versatile-block", plots.plot_versatile_block(block_layers(width)))
    page.figure("fig-versatile-masks", plots.plot_concentric_masks(MASK_SIZES))
    _definitions(page, verdict)
    _layer_costs(page)
    _latency(page, latency_repeats)
    optimum = _orthogonal_loss(page)
    _imagenet(page, verdict)
    return optimum


def block_layers(width: float) -> list[tuple[str, VersatileConv2d]]:
    """The two real layers the block diagram draws: the first layer of Versatile-v1 ResNet-50 (a 7x7 primary:
    four secondary filters) and a 3x3 layer of the chapter's CIFAR-10 VGG-16 v1 at ``width``."""
    stem = costs.build_imagenet_model("Versatile-v1 ResNet-50").conv1
    convs = [m for m in create_model("vgg16_cifar", width=width, conv="versatile_v1").modules()
             if isinstance(m, VersatileConv2d)]
    vgg = convs[VGG_LAYER - 1]
    return [(f"Versatile-v1 ResNet-50, first layer: {stem.in_channels} → {stem.out_channels} channels, "
             f"{stem.kernel_size}×{stem.kernel_size}, stride {stem.stride}", stem),
            (f"CIFAR-10 VGG-16 v1 at width {width:g}, layer {VGG_LAYER} of {len(convs)}: {vgg.in_channels} → "
             f"{vgg.out_channels} channels, {vgg.kernel_size}×{vgg.kernel_size}", vgg)]


def _definitions(page: Page, verdict: pd.Series) -> None:
    """Crop form against mask form, and the channel windows, checked live in float64."""
    spatial = checks.spatial_check_table()
    page.table("spatial", styled(spatial, formats={d: "{:.1e}" for d in SPATIAL_DIFFS},
                                 caption="Crop form vs mask form (live, float64)"))
    page.number("spatial_max_diff", f"{spatial[SPATIAL_DIFFS].to_numpy().max():.1e}")
    page.number("spatial_cases", str(len(spatial)))
    page.number("v_crop", verdict[next(c for c in verdict.index if c.startswith(SPATIAL_CLAIM))])

    channel = checks.channel_check_table()
    # in view: the layer's (c, c_hat, g) and the three checks (n, the storage ratio, the output); the windows,
    # shapes and counts fold under the channel windows
    page.table("channel", folded(
        channel, shown=["c", "c_hat", "g", "channel windows", "n = (c - c_hat)/g + 1", "n (layer)",
                        "official / standard", "1/(s n)", "max |layer - definition|"], into="channel windows",
        formats={"n = (c - c_hat)/g + 1": "{:g}", "official / standard": "{:.4f}", "1/(s n)": "{:.4f}",
                 "max |layer - definition|": "{:.1e}", "params": "{:,}", "params_official": "{:,}",
                 "standard": "{:,}"},
        names={"c_hat": "ĉ", "n = (c - c_hat)/g + 1": "n = (c − ĉ)/g + 1",
               "params_official": "params (official storage)", "max |layer - definition|": "max |layer − definition|"},
        summary="shapes and counts", caption="Channel versatile layers, 3x3 primaries, 48 outputs (live)"))
    n_ok = int((channel["n = (c - c_hat)/g + 1"] == channel["n (layer)"]).sum())
    page.number("channel_n_ok", f"{n_ok} of {len(channel)}")
    storage_ok = (channel["official / standard"] - channel["1/(s n)"]).abs() < 1e-12
    page.number("channel_storage_ok", f"{int(storage_ok.sum())} of {len(channel)}")


def _layer_costs(page: Page) -> None:
    """One 64 -> 64 layer in every form, counted: the FLOPs ratios and the mask bits the prose quotes."""
    layer = costs.layer_cost_table()
    # in view: what each form stores and computes against the standard layer; the raw counts fold under the layer
    page.table("layer_costs", folded(
        layer, shown=["layer", "params", "mask_bits", "params_official ratio", "FLOPs ratio", "executed ratio"],
        into="layer", formats=LAYER_FORMATS,
        names={"params_official": "params (official storage)", "macs_executed": "MACs executed",
               "params_official ratio": "official storage ratio"},
        caption="One 64 -> 64 3x3 layer at 32x32, counted"))
    row = layer.set_index("layer")
    page.number("v1_flops_ratio", f"{row.loc['versatile v1 (spatial)', 'FLOPs ratio']:.4f}")
    page.number("v2_flops_ratio", f"{row.loc['versatile v2, c_hat = c - 1, g = 1 (official)', 'FLOPs ratio']:.4f}")
    page.number("mask_bits_a", f"{row.loc['learned masks (a), at init', 'mask_bits']:,}")
    page.number("mask_bits_b", f"{row.loc['learned masks (b), at init', 'mask_bits']:,}")


def _latency(page: Page, repeats: int) -> None:
    """The same layer timed live on one CPU thread; the machine it ran on is where the page's timings come from."""
    latency = checks.latency_table(repeats=repeats)
    page.table("latency", styled(
        latency, formats={"paper FLOPs ratio": "{:.3f}", "median_ms": "{:.2f}", "iqr_ms": "{:.2f}",
                          "time ratio": "{:.2f}"}, names={"iqr_ms": "IQR (ms)"},
        caption="Live latency, one 64 -> 64 3x3 layer, 8x64x32x32 input"))
    ratio = latency["time ratio"]
    page.machine = latency["device"].iloc[0]
    page.number("lat_device", page.machine)
    # rows in latency_table's order: standard, crop form, mask form, learned masks
    page.number("lat_crop", f"{ratio.iloc[1]:.2f}")
    page.number("lat_mask", f"{ratio.iloc[2]:.2f}")
    page.number("lat_learned", f"{ratio.iloc[3]:.2f}")


def _orthogonal_loss(page: Page) -> dict[str, float]:
    """The closed-form gradient against autograd, and which pair of 3x3x1 masks the loss prefers."""
    ortho = checks.ortho_gradient_check()
    page.table("ortho", styled(
        ortho, formats={"max |closed form|": "{:.3g}", **{d: "{:.1e}" for d in ORTHO_DIFFS}},
        caption="Gradient of the orthogonal loss, closed form vs autograd (live, float64)"))
    page.number("ortho_max_diff", f"{ortho[ORTHO_DIFFS].to_numpy().max():.1e}")

    optimum = checks.ortho_minimum(kernel=3, channels=1)
    page.number("opt_pairs", f"{optimum['pairs']:,}")
    page.number("opt_min", f"{optimum['min_loss']:.4f}")
    page.number("opt_d1", f"{optimum['min_density_1']:.3f}")
    page.number("opt_d2", f"{optimum['min_density_2']:.3f}")
    page.number("opt_overlap", f"{optimum['min_overlap']:.3f}")
    page.number("opt_count", f"{optimum['minimisers']:,}")
    page.number("ring_loss", f"{optimum['concentric_loss']:.4f}")
    page.table("ortho_minimum", styled(checks.ortho_minimum_table(optimum), decimals=4,
                                       names={"L_ortho": "orthogonal loss"},
                                       caption="Orthogonal loss of two masks (s = 2)"))
    return optimum


def _imagenet(page: Page, verdict: pd.Series) -> None:
    """ResNet-50 and VGG-16 counted against the published sizes, the memory gap and the counts' verdicts."""
    imagenet = costs.imagenet_complexity()
    # in view: ours against the paper in the official storage; our own storage and the note on how each network
    # was built fold under its name
    page.table("imagenet", folded(
        imagenet[IMAGENET_SHOWN], shown=[c for c in IMAGENET_SHOWN if c not in ("params_M", "note")], into="model",
        formats={c: "{:.3f}" for c in IMAGENET_SHOWN[1:-1]},
        names={"params_official_M": "params, official storage (M)", "params_M": "params, our storage (M)"},
        summary="our storage and how it is built",
        caption="ImageNet networks at 224x224, counted; memory in the official storage "
                "(published values and their tags in the claims)"))
    offsets = costs.memory_offsets(imagenet)
    page.table("memory_offsets", styled(
        offsets, decimals=3, names={"delta_MB": "ours − paper (MB)", "delta_kparams": "ours − paper (k params)"},
        caption="Memory: ours above the published value"))

    by_model = imagenet.set_index("model")
    page.number("r50_v1_gflops", f"{by_model.loc[V1, 'GFLOPs']:.3f}")
    page.number("r50_v2_gflops", f"{by_model.loc[V2, 'GFLOPs']:.3f}")
    page.number("r50_fit_gflops", f"{by_model.loc[FIT, 'GFLOPs']:.3f}")
    page.number("r50_v2_params", f"{by_model.loc[V2, 'params_official_M']:.2f}")
    page.number("r50_v2_params_ours", f"{by_model.loc[V2, 'params_M']:.2f}")
    page.number("r50_fit_params_ours", f"{by_model.loc[FIT, 'params_M']:.2f}")
    page.number("vgg_v1_params_ratio",
                f"{by_model.loc['Versatile-v1 VGG-16', 'params_M'] / by_model.loc['VGG-16', 'params_M']:.3f}")
    page.number("vgg_v1_flops_ratio",
                f"{by_model.loc['Versatile-v1 VGG-16', 'GFLOPs'] / by_model.loc['VGG-16', 'GFLOPs']:.3f}")
    page.number("paper_v1_gflops", f"{paper_value(CHAPTER, 'coco_resnet50_v1_gflops').value:.1f}")
    page.number("paper_v2_gflops", f"{paper_value(CHAPTER, 'coco_resnet50_v2_gflops').value:.1f}")

    page.number("mem_offset_lo", f"{offsets['delta_MB'].min():.2f}")
    page.number("mem_offset_hi", f"{offsets['delta_MB'].max():.2f}")
    page.number("mem_offset_k_lo", f"{offsets['delta_kparams'].min():.0f}")
    page.number("mem_offset_k_hi", f"{offsets['delta_kparams'].max():.0f}")
    page.number("mem_side", "above" if offsets["delta_MB"].min() > 0 else "around")
    page.number("mem_ratio_gap", f"{100 * costs.memory_ratio_gap(offsets):.1f}")

    page.number("v_r50_counts", _verdict_list(verdict[list(R50_COUNTS)].tolist()))
    page.number("v_v2_gflops", verdict["Versatile-v2 ResNet-50 GFLOPs"])
    page.number("v_v2_params", verdict["Versatile-v2 ResNet-50 parameters (M)"])


def _verdict_list(verdicts: list[str]) -> str:
    """Several verdicts as prose: "all three reproduced" when they agree, else each in order."""
    if len(set(verdicts)) == 1:
        words = {2: "both", 3: "all three"}
        return f"{words.get(len(verdicts), f'all {len(verdicts)}')} {verdicts[0]}"
    return ", ".join(verdicts[:-1]) + f" and {verdicts[-1]} respectively"
