"""Chapter 1, splitting and grouping convolutions: every table, plot and claim the chapter shows.

Nothing here trains. Costs are counted by ``count_flops`` on real layers and real networks (built on
the ``meta`` device, so counting an ImageNet model does no arithmetic); latencies are measured live
on whatever device the notebook runs on.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Callable, Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
import torch
import torchvision
from torch import nn

from effconv.analysis.flops import FlopCount, count_flops
from effconv.analysis.latency import measure_latency
from effconv.errors import EffconvError
from effconv.models.mobilenet_v1 import MobileNetV1
from effconv.models.xception import Xception
from effconv.ops.octconv import OctConv2d, octave_cost_ratio, split_octave
from effconv.ops.separable import AsymmetricPair, DepthwiseSeparableConv, FlattenedConv, grouped_conv
from effconv.studies.paper import PaperValue, paper_value

CHAPTER = "splitting"
OCTAVE_ALPHAS = (0.0, 0.125, 0.25, 0.5, 0.75, 0.875, 1.0)


def on_meta(build: Callable[[], nn.Module]) -> nn.Module:
    """Build a model on the meta device: shapes only, so counting is instant and allocates nothing."""
    with torch.device("meta"):
        return build()


# ---------------------------------------------------------------------------------------------
# 1. Cost formulas, checked on real layers
# ---------------------------------------------------------------------------------------------

def _count(layer: nn.Module, channels: int, size: int) -> FlopCount:
    return count_flops(layer, (channels, size, size))


def formula_table(channels: int = 256, size: int = 28, kernel: int = 3, groups: Sequence[int] = (2, 4, 8, 32),
                  asym_kernel: int = 7) -> pd.DataFrame:
    """Each split design against the dense conv it replaces: counted ratio next to its closed form.

    All layers map ``channels`` to ``channels`` at stride 1 without bias, so the formulas are exact.
    """
    c, k = channels, kernel
    dense = _count(on_meta(lambda: nn.Conv2d(c, c, k, padding=k // 2, bias=False)), c, size)
    designs = [
        ("flattened (lateral 1x1, kx1, 1xk)", f"(X+Y+C)/(XYC), X=Y={k}, C={c}", (k + k + c) / (k * k * c),
         lambda: FlattenedConv(c, c, k), dense),
        ("depthwise separable", f"1/N + 1/Dk^2, N={c}, Dk={k}", 1 / c + 1 / k**2,
         lambda: DepthwiseSeparableConv(c, c, k, bias=False), dense),
    ]
    designs += [(f"grouped, g={g}", f"1/g, g={g}", 1 / g, (lambda g=g: grouped_conv(c, c, k, g)), dense)
                for g in groups]
    dense_n = _count(on_meta(lambda: nn.Conv2d(c, c, asym_kernel, padding=asym_kernel // 2, bias=False)), c, size)
    designs.append((f"1x{asym_kernel} + {asym_kernel}x1 pair", f"2/n, n={asym_kernel}", 2 / asym_kernel,
                    lambda: AsymmetricPair(c, c, asym_kernel, bias=False), dense_n))
    rows = []
    for name, formula, value, build, base in designs:
        got = _count(on_meta(build), c, size)
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


def separable_ratio_points(ns: Sequence[int] = (8, 16, 32, 64, 128, 256, 512, 1024),
                           kernels: Sequence[int] = (3, 5), in_channels: int = 64, size: int = 14) -> pd.DataFrame:
    """Counted cost of depthwise separable / dense conv for N outputs, beside 1/N + 1/Dk^2."""
    rows = []
    for k in kernels:
        for n in ns:
            dense = _count(on_meta(lambda: nn.Conv2d(in_channels, n, k, padding=k // 2, bias=False)), in_channels, size)
            split = _count(on_meta(lambda: DepthwiseSeparableConv(in_channels, n, k, bias=False)), in_channels, size)
            rows.append({"N": n, "kernel": f"{k}x{k}", "counted": split.macs / dense.macs, "formula": 1 / n + 1 / k**2})
    return pd.DataFrame(rows)


def plot_separable_ratio(points: pd.DataFrame) -> plt.Figure:
    """The curve 1/N + 1/Dk^2 with the counted layers on top (log-log)."""
    curve = []
    for kernel in points["kernel"].unique():
        k = int(kernel.split("x")[0])
        for n in [2 ** (e / 8) for e in range(int(8 * math.log2(points["N"].min())), 8 * 10 + 1)]:
            curve.append({"N": n, "kernel": kernel, "ratio": 1 / n + 1 / k**2})
    fig, ax = plt.subplots(figsize=(6, 3.8))
    sns.lineplot(data=pd.DataFrame(curve), x="N", y="ratio", hue="kernel", ax=ax, legend=False)
    sns.scatterplot(data=points, x="N", y="counted", hue="kernel", ax=ax, s=40, zorder=3)
    for kernel in points["kernel"].unique():
        k = int(kernel.split("x")[0])
        ax.axhline(1 / k**2, ls=":", lw=1, color="grey")
    ax.set(xscale="log", yscale="log", xlabel="output channels N",
           ylabel="separable / dense mult-adds",
           title="Depthwise separable cost: counted points on 1/N + 1/Dk^2")
    ax.legend(title="kernel (dots: counted)")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# 2. Octave convolution
# ---------------------------------------------------------------------------------------------

class _OctaveProbe(nn.Module):
    """Feeds one OctConv2d layer a ``(high, low)`` pair cut from a plain tensor, for counting."""

    def __init__(self, layer: OctConv2d, alpha: float):
        super().__init__()
        self.layer, self.alpha = layer, alpha

    def forward(self, x):
        return self.layer(split_octave(x, self.alpha))


def octave_table(channels: int = 256, size: int = 56, kernel: int = 3) -> pd.DataFrame:
    """Counted mult-adds of an octave conv (alpha_in = alpha_out = alpha) over a plain conv.

    ``channels`` is 256 so that every alpha in the paper's table splits it into whole channels
    (0.125 * 256 = 32), and ``size`` is even so the low-frequency maps are exactly half size.
    """
    plain = _count(on_meta(lambda: nn.Conv2d(channels, channels, kernel, padding=kernel // 2, bias=False)),
                   channels, size)
    rows = []
    for alpha in OCTAVE_ALPHAS:
        layer = on_meta(lambda: _OctaveProbe(OctConv2d(channels, channels, kernel, alpha, alpha), alpha))
        got = _count(layer, channels, size)
        key = "octconv_cost_alpha_" + f"{alpha:g}".replace(".", "")
        rows.append({
            "alpha": alpha, "low_channels": int(alpha * channels), "macs": got.macs, "params": got.params,
            "counted_%": 100 * got.macs / plain.macs, "closed_form_%": 100 * octave_cost_ratio(alpha),
            "paper_%": paper_value(CHAPTER, key).value, "key": key,
        })
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# 3. MobileNet v1
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Variant:
    """One row of the MobileNet tables: width multiplier, input size, separable or dense."""

    label: str
    width: float
    size: int
    separable: bool
    key: str  # prefix of its paper values


MOBILENET_VARIANTS = (
    Variant("1.0 MobileNet-224", 1.0, 224, True, "mobilenet"),
    Variant("0.75 MobileNet-224", 0.75, 224, True, "mobilenet_075"),
    Variant("0.5 MobileNet-224", 0.5, 224, True, "mobilenet_050"),
    Variant("0.25 MobileNet-224", 0.25, 224, True, "mobilenet_025"),
    Variant("1.0 MobileNet-192", 1.0, 192, True, "mobilenet_res192"),
    Variant("1.0 MobileNet-160", 1.0, 160, True, "mobilenet_res160"),
    Variant("1.0 MobileNet-128", 1.0, 128, True, "mobilenet_res128"),
    Variant("0.5 MobileNet-160", 0.5, 160, True, "mobilenet_050_160"),
    Variant("Conv MobileNet-224", 1.0, 224, False, "conv_mobilenet"),
)


def _maybe(key: str) -> PaperValue | None:
    try:
        return paper_value(CHAPTER, key)
    except EffconvError:  # this variant has no published value of that kind
        return None


def conv_weights(model: nn.Module) -> int:
    """Number of conv and FC weights (no biases, no BN): the parameters MobileNet's tables count."""
    return sum(m.weight.numel() for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))


def mobilenet_table() -> pd.DataFrame:
    """Counted mult-adds and params of each MobileNet variant next to the paper's columns.

    ``ours_Mweights`` counts conv/FC weights only, the convention of the paper's Table 2 (its
    params columns round the same way); ``ours_Mparams`` adds BN scale/shift and the FC bias.
    """
    rows = []
    for v in MOBILENET_VARIANTS:
        model = on_meta(lambda: MobileNetV1(width=v.width, separable=v.separable))
        got = count_flops(model, v.size)
        macs, params, top1 = _maybe(f"{v.key}_macs"), _maybe(f"{v.key}_params"), _maybe(f"{v.key}_top1")
        rows.append({
            "model": v.label, "ours_Mmacs": got.macs / 1e6, "paper_Mmacs": macs.value if macs else None,
            "ours_Mweights": conv_weights(model) / 1e6, "ours_Mparams": got.params / 1e6,
            "paper_Mparams": params.value if params else None,
            "paper_top1_%": top1.value if top1 else None, "key": v.key,
            "tag": macs.tag if macs else "",
        })
    return pd.DataFrame(rows)


# kinds in count_flops' per-layer table -> the row names of MobileNet's Table 2
TABLE2_ROWS = {"conv 1x1": "conv1x1", "depthwise 3x3": "depthwise", "conv 3x3": "conv3x3", "linear": "fc"}


def weight_shares(model: nn.Module, count: FlopCount) -> pd.DataFrame:
    """Share of mult-adds and of *weights* per layer kind (biases and BN left out, as Table 2 does)."""
    table = count.by_layer[count.by_layer["macs"] > 0].copy()
    table["weights"] = [model.get_submodule(name).weight.numel() for name in table["name"]]
    grouped = table.groupby("kind")[["macs", "weights"]].sum()
    return pd.DataFrame({
        "macs_%": 100 * grouped["macs"] / grouped["macs"].sum(),
        "weights_%": 100 * grouped["weights"] / grouped["weights"].sum(),
    }).sort_values("macs_%", ascending=False)


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


# ---------------------------------------------------------------------------------------------
# 4. The reference networks: VGG-16, AlexNet, SqueezeNet, Xception, Inception V3
# ---------------------------------------------------------------------------------------------

def alexnet_two_tower(num_classes: int = 1000) -> nn.Sequential:
    """Krizhevsky et al.'s AlexNet as trained on two GPUs, written as grouped convolutions.

    Conv2, conv4 and conv5 only see the half of the channels on their own GPU (``groups=2``);
    conv1, conv3 and the FC layers see everything. Its 227x227 input makes the sizes work out
    (55, 27, 13, 6). torchvision's ``alexnet`` is the later one-GPU variant (64/192/384/256/256
    channels, no groups).
    """
    return nn.Sequential(
        nn.Conv2d(3, 96, 11, 4), nn.ReLU(), nn.LocalResponseNorm(5), nn.MaxPool2d(3, 2),
        nn.Conv2d(96, 256, 5, padding=2, groups=2), nn.ReLU(), nn.LocalResponseNorm(5), nn.MaxPool2d(3, 2),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, 3, padding=1, groups=2), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1, groups=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Flatten(), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(), nn.Linear(4096, 4096), nn.ReLU(),
        nn.Linear(4096, num_classes),
    )


def _tv(name: str, **kwargs) -> Callable[[], nn.Module]:
    return lambda: torchvision.models.get_model(name, weights=None, **kwargs)


def reference_counts() -> dict[str, FlopCount]:
    """Counted cost of every network the chapter compares, keyed by a short name."""
    builds = {
        "mobilenet_v1": (MobileNetV1, 224),
        "vgg16": (_tv("vgg16"), 224),
        "vgg16_features": (lambda: torchvision.models.vgg16(weights=None).features, 224),
        "alexnet_torchvision": (_tv("alexnet"), 224),
        "alexnet_two_tower": (alexnet_two_tower, 227),
        "squeezenet1_0_224": (_tv("squeezenet1_0"), 224),
        "squeezenet1_0_227": (_tv("squeezenet1_0"), 227),
        "xception": (Xception, 299),
        "inception_v3": (_tv("inception_v3", aux_logits=False, init_weights=False), 299),
    }
    return {name: count_flops(on_meta(build), size) for name, (build, size) in builds.items()}


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
        macs, params = _maybe(f"{key}_macs"), _maybe(f"{key}_params")
        scale = 1e6 if params is not None and params.unit.startswith("M") else 1
        rows.append({
            "model": label, "input": got.input_size[-1], "ours_Mmacs": got.macs / 1e6,
            "paper_Mmacs": macs.value if macs else None, "ours_params": got.params,
            "paper_params": params.value * scale if params else None,
        })
    return pd.DataFrame(rows)


def inception_v3_variants() -> pd.DataFrame:
    """Inception V3's parameter count under the conventions a paper might have used."""
    model = on_meta(_tv("inception_v3", aux_logits=True, init_weights=False))
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


def fire_table() -> pd.DataFrame:
    """Each SqueezeNet 1.0 Fire module against a dense 3x3 conv with the same input and output width."""
    model = on_meta(_tv("squeezenet1_0"))
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


# ---------------------------------------------------------------------------------------------
# 5. FLOPs are not latency
# ---------------------------------------------------------------------------------------------

def latency_layers(channels: int, groups: Sequence[int]) -> dict[str, nn.Module]:
    """Layers of one input/output shape: dense, grouped, depthwise separable (no BN, no bias)."""
    layers = {"dense": nn.Conv2d(channels, channels, 3, padding=1, bias=False)}
    for g in groups:
        layers[f"grouped g={g}"] = grouped_conv(channels, channels, 3, g)
    layers["depthwise separable"] = DepthwiseSeparableConv(channels, channels, 3, bias=False)
    return layers


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


def plot_latency(table: pd.DataFrame) -> plt.Figure:
    """Time ratio against FLOP ratio per layer and setting; the diagonal is 'time follows FLOPs'."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    sns.scatterplot(data=table[table["layer"] != "dense"], x="flop_ratio", y="time_ratio", hue="layer",
                    style="setting", s=60, ax=ax)
    lo = min(table["flop_ratio"].min(), table["time_ratio"].min()) * 0.8
    ax.plot([lo, 1.2], [lo, 1.2], ls="--", color="grey", lw=1, label="time = FLOPs")
    ax.axhline(1.0, ls=":", color="grey", lw=1)
    ax.set(xscale="log", yscale="log", xlabel="mult-adds / dense conv", ylabel="measured time / dense conv",
           title=f"FLOPs are not latency ({table['device'].iloc[0]})")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# 6. Claims (graded in ``splitting_claims``; exposed here as the chapter's interface)
# ---------------------------------------------------------------------------------------------

def ledger(profile: str = "best"):
    """The chapter's committed claims: every counted claim, graded by ``effconv.claims.rules``."""
    from effconv.studies.splitting_claims import ledger as build

    return build(profile)


def add_live(claims, latency: pd.DataFrame | None):
    """Append the live latency claims measured on this machine (never written to the ledger)."""
    from effconv.studies.splitting_claims import add_live as build

    return build(claims, latency)
