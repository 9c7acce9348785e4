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

from effconv.analysis.claims import ClaimsTable, numeric_verdict
from effconv.analysis.flops import FlopCount, count_flops
from effconv.analysis.latency import measure_latency
from effconv.errors import EffconvError
from effconv.models.mobilenet_v1 import MobileNetV1
from effconv.models.xception import Xception
from effconv.ops.octconv import OctConv2d, octave_cost_ratio, split_octave
from effconv.ops.separable import AsymmetricPair, DepthwiseSeparableConv, FlattenedConv, grouped_conv
from effconv.studies.paper import PaperValue, paper_table, paper_value

CHAPTER = "splitting"
OCTAVE_ALPHAS = (0.0, 0.125, 0.25, 0.5, 0.75, 0.875, 1.0)


def pv(key: str) -> PaperValue:
    return paper_value(CHAPTER, key)


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
            "paper_%": pv(key).value, "key": key,
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
        return pv(key)
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
        macs, params = pv(f"mobilenet_share_{short}_macs"), pv(f"mobilenet_share_{short}_params")
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
    paper = int(pv("inception_v3_params").value)
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
    quartiles are taken over all its calls. ``device`` defaults to CUDA when available, else CPU.
    On a CPU one thread is the default: a multi-threaded conv waits for its slowest thread, which
    makes timings on a busy machine erratic.
    """
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    layers = latency_layers(channels, groups)
    cases = [(size, batch, name) for size in sizes for batch in batches for name in layers]
    times: dict[tuple, list[float]] = {case: [] for case in cases}
    device_name, used_threads = "", 0
    for _ in range(rounds):
        for size, batch, name in cases:
            timing = measure_latency(layers[name], (batch, channels, size, size), device=device,
                                     warmup=warmup, repeats=repeats, threads=threads)
            times[(size, batch, name)].extend(timing.times_ms)
            device_name, used_threads = timing.device_name, timing.threads
    rows = []
    for size, batch, name in cases:
        q25, median, q75 = statistics.quantiles(times[(size, batch, name)], n=4, method="inclusive")
        rows.append({"layer": name, "size": size, "batch": batch,
                     "macs_per_image": count_flops(layers[name], (channels, size, size)).macs,
                     "median_ms": median, "q25_ms": q25, "q75_ms": q75, "calls": len(times[(size, batch, name)]),
                     "device": device_name, "threads": used_threads})
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
# 6. Claims
# ---------------------------------------------------------------------------------------------

def count_verdict(paper: float, ours: float, printed_half_unit: float) -> str:
    """Verdict for a counted number: ``reproduced`` when ours rounds to the printed figure or is
    within 0.5% (a paper rounding 290.7 down to 290), ``partly`` within 5%."""
    tolerance = max(printed_half_unit, 5e-3 * abs(paper))
    return numeric_verdict(paper, ours, tolerance=tolerance, partly=0.05 * abs(paper))


def printed_half_unit(key: str) -> float:
    """Half a unit in the last digit of the published figure as printed ("4.2" -> 0.05, "569" -> 0.5)."""
    text = paper_table(CHAPTER).loc[key, "value"]
    decimals = len(text.split(".", 1)[1]) if "." in text else 0
    return 0.5 * 10.0 ** -decimals


def _add_count(claims: ClaimsTable, claim: str, key: str, ours: float, *, evidence: str,
               half_unit: float | None = None) -> str:
    """A counted number against a published one; ``half_unit`` overrides the printed precision for
    figures the paper rounded to fewer significant digits than it prints (e.g. "15300" for 15.3G)."""
    ref = pv(key)
    verdict = count_verdict(ref.value, ours, printed_half_unit(key) if half_unit is None else half_unit)
    claims.add(claim, source=ref.cite, paper=_num(ref.value), ours=_num(ours), delta=_num(ours - ref.value),
               verdict=verdict, profile="count", evidence=evidence)
    return verdict


def _num(x: float) -> str:
    """Four significant digits, thousands separators, never scientific notation."""
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.4g}" if abs(x) >= 1e-3 or x == 0 else f"{x:.2e}"


def _not_run(claims: ClaimsTable, claim: str, key: str, why: str) -> None:
    ref = pv(key)
    claims.add(claim, source=ref.cite, paper=ref.value, ours="", verdict="not run", profile="count",
               evidence=why)


def build_claims(formulas: pd.DataFrame, octave: pd.DataFrame, mobilenet: pd.DataFrame, shares: pd.DataFrame,
                 counts: dict[str, FlopCount], inception: pd.DataFrame,
                 latency: pd.DataFrame | None) -> ClaimsTable:
    """Every claim of the chapter, paper vs ours, with a verdict."""
    claims = ClaimsTable(CHAPTER)
    by_design = formulas.set_index("design")

    # -- cost formulas on real layers
    for design, key, text in [
        ("flattened (lateral 1x1, kx1, 1xk)", "flattened_params_per_output", "flattened conv weights X+Y+C vs XYC"),
        ("depthwise separable", "separable_cost_ratio", "depthwise separable cost 1/N + 1/Dk^2"),
    ]:
        row, ref = by_design.loc[design], pv(key)
        claims.add(f"{text} ({row['formula'].split(', ', 1)[1]})", source=ref.cite, paper=row["formula_value"],
                   ours=row["macs_ratio"], verdict="reproduced" if row["exact"] else "not reproduced",
                   profile="count", evidence="count_flops on the real layers (mult-adds and params ratios)")
    for design in [d for d in formulas["design"] if d.startswith("grouped") or "pair" in d]:
        row = by_design.loc[design]
        ref = pv("grouped_cost_ratio" if design.startswith("grouped") else "asymmetric_cost_ratio")
        symbol, size = row["formula"].split(", ")
        dense = f"a dense {size[2:]}x{size[2:]} conv" if "pair" in design else "a dense conv"
        claims.add(f"{design} costs {symbol} of {dense}", source=ref.cite, paper=row["formula_value"],
                   ours=row["macs_ratio"], verdict="reproduced" if row["exact"] else "not reproduced",
                   profile="count", evidence="count_flops on the real layers (mult-adds and params ratios)")
    large_n = separable_ratio_points(ns=(1024,), kernels=(3,)).iloc[0]
    ref = pv("separable_cost_3x3_large_n")
    claims.compare("depthwise separable 3x3 costs about 1/9 for large N (N=1024)", source=ref.cite,
                   paper=ref.value, ours=large_n["counted"], profile="count", tolerance=0.005,
                   evidence="count_flops, 64->1024 channels at 14x14")

    # -- octave convolution
    for _, row in octave.iterrows():
        _add_count(claims, f"OctConv FLOPs at alpha={row['alpha']:g} (% of plain)", row["key"], row["counted_%"],
                   evidence=f"count_flops on a 256->256 3x3 OctConv2d at 56x56; closed form {row['closed_form_%']:.2f}%")

    # -- MobileNet v1
    for _, row in mobilenet.iterrows():
        if not pd.isna(row["paper_Mmacs"]):
            _add_count(claims, f"{row['model']} mult-adds (M)", f"{row['key']}_macs", row["ours_Mmacs"],
                       evidence="count_flops on our MobileNetV1 (meta device)")
        if not pd.isna(row["paper_Mparams"]):
            _add_count(claims, f"{row['model']} params (M)", f"{row['key']}_params", row["ours_Mweights"],
                       evidence=f"conv and FC weights, as the paper's Table 2 counts; with BN and bias "
                                f"{row['ours_Mparams']:.3f}M")
    for _, row in shares[shares["key"] != "total"].iterrows():
        for what, col in (("mult-adds", "macs"), ("params", "params")):
            evidence = ("share of conv/FC weights (biases and BN excluded, as in the paper)" if col == "params"
                        else "count_flops mult-adds by layer kind")
            if row["key"] == "conv3x3" and col == "macs":
                evidence += "; the paper's column sums to 99.29%, ours to 100%: 1.19 looks like 1.91 with digits swapped"
            _add_count(claims, f"MobileNet Table 2: {row['layer type']} share of {what} (%)",
                       f"mobilenet_share_{row['key']}_{col}", row[f"ours_{col}_%"], evidence=evidence)

    # -- reference networks
    mb, vgg, squeeze = counts["mobilenet_v1"], counts["vgg16"], counts["squeezenet1_0_227"]
    conv_only = counts["vgg16_features"].macs
    _add_count(claims, "VGG-16 mult-adds (M)", "vgg16_macs", vgg.macs / 1e6,
               evidence=f"torchvision vgg16 at 224; the 13 convs alone give {conv_only / 1e6:,.0f}M, "
                        f"the 3 FC layers add {(vgg.macs - conv_only) / 1e6:,.0f}M")
    _add_count(claims, "VGG-16 params (M)", "vgg16_params", vgg.params / 1e6, evidence="torchvision vgg16")
    ref = pv("mobilenet_vs_vgg16_params")
    ratio = vgg.params / mb.params
    claims.add("MobileNet has < 1/32 of VGG-16's params", source=ref.cite, paper="> 32x", ours=f"{ratio:.1f}x",
               verdict="reproduced" if ratio > ref.value else "not reproduced", profile="count",
               evidence="params ratio of the two counted models")
    _add_count(claims, "MobileNet has about 1/27 of VGG-16's mult-adds (x fewer)", "mobilenet_vs_vgg16_macs",
               vgg.macs / mb.macs, evidence="mult-adds ratio of the two counted models")
    _add_count(claims, "SqueezeNet 1.0 params", "squeezenet_params", squeeze.params, evidence="torchvision squeezenet1_0")
    _add_count(claims, "SqueezeNet 1.0 mult-adds (M)", "squeezenet_macs", squeeze.macs / 1e6,
               evidence=f"at the Caffe input 227x227; at 224x224: {counts['squeezenet1_0_224'].macs / 1e6:.1f}M")
    two_tower, one_gpu = counts["alexnet_two_tower"], counts["alexnet_torchvision"]
    # "60" and "50x" are round figures ("about"), so they are read to one significant digit
    _add_count(claims, "AlexNet params (M)", "alexnet_params", two_tower.params / 1e6, half_unit=5,
               evidence=f"two-tower grouped AlexNet ({two_tower.params:,}); torchvision's one-GPU variant "
                        f"has {one_gpu.params:,}")
    _add_count(claims, "AlexNet mult-adds (M)", "alexnet_macs", two_tower.macs / 1e6,
               evidence=f"two-tower grouped AlexNet at 227; torchvision's one-GPU variant at 224: "
                        f"{one_gpu.macs / 1e6:.1f}M")
    _add_count(claims, "SqueezeNet has about 1/50 of AlexNet's params (x fewer)", "squeezenet_vs_alexnet_params",
               two_tower.params / squeeze.params, half_unit=5,
               evidence=f"two-tower AlexNet / SqueezeNet 1.0; with torchvision's AlexNet "
                        f"{one_gpu.params / squeeze.params:.1f}x")
    _add_count(claims, "Xception params", "xception_params", counts["xception"].params,
               evidence="our Xception, FC included, BN scale+shift included (Keras' trainable count)")
    best = inception.loc[inception["minus_paper"].abs().idxmin()]
    _add_count(claims, "Inception V3 params", "inception_v3_params", best["params"],
               evidence=f"closest convention: {best['convention']}; no convention gives the exact figure")
    ref = pv("xception_params")
    fewer = counts["xception"].params < inception["params"].min()
    claims.add("Xception has fewer params than Inception V3", source=ref.cite, paper="fewer",
               ours="fewer" if fewer else "not fewer", verdict="reproduced" if fewer else "not reproduced",
               profile="count", evidence="holds for every Inception V3 counting convention")

    # -- accuracy and designs we do not run
    for key, label in [("mobilenet_top1", "1.0 MobileNet-224"), ("conv_mobilenet_top1", "Conv MobileNet"),
                       ("vgg16_top1", "VGG-16"), ("mobilenet_075_top1", "0.75 MobileNet-224"),
                       ("mobilenet_050_top1", "0.5 MobileNet-224"), ("mobilenet_025_top1", "0.25 MobileNet-224")]:
        _not_run(claims, f"{label} ImageNet top-1 (%)", key, "needs ImageNet training; not available here")
    _not_run(claims, "OctConv ImageNet top-1 (%)", "octconv_imagenet_top1", "needs ImageNet training")
    _not_run(claims, "OctConv headline cost (GFLOPs)", "octconv_imagenet_gflops",
             "the headline model (a large OctConv network) is not built here")
    _not_run(claims, "CondenseNet learns its groups from data", "condensenet_learned_groups",
             "described only; learned grouping needs training")
    _not_run(claims, "Big-Little Net multi-scale branches", "biglittle_branches", "described only")
    _not_run(claims, "DSConv parameter compression (x)", "dsconv_param_compression", "quantised kernels not implemented")
    _not_run(claims, "DSConv speed-up (x)", "dsconv_speedup", "quantised kernels not implemented")

    # -- latency (live)
    if latency is None:
        ref = pv("grouping_suits_parallel_hardware")
        claims.add("FLOP savings of grouping show up as time", source=ref.cite, paper="yes", ours="",
                   verdict="not run", profile="live", evidence="latency not measured in this run")
        return claims
    for layer in [name for name in latency["layer"].unique() if name != "dense"]:
        rows = latency[latency["layer"] == layer]
        flop = rows["flop_ratio"].iloc[0]
        time_ratio = float(rows["time_ratio"].median())
        verdict = latency_verdict(flop, time_ratio)
        ref = pv("grouping_suits_parallel_hardware")
        claims.add(f"{layer} time follows its FLOP ratio (dense = 1)", source=ref.cite, paper=round(flop, 4),
                   ours=round(time_ratio, 3), verdict=verdict, profile="live",
                   evidence=f"median time ratio over {len(rows)} settings "
                            f"({'; '.join(rows['setting'])}) on {rows['device'].iloc[0]}")
    return claims


def latency_verdict(flop_ratio: float, time_ratio: float) -> str:
    """``reproduced`` when the measured speed-up is at least 80% of the FLOP speed-up (in log terms),
    ``partly`` when the layer is faster than the dense conv at all, else ``not reproduced``."""
    if time_ratio >= 1.0:
        return "not reproduced"
    achieved = math.log(time_ratio) / math.log(flop_ratio)
    return "reproduced" if achieved >= 0.8 else "partly"
