"""Chapter 1, splitting and grouping convolutions: the tables the chapter shows.

Each table counts real layers (``costs``) and sets the formula or the published value beside the count;
``latency_table`` times the layers live on whatever device the notebook runs on.
"""

from __future__ import annotations

import statistics
from typing import Sequence

import pandas as pd
import torch
from torch import nn

from effconv.analysis.flops import FlopCount, count_flops
from effconv.analysis.latency import measure_latency
from effconv.models.mobilenet_v1 import MobileNetV1
from effconv.ops.octconv import OctConv2d, octave_cost_ratio
from effconv.ops.separable import AsymmetricPair, DepthwiseSeparableConv, FlattenedConv, grouped_conv
from effconv.studies.paper import paper_value
from effconv.studies.splitting.plan import CHAPTER
from effconv.studies.splitting.costs import (MOBILENET_VARIANTS, OCTAVE_ALPHAS, TABLE2_ROWS, OctaveProbe, conv_weights,
                                            count_layer, latency_layers, maybe_paper_value, on_meta,
                                            torchvision_builder, weight_shares)


def formula_table(channels: int = 256, size: int = 28, kernel: int = 3, groups: Sequence[int] = (2, 4, 8, 32),
                  asym_kernel: int = 7) -> pd.DataFrame:
    """Each split design against the dense conv it replaces: counted ratio next to its closed form.

    All layers map ``channels`` to ``channels`` at stride 1 without bias, so the formulas are exact.
    """
    c, k = channels, kernel
    dense = count_layer(on_meta(lambda: nn.Conv2d(c, c, k, padding=k // 2, bias=False)), c, size)
    designs = [
        ("flattened (lateral 1x1, kx1, 1xk)", f"(X+Y+C)/(XYC), X=Y={k}, C={c}", (k + k + c) / (k * k * c),
         lambda: FlattenedConv(c, c, k), dense),
        ("depthwise separable", f"1/N + 1/Dk^2, N={c}, Dk={k}", 1 / c + 1 / k**2,
         lambda: DepthwiseSeparableConv(c, c, k, bias=False), dense),
    ]
    designs += [(f"grouped, g={g}", f"1/g, g={g}", 1 / g, (lambda g=g: grouped_conv(c, c, k, g)), dense)
                for g in groups]
    dense_n = count_layer(on_meta(lambda: nn.Conv2d(c, c, asym_kernel, padding=asym_kernel // 2, bias=False)), c, size)
    designs.append((f"1x{asym_kernel} + {asym_kernel}x1 pair", f"2/n, n={asym_kernel}", 2 / asym_kernel,
                    lambda: AsymmetricPair(c, c, asym_kernel, bias=False), dense_n))
    rows = []
    for name, formula, value, build, base in designs:
        got = count_layer(on_meta(build), c, size)
        rows.append({
            "design": name, "macs": got.macs, "params": got.params,
            "dense_macs": base.macs, "dense_params": base.params,
            "macs_ratio": got.macs / base.macs, "params_ratio": got.params / base.params,
            "formula": formula, "formula_value": value,
        })
    table = pd.DataFrame(rows)
    table["exact"] = ((table["macs_ratio"] - table["formula_value"]).abs() < 1e-12) & (
        (table["params_ratio"] - table["formula_value"]).abs() < 1e-12)
    return table


def octave_table(channels: int = 256, size: int = 56, kernel: int = 3) -> pd.DataFrame:
    """Counted mult-adds of an octave conv (alpha_in = alpha_out = alpha) over a plain conv.

    ``channels`` is 256 so that every alpha in the paper's table splits it into whole channels
    (0.125 * 256 = 32), and ``size`` is even so the low-frequency maps are exactly half size.
    """
    plain = count_layer(on_meta(lambda: nn.Conv2d(channels, channels, kernel, padding=kernel // 2, bias=False)),
                   channels, size)
    rows = []
    for alpha in OCTAVE_ALPHAS:
        layer = on_meta(lambda: OctaveProbe(OctConv2d(channels, channels, kernel, alpha, alpha), alpha))
        got = count_layer(layer, channels, size)
        key = "octconv_cost_alpha_" + f"{alpha:g}".replace(".", "")
        rows.append({
            "alpha": alpha, "low_channels": int(alpha * channels), "macs": got.macs, "params": got.params,
            "counted_%": 100 * got.macs / plain.macs, "closed_form_%": 100 * octave_cost_ratio(alpha),
            "paper_%": paper_value(CHAPTER, key).value, "key": key,
        })
    return pd.DataFrame(rows)


def mobilenet_table() -> pd.DataFrame:
    """Counted mult-adds and params of each MobileNet variant next to the paper's columns.

    ``ours_Mweights`` counts conv/FC weights only, the convention of the paper's Table 2 (its
    params columns round the same way); ``ours_Mparams`` adds BN scale/shift and the FC bias.
    """
    rows = []
    for v in MOBILENET_VARIANTS:
        model = on_meta(lambda: MobileNetV1(width=v.width, separable=v.separable))
        got = count_flops(model, v.size)
        macs, params, top1 = maybe_paper_value(f"{v.key}_macs"), maybe_paper_value(f"{v.key}_params"), maybe_paper_value(f"{v.key}_top1")
        rows.append({
            "model": v.label, "ours_Mmacs": got.macs / 1e6, "paper_Mmacs": macs.value if macs else None,
            "ours_Mweights": conv_weights(model) / 1e6, "ours_Mparams": got.params / 1e6,
            "paper_Mparams": params.value if params else None,
            "paper_top1_%": top1.value if top1 else None, "key": v.key,
            "tag": macs.tag if macs else "",
        })
    return pd.DataFrame(rows)


def mobilenet_shares() -> pd.DataFrame:
    """MobileNet's Table 2 (resource per layer type), counted, beside the paper's percentages."""
    model = on_meta(MobileNetV1)
    shares = weight_shares(model, count_flops(model, 224))
    rows = []
    for kind, short in TABLE2_ROWS.items():
        macs = paper_value(CHAPTER, f"mobilenet_share_{short}_macs")
        params = paper_value(CHAPTER, f"mobilenet_share_{short}_params")
        rows.append({
            "layer type": kind, "ours_macs_%": shares.loc[kind, "macs_%"], "paper_macs_%": macs.value,
            "ours_params_%": shares.loc[kind, "weights_%"], "paper_params_%": params.value,
            "tag": macs.tag, "key": short,
        })
    table = pd.DataFrame(rows)
    total = {"layer type": "total", "ours_macs_%": table["ours_macs_%"].sum(), "paper_macs_%": table["paper_macs_%"].sum(),
             "ours_params_%": table["ours_params_%"].sum(), "paper_params_%": table["paper_params_%"].sum(),
             "tag": "derived", "key": "total"}
    return pd.concat([table, pd.DataFrame([total])], ignore_index=True)


def reference_table(counts: dict[str, FlopCount]) -> pd.DataFrame:
    """The reference networks' counted size and cost beside the published figures."""
    spec = [
        ("MobileNet v1 1.0 (ours)", "mobilenet_v1", "mobilenet"),
        ("VGG-16 (torchvision)", "vgg16", "vgg16"),
        ("AlexNet, one-GPU (torchvision)", "alexnet_torchvision", "alexnet"),
        ("AlexNet, two-tower grouped (ours)", "alexnet_two_tower", "alexnet"),
        ("SqueezeNet 1.0 (torchvision)", "squeezenet1_0_227", "squeezenet"),
        ("Xception (ours)", "xception", "xception"),
        ("Inception V3, no aux head (torchvision)", "inception_v3", "inception_v3"),
    ]
    rows = []
    for label, name, key in spec:
        got = counts[name]
        macs, params = maybe_paper_value(f"{key}_macs"), maybe_paper_value(f"{key}_params")
        scale = 1e6 if params is not None and params.unit.startswith("M") else 1
        rows.append({
            "model": label, "input": got.input_size[-1], "ours_Mmacs": got.macs / 1e6,
            "paper_Mmacs": macs.value if macs else None, "ours_params": got.params,
            "paper_params": params.value * scale if params else None,
        })
    return pd.DataFrame(rows)


def inception_v3_variants() -> pd.DataFrame:
    """Inception V3's parameter count under the conventions a paper might have used."""
    model = on_meta(torchvision_builder("inception_v3", aux_logits=True, init_weights=False))
    aux = sum(p.numel() for n, p in model.named_parameters() if n.startswith("AuxLogits"))
    bn_scale = sum(m.weight.numel() for n, m in model.named_modules()
                   if isinstance(m, nn.BatchNorm2d) and not n.startswith("AuxLogits"))
    with_aux = sum(p.numel() for p in model.parameters())
    main = with_aux - aux
    paper = int(paper_value(CHAPTER, "inception_v3_params").value)
    rows = [
        ("with aux head, BN scale + shift (torchvision aux_logits=True)", with_aux),
        ("no aux head, BN scale + shift (torchvision aux_logits=False)", main),
        ("no aux head, BN shift only (Keras/TF-slim: BN without scale)", main - bn_scale),
        ("no aux head, no BN parameters", main - 2 * bn_scale),
    ]
    return pd.DataFrame([{"convention": c, "params": n, "minus_paper": n - paper,
                          "rel_%": 100 * (n - paper) / paper} for c, n in rows])


def closest_convention(inception: pd.DataFrame) -> pd.Series:
    """The row of ``inception_v3_variants()`` whose count lies nearest the published figure."""
    return inception.loc[inception["minus_paper"].abs().idxmin()]


def conventions_above(inception: pd.DataFrame, params: int) -> int:
    """Under how many of ``inception_v3_variants()``'s conventions Inception V3 has more than ``params``."""
    return int((inception["params"] > params).sum())


def fire_table() -> pd.DataFrame:
    """Each SqueezeNet 1.0 Fire module against a dense 3x3 conv with the same input and output width."""
    model = on_meta(torchvision_builder("squeezenet1_0"))
    rows = []
    for name, module in model.features.named_children():
        if type(module).__name__ != "Fire":
            continue
        cin, squeeze = module.squeeze.in_channels, module.squeeze.out_channels
        cout = module.expand1x1.out_channels + module.expand3x3.out_channels
        fire = sum(p.numel() for p in module.parameters())
        dense = cin * cout * 9 + cout
        rows.append({"module": f"features.{name}", "in": cin, "squeeze": squeeze, "out": cout,
                     "fire_params": fire, "dense3x3_params": dense, "fewer_x": dense / fire})
    return pd.DataFrame(rows)


def latency_table(channels: int = 128, sizes: Sequence[int] = (28, 56), batches: Sequence[int] = (1, 8),
                  groups: Sequence[int] = (2, 4, 8, 16), *, device: str | None = None, warmup: int = 1,
                  repeats: int = 7, rounds: int = 3, threads: int | None = 1) -> pd.DataFrame:
    """Measured time of each layer beside its counted mult-adds, both relative to the dense conv.

    Each layer is timed ``rounds`` times ``repeats`` calls, the rounds interleaved across layers so
    that a burst of load on a shared machine hits every layer rather than one; the median and
    quartiles are taken over all its calls, and ``round_ratios`` keeps each round's median relative
    to the dense conv's in that round (the repeated measurement the live claims are graded on). ``device`` defaults to CUDA when available, else CPU.
    On a CPU one thread is the default: a multi-threaded conv waits for its slowest thread, which
    makes timings on a busy machine erratic.
    """
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    layers = latency_layers(channels, groups)
    cases = [(size, batch, name) for size in sizes for batch in batches for name in layers]
    times: dict[tuple, list[list[float]]] = {case: [] for case in cases}  # one list of calls per round
    device_name, used_threads = "", 0
    for _ in range(rounds):
        for size, batch, name in cases:
            timing = measure_latency(layers[name], (batch, channels, size, size), device=device,
                                     warmup=warmup, repeats=repeats, threads=threads)
            times[(size, batch, name)].append(list(timing.times_ms))
            device_name, used_threads = timing.device_name, timing.threads
    rows = []
    for size, batch, name in cases:
        calls = [t for round_times in times[(size, batch, name)] for t in round_times]
        q25, median, q75 = statistics.quantiles(calls, n=4, method="inclusive") if len(calls) > 1 else [calls[0]] * 3
        # each round's median against the dense conv's in the same round: the unit grade_timing repeats over
        ratios = tuple(statistics.median(mine) / statistics.median(dense) for mine, dense in
                       zip(times[(size, batch, name)], times[(size, batch, "dense")]))
        rows.append({"layer": name, "size": size, "batch": batch,
                     "macs_per_image": count_flops(layers[name], (channels, size, size)).macs,
                     "median_ms": median, "q25_ms": q25, "q75_ms": q75, "calls": len(calls),
                     "round_ratios": ratios, "device": device_name, "threads": used_threads})
    table = pd.DataFrame(rows)
    base = table[table["layer"] == "dense"].set_index(["size", "batch"])
    key = pd.MultiIndex.from_frame(table[["size", "batch"]])
    table["flop_ratio"] = table["macs_per_image"].to_numpy() / base.loc[key, "macs_per_image"].to_numpy()
    table["time_ratio"] = table["median_ms"].to_numpy() / base.loc[key, "median_ms"].to_numpy()
    table["setting"] = [f"{s}x{s}, batch {b}" for s, b in zip(table["size"], table["batch"])]
    return table


def latency_ratios(latency: pd.DataFrame) -> pd.DataFrame:
    """``latency_table``'s time ratios as one row per layer and one column per setting (in measured order)."""
    return latency.pivot_table(index="layer", columns="setting", values="time_ratio", sort=False)
