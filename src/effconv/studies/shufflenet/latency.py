"""Chapter 2, ShuffleNet V1: latency, measured live.

Whole models per g against their multiply-adds, the channel shuffle's share of a unit's time, ShuffleNet
against AlexNet; the plot of the first two; and the live claims graded from these timings (shown in the
chapter, never in the committed ledger).
"""

from __future__ import annotations

from typing import Iterable, Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
import torch

from effconv.analysis.flops import count_flops
from effconv.analysis.latency import LatencyResult, measure_latency
from effconv.claims import DIRECTION, ClaimsTable, grade_timing
from effconv.models.shufflenet_v1 import TABLE1_CHANNELS, ShuffleUnit, shufflenet_v1
from effconv.ops.shuffle import channel_shuffle
from effconv.studies.paper import paper_value
from effconv.studies.shufflenet.costs import SCALE_LABELS, meta_build, shufflenet_cost
from effconv.studies.shufflenet.plan import CHAPTER, GROUPS

def available_devices() -> list[str]:
    """``["cpu"]``, plus ``"cuda"`` when a GPU is visible."""
    return ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]


def _best_ms(result: LatencyResult) -> float:
    # On a shared machine other processes can only add time, so the fastest call is the cleanest
    # estimate (as Python's timeit advises); the median is reported alongside to show the noise.
    return min(result.times_ms)


def model_latency(groups: Iterable[int] = GROUPS, *, scale: float = 1.0, device: str = "cpu",
                  batch_size: int = 1, repeats: int = 15, threads: int | None = None) -> pd.DataFrame:
    """Inference time of ShuffleNet ``scale`` x (224 input, eval mode) for each g, next to its MFLOPs.

    The FLOPs barely move with g (133-143 M at 1x) while the time need not follow them: grouped 1x1s,
    depthwise convs and the shuffle are limited by memory traffic rather than arithmetic.
    """
    rows = []
    for g in groups:
        cost = shufflenet_cost(g, scale)
        model = shufflenet_v1(groups=g, scale=scale)
        result = measure_latency(model, (batch_size, 3, 224, 224), device=device, repeats=repeats, threads=threads)
        best = _best_ms(result)
        rows.append({"device": result.device_name, "g": g, "scale": SCALE_LABELS.get(scale, scale),
                     "mflops": round(cost.mflops, 2), "params": cost.params, "batch": batch_size,
                     "best_ms": round(best, 3), "median_ms": round(result.median_ms, 3),
                     "mflops_per_ms": round(cost.mflops * batch_size / best, 1)})
    return pd.DataFrame(rows)


def shuffle_cost(groups: Iterable[int] = (2, 3, 4, 8), *, device: str = "cpu", batch_size: int = 1,
                 repeats: int = 30, threads: int | None = None) -> pd.DataFrame:
    """The channel shuffle's share of a stage-3 unit's time (1x widths, 14x14 maps as at 224 input).

    For each g, times the stride-1 stage-3 unit with the shuffle, the same unit with ``shuffle=False``
    (identical weights), and the shuffle alone on the unit's bottleneck tensor (best of ``repeats``, ms).
    The shuffle costs no FLOPs, so any time it takes is pure memory movement.
    """
    rows = []
    for g in groups:
        c = TABLE1_CHANNELS[g][1]
        unit = ShuffleUnit(c, c, groups=g)
        plain = ShuffleUnit(c, c, groups=g, shuffle=False)
        plain.load_state_dict(unit.state_dict())
        x = torch.randn(batch_size, c, 14, 14)
        mid = torch.randn(batch_size, c // 4, 14, 14)
        timed = {name: measure_latency(fn, inputs, device=device, repeats=repeats, threads=threads)
                 for name, fn, inputs in (("unit", unit, x), ("plain", plain, x),
                                          ("shuffle", lambda t: channel_shuffle(t, g), mid))}
        with_shuffle, without, alone = (_best_ms(timed[k]) for k in ("unit", "plain", "shuffle"))
        share_rounds = [round(100 * a / u, 2) for a, u in zip(timed["shuffle"].times_ms, timed["unit"].times_ms)]
        rows.append({
            "device": timed["unit"].device_name, "g": g, "c": c, "m": c // 4, "batch": batch_size,
            "unit_ms": round(with_shuffle, 4), "unit_without_shuffle_ms": round(without, 4),
            "shuffle_alone_ms": round(alone, 4),
            "shuffle_share_%": round(100 * alone / with_shuffle, 1),
            "difference_share_%": round(100 * (with_shuffle - without) / with_shuffle, 1),
            "share_rounds": share_rounds,
            "unit_macs": count_flops(meta_build(ShuffleUnit, in_channels=c, out_channels=c, groups=g),
                                     (c, 14, 14)).macs,
        })
    return pd.DataFrame(rows)


def alexnet_latency(groups: Iterable[int] = (3, 8), *, scale: float = 0.5, device: str = "cpu",
                    batch_size: int = 1, repeats: int = 10, threads: int | None = None) -> pd.DataFrame:
    """Measured time of torchvision's AlexNet and of ShuffleNet ``scale`` x (224 input) on ``device``.

    ``flops_speedup`` is the ratio of counted multiply-adds (what the paper's "theoretical" speedup is),
    ``measured_speedup`` the ratio of the best times; both are against the AlexNet row. ``mflops_per_ms``
    is the arithmetic throughput each model reaches.
    """
    import torchvision.models as tvm

    models = [("AlexNet (torchvision)", tvm.alexnet(weights=None),
               count_flops(meta_build(tvm.alexnet, weights=None), 224).macs / 1e6)]
    models += [(f"ShuffleNet {SCALE_LABELS.get(scale, scale)} g={g}", shufflenet_v1(groups=g, scale=scale),
                shufflenet_cost(g, scale).mflops) for g in groups]
    rows, calls = [], []
    for name, model, mflops in models:
        result = measure_latency(model, (batch_size, 3, 224, 224), device=device, repeats=repeats, threads=threads)
        best = _best_ms(result)
        calls.append(list(result.times_ms))
        rows.append({"device": result.device_name, "model": name, "mflops": round(mflops, 2), "batch": batch_size,
                     "best_ms": round(best, 3), "median_ms": round(result.median_ms, 3),
                     "mflops_per_ms": round(mflops * batch_size / best, 1)})
    table = pd.DataFrame(rows)
    # the speedup of each timed call against the AlexNet call of the same index: the rounds a timing rule needs
    table["speedup_rounds"] = [[round(a / b, 3) for a, b in zip(calls[0], own)] for own in calls]
    table["flops_speedup"] = (table["mflops"].iloc[0] / table["mflops"]).round(2)
    table["measured_speedup"] = (table["best_ms"].iloc[0] / table["best_ms"]).round(2)
    return table


def latency_tables(devices: Sequence[str] | None = None, *, repeats: int = 10,
                   threads: int | None = 1) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``model_latency``, ``shuffle_cost`` and ``alexnet_latency`` on every device (CPU, and CUDA if present).

    ``threads`` applies to the CPU only (one thread: steadier on a shared machine and closer to one
    phone core); the shuffle timings use three times as many repeats since each call is short.
    """
    devices = list(devices or available_devices())
    models, shuffles, alexnet = [], [], []
    for device in devices:
        cpu_threads = threads if device == "cpu" else None
        models.append(model_latency(device=device, repeats=repeats, threads=cpu_threads))
        shuffles.append(shuffle_cost(device=device, repeats=3 * repeats, threads=cpu_threads))
        alexnet.append(alexnet_latency(device=device, repeats=repeats, threads=cpu_threads))
    return (pd.concat(models, ignore_index=True), pd.concat(shuffles, ignore_index=True),
            pd.concat(alexnet, ignore_index=True))


def plot_latency(models: pd.DataFrame, shuffles: pd.DataFrame) -> plt.Figure:
    """Top: time and multiply-adds of ShuffleNet 1x per g, both relative to g = 1, per device.
    Bottom: the channel shuffle's share of a stage-3 unit's time, timed alone and as with-minus-without.

    Two rows at the page's width (7.5 in), so the figure shows near full size and the legends stay legible.
    """
    rel = []
    for device, rows in models.groupby("device", sort=False):
        base = rows.set_index("g")
        for g in rows["g"]:
            rel.append({"device": device, "g": str(g), "what": f"time ({device})",
                        "ratio": base.loc[g, "best_ms"] / base.loc[1, "best_ms"]})
    flops = models.drop_duplicates("g").set_index("g")
    rel += [{"device": "", "g": str(g), "what": "multiply-adds",
             "ratio": flops.loc[g, "mflops"] / flops.loc[1, "mflops"]} for g in flops.index]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7.5, 6.4))
    sns.barplot(data=pd.DataFrame(rel), x="g", y="ratio", hue="what", ax=top)
    top.axhline(1.0, color="grey", lw=1, ls=":")
    top.set(xlabel="groups g", ylabel="relative to g = 1", title="ShuffleNet 1x at 224, batch 1",
             ylim=(0, 1.3 * max(r["ratio"] for r in rel)))
    top.legend(fontsize=9, loc="upper left", ncols=3)
    share = shuffles.melt(id_vars=["device", "g"], value_vars=["shuffle_share_%", "difference_share_%"],
                          var_name="measure", value_name="share")
    share["measure"] = share["measure"].map({"shuffle_share_%": "shuffle timed alone",
                                             "difference_share_%": "unit with - without shuffle"})
    share["series"] = share["measure"] + (" (" + share["device"] + ")" if share["device"].nunique() > 1 else "")
    share["g"] = share["g"].astype(str)
    sns.barplot(data=share, x="g", y="share", hue="series", ax=bottom)
    bottom.axhline(0.0, color="grey", lw=1)
    bottom.set(xlabel="groups g", ylabel="% of the unit's time", title="Channel shuffle in a stage-3 unit (14x14)",
               ylim=(min(0.0, share["share"].min() * 1.2), 1.45 * max(share["share"].max(), 1.0)))
    bottom.legend(fontsize=9, loc="upper left", ncols=2)  # headroom above the bars keeps the legend clear
    fig.tight_layout()
    return fig


SHUFFLE_COSTLY_PCT = 10.0  # "costly": the shuffle alone takes at least this share of a unit's time
FASTER_CLAIM = "ShuffleNet 0.5x is faster than AlexNet, measured (direction only; speedup, x)"
COSTLY_CLAIM = "the channel shuffle is costly in practice (direction only; % of a unit's time)"


def add_latency_claims(claims: ClaimsTable,
                       latency: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame] | None) -> None:
    """Live timings on the build's machine (shown in the chapter, never in the committed ledger), both graded on
    their direction only (``DIRECTION``): the measured speedup over AlexNet (paper 13x on an ARM phone: a
    different machine, so we test only that ShuffleNet is faster at all, and show the size beside it) and
    whether the shuffle is costly (at least 10% of a unit's time, our threshold for a claim printed without
    one)."""
    measured, spec = paper_value(CHAPTER, "alexnet_speedup_measured"), paper_value(CHAPTER, "seed_alexnet_speed")
    costly = paper_value(CHAPTER, "seed_shuffle_costly")
    if latency is None:
        for claim, ref in ((FASTER_CLAIM, measured), (COSTLY_CLAIM, costly)):
            claims.add(claim, kind="live", source=ref.cite, paper=ref.value, ours="", verdict="not run",
                       profile="live", evidence="latency not measured in this run")
        return
    _models, shuffles, alexnet = latency
    for device, rows in alexnet.groupby("device", sort=False):
        shuffle_rows = rows[rows["model"].str.startswith("ShuffleNet")].set_index("model")
        g3 = shuffle_rows.filter(like="g=3", axis=0)
        main = g3.iloc[0] if len(g3) else shuffle_rows.iloc[0]
        grade = grade_timing(main["speedup_rounds"], 1.0, scope=DIRECTION)
        claims.grade(FASTER_CLAIM, grade, kind="live", source=measured.cite, paper=measured.value, profile="live",
                     evidence=f"batch 1 at 224 on {device}, not the paper's ARM phone (the specification says "
                              f"{spec.value}); best-call speedup {main['measured_speedup']:.2f}x, counted ratio "
                              f"{main['flops_speedup']:.1f}x; the paper's 13x is another machine's size")
    for device, rows in shuffles.groupby("device", sort=False):
        share_rounds = [v for rounds in rows["share_rounds"] for v in rounds]
        claims.grade(COSTLY_CLAIM, grade_timing(share_rounds, SHUFFLE_COSTLY_PCT, scope=DIRECTION), kind="live",
                     source=costly.cite,
                     paper=costly.value, profile="live",
                     evidence=f"stage-3 unit at 14x14, batch 1, g={'/'.join(map(str, rows['g']))}, on {device}: the "
                              f"shuffle timed alone against the whole unit, every call of every g; 'costly' = at "
                              f"least {SHUFFLE_COSTLY_PCT:g}%")
