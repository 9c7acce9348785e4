"""Chapter 2, ShuffleNet V1: the complexity tables, counted.

Table 1 (stage widths and the complexity row, with and without the final FC), the authors' released
models, Table 2's complexity headers for the scaled models, the CIFAR-form models we train,
torchvision's ShuffleNet V2 against its weights' metadata, the theoretical speedup over AlexNet, and the
published accuracy tables the CIFAR analogues are set beside.
"""

from __future__ import annotations

import itertools
from typing import Iterable, Sequence

import pandas as pd
import torch
from torch import nn

from effconv.analysis.flops import count_flops
from effconv.claims import combine, grade_count
from effconv.models.shufflenet_v1 import shufflenet_v1
from effconv.studies.shufflenet.costs import SCALE_LABELS, cifar_cost, meta_build, paper_number, shufflenet_cost
from effconv.studies.shufflenet.plan import GROUPS
from effconv.studies.shufflenet.widths import REFERENCE_GROUPS

def table1_channels() -> pd.DataFrame:
    """Stage 2/3/4 output channels of our models (measured from a forward pass) next to Table 1's."""
    rows = []
    for g in GROUPS:
        measured = _stage_outputs(meta_build(shufflenet_v1, groups=g), 224)
        for stage, ours in zip((2, 3, 4), measured):
            paper = int(paper_number(f"table1_c{stage}_g{g}"))
            rows.append({"g": g, "stage": stage, "paper": paper, "ours": ours, "match": paper == ours})
    return pd.DataFrame(rows)


def table1_complexity() -> pd.DataFrame:
    """Table 1's complexity row (MFLOPs at 224, 1x) against our count with and without the final FC.

    The paper's row is matched (within its integer rounding) only when the FC layer is left out:
    with it, g = 2, 4 and 8 come out 0.8-1.5 MFLOPs too high.
    """
    rows = []
    for g in GROUPS:
        cost = shufflenet_cost(g)
        with_fc, without_fc, params = cost.mflops, cost.mflops_without_fc, cost.params
        paper = paper_number(f"table1_mflops_g{g}")
        rows.append({
            "g": g, "paper_mflops": paper,
            "ours_without_fc": round(without_fc, 2), "ours_with_fc": round(with_fc, 2),
            "delta_without_fc": round(without_fc - paper, 2), "delta_with_fc": round(with_fc - paper, 2),
            "match_without_fc": grade_count(without_fc, paper, decimals=0).verdict == "reproduced",
            "match_with_fc": grade_count(with_fc, paper, decimals=0).verdict == "reproduced",
            "independent_count_without_fc": paper_number(f"count_nofc_mflops_g{g}"),
            "params": params,
        })
    return pd.DataFrame(rows)


def repo_table() -> pd.DataFrame:
    """The authors' released ShuffleNet V1 models (g = 3, 8; 0.5x-2.0x) against our counts at 224.

    ``ours_params`` has an FC bias (our models); ``ours_params_no_fc_bias`` is the same model counted
    without it, which is how the authors' code builds the classifier. Matches use the README's rounding
    (whole MFLOPs, 0.1 M params).
    """
    rows = []
    for scale, g in itertools.product((2.0, 1.5, 1.0, 0.5), (3, 8)):
        label = SCALE_LABELS[scale]
        cost = shufflenet_cost(g, scale)
        with_fc, params = cost.mflops, cost.params
        no_bias = params - cost.fc_bias
        repo_mflops = paper_number(f"repo_mflops_{label}_g{g}")
        repo_mparams = paper_number(f"repo_mparams_{label}_g{g}")
        rows.append({
            "model": f"{label} g={g}", "stem": cost.widths[0], "channels": "/".join(map(str, cost.widths[1:])),
            "repo_mflops": repo_mflops, "ours_mflops": round(with_fc, 2),
            "delta_mflops": round(with_fc - repo_mflops, 2),
            "mflops_match": grade_count(with_fc, repo_mflops, decimals=0).verdict == "reproduced",
            "repo_mparams": repo_mparams, "ours_params": params, "ours_params_no_fc_bias": no_bias,
            "params_match": round(params / 1e6, 1) == repo_mparams,
            "params_match_no_fc_bias": round(no_bias / 1e6, 1) == repo_mparams,
        })
    return pd.DataFrame(rows)


def scaled_complexity(scales: Sequence[float] = (1.0, 0.5, 0.25)) -> pd.DataFrame:
    """Our counts (with FC) for every g at each scale, against Table 2's approximate complexity headers."""
    rows = []
    for scale in scales:
        paper = paper_number(f"table2_mflops_{SCALE_LABELS[scale]}")
        for g in GROUPS:
            cost = shufflenet_cost(g, scale)
            with_fc, without_fc, params = cost.mflops, cost.mflops_without_fc, cost.params
            rows.append({
                "scale": SCALE_LABELS[scale], "g": g, "stem": cost.widths[0],
                "channels": "/".join(map(str, cost.widths[1:])), "paper_mflops": paper,
                "ours_with_fc": round(with_fc, 2), "ours_without_fc": round(without_fc, 2),
                "delta_%": round(100 * (with_fc - paper) / paper, 1), "params": params,
            })
    return pd.DataFrame(rows)


def cifar_complexity(scales: Sequence[float] = (0.25, 0.5, 1.0), groups: Iterable[int] = GROUPS) -> pd.DataFrame:
    """Counted cost of the CIFAR-form models per width and g, with Table 1's widths and with the
    FLOP-matched widths we train, each as a difference (%) from the g = 3 model of the same width.

    The stem and the ``4 g`` rounding of narrow widths (see ``stage_channels`` and ``stem_channels``)
    loosen Table 1's match at 0.25x; the matched widths restore it (``shufflenet_widths``).
    """
    rows = []
    groups = tuple(groups)
    for scale in scales:
        reference = cifar_cost(REFERENCE_GROUPS, scale)[0]
        for g in groups:
            table1, _, table1_widths = cifar_cost(g, scale, matched=False)
            mflops, params, widths = cifar_cost(g, scale)
            rows.append({"width": SCALE_LABELS.get(scale, f"{scale:g}x"), "scale": scale, "g": g, "stem": widths[0],
                         "table1_channels": "/".join(map(str, table1_widths[1:])),
                         "table1_vs_g3_%": round(100 * (table1 - reference) / reference, 1),
                         "channels": "/".join(map(str, widths[1:])), "mflops_32": round(mflops, 3),
                         "mflops_vs_g3_%": round(100 * (mflops - reference) / reference, 1), "params": params})
    return pd.DataFrame(rows)


TORCHVISION_V2 = {"x0_5": "0.5x", "x1_0": "1.0x", "x1_5": "1.5x", "x2_0": "2.0x"}  # builder suffix -> width


def torchvision_v2_table() -> pd.DataFrame:
    """torchvision's ShuffleNet V2 builders counted by us against their weights' published metadata.

    ``verdict`` is the book's counted rule on both numbers (parameters exactly, GMACs at the metadata's three
    decimals), the one value the table, the prose and the ledger all show. The GMACs are graded as counted,
    unrounded: rounding them to four places first would let 0.040476 become 0.0405 and then 0.041.
    """
    import torchvision.models as tvm

    rows = []
    for suffix, width in TORCHVISION_V2.items():
        weights = getattr(tvm, f"ShuffleNet_V2_{suffix.upper()}_Weights").IMAGENET1K_V1
        model = meta_build(getattr(tvm, f"shufflenet_v2_{suffix}"), weights=None)  # architecture only, no download
        count = count_flops(model, 224)
        meta_gflops = float(weights.meta["_ops"])
        grades = [grade_count(count.params, weights.meta["num_params"]), grade_count(count.gmacs, meta_gflops,
                                                                                     decimals=3)]
        rows.append({
            "model": f"ShuffleNet V2 {width}",
            "meta_params": weights.meta["num_params"], "ours_params": count.params,
            "meta_gflops": meta_gflops, "ours_gmacs": count.gmacs, "verdict": combine(grades),
        })
    return pd.DataFrame(rows)


def alexnet_speedup(scale: float = 0.5) -> pd.DataFrame:
    """Theoretical speedup of ShuffleNet ``scale`` x over AlexNet: the ratio of counted multiply-adds.

    AlexNet is torchvision's single-tower variant (counted at 224), close to but not the paper's
    two-GPU original; the paper quotes 18x theoretical (13x measured on ARM) for 0.5x, the specification
    "about 10x the speed". ``speedup`` is kept unrounded: the claim is graded on it, not on a rounded copy.
    """
    import torchvision.models as tvm

    alexnet = count_flops(meta_build(tvm.alexnet, weights=None), 224).macs / 1e6
    rows = []
    for g in GROUPS:
        cost = shufflenet_cost(g, scale)
        rows.append({"g": g, "scale": SCALE_LABELS.get(scale, scale), "alexnet_mflops": round(alexnet, 1),
                     "shufflenet_mflops": round(cost.mflops, 2), "speedup": alexnet / cost.mflops,
                     "paper_theoretical": paper_number("alexnet_speedup_theoretical"),
                     "paper_measured_arm": paper_number("alexnet_speedup_measured")})
    return pd.DataFrame(rows)


def paper_table2() -> pd.DataFrame:
    """Table 2: ImageNet top-1 error (%) by scale (rows) and g (columns)."""
    return pd.DataFrame({f"g={g}": [paper_number(f"table2_err_{s}_g{g}") for s in ("1.0x", "0.5x", "0.25x")]
                         for g in GROUPS}, index=["1.0x", "0.5x", "0.25x"])


def paper_table3() -> pd.DataFrame:
    """Table 3: ImageNet top-1 error (%) without and with channel shuffle."""
    rows = []
    for scale, g in itertools.product(("1.0x", "0.5x", "0.25x"), (3, 8)):
        without, with_ = paper_number(f"table3_err_{scale}_g{g}_noshuffle"), paper_number(f"table3_err_{scale}_g{g}_shuffle")
        rows.append({"model": f"ShuffleNet {scale} g={g}", "without_shuffle": without, "with_shuffle": with_,
                     "gain": round(without - with_, 1)})
    return pd.DataFrame(rows)


def _stage_outputs(model: nn.Module, input_size: int) -> list[int]:
    """Output channels of each stage, read from a forward pass."""
    widths: list[int] = []
    hooks = [stage.register_forward_hook(lambda mod, inp, out: widths.append(out.shape[1]))
             for stage in model.stages]
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, 3, input_size, input_size, device=_device_of(model)))
    finally:
        for hook in hooks:
            hook.remove()
    return widths


def _device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device
